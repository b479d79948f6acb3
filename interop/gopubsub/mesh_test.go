package gopubsub

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/wire"
)

// The pubsub protocol ids the suites name.
const (
	meshsub13 protocol.ID = "/meshsub/1.3.0"
	meshsub12             = wire.ProtocolMeshsub12
)

// goProtocolsV12 restricts a go-libp2p-pubsub node to /meshsub/1.2.0 and
// older.
var goProtocolsV12 = []protocol.ID{pubsub.GossipSubID_v12, pubsub.GossipSubID_v11, pubsub.GossipSubID_v10, pubsub.FloodSubID}

// meshbusSpeaks reports whether meshbus's router offers p.
func meshbusSpeaks(p protocol.ID) bool { return wire.IsPubsub(p) }

// meshCfg describes a mixed mesh: nb meshbus and ng go-libp2p-pubsub nodes
// placed alternately on a ring (every ring link joins the two kinds), plus
// seeded chords.
type meshCfg struct {
	nb, ng int
	// chords is how many extra links each node starts (to a random
	// non-neighbour, seeded).
	chords int
	seed   uint64
	topic  string
	// goProtocols restricts the go nodes (nil: the library's default list,
	// /meshsub/1.3.0 first).
	goProtocols []protocol.ID
	noSign      bool
}

type mixedMesh struct {
	cfg   meshCfg
	nodes []node
	links [][2]int
	adj   []map[int]bool
}

// buildMesh starts the nodes, links them (each pair dialled from one side,
// both kinds dial both kinds) and waits until every node knows each
// neighbour's subscription and has a mesh of min(degree, 4) peers.
func buildMesh(t *testing.T, cfg meshCfg) *mixedMesh {
	t.Helper()
	m := &mixedMesh{cfg: cfg}
	total := cfg.nb + cfg.ng
	nodes := make([]node, total)
	// Alternate the kinds while both last, then the rest; index is each
	// node's number among its kind (its key is testKey(index), or
	// testKey(1000+index) for go nodes: both kinds cycle the key types).
	kinds, index := make([]kind, 0, total), make([]int, 0, total)
	for b, g := 0, 0; b+g < total; {
		if b < cfg.nb && (b <= g || g >= cfg.ng) {
			kinds, index = append(kinds, kindMB), append(index, b)
			b++
		} else {
			kinds, index = append(kinds, kindGo), append(index, g)
			g++
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprint(r))
					mu.Unlock()
				}
			}()
			idx := index[i]
			if kinds[i] == kindMB {
				nodes[i] = startMB(t, mbOpts{name: fmt.Sprintf("mb%d", idx), key: testKey(t, idx), noSign: cfg.noSign,
					topics: []string{cfg.topic}, seed: cfg.seed + uint64(i)})
			} else {
				sp, th := meshScoreParams(cfg.topic)
				nodes[i] = startGo(t, goOpts{name: fmt.Sprintf("go%d", idx), key: testKey(t, 1000+idx), noSign: cfg.noSign,
					protocols: cfg.goProtocols, topics: []string{cfg.topic}, score: sp, thresh: th})
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		var cw sync.WaitGroup
		for _, n := range nodes {
			if n != nil {
				cw.Go(func() { _ = n.Close() })
			}
		}
		cw.Wait()
	})
	if len(errs) > 0 {
		t.Fatalf("starting nodes: %v", errs)
	}
	m.nodes = nodes
	m.adj = make([]map[int]bool, total)
	for i := range m.adj {
		m.adj[i] = map[int]bool{}
	}
	link := func(a, b int) {
		if a == b || m.adj[a][b] {
			return
		}
		m.adj[a][b], m.adj[b][a] = true, true
		m.links = append(m.links, [2]int{a, b})
	}
	for i := range total {
		link(i, (i+1)%total)
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 0x9e3779b97f4a7c15))
	for i := range total {
		for range cfg.chords {
			for try := 0; try < 8; try++ {
				j := rng.IntN(total)
				if j != i && !m.adj[i][j] {
					link(i, j)
					break
				}
			}
		}
	}
	ctx, cancel := within(30 * time.Second)
	defer cancel()
	// Four dials at a time: a storm of simultaneous handshakes only slows
	// each of them down.
	var lw sync.WaitGroup
	gate := make(chan struct{}, 4)
	for li, l := range m.links {
		a, b := nodes[l[0]], nodes[l[1]]
		if li%2 == 1 {
			a, b = b, a
		}
		lw.Go(func() {
			gate <- struct{}{}
			defer func() { <-gate }()
			if err := connect(ctx, a, b); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s -> %s: %v", a.Name(), b.Name(), err))
				mu.Unlock()
			}
		})
	}
	lw.Wait()
	if len(errs) > 0 {
		t.Fatalf("linking: %v", errs)
	}
	waitUntil(t, 30*time.Second, m.unready, func() bool { return m.unready() == "" })
	return m
}

