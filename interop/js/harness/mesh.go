package harness

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Kind names an implementation.
type Kind string

// The two implementations in a mesh.
const (
	KindGo Kind = "meshbus"
	KindJS Kind = "js-libp2p"
)

// Member is one node of a Mesh: exactly one of Go and JS is set.
type Member struct {
	// Name labels the member in logs and the Result: NewMesh numbers each
	// kind apart ("go0", "js0", ...).
	Name string
	// Kind is the member's implementation, KindGo or KindJS.
	Kind Kind
	// Go is the node when Kind is KindGo, else nil.
	Go *GoNode
	// JS is the peer when Kind is KindJS, else nil.
	JS *JSPeer
}

// ID returns the member's peer id.
func (m *Member) ID() peer.ID {
	if m.Go != nil {
		return m.Go.ID()
	}
	return m.JS.ID()
}

// AddrInfo returns the member's id and listen addresses.
func (m *Member) AddrInfo() peer.AddrInfo {
	if m.Go != nil {
		return m.Go.AddrInfo()
	}
	return m.JS.AddrInfo()
}

// Dial connects the member to ai.
func (m *Member) Dial(ctx context.Context, ai peer.AddrInfo) error {
	if m.Go != nil {
		return m.Go.Dial(ctx, ai)
	}
	return m.JS.Dial(ctx, ai)
}

// Publish publishes data on topic from the member.
func (m *Member) Publish(ctx context.Context, topic string, data []byte) error {
	if m.Go != nil {
		return m.Go.Topic.Publish(ctx, data)
	}
	_, err := m.JS.Publish(ctx, topic, data)
	return err
}

// MeshPeers returns the member's mesh for topic.
func (m *Member) MeshPeers(ctx context.Context, topic string) ([]peer.ID, error) {
	if m.Go != nil {
		return m.Go.Router.Mesh(topic), nil
	}
	v, err := m.JS.Mesh(ctx, topic)
	return v.Peers, err
}

// TopicPeers returns the peers the member knows to subscribe to topic.
func (m *Member) TopicPeers(ctx context.Context, topic string) ([]peer.ID, error) {
	if m.Go != nil {
		return m.Go.Router.TopicPeers(topic), nil
	}
	v, err := m.JS.Mesh(ctx, topic)
	return v.TopicPeers, err
}

// Received is one delivered message, the same shape for both kinds.
type Received struct {
	// Data is the payload.
	Data []byte
	// From is the author as the receiver decoded it (empty for an unsigned
	// message, or a JS id that did not decode).
	From peer.ID
	// Seqno is the author's sequence number as bytes: as received for a Go
	// node, decoded from the JS peer's hex (nil if it does not decode).
	Seqno []byte
	// ID is the receiver's message id as unpadded base64 of its bytes (the
	// JS library's string form), so ids of both kinds compare directly.
	ID string
}

// Received returns what the member's application received, in order,
// leaving out a Go node's own publications (a Go Subscription sees them;
// a JS peer with emitSelf false does not).
func (m *Member) Received() []Received {
	var out []Received
	if m.Go != nil {
		self := m.Go.ID()
		for _, g := range m.Go.Messages() {
			if g.ReceivedFrom == self {
				continue
			}
			out = append(out, Received{Data: g.Data, From: g.From, Seqno: g.Seqno, ID: base64.RawStdEncoding.EncodeToString([]byte(g.ID))})
		}
		return out
	}
	for _, j := range m.JS.Messages() {
		seqno, _ := hex.DecodeString(j.Seqno)
		out = append(out, Received{Data: j.Data, From: j.From, Seqno: seqno, ID: strings.TrimRight(j.ID, "=")})
	}
	return out
}

// Link is a connection of the mesh: From dialed To (indexes into Members).
type Link struct {
	From, To int // Mesh.Members indexes of the dialer and the dialed
}

