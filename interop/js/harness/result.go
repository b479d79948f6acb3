package harness

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// PairStats counts deliveries from publishers of one kind to receivers of
// one kind.
type PairStats struct {
	From, To Kind // the publishers' kind and the receivers' kind
	// Expected is messages x receivers (a publisher does not count itself).
	Expected int
	// Delivered is how many of those arrived at least once.
	Delivered int
	// Duplicates is how many extra copies the applications received (must
	// be 0: each implementation deduplicates by message id).
	Duplicates int
}

// Ratio is Delivered/Expected (1 when nothing was expected).
func (p PairStats) Ratio() float64 {
	if p.Expected == 0 {
		return 1
	}
	return float64(p.Delivered) / float64(p.Expected)
}

// Negotiation is one side's view of a link between the two implementations.
type Negotiation struct {
	// Observer is the node reporting; Peer the node of the other kind.
	Observer, Peer string
	// ObserverKind is Observer's implementation (KindGo or KindJS).
	ObserverKind Kind
	// Protocol is the pubsub protocol the observer negotiated with Peer.
	Protocol string
	// Grafts is how many times the observer put Peer in its mesh.
	Grafts int
	// Score is the observer's GossipSub score of Peer at the end (the JS
	// library's, or meshbus's last EvtPeerScoresUpdated); Scored is false
	// when the observer runs no scorer (AssemblyRouter).
	Score float64
	// Scored is whether Score came from a scorer: always true for a JS
	// observer, RouterLog.HasScorer for a meshbus one.
	Scored bool
	// Penalties are the behaviour penalties the observer recorded against
	// Peer, by reason (js: the library's labels; meshbus: EvtPeerPenalized).
	Penalties map[string]float64
}

// Result is the outcome of a Run (or of Mesh.Collect).
type Result struct {
	// MsgID is the JS peers' message id function (Config.MsgID).
	MsgID MsgIDMode
	// Topology is how the nodes were linked (Config.Topology).
	Topology Topology
	// Assembly is how the meshbus nodes were built (Config.Assembly).
	Assembly Assembly
	// AllLinksInMesh: every link fits in the meshes (ring, not sparse), so
	// every meshbus <-> js link must have been grafted by both ends.
	AllLinksInMesh bool
	// Sparse: mesh degree 1 (Config.Sparse); an empty mesh is no failure.
	Sparse bool
	Nodes  []string // "go0 (meshbus) 12D3Koo..."
	Links  []string // "go0 -> js0"
	// Messages is how many messages were published.
	Messages int
	// Pairs has the four (publisher kind, receiver kind) combinations.
	Pairs []PairStats
	// Missing lists undelivered (message, receiver) pairs, at most 20.
	Missing []string
	// Unexpected counts received messages that nobody published in the run.
	Unexpected int
	// AuthorMismatches counts deliveries whose from field is not the
	// publisher.
	AuthorMismatches int
	// Negotiations are both sides' views of every meshbus <-> js link.
	Negotiations []Negotiation
	// IDChecks counts (message, receiver) pairs whose id was compared with
	// the spec's from || seqno (wire.DefaultMsgID); IDMismatches how many
	// differed, IDSample shows one.
	IDChecks, IDMismatches int
	// IDSample describes the first mismatch (publisher, receiver id, spec
	// id); empty when there was none.
	IDSample string
	// WireDuplicates are copies the routers received again and dropped
	// (normal in a mesh), per implementation.
	GoWireDuplicates, JSWireDuplicates int
	// GoRejected counts messages meshbus rejected, by reason; JSInvalid
	// messages the JS peers found invalid (a bad signature, for one).
	GoRejected map[string]int
	// JSInvalid sums the JS peers' JSStats.Invalid.
	JSInvalid int
	// JSInvalidSample holds up to 5 of the JS peers' "invalid" events, as
	// "<member>: from <peer id>: <library's reason>".
	JSInvalidSample []string
	// JSIDontWantFromGo sums, over the JS peers, the IDONTWANT ids they
	// received from meshbus nodes and how many named messages they had
	// seen (all of them when both sides use the spec's ids).
	JSIDontWantFromGo IDontWantStat
	// JSGossipWithGo sums the JS peers' gossip with meshbus nodes: IHAVE
	// ids meshbus advertised and IWANTs the JS peers sent back; IWANT ids
	// meshbus asked for and messages the JS peers served.
	JSGossipWithGo GossipStat
	// GoIWantServed and GoIWantSent are the meshbus routers' outcome counts
	// (iwant_served, iwant_sent), from any peer.
	GoIWantServed, GoIWantSent int
	// GoIDontWantRecorded counts the IDONTWANT control messages the
	// meshbus routers accepted (from any peer).
	GoIDontWantRecorded int
	// MeshSizes are the mesh sizes at the end of the run, per kind, in
	// member order.
	MeshSizes map[Kind][]int
	// MeshFormed is Mesh.MeshFormed: from the first dial until NewMesh saw
	// the meshes formed.
	MeshFormed time.Duration
	// DeliveryTime is set by Exchange: from just before the first publish
	// until the delivery wait ended (polled every 20 ms; about
	// DeliveryTimeout when it timed out). Zero from Collect alone.
	DeliveryTime time.Duration
	// Notes are remarks of the run (a delivery timeout); Stderr the JS
	// peers' stderr when something went wrong.
	Notes []string
	// Stderr is Mesh.Stderr, set by Exchange only when the delivery wait
	// failed; empty otherwise.
	Stderr string
}