// unready names the first node that lacks a neighbour's subscription or a
// big enough mesh, "" when none does.
func (m *mixedMesh) unready() string {
	for i, n := range m.nodes {
		tp := n.TopicPeers(m.cfg.topic)
		for j := range m.adj[i] {
			if !slices.Contains(tp, m.nodes[j].ID()) {
				return fmt.Sprintf("%s does not know %s subscribes", n.Name(), m.nodes[j].Name())
			}
		}
		if want, got := min(len(m.adj[i]), 4), len(n.Mesh(m.cfg.topic)); got < want {
			return fmt.Sprintf("%s has %d mesh peers, want %d", n.Name(), got, want)
		}
	}
	return ""
}

var payloadSeq atomic.Uint32

// payload returns size bytes whose first 8 are unique in the process.
func payload(rng *rand.Rand, size int) []byte {
	b := make([]byte, size)
	for i := 8; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	binary.BigEndian.PutUint32(b[0:4], 0x6d620000|uint32(rng.Uint32()&0xffff))
	binary.BigEndian.PutUint32(b[4:8], payloadSeq.Add(1))
	return b
}

// published is one message of a run.
type published struct {
	from int
	key  string
	size int
}

// cell is one (publisher kind, receiver kind) pair of the delivery matrix.
type cell struct {
	expected, once, missing, dup int
}

func (c cell) String() string {
	return fmt.Sprintf("%d/%d exactly once (missing %d, duplicated %d)", c.once, c.expected, c.missing, c.dup)
}

// publishAndWait publishes data from node i and waits until every node
// delivered it.
func (m *mixedMesh) publishAndWait(t *testing.T, from int, data []byte, d time.Duration) published {
	t.Helper()
	ctx, cancel := within(d)
	defer cancel()
	if err := m.nodes[from].Publish(ctx, m.cfg.topic, data); err != nil {
		t.Fatalf("%s publish: %v", m.nodes[from].Name(), err)
	}
	return published{from: from, key: msgKey(data), size: len(data)}
}

func (m *mixedMesh) waitDelivered(t *testing.T, msgs []published, d time.Duration) {
	t.Helper()
	waitUntil(t, d, func() string {
		var missing []string
		for _, p := range msgs {
			for _, n := range m.nodes {
				if n.Count(m.cfg.topic, p.key) == 0 {
					missing = append(missing, fmt.Sprintf("%s's %d-byte message at %s", m.nodes[p.from].Name(), p.size, n.Name()))
				}
			}
		}
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		return "undelivered: " + strings.Join(missing, "; ")
	}, func() bool {
		for _, p := range msgs {
			for _, n := range m.nodes {
				if n.Count(m.cfg.topic, p.key) == 0 {
					return false
				}
			}
		}
		return true
	})
}