// Mesh is a running set of Go and JS nodes, connected and subscribed to one
// topic. Close always stops every node and process it started.
type Mesh struct {
	// Config is the configuration the mesh was built from, with the
	// defaults filled in by Validate.
	Config Config
	// Members are the nodes, kinds interleaved (go, js, go, js, ..., then
	// the rest of the larger kind); Published.Publisher and Link index it.
	Members []*Member
	// Links are the connections NewMesh dialed, from the topology.
	Links []Link
	// MeshFormed is how long NewMesh took, from before its first dial, until
	// the meshes were formed as waitMeshes defines it for the topology.
	MeshFormed time.Duration

	closeOnce sync.Once
}

// kinds interleaves the implementations so that neighbours in the ring
// differ wherever the counts allow: go, js, go, js, ..., then the rest.
func kinds(goN, jsN int) []Kind {
	var out []Kind
	for goN > 0 || jsN > 0 {
		if goN > 0 {
			out = append(out, KindGo)
			goN--
		}
		if jsN > 0 {
			out = append(out, KindJS)
			jsN--
		}
	}
	return out
}

// topology returns the links of n nodes: every pair for TopologyFull, else
// a ring (i dials i+1) plus chords (even i dials i+2) without repeating a
// pair. With 5 ring nodes some pairs stay unlinked, so their messages must
// be relayed, through the other implementation.
func topology(kind Topology, n int) []Link {
	seen := map[[2]int]bool{}
	var links []Link
	add := func(a, b int) {
		if a == b {
			return
		}
		k := [2]int{min(a, b), max(a, b)}
		if seen[k] {
			return
		}
		seen[k] = true
		links = append(links, Link{From: a, To: b})
	}
	if kind == TopologyFull {
		for i := range n {
			for j := i + 1; j < n; j++ {
				add(i, j)
			}
		}
		return links
	}
	for i := range n {
		add(i, (i+1)%n)
	}
	if n >= 5 {
		for i := 0; i < n; i += 2 {
			add(i, (i+2)%n)
		}
	}
	return links
}

