package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// TestInteropWithJSFloodsub proves that meshbus's router treats real
// js-libp2p floodsub peers (@libp2p/floodsub, /floodsub/1.0.0) as the
// GossipSub spec requires: it negotiates /floodsub/1.0.0 with them, never
// puts them in a mesh, sends them no control message, sends them every
// message of the topic they subscribe to (its own and relayed ones) and
// accepts and forwards theirs.
//
// Three meshbus nodes are linked to each other; floodsub peer fs0 is
// linked to go0 (it dials) and go1 (go1 dials), fs1 only to go2 (go2
// dials). fs0 and fs1 are not linked, so their messages to each other
// cross the meshbus mesh, and fs1 gets everything through go2 alone. Every
// member publishes in turn. The meshbus nodes are full nodes (host.New,
// every built-in component), then the router alone on a bare host: what is
// checked is the router's behaviour. short-seqno pins a known gap (see
// testFloodsubShortSeqno).
func TestInteropWithJSFloodsub(t *testing.T) {
	requireJS(t)
	t.Run("host", func(t *testing.T) { testFloodsubPeers(t, AssemblyHost, 17) })
	t.Run("router-only", func(t *testing.T) { testFloodsubPeers(t, AssemblyRouter, 19) })
	t.Run("short-seqno", testFloodsubShortSeqno)
}