// matrix counts deliveries per (publisher kind, receiver kind), leaving out
// each publisher's own copy (which must be exactly one too: it is counted
// under the publisher's kind pair with itself excluded from "expected" but
// checked separately).
func (m *mixedMesh) matrix(t *testing.T, msgs []published) map[[2]kind]*cell {
	t.Helper()
	out := map[[2]kind]*cell{}
	for _, a := range []kind{kindMB, kindGo} {
		for _, b := range []kind{kindMB, kindGo} {
			out[[2]kind{a, b}] = &cell{}
		}
	}
	for _, p := range msgs {
		src := m.nodes[p.from]
		if c := src.Count(m.cfg.topic, p.key); c != 1 {
			t.Errorf("%s delivered its own message %d times, want 1", src.Name(), c)
		}
		for i, n := range m.nodes {
			if i == p.from {
				continue
			}
			c := out[[2]kind{src.Kind(), n.Kind()}]
			c.expected++
			switch got := n.Count(m.cfg.topic, p.key); {
			case got == 1:
				c.once++
			case got == 0:
				c.missing++
			default:
				c.dup++
			}
		}
	}
	return out
}

// checkProtocols checks the protocol both ends of every link report, and
// returns the pairs seen per kind pair ("meshbus-go: /meshsub/1.2.0 x14").
func (m *mixedMesh) checkProtocols(t *testing.T, wantMixed, wantGo, wantMB protocol.ID) map[string]map[protocol.ID]int {
	t.Helper()
	seen := map[string]map[protocol.ID]int{}
	for _, l := range m.links {
		for _, dir := range [][2]int{{l[0], l[1]}, {l[1], l[0]}} {
			a, b := m.nodes[dir[0]], m.nodes[dir[1]]
			want := wantMixed
			switch {
			case a.Kind() == kindGo && b.Kind() == kindGo:
				want = wantGo
			case a.Kind() == kindMB && b.Kind() == kindMB:
				want = wantMB
			}
			var got protocol.ID
			waitUntil(t, 5*time.Second, func() string {
				return fmt.Sprintf("%s reports no protocol with %s", a.Name(), b.Name())
			}, func() bool { got = a.Protocol(b.ID()); return got != "" })
			pair := fmt.Sprintf("%s->%s", a.Kind(), b.Kind())
			if seen[pair] == nil {
				seen[pair] = map[protocol.ID]int{}
			}
			seen[pair][got]++
			if got != want {
				t.Errorf("%s (%s) negotiated %s with %s (%s), want %s", a.Name(), a.Kind(), got, b.Name(), b.Kind(), want)
			}
		}
	}
	return seen
}

// checkClean fails on anything either implementation held against the
// other: meshbus rejections and penalties, go-libp2p-pubsub rejections,
// GRAFTs received during a backoff, and meshbus peers pruned by go nodes.
func (m *mixedMesh) checkClean(t *testing.T) {
	t.Helper()
	for _, n := range m.nodes {
		switch n := n.(type) {
		case *mbNode:
			for _, p := range n.problems() {
				t.Error(p)
			}
		case *goNode:
			n.tr.mu.Lock()
			for r, c := range n.tr.rejected {
				t.Errorf("%s rejected %d messages: %s", n.name, c, r)
			}
			n.tr.mu.Unlock()
			for _, v := range n.tr.violations() {
				t.Errorf("%s saw %s", n.name, v)
			}
			// No node's degree reaches Dhi (12) and P3 is off, so a go
			// node has no reason to prune anyone: a meshbus peer stays in
			// its mesh.
			n.tr.mu.Lock()
			for p, c := range n.tr.prunedBy {
				if m.kindOf(p) == kindMB {
					t.Errorf("%s pruned meshbus peer %s %d times", n.name, p, c)
				}
			}
			n.tr.mu.Unlock()
		}
	}
}

func (m *mixedMesh) kindOf(p peer.ID) kind {
	for _, n := range m.nodes {
		if n.ID() == p {
			return n.Kind()
		}
	}
	return ""
}