// Collect gathers the Result of pubs from every member's records and
// counters. It does not wait; call WaitDelivered first.
func (m *Mesh) Collect(ctx context.Context, pubs []Published) (*Result, error) {
	res := &Result{MsgID: m.Config.MsgID, Topology: m.Config.Topology, Assembly: m.Config.Assembly, AllLinksInMesh: m.Config.everyLinkInMesh(), Sparse: m.Config.Sparse, Messages: len(pubs), MeshFormed: m.MeshFormed, GoRejected: map[string]int{}}
	for _, mem := range m.Members {
		res.Nodes = append(res.Nodes, fmt.Sprintf("%s (%s) %s", mem.Name, mem.Kind, mem.ID()))
	}
	for _, l := range m.Links {
		res.Links = append(res.Links, m.Members[l.From].Name+" -> "+m.Members[l.To].Name)
	}
	pairs := map[[2]Kind]*PairStats{}
	for _, f := range []Kind{KindGo, KindJS} {
		for _, t := range []Kind{KindGo, KindJS} {
			res.Pairs = append(res.Pairs, PairStats{From: f, To: t})
		}
	}
	for i := range res.Pairs {
		pairs[[2]Kind{res.Pairs[i].From, res.Pairs[i].To}] = &res.Pairs[i]
	}
	byData := make(map[string]int, len(pubs))
	for k, p := range pubs {
		byData[string(p.Data)] = k
	}
	for i, mem := range m.Members {
		count := make(map[int]int)
		for _, r := range mem.Received() {
			k, ok := byData[string(r.Data)]
			if !ok {
				res.Unexpected++
				continue
			}
			count[k]++
			if count[k] == 1 {
				m.checkID(res, pubs[k], r)
			}
		}
		for k, p := range pubs {
			if p.Publisher == i {
				continue
			}
			ps := pairs[[2]Kind{m.Members[p.Publisher].Kind, mem.Kind}]
			ps.Expected++
			switch c := count[k]; {
			case c == 0:
				if len(res.Missing) < 20 {
					res.Missing = append(res.Missing, fmt.Sprintf("message %d from %s never reached %s", k, m.Members[p.Publisher].Name, mem.Name))
				}
			default:
				ps.Delivered++
				ps.Duplicates += c - 1
			}
		}
	}
	if err := m.collectPeers(ctx, res); err != nil {
		return nil, err
	}
	return res, nil
}

// checkID checks what receiver r reported for message p: the author must
// be the publisher, and the id must be the spec's default, from (peer id
// bytes) || seqno, computed from the from and seqno the receiver decoded.
func (m *Mesh) checkID(res *Result, p Published, r Received) {
	if r.From != m.Members[p.Publisher].ID() {
		res.AuthorMismatches++
	}
	ref := base64.RawStdEncoding.EncodeToString([]byte(wire.DefaultMsgID(&pb.Message{From: []byte(r.From), Seqno: r.Seqno})))
	res.IDChecks++
	if ref != r.ID {
		res.IDMismatches++
		if res.IDSample == "" {
			res.IDSample = fmt.Sprintf("message from %s: receiver id %s, spec id %s", m.Members[p.Publisher].Name, r.ID, ref)
		}
	}
}