func testFloodsubPeers(t *testing.T, assembly Assembly, seed uint64) {
	ctx := testContext(t)
	cfg := Config{JSPeers: 2, GoNodes: 3, Messages: 40, Seed: seed, Assembly: assembly, NodePath: requireJS(t), Logf: t.Logf,
		DeliveryTimeout: 10 * time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := startFloodsubMesh(t, ctx, cfg, 3, 2, []Link{{0, 1}, {1, 2}, {2, 0}, {3, 0}, {1, 3}, {2, 4}})
	gos, fss := m.Members[:3], m.Members[3:]
	topic := cfg.Topic
	flood := string(wire.ProtocolFloodsub)

	// notInMesh fails the test if a floodsub peer is in a meshbus mesh now
	// or ever was (EvtPeerGrafted is recorded from before the first peer).
	notInMesh := func(when string) {
		t.Helper()
		for _, g := range gos {
			mesh, lg := g.Go.Router.Mesh(topic), g.Go.Log()
			for _, f := range fss {
				if slices.Contains(mesh, f.ID()) || lg.Grafted[f.ID()] > 0 {
					t.Fatalf("%s: %s has floodsub peer %s in its mesh (now %v, grafted %d times)",
						when, g.Name, f.Name, slices.Contains(mesh, f.ID()), lg.Grafted[f.ID()])
				}
			}
		}
	}
	notInMesh("after connecting")

	start := time.Now()
	pubs := publishRoundRobin(t, ctx, m)
	waitErr := m.WaitDelivered(ctx, pubs)
	res, err := m.Collect(ctx, pubs)
	if err != nil {
		t.Fatal(err)
	}
	res.DeliveryTime = time.Since(start)
	if waitErr != nil {
		for _, g := range gos {
			lg := g.Go.Log()
			t.Logf("%s: peers %v, scores %v, penalties %v, rejected %v", g.Name, lg.Protocols, lg.Scores, lg.Penalties, lg.Rejected)
		}
		for _, f := range fss {
			st, _ := f.JS.Stats(ctx)
			v, _ := f.JS.Mesh(ctx, topic)
			t.Logf("%s: %+v, view %+v", f.Name, st, v)
		}
		t.Fatalf("delivery: %v; missing: %v", waitErr, res.Missing)
	}

	// Every message reached every other member exactly once, with its
	// publisher as author; nothing was rejected either way.
	for _, p := range res.Pairs {
		if p.Expected == 0 || p.Delivered != p.Expected || p.Duplicates != 0 {
			t.Errorf("%s -> %s: %d of %d delivered, %d duplicates", p.From, p.To, p.Delivered, p.Expected, p.Duplicates)
		}
	}
	if len(res.Missing) > 0 || res.Unexpected > 0 || res.AuthorMismatches > 0 {
		t.Errorf("missing %v, unexpected %d, wrong author %d", res.Missing, res.Unexpected, res.AuthorMismatches)
	}
	if len(res.GoRejected) > 0 || res.JSInvalid > 0 {
		t.Errorf("meshbus rejected %v; floodsub found %d invalid: %v", res.GoRejected, res.JSInvalid, res.JSInvalidSample)
	}
	// No floodsub peer gets its own message back (meshbus skips the
	// author), and each got its messages from its meshbus neighbours: fs1
	// from go2 only.
	neighbours := map[string][]peer.ID{"fs0": {gos[0].ID(), gos[1].ID()}, "fs1": {gos[2].ID()}}
	for _, f := range fss {
		for _, r := range f.JS.Messages() {
			if r.From == f.ID() {
				t.Errorf("%s received its own message %.12q", f.Name, r.Data)
			}
			if !slices.Contains(neighbours[f.Name], r.ReceivedFrom) {
				t.Errorf("%s received %.12q from %s, not from a neighbour %v", f.Name, r.Data, r.ReceivedFrom, neighbours[f.Name])
			}
		}
	}

	// Both ends of every meshbus <-> floodsub link say /floodsub/1.0.0
	// (meshbus: EvtRouterPeerAdded); nobody grafts, scores below 0 or
	// penalises.
	if len(res.Negotiations) != 2*3 {
		t.Errorf("%d views of meshbus <-> floodsub links, want 6", len(res.Negotiations))
	}
	for _, n := range res.Negotiations {
		if n.Protocol != flood || n.Grafts != 0 || n.Score < 0 || len(n.Penalties) > 0 {
			t.Errorf("%s sees %s: protocol %q, %d grafts, score %.2f, penalties %v (want %s, no graft, no penalty)",
				n.Observer, n.Peer, n.Protocol, n.Grafts, n.Score, n.Penalties, flood)
		}
	}
	// The router's peers metric counts them under /floodsub/1.0.0: go0
	// and go1 have fs0, go2 has fs1.
	for _, g := range gos {
		if got := g.Go.PeersByProtocol(wire.ProtocolFloodsub); got != 1 {
			t.Errorf("%s: meshbus_router_peers{protocol=%q} = %d, want 1", g.Name, flood, got)
		}
	}
	notInMesh("after the exchange")
	for i, g := range gos {
		want := []peer.ID{gos[(i+1)%3].ID(), gos[(i+2)%3].ID()}
		if mesh := g.Go.Router.Mesh(topic); len(mesh) != 2 || !slices.Contains(mesh, want[0]) || !slices.Contains(mesh, want[1]) {
			t.Errorf("%s's mesh %v, want the two other meshbus nodes %v", g.Name, mesh, want)
		}
	}

	// No control message reached a floodsub peer, and fs1, linked to go2
	// alone, got each message once on the wire: go2 sent it once.
	for _, f := range fss {
		st, err := f.JS.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Control) > 0 {
			t.Errorf("%s got RPCs with a control part from %v", f.Name, st.Control)
		}
		if f.Name == "fs1" && st.Duplicates != 0 {
			t.Errorf("fs1 got %d duplicate copies from its only neighbour go2", st.Duplicates)
		}
		t.Logf("%s: %d messages delivered, %d duplicate copies dropped", f.Name, st.Received, st.Duplicates)
	}
	t.Logf("%d messages, every member published %d; meshbus dropped %d duplicate copies on the wire; delivered in %v",
		len(pubs), len(pubs)/len(m.Members), res.GoWireDuplicates, res.DeliveryTime)

	// The control counter above really sees control parts: an RPC with a
	// GRAFT, sent to fs0 over /floodsub/1.0.0, is counted.
	testFloodsubCountsControl(t, ctx, fss[0].JS, topic)
}