// NewMesh starts the nodes of cfg, subscribes them all to the topic,
// connects them as cfg.Topology says (both implementations dial both) and
// waits until the meshes are formed (see Config.Sparse for the exception):
// on a ring every link is in the mesh on both ends, on a full topology
// every mesh holds at least min(Dlo, peers) peers. ctx bounds the JS processes' lives: they are killed when it ends.
// On error everything started is stopped, and the JS peers' stderr goes to
// cfg.Logf.
func NewMesh(ctx context.Context, cfg Config) (_ *Mesh, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.NodePath == "" {
		if cfg.NodePath, err = CheckPrerequisites(cfg.PeerDir); err != nil {
			return nil, err
		}
	}
	m := &Mesh{Config: cfg}
	defer func() {
		if err != nil {
			m.Close()
			if e := m.Stderr(); e != "" {
				cfg.Logf("JS peers' stderr after the failed start:\n%s", e)
			}
		}
	}()
	ks := kinds(cfg.GoNodes, cfg.JSPeers)
	m.Members = make([]*Member, len(ks))
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(ks))
	)
	goIdx, jsIdx := 0, 0
	for i, k := range ks {
		mem := &Member{Kind: k}
		m.Members[i] = mem
		if k == KindGo {
			mem.Name = fmt.Sprintf("go%d", goIdx)
			goIdx++
		} else {
			mem.Name = fmt.Sprintf("js%d", jsIdx)
			jsIdx++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if k == KindGo {
				mem.Go, errs[i] = StartGoNode(GoOptions{Name: mem.Name, Topic: cfg.Topic, Seed: cfg.Seed + uint64(i),
					Assembly: cfg.Assembly, Sparse: cfg.Sparse, Logger: cfg.Logger})
				return
			}
			mem.JS, errs[i] = StartJSPeer(ctx, cfg.NodePath, cfg.PeerDir, mem.Name,
				JSOptions{MsgID: cfg.MsgID, Protocols: cfg.JSProtocols, Sparse: cfg.Sparse})
			if errs[i] == nil {
				errs[i] = mem.JS.Subscribe(ctx, cfg.Topic)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, mem := range m.Members {
		cfg.Logf("started %s (%s) %s", mem.Name, mem.Kind, mem.ID())
	}
	m.Links = topology(cfg.Topology, len(m.Members))
	start := time.Now()
	for _, l := range m.Links {
		a, b := m.Members[l.From], m.Members[l.To]
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Dial(dctx, b.AddrInfo())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s dials %s: %w", a.Name, b.Name, err)
		}
		cfg.Logf("%s dialed %s", a.Name, b.Name)
	}
	if err := m.waitMeshes(ctx); err != nil {
		return nil, err
	}
	m.MeshFormed = time.Since(start)
	cfg.Logf("meshes formed after %v", m.MeshFormed.Round(time.Millisecond))
	return m, nil
}

// waitMeshes polls the members until the meshes are formed: on a ring each
// link is in the mesh on both ends; on a full topology every node's mesh
// holds at least min(Dlo, peers) peers (Dlo = 4 on both implementations).
// With Sparse (Dhi = 1, where refused GRAFTs back off for a minute) a mesh
// may stay empty, so the wait is only for both ends of every link to know
// each other as subscribers, which is what gossip needs.
func (m *Mesh) waitMeshes(ctx context.Context) error {
	var missing []string
	err := poll(ctx, m.Config.MeshTimeout, 50*time.Millisecond, func() (bool, error) {
		views := make([][]peer.ID, len(m.Members))
		for i, mem := range m.Members {
			var err error
			if m.Config.Sparse {
				views[i], err = mem.TopicPeers(ctx, m.Config.Topic)
			} else {
				views[i], err = mem.MeshPeers(ctx, m.Config.Topic)
			}
			if err != nil {
				return false, err
			}
		}
		missing = missing[:0]
		if !m.Config.Sparse && m.Config.Topology == TopologyFull {
			want := min(4, len(m.Members)-1)
			for i, mem := range m.Members {
				if len(views[i]) < want {
					missing = append(missing, fmt.Sprintf("%s has %d mesh peers", mem.Name, len(views[i])))
				}
			}
			return len(missing) == 0, nil
		}
		for _, l := range m.Links {
			a, b := m.Members[l.From], m.Members[l.To]
			if !slices.Contains(views[l.From], b.ID()) {
				missing = append(missing, a.Name+" lacks "+b.Name)
			}
			if !slices.Contains(views[l.To], a.ID()) {
				missing = append(missing, b.Name+" lacks "+a.Name)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("mesh formation: %w (still missing: %v)", err, missing)
	}
	return nil
}

// Close stops every JS peer (politely, then by force) and every Go node.
// It is safe to call several times.
func (m *Mesh) Close() {
	m.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, mem := range m.Members {
			if mem == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if mem.JS != nil {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					if err := mem.JS.Stop(ctx); err != nil {
						m.Config.Logf("%s: stop: %v", mem.Name, err)
					}
					cancel()
					mem.JS.Close()
				}
				if mem.Go != nil {
					if err := mem.Go.Close(); err != nil {
						m.Config.Logf("%s: close: %v", mem.Name, err)
					}
				}
			}()
		}
		wg.Wait()
	})
}

// Stderr returns every JS peer's stderr tail, labelled, for failure logs.
func (m *Mesh) Stderr() string {
	var s string
	for _, mem := range m.Members {
		if mem != nil && mem.JS != nil {
			if e := mem.JS.Stderr(); e != "" {
				s += fmt.Sprintf("--- %s stderr ---\n%s\n", mem.Name, e)
			}
		}
	}
	return s
}

// poll calls cond every interval until it returns true, returns an error,
// ctx ends or timeout passes (ErrTimeout).
func poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("%w after %v", ErrTimeout, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