// collectPeers fills the negotiation views and the counters.
func (m *Mesh) collectPeers(ctx context.Context, res *Result) error {
	jsMesh := make(map[int]JSMesh)
	res.MeshSizes = make(map[Kind][]int)
	for i, mem := range m.Members {
		switch {
		case mem.Go != nil:
			res.MeshSizes[KindGo] = append(res.MeshSizes[KindGo], len(mem.Go.Router.Mesh(m.Config.Topic)))
			lg := mem.Go.Log()
			res.GoWireDuplicates += lg.Duplicates
			res.GoIDontWantRecorded += mem.Go.Outcomes("idontwant_recorded")
			res.GoIWantServed += mem.Go.Outcomes("iwant_served")
			res.GoIWantSent += mem.Go.Outcomes("iwant_sent")
			for reason, n := range lg.Rejected {
				res.GoRejected[reason.String()] += n
			}
		case mem.JS != nil:
			st, err := mem.JS.Stats(ctx)
			if err != nil {
				return err
			}
			res.JSWireDuplicates += st.Duplicates
			res.JSInvalid += st.Invalid
			for from, g := range st.Gossip {
				if m.isGo(from) {
					res.JSGossipWithGo.IHaveIDs += g.IHaveIDs
					res.JSGossipWithGo.IWantAsked += g.IWantAsked
					res.JSGossipWithGo.IWantIDs += g.IWantIDs
					res.JSGossipWithGo.IWantServed += g.IWantServed
				}
			}
			for from, c := range st.IDontWant {
				if m.isGo(from) {
					res.JSIDontWantFromGo.IDs += c.IDs
					res.JSIDontWantFromGo.Known += c.Known
				}
			}
			for _, e := range mem.JS.Events() {
				if e.Kind == "invalid" && len(res.JSInvalidSample) < 5 {
					res.JSInvalidSample = append(res.JSInvalidSample, fmt.Sprintf("%s: from %s: %s", mem.Name, e.Peer, e.Error))
				}
			}
			v, err := mem.JS.Mesh(ctx, m.Config.Topic)
			if err != nil {
				return err
			}
			jsMesh[i] = v
			res.MeshSizes[KindJS] = append(res.MeshSizes[KindJS], len(v.Peers))
		}
	}
	for _, l := range m.Links {
		a, b := m.Members[l.From], m.Members[l.To]
		if a.Kind == b.Kind {
			continue
		}
		g, j := l.From, l.To
		if a.Kind == KindJS {
			g, j = l.To, l.From
		}
		gm, jm := m.Members[g], m.Members[j]
		lg := gm.Go.Log()
		goPen := map[string]float64{}
		for r, n := range lg.Penalties[jm.ID()] {
			goPen[r] = float64(n)
		}
		res.Negotiations = append(res.Negotiations, Negotiation{
			Observer: gm.Name, Peer: jm.Name, ObserverKind: KindGo,
			Protocol: string(lg.Protocols[jm.ID()]), Grafts: lg.Grafted[jm.ID()], Penalties: goPen,
			Score: lg.Scores[jm.ID()], Scored: lg.HasScorer,
		})
		grafts := 0
		for _, e := range jm.JS.Events() {
			if e.Kind == "graft" && e.Peer == gm.ID() {
				grafts++
			}
		}
		res.Negotiations = append(res.Negotiations, Negotiation{
			Observer: jm.Name, Peer: gm.Name, ObserverKind: KindJS,
			Protocol: jsMesh[j].Protocols[gm.ID()], Grafts: grafts, Score: jsMesh[j].Scores[gm.ID()], Scored: true,
			Penalties: jsMesh[j].Penalties[gm.ID()],
		})
	}
	sort.SliceStable(res.Negotiations, func(i, k int) bool { return res.Negotiations[i].Observer < res.Negotiations[k].Observer })
	if res.MsgID != MsgIDSpec {
		penalised := 0
		for _, n := range res.Negotiations {
			if len(n.Penalties) > 0 {
				penalised++
			}
		}
		res.Notes = append(res.Notes, fmt.Sprintf("the JS peers use %s message ids, meshbus the spec's: an IWANT for an id "+
			"from the other side is answered with a message the asker files under another id, so %d of %d views count broken "+
			"promises (not checked in this mode; use the same id function on every node of a topic)",
			res.MsgID, penalised, len(res.Negotiations)))
	}
	return nil
}

// isGo reports whether the peer id string s is one of the Go members.
func (m *Mesh) isGo(s string) bool {
	for _, mem := range m.Members {
		if mem.Go != nil && mem.ID().String() == s {
			return true
		}
	}
	return false
}