// TestMixedMeshDelivery: 10 meshbus and 10 go-libp2p-pubsub nodes (6 and
// 6 under StrictNoSign)
// alternate on a ring with seeded chords (so messages cross both
// implementations, in both roles, on their way); every node publishes one
// 1 KiB message, then one node of each kind a 900 KiB one. Every message
// reaches every node exactly once in all four directions, every link
// negotiates the expected protocol on both ends, nothing is rejected or
// penalised on either side. Identity keys cycle through ed25519,
// secp256k1, ECDSA and RSA on both kinds, under StrictSign.
//
// Rows: go nodes limited to /meshsub/1.2.0, and go nodes with their
// default list (/meshsub/1.3.0 first), where a meshbus link negotiates the
// best protocol both speak: /meshsub/1.3.0 once meshbus offers it,
// /meshsub/1.2.0 until then (the row says which).
func TestMixedMeshDelivery(t *testing.T) {
	for _, row := range []struct {
		name        string
		goProtocols []protocol.ID
		goBest      protocol.ID
		n           int
		noSign      bool
	}{
		{"v1.2/StrictSign", goProtocolsV12, meshsub12, 10, false},
		{"v1.3/StrictSign", nil, meshsub13, 10, false},
		// StrictNoSign as libp2p's test-plans gossipsub-interop runs it:
		// no author, seqno or signature; the id is the first 8 bytes of
		// the data.
		{"v1.2/StrictNoSign", goProtocolsV12, meshsub12, 6, true},
	} {
		t.Run(row.name, func(t *testing.T) {
			mbBest := wire.Protocols[0]
			wantMixed := meshsub12
			if meshbusSpeaks(row.goBest) {
				wantMixed = row.goBest
			}
			if row.goBest == meshsub13 && !meshbusSpeaks(meshsub13) {
				t.Logf("meshbus does not offer %s yet: go<->go links negotiate it, meshbus links fall back to %s", meshsub13, wantMixed)
			}
			runDelivery(t, meshCfg{nb: row.n, ng: row.n, chords: 1, seed: 12, topic: "interop-" + row.name,
				goProtocols: row.goProtocols, noSign: row.noSign},
				wantMixed, row.goBest, mbBest, []int{1 << 10, 900 << 10})
		})
	}
}

// runDelivery builds the mesh, publishes a message of sizes[0] from every
// node and one of each larger size from one node of each kind, and checks
// delivery, protocols and cleanliness.
func runDelivery(t *testing.T, cfg meshCfg, wantMixed, wantGo, wantMB protocol.ID, sizes []int) {
	t.Helper()
	m := buildMesh(t, cfg)
	seen := m.checkProtocols(t, wantMixed, wantGo, wantMB)
	rng := rand.New(rand.NewPCG(cfg.seed, 1))
	var msgs []published
	for i := range m.nodes {
		msgs = append(msgs, m.publishAndWait(t, i, payload(rng, sizes[0]), 10*time.Second))
	}
	m.waitDelivered(t, msgs, 30*time.Second)
	for _, size := range sizes[1:] {
		for _, k := range []kind{kindMB, kindGo} {
			from := slices.IndexFunc(m.nodes, func(n node) bool { return n.Kind() == k })
			// Publish from a node in the middle of the ring rather than the first.
			for i := from + 2*(len(m.nodes)/4); i < len(m.nodes); i++ {
				if m.nodes[i].Kind() == k {
					from = i
					break
				}
			}
			p := m.publishAndWait(t, from, payload(rng, size), 20*time.Second)
			m.waitDelivered(t, []published{p}, 60*time.Second)
			msgs = append(msgs, p)
		}
	}
	for _, size := range sizes {
		var these []published
		for _, p := range msgs {
			if p.size == size {
				these = append(these, p)
			}
		}
		mx := m.matrix(t, these)
		for _, pair := range [][2]kind{{kindMB, kindMB}, {kindMB, kindGo}, {kindGo, kindMB}, {kindGo, kindGo}} {
			c := mx[pair]
			t.Logf("%7d B  %-16s -> %-16s %v", size, pair[0], pair[1], c)
			if c.expected == 0 || c.once != c.expected {
				t.Errorf("%d B %s -> %s: %v", size, pair[0], pair[1], c)
			}
		}
	}
	m.byKeyType(t, msgs)
	m.scoresByKind(t)
	for pair, ps := range seen {
		t.Logf("negotiated %s: %v", pair, ps)
	}
	m.checkClean(t)
}