// startFloodsubMesh starts goN meshbus nodes (as cfg.Assembly says), then
// fsN floodsub peers (members goN and up), all subscribed to cfg.Topic,
// makes links (From dials To) and waits until linked meshbus nodes have
// grafted each other and every meshbus <-> floodsub link is known on both
// ends: meshbus has the peer as a /floodsub/1.0.0 topic peer, the floodsub
// peer has the meshbus node as a subscriber.
func startFloodsubMesh(t *testing.T, ctx context.Context, cfg Config, goN, fsN int, links []Link) *Mesh {
	t.Helper()
	m := &Mesh{Config: cfg}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Log(m.Stderr())
		}
	})
	var names []string
	for i := range goN {
		names = append(names, fmt.Sprintf("go%d", i))
	}
	for i := range fsN {
		names = append(names, fmt.Sprintf("fs%d", i))
	}
	m.Members = make([]*Member, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		mem := &Member{Name: name, Kind: KindGo}
		if i >= goN {
			mem.Kind = KindJS
		}
		m.Members[i] = mem
		wg.Add(1)
		go func() {
			defer wg.Done()
			if mem.Kind == KindGo {
				mem.Go, errs[i] = StartGoNode(GoOptions{Name: name, Topic: cfg.Topic, Seed: cfg.Seed + uint64(i), Assembly: cfg.Assembly, Logger: cfg.Logger})
				return
			}
			mem.JS, errs[i] = StartJSPeer(ctx, cfg.NodePath, cfg.PeerDir, name, JSOptions{Floodsub: true})
			if errs[i] == nil {
				errs[i] = mem.JS.Subscribe(ctx, cfg.Topic)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Members[goN:] {
		if p := f.JS.Protocols(); len(p) != 1 || p[0] != string(wire.ProtocolFloodsub) {
			t.Fatalf("%s speaks %v, want only %s", f.Name, p, wire.ProtocolFloodsub)
		}
	}
	m.Links = links
	for _, l := range m.Links {
		a, b := m.Members[l.From], m.Members[l.To]
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Dial(dctx, b.AddrInfo())
		cancel()
		if err != nil {
			t.Fatalf("%s dials %s: %v", a.Name, b.Name, err)
		}
	}
	start := time.Now()
	var missing []string
	err := poll(ctx, 10*time.Second, 20*time.Millisecond, func() (bool, error) {
		missing = missing[:0]
		for _, l := range m.Links {
			for _, end := range [][2]*Member{{m.Members[l.From], m.Members[l.To]}, {m.Members[l.To], m.Members[l.From]}} {
				a, b := end[0], end[1]
				switch {
				case a.Go != nil && b.Go != nil:
					if !slices.Contains(a.Go.Router.Mesh(cfg.Topic), b.ID()) {
						missing = append(missing, a.Name+" has not grafted "+b.Name)
					}
				case a.Go != nil:
					if a.Go.Log().Protocols[b.ID()] != wire.ProtocolFloodsub || !slices.Contains(a.Go.Router.TopicPeers(cfg.Topic), b.ID()) {
						missing = append(missing, a.Name+" lacks floodsub subscriber "+b.Name)
					}
				default:
					v, err := a.JS.Mesh(ctx, cfg.Topic)
					if err != nil {
						return false, err
					}
					if !slices.Contains(v.TopicPeers, b.ID()) {
						missing = append(missing, a.Name+" lacks subscriber "+b.Name)
					}
				}
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		t.Fatalf("links: %v (still missing: %v)", err, missing)
	}
	m.MeshFormed = time.Since(start)
	t.Logf("linked and subscribed after %v", m.MeshFormed.Round(time.Millisecond))
	return m
}

// publishRoundRobin publishes cfg.Messages messages, member after member,
// so that every member publishes (payloads as PublishRandom makes them).
func publishRoundRobin(t *testing.T, ctx context.Context, m *Mesh) []Published {
	t.Helper()
	cfg := m.Config
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e995))
	pubs := make([]Published, 0, cfg.Messages)
	for k := range cfg.Messages {
		who := k % len(m.Members)
		data := payload(rng, k, m.Members[who].Name, cfg.MinPayload+rng.IntN(cfg.MaxPayload-cfg.MinPayload+1))
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.Members[who].Publish(pctx, cfg.Topic, data)
		cancel()
		if err != nil {
			t.Fatalf("message %d from %s: %v", k, m.Members[who].Name, err)
		}
		pubs = append(pubs, Published{Publisher: who, Data: data})
	}
	return pubs
}

// testFloodsubCountsControl sends j, over /floodsub/1.0.0 from a bare
// go-libp2p host, an RPC with a subscription and a GRAFT, then one without
// control, and checks that j's control counter names the host exactly
// once.
func testFloodsubCountsControl(t *testing.T, ctx context.Context, j *JSPeer, topic string) {
	t.Helper()
	h, s := rawStream(t, ctx, j, wire.ProtocolFloodsub)
	w := wire.NewWriter(s, 0)
	withControl := &pb.RPC{
		Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String(topic)}},
		Control:       &pb.ControlMessage{Graft: []*pb.ControlGraft{{TopicID: proto.String(topic)}}},
	}
	plain := &pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String(topic + "/2")}}}
	for _, rpc := range []*pb.RPC{withControl, plain} {
		if err := w.WriteRPC(rpc); err != nil {
			t.Fatal(err)
		}
	}
	id := h.ID().String()
	var st JSStats
	err := poll(ctx, 10*time.Second, 20*time.Millisecond, func() (bool, error) {
		v, err := j.Mesh(ctx, topic+"/2")
		if err != nil {
			return false, err
		}
		// The plain RPC came after the GRAFT: once it is processed, so is
		// the GRAFT's.
		if !slices.Contains(v.TopicPeers, h.ID()) {
			return false, nil
		}
		st, err = j.Stats(ctx)
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("%s never processed the test RPCs: %v", j.Name, err)
	}
	if st.Control[id] != 1 {
		t.Fatalf("%s counted %v RPCs with control, want {%s: 1}", j.Name, st.Control, id)
	}
}