// Protocols returns the distinct protocols the negotiations show, sorted.
func (r *Result) Protocols() []string {
	set := map[string]bool{}
	for _, n := range r.Negotiations {
		set[n.Protocol] = true
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Err returns nil when interop held: every message reached every node
// exactly once, every meshbus <-> js link negotiated /meshsub/1.1.0 or
// /meshsub/1.2.0 and (when every link fits in the meshes) was grafted on
// both ends, nothing was rejected as
// invalid, and (under MsgIDSpec) both sides computed the spec's message
// ids, in deliveries and in meshbus's IDONTWANT, and neither side penalised
// the other (score below 0 or any behaviour penalty), and no mesh is empty
// at the end (unless Sparse). Otherwise it lists every failure.
func (r *Result) Err() error {
	var errs []error
	for _, p := range r.Pairs {
		if p.Delivered < p.Expected {
			errs = append(errs, fmt.Errorf("%s -> %s: %d of %d deliveries missing", p.From, p.To, p.Expected-p.Delivered, p.Expected))
		}
		if p.Duplicates > 0 {
			errs = append(errs, fmt.Errorf("%s -> %s: %d duplicate deliveries to applications", p.From, p.To, p.Duplicates))
		}
	}
	for _, s := range r.Missing {
		errs = append(errs, errors.New(s))
	}
	if r.AuthorMismatches > 0 {
		errs = append(errs, fmt.Errorf("%d deliveries name another author than the publisher", r.AuthorMismatches))
	}
	if r.Unexpected > 0 {
		errs = append(errs, fmt.Errorf("%d messages received that nobody published", r.Unexpected))
	}
	graftsBy := map[Kind]int{}
	for _, n := range r.Negotiations {
		if n.Protocol != string(wire.ProtocolMeshsub14) && n.Protocol != string(wire.ProtocolMeshsub13) && n.Protocol != string(wire.ProtocolMeshsub12) && n.Protocol != string(wire.ProtocolMeshsub11) {
			errs = append(errs, fmt.Errorf("%s negotiated %q with %s, want /meshsub/1.1.0 to /meshsub/1.4.0", n.Observer, n.Protocol, n.Peer))
		}
		graftsBy[n.ObserverKind] += n.Grafts
		// On a ring every link fits in the mesh, so every one is grafted;
		// otherwise the meshes are a random subset of the links.
		if n.Grafts == 0 && r.AllLinksInMesh {
			errs = append(errs, fmt.Errorf("%s never grafted %s", n.Observer, n.Peer))
		}
	}
	// With differing id functions gossip promises cannot be kept (an IWANT
	// names an id the answer does not have), so penalties are expected
	// then; with the spec's ids on both sides there must be none.
	if r.MsgID == MsgIDSpec {
		for _, n := range r.Negotiations {
			if n.Score < 0 {
				errs = append(errs, fmt.Errorf("%s scores %s %.2f (penalties %v)", n.Observer, n.Peer, n.Score, n.Penalties))
			}
			if len(n.Penalties) > 0 {
				errs = append(errs, fmt.Errorf("%s penalised %s: %v", n.Observer, n.Peer, n.Penalties))
			}
		}
	}
	for k, sizes := range r.MeshSizes {
		for i, n := range sizes {
			if n == 0 && !r.Sparse {
				errs = append(errs, fmt.Errorf("the %d-th %s node's mesh is empty at the end", i, k))
			}
		}
	}
	if len(r.Negotiations) > 0 && (graftsBy[KindGo] == 0 || graftsBy[KindJS] == 0) {
		errs = append(errs, fmt.Errorf("grafts across the implementations: by meshbus %d, by js %d; want both above 0", graftsBy[KindGo], graftsBy[KindJS]))
	}
	if len(r.Negotiations) == 0 {
		errs = append(errs, errors.New("no link between the two implementations"))
	}
	for reason, n := range r.GoRejected {
		errs = append(errs, fmt.Errorf("meshbus rejected %d messages: %s", n, reason))
	}
	if r.JSInvalid > 0 {
		errs = append(errs, fmt.Errorf("js peers found %d messages invalid: %v", r.JSInvalid, r.JSInvalidSample))
	}
	if r.MsgID == MsgIDSpec && r.JSIDontWantFromGo.Known < r.JSIDontWantFromGo.IDs {
		errs = append(errs, fmt.Errorf("%d of %d IDONTWANT ids from meshbus name no message the js peers saw",
			r.JSIDontWantFromGo.IDs-r.JSIDontWantFromGo.Known, r.JSIDontWantFromGo.IDs))
	}
	if r.MsgID == MsgIDSpec && r.IDMismatches > 0 {
		errs = append(errs, fmt.Errorf("%d of %d message ids differ from the spec's from||seqno: %s", r.IDMismatches, r.IDChecks, r.IDSample))
	}
	return errors.Join(errs...)
}