// byKeyType logs, and checks, delivery per (publisher kind, publisher key
// type): every key type of both kinds published and was delivered
// everywhere exactly once.
func (m *mixedMesh) byKeyType(t *testing.T, msgs []published) {
	t.Helper()
	type row struct {
		k   kind
		typ string
	}
	cells := map[row]*cell{}
	for _, p := range msgs {
		src := m.nodes[p.from]
		r := row{src.Kind(), keyTypeName(int(src.Host().Peerstore().PubKey(src.ID()).Type()))}
		if cells[r] == nil {
			cells[r] = &cell{}
		}
		for i, n := range m.nodes {
			if i == p.from {
				continue
			}
			cells[r].expected++
			switch got := n.Count(m.cfg.topic, p.key); {
			case got == 1:
				cells[r].once++
			case got == 0:
				cells[r].missing++
			default:
				cells[r].dup++
			}
		}
	}
	for _, k := range []kind{kindMB, kindGo} {
		for _, typ := range keyTypes {
			c := cells[row{k, keyTypeName(typ)}]
			if c == nil {
				t.Errorf("no %s node with a %s key published", k, keyTypeName(typ))
				continue
			}
			t.Logf("published by %-16s with a %-9s key: %v", k, keyTypeName(typ), c)
			if c.once != c.expected {
				t.Errorf("%s %s: %v", k, keyTypeName(typ), c)
			}
		}
	}
}

// meshScoreParams are the scoring suite's parameters for one topic with P3
// (and P3b) off: a delivery run is too short and sparse for mesh delivery
// rates to mean anything, and P3 would prune idle links mid-run. P1, P2,
// P4 and P7 stay on.
func meshScoreParams(topic string) (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	p, th := goScoreParams()
	tp := *p.Topics[topicBusy]
	tp.MeshMessageDeliveriesWeight, tp.MeshFailurePenaltyWeight = 0, 0
	p.Topics = map[string]*pubsub.TopicScoreParams{topic: &tp}
	return p, th
}

// scoresByKind logs the scores go nodes give their meshbus and their go
// neighbours (positions on the ring differ, so only the means are shown)
// and fails on any invalid delivery (P4) or behaviour penalty (P7) a go
// node holds against a meshbus peer.
func (m *mixedMesh) scoresByKind(t *testing.T) {
	t.Helper()
	sum := map[kind]float64{}
	cnt := map[kind]int{}
	for _, n := range m.nodes {
		g, ok := n.(*goNode)
		if !ok {
			continue
		}
		var scores map[peer.ID]*pubsub.PeerScoreSnapshot
		_, before := g.Scores()
		waitUntil(t, 5*time.Second, func() string { return g.name + " made no score snapshot" }, func() bool {
			var n int
			scores, n = g.Scores()
			return n > before
		})
		for p, s := range scores {
			k := m.kindOf(p)
			if k == "" {
				continue
			}
			sum[k] += s.Score
			cnt[k]++
			if k != kindMB {
				continue
			}
			if s.BehaviourPenalty != 0 {
				t.Errorf("%s gives meshbus peer %s a behaviour penalty %.2f", g.name, p, s.BehaviourPenalty)
			}
			if ts := s.Topics[m.cfg.topic]; ts != nil && ts.InvalidMessageDeliveries != 0 {
				t.Errorf("%s counts %.2f invalid deliveries from meshbus peer %s", g.name, ts.InvalidMessageDeliveries, p)
			}
		}
	}
	for _, k := range []kind{kindMB, kindGo} {
		if cnt[k] > 0 {
			t.Logf("go nodes score their %s neighbours %.3f on average (%d links)", k, sum[k]/float64(cnt[k]), cnt[k])
		}
	}
}