// js-libp2p floodsub (@libp2p/pubsub 10.1.18) encodes a seqno below 2^56
// without its leading zero bytes and signs that form; for its random seqnos
// that is 1 message in 256. The spec's seqno is a 64-bit big-endian uint,
// and meshbus (like @chainsafe/libp2p-gossipsub) rejects a signed message
// whose seqno is not 8 bytes. This pins that behaviour: the short-seqno
// message is rejected as malformed by the meshbus neighbour and never
// delivered, and the floodsub peer's next message is delivered (the
// rejection cuts nothing). peer.mjs keeps the top byte of its own random
// seqnos non-zero, so the other subtests do not hit it at random.
func testFloodsubShortSeqno(t *testing.T) {
	ctx := testContext(t)
	cfg := Config{JSPeers: 1, GoNodes: 1, NodePath: requireJS(t), Logf: t.Logf}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := startFloodsubMesh(t, ctx, cfg, 1, 1, []Link{{1, 0}})
	g, f := m.Members[0].Go, m.Members[1].JS
	const short, full = 0x00ab_cdef_0123_4567, 0x01ab_cdef_0123_4567
	for _, p := range []struct {
		data  string
		seqno uint64
	}{{"short seqno", short}, {"full seqno", full}} {
		recipients, err := f.PublishSeqno(ctx, cfg.Topic, []byte(p.data), p.seqno)
		if err != nil {
			t.Fatal(err)
		}
		if len(recipients) != 1 || recipients[0] != g.ID() {
			t.Fatalf("%q sent to %v, want [%s]", p.data, recipients, g.ID())
		}
	}
	// Both came on one stream, in order: once the second is delivered the
	// first has been judged.
	gm := waitGo(t, ctx, g, "full seqno")
	if v, ok := wire.SeqnoValue(gm.Seqno); !ok || v != full {
		t.Fatalf("delivered seqno %x, want %016x", gm.Seqno, uint64(full))
	}
	for _, msg := range g.Messages() {
		if string(msg.Data) == "short seqno" {
			t.Fatalf("meshbus delivered the message with a %d-byte seqno", len(msg.Seqno))
		}
	}
	lg := g.Log()
	if lg.Rejected[events.RejectMalformed] != 1 || len(lg.Rejected) != 1 {
		t.Fatalf("meshbus rejections %v, want exactly one %s", lg.Rejected, events.RejectMalformed)
	}
	t.Logf("meshbus rejected the 7-byte seqno as %s; penalties against the floodsub peer: %v",
		events.RejectMalformed, lg.Penalties[f.ID()])
}
