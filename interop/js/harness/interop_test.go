package harness

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// RequireEnv, set to 1 (or CI set to true), makes a missing Node.js fail
// the interop test instead of skipping it.
const requireEnv = "MESHBUS_REQUIRE_INTEROP"

var (
	prepareOnce sync.Once
	prepareErr  error
)

// requireJS returns the node executable. On first use it prepares the JS
// peer (Prepare: npm ci of the committed lockfile into the cache directory
// outside the source tree, once per lockfile), so `go test ./...` needs no
// extra step. A machine without node or npm, or whose npm cannot install,
// skips the test saying why, unless CI=true or MESHBUS_REQUIRE_INTEROP=1
// (then it fails); MESHBUS_SKIP_INTEROP=1 always skips.
func requireJS(t *testing.T) string {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipping the js-libp2p interop test", SkipEnv)
	}
	required := os.Getenv("CI") == "true" || os.Getenv(requireEnv) == "1"
	cannot := func(err error) {
		t.Helper()
		if !required {
			t.Skipf("the js-libp2p interop test cannot run here (set %s=1 to make this a failure): %v", requireEnv, err)
		}
		t.Fatalf("the js-libp2p interop test cannot run: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		cannot(fmt.Errorf("%w: %v", ErrNodeMissing, err))
	}
	dir := DefaultPeerDir()
	prepareOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		prepareErr = Prepare(ctx, dir)
	})
	if prepareErr != nil {
		cannot(prepareErr)
	}
	node, err := CheckPrerequisites(dir)
	if err != nil {
		cannot(err)
	}
	return node
}

// rawStream connects a bare libp2p host (no router) to the JS peer and opens
// a stream to it speaking proto, for tests that hand-build RPCs. The host
// answers the JS peer's own stream of proto by reading and discarding. Both
// are closed at the test's cleanup.
func rawStream(t *testing.T, ctx context.Context, j *JSPeer, proto protocol.ID) (host.Host, network.Stream) {
	t.Helper()
	h, err := newLibp2pHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	h.SetStreamHandler(proto, func(s network.Stream) {
		r := wire.NewReader(s, 0)
		for {
			if _, err := r.ReadRPC(); err != nil {
				_ = s.Reset()
				return
			}
		}
	})
	if err := h.Connect(ctx, j.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(ctx, j.ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Reset() })
	return h, s
}

// testContext bounds the JS processes by the test's deadline (minus a
// margin for cleanup), or two minutes.
func testContext(t *testing.T) context.Context {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-10*time.Second).Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// newTestMesh starts a mesh closed at cleanup, logging the JS peers' stderr
// if the test failed.
func newTestMesh(t *testing.T, ctx context.Context, cfg Config) *Mesh {
	t.Helper()
	cfg.NodePath = requireJS(t)
	cfg.Logf = t.Logf
	m, err := NewMesh(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Log(m.Stderr())
		}
	})
	return m
}

// TestInteropWithJSGossipsub proves that meshbus's router and
// @chainsafe/libp2p-gossipsub (js-libp2p) interoperate on the wire.
func TestInteropWithJSGossipsub(t *testing.T) {
	requireJS(t)
	t.Run("mesh", testMixedMesh)
	t.Run("mesh-router-only", testRouterOnlyMesh)
	t.Run("directions", testDirections)
	t.Run("js-verifies-signatures", testJSVerifiesSignatures)
	t.Run("idontwant", testIDontWant)
	t.Run("meshsub-1.1", testMeshsub11)
	t.Run("leave", testLeave)
	t.Run("gossip", testGossip)
	t.Run("js-default-msgid", testJSDefaultMsgID)
}

// 2 JS peers and 3 meshbus nodes (host.New, every built-in component) in a
// ring with chords (some pairs reach each other only through the other
// implementation), 50 messages from both kinds, one of 200 KiB: every node
// gets every message exactly once, and Result.Err's other checks hold.
func testMixedMesh(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 2, GoNodes: 3, Messages: 50, LargeMessage: 200 << 10, Seed: 7})
	res, err := m.Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = res.WriteReport(&b)
	t.Log("\n" + b.String())
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	// Relays happened across implementations: some pair is not linked.
	if len(m.Links) >= len(m.Members)*(len(m.Members)-1)/2 {
		t.Fatalf("topology is complete (%d links); messages never needed a relay", len(m.Links))
	}
	for _, p := range res.Pairs {
		if p.Expected == 0 {
			t.Fatalf("pair %s -> %s had nothing to deliver", p.From, p.To)
		}
	}
}

// The same checks with the router alone (no scorer, no peer manager), on a
// bare go-libp2p host: what interoperates is the router, not the assembly.
func testRouterOnlyMesh(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 2, GoNodes: 3, Messages: 20, Assembly: AssemblyRouter, Seed: 11})
	res, err := m.Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

// One of each: a message published by JS reaches the Go subscriber with
// the JS author, a verifiable signature and the spec id, and a message
// published by Go reaches the JS subscriber with the Go author and the
// same id as the Go side computes.
func testDirections(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 1, GoNodes: 1})
	g, j := m.Members[0].Go, m.Members[1].JS
	if g == nil || j == nil {
		t.Fatalf("members %v, %v: want go then js", m.Members[0].Kind, m.Members[1].Kind)
	}
	topic := m.Config.Topic

	// JS -> Go.
	recipients, err := j.Publish(ctx, topic, []byte("from js"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recipients) != 1 || recipients[0] != g.ID() {
		t.Fatalf("js sent to %v, want [%s]", recipients, g.ID())
	}
	gm := waitGo(t, ctx, g, "from js")
	if gm.From != j.ID() || gm.ReceivedFrom != j.ID() || gm.Topic != topic {
		t.Fatalf("go got from %s via %s on %q, want %s", gm.From, gm.ReceivedFrom, gm.Topic, j.ID())
	}
	if err := wire.Verify(gm.Raw); err != nil {
		t.Fatalf("js signature does not verify: %v", err)
	}
	if len(gm.Seqno) != wire.SeqnoLen || gm.ID != string(gm.Raw.From)+string(gm.Seqno) {
		t.Fatalf("seqno %x, id %x: want 8 bytes and from||seqno", gm.Seqno, gm.ID)
	}

	// Go -> JS.
	if err := g.Topic.Publish(ctx, []byte("from go")); err != nil {
		t.Fatal(err)
	}
	jm := waitJS(t, ctx, j, "from go")
	own := waitGo(t, ctx, g, "from go") // the Go subscription's own copy
	if jm.From != g.ID() || jm.ReceivedFrom != g.ID() || jm.Topic != topic {
		t.Fatalf("js got from %s via %s on %q, want %s", jm.From, jm.ReceivedFrom, jm.Topic, g.ID())
	}
	if want := base64.RawStdEncoding.EncodeToString([]byte(own.ID)); strings.TrimRight(jm.ID, "=") != want {
		t.Fatalf("js id %s, go id %s", jm.ID, want)
	}
	if want := fmt.Sprintf("%x", own.Seqno); jm.Seqno != want {
		t.Fatalf("js seqno %s, go seqno %s", jm.Seqno, want)
	}
	st, err := j.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Invalid != 0 || st.Received != 1 {
		t.Fatalf("js stats %+v: want 1 received, 0 invalid", st)
	}
	lg := g.Log()
	if p := lg.Protocols[j.ID()]; p != wire.ProtocolMeshsub12 && p != wire.ProtocolMeshsub11 {
		t.Fatalf("go negotiated %q with js", p)
	}
	if lg.Grafted[j.ID()] == 0 || len(lg.Rejected) != 0 {
		t.Fatalf("go log: grafted %v, rejected %v", lg.Grafted, lg.Rejected)
	}
}

// The JS peer really checks signatures under StrictSign (so its accepting
// meshbus's messages means something): a message signed by wire.Sign is
// delivered, the same message with its data altered is reported invalid
// and never delivered.
func testJSVerifiesSignatures(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 1, GoNodes: 1})
	j := m.Members[1].JS
	topic := m.Config.Topic

	h, s := rawStream(t, ctx, j, wire.ProtocolMeshsub11)
	key := h.Peerstore().PrivKey(h.ID())
	seq := wire.NewSeqno(1)
	msg := func(data string) *pb.Message {
		m := &pb.Message{From: []byte(h.ID()), Data: []byte(data), Seqno: seq.Next(), Topic: proto.String(topic)}
		if err := wire.Sign(m, key); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tampered := msg("signed by meshbus")
	tampered.Data = []byte("altered after signing")
	good := msg("signed by meshbus")
	w := wire.NewWriter(s, 0)
	rpc := &pb.RPC{
		Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String(topic)}},
		Publish:       []*pb.Message{tampered, good},
	}
	if err := w.WriteRPC(rpc); err != nil {
		t.Fatal(err)
	}
	jm := waitJS(t, ctx, j, "signed by meshbus")
	if jm.From != h.ID() {
		t.Fatalf("from %s, want %s", jm.From, h.ID())
	}
	err := poll(ctx, 10*time.Second, 20*time.Millisecond, func() (bool, error) {
		for _, e := range j.Events() {
			if e.Kind == "invalid" && e.Peer == h.ID() {
				t.Logf("js rejected the altered message: %s", e.Error)
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("js never reported the altered message invalid: %v", err)
	}
	for _, m := range j.Messages() {
		if string(m.Data) == "altered after signing" {
			t.Fatal("js delivered a message whose signature does not match")
		}
	}
}

// IDONTWANT (gossipsub v1.2) works both ways: one meshbus node between two
// JS peers, messages above both thresholds. meshbus's IDONTWANT ids name
// messages the JS peers know (Result.Err checks it), and meshbus accepts
// the JS peers' IDONTWANT (its only neighbours are JS peers).
func testIDontWant(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 2, GoNodes: 1, Messages: 12, MinPayload: 1500, MaxPayload: 4000, Seed: 5})
	g := m.Members[0].Go
	if g == nil {
		t.Fatalf("member 0 is %s, want meshbus", m.Members[0].Kind)
	}
	res, err := m.Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if res.JSIDontWantFromGo.IDs == 0 {
		t.Fatal("the js peers got no IDONTWANT from meshbus")
	}
	if n := g.Outcomes("idontwant_recorded"); n == 0 {
		t.Fatal("meshbus recorded no IDONTWANT from the js peers")
	}
	t.Logf("js got %d IDONTWANT ids from meshbus (%d known); meshbus recorded %d IDONTWANT from js",
		res.JSIDontWantFromGo.IDs, res.JSIDontWantFromGo.Known, g.Outcomes("idontwant_recorded"))
}

// JS peers that speak only /meshsub/1.1.0: meshbus negotiates 1.1.0 with
// them (EvtRouterPeerAdded), delivers both ways, and sends them no
// IDONTWANT (a v1.2 message).
func testMeshsub11(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 2, GoNodes: 1, Messages: 12, MinPayload: 1500, MaxPayload: 4000, Seed: 9,
		JSProtocols: []string{string(wire.ProtocolMeshsub11)}})
	res, err := m.Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if got := res.Protocols(); len(got) != 1 || got[0] != string(wire.ProtocolMeshsub11) {
		t.Fatalf("negotiated %v, want only /meshsub/1.1.0", got)
	}
	if res.JSIDontWantFromGo.IDs != 0 {
		t.Fatalf("meshbus sent %d IDONTWANT ids to /meshsub/1.1.0 peers", res.JSIDontWantFromGo.IDs)
	}
}

// Leaving a topic works both ways: a meshbus node that closes its Topic
// PRUNEs the JS peer, which drops it from its mesh and its subscribers; a
// JS peer that unsubscribes PRUNEs the meshbus nodes, which drop it
// (EvtPeerPruned) and stop counting it as a subscriber.
func testLeave(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 1, GoNodes: 2, Seed: 13})
	g0, j, g1 := m.Members[0].Go, m.Members[1].JS, m.Members[2].Go
	if g0 == nil || j == nil || g1 == nil {
		t.Fatalf("members %s %s %s: want meshbus, js, meshbus", m.Members[0].Kind, m.Members[1].Kind, m.Members[2].Kind)
	}
	topic := m.Config.Topic

	if err := g1.Topic.Close(); err != nil {
		t.Fatal(err)
	}
	err := poll(ctx, 10*time.Second, 20*time.Millisecond, func() (bool, error) {
		v, err := j.Mesh(ctx, topic)
		if err != nil {
			return false, err
		}
		pruned := false
		for _, e := range j.Events() {
			pruned = pruned || (e.Kind == "prune" && e.Peer == g1.ID())
		}
		return pruned && !slices.Contains(v.Peers, g1.ID()) && !slices.Contains(v.TopicPeers, g1.ID()), nil
	})
	if err != nil {
		t.Fatalf("js never dropped the meshbus node that left: %v", err)
	}

	if err := j.Unsubscribe(ctx, topic); err != nil {
		t.Fatal(err)
	}
	err = poll(ctx, 10*time.Second, 20*time.Millisecond, func() (bool, error) {
		return g0.Log().Pruned[j.ID()] > 0 && !slices.Contains(g0.Router.Mesh(topic), j.ID()) &&
			!slices.Contains(g0.Router.TopicPeers(topic), j.ID()), nil
	})
	if err != nil {
		t.Fatalf("meshbus never dropped the js peer that left: mesh %v, pruned %v: %v",
			g0.Router.Mesh(topic), g0.Log().Pruned, err)
	}
	if st, err := j.Stats(ctx); err != nil || st.Invalid != 0 {
		t.Fatalf("js stats %+v, %v", st, err)
	}
	if lg := g0.Log(); len(lg.Rejected) != 0 || len(lg.Penalties) != 0 {
		t.Fatalf("meshbus rejected %v, penalised %v", lg.Rejected, lg.Penalties)
	}
	if v, err := j.Mesh(ctx, topic); err != nil || len(v.Penalties) != 0 {
		t.Fatalf("js penalised %v (%v)", v.Penalties, err)
	}
}

// Gossip from meshbus to js-libp2p is required by construction, not
// likely. js0 keeps no mesh (JSOptions.NoMesh) and is linked to go0 only,
// which dials it first, alone: go0's heartbeat grafts js0 (its only topic
// peer), and js0, at Dhi = 0 over an inbound link, answers PRUNE with a
// backoff, which go0 honours. The test waits for that prune before any
// other link exists. From then on js0 is in no mesh, so every message it
// did not publish can reach it only as go0's IHAVE, js0's IWANT and go0's
// answer. The rest (go0, js1, go1, js2, go2: Config.Sparse's ring with
// chords, mesh degree 1, no flood publishing) makes gossip cross the
// implementations elsewhere too. Every message must arrive exactly once
// everywhere (Result.Err, which also fails on any penalty, e.g. a broken
// IWANT promise), js0 must have asked go0 for every message it received,
// and go0 must never have re-grafted js0.
func testGossip(t *testing.T) {
	ctx := testContext(t)
	cfg := Config{NodePath: requireJS(t), Logf: t.Logf, GoNodes: 3, JSPeers: 3, Messages: 30, Sparse: true, Seed: 5}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := &Mesh{Config: cfg}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Log(m.Stderr())
		}
	})
	const gossipOnly, feeder = 1, 0 // js0 and go0
	names := []string{"go0", "js0", "js1", "go1", "js2", "go2"}
	m.Members = make([]*Member, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		mem := &Member{Name: name, Kind: KindGo}
		if name[:2] == "js" {
			mem.Kind = KindJS
		}
		m.Members[i] = mem
		wg.Add(1)
		go func() {
			defer wg.Done()
			if mem.Kind == KindGo {
				mem.Go, errs[i] = StartGoNode(GoOptions{Name: name, Topic: cfg.Topic, Seed: cfg.Seed + uint64(i), Sparse: true, Logger: cfg.Logger})
				return
			}
			opts := JSOptions{MsgID: cfg.MsgID, Sparse: true}
			if i == gossipOnly {
				opts = JSOptions{MsgID: cfg.MsgID, NoMesh: true}
			}
			mem.JS, errs[i] = StartJSPeer(ctx, cfg.NodePath, cfg.PeerDir, name, opts)
			if errs[i] == nil {
				errs[i] = mem.JS.Subscribe(ctx, cfg.Topic)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	go0, js0 := m.Members[feeder], m.Members[gossipOnly]
	dial := func(l Link) {
		t.Helper()
		a, b := m.Members[l.From], m.Members[l.To]
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := a.Dial(dctx, b.AddrInfo()); err != nil {
			t.Fatalf("%s dials %s: %v", a.Name, b.Name, err)
		}
		m.Links = append(m.Links, l)
	}
	dial(Link{From: feeder, To: gossipOnly})
	err := poll(ctx, cfg.MeshTimeout, 20*time.Millisecond, func() (bool, error) {
		l := go0.Go.Log()
		return l.Grafted[js0.ID()] == 1 && l.Pruned[js0.ID()] == 1 && !slices.Contains(go0.Go.Router.Mesh(cfg.Topic), js0.ID()), nil
	})
	if err != nil {
		t.Fatalf("go0's graft of js0 was never pruned: %v (log %+v)", err, go0.Go.Log())
	}
	for _, l := range topology(TopologyRing, 5) { // go0 js1 go1 js2 go2
		for _, i := range []*int{&l.From, &l.To} {
			if *i > 0 {
				*i++ // skip js0
			}
		}
		dial(l)
	}
	if err := m.waitMeshes(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := m.Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if l := go0.Go.Log(); l.Grafted[js0.ID()] != 1 {
		t.Fatalf("go0 grafted js0 %d times, want only the first (pruned) graft", l.Grafted[js0.ID()])
	}
	st, err := js0.JS.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	need := len(js0.Received())
	g := st.Gossip[go0.ID().String()]
	if need == 0 || g.IWantAsked < need || go0.Go.Outcomes("iwant_served") == 0 {
		t.Fatalf("js0 received %d messages, all only by gossip, but asked go0 for %d ids (%+v) and go0 answered %d IWANT",
			need, g.IWantAsked, g, go0.Go.Outcomes("iwant_served"))
	}
	t.Logf("js0 asked go0 for %d of %d advertised ids and received %d messages; all JS peers asked meshbus for %d ids, meshbus served %d IWANT, sent %d",
		g.IWantAsked, g.IHaveIDs, need, res.JSGossipWithGo.IWantAsked, res.GoIWantServed, res.GoIWantSent)
}

// With the JS library's own default id (protobuf(key) || seqno, not the
// spec's from || seqno) ids differ between the implementations, so gossip
// (IHAVE/IWANT/IDONTWANT) cannot match them; mesh delivery must still be
// complete and duplicate-free.
func testJSDefaultMsgID(t *testing.T) {
	ctx := testContext(t)
	m := newTestMesh(t, ctx, Config{JSPeers: 1, GoNodes: 2, Messages: 12, MsgID: MsgIDJSDefault, Seed: 3})
	res, err := m.Exchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	js := 0
	for _, mem := range m.Members {
		if mem.JS != nil {
			js += len(mem.JS.Messages())
		}
	}
	if res.IDMismatches != js || js == 0 {
		t.Fatalf("%d ids differ from the spec's, want exactly the %d JS deliveries", res.IDMismatches, js)
	}
	t.Logf("js-default ids: %d of %d IDONTWANT ids from meshbus name a message js knows", res.JSIDontWantFromGo.Known, res.JSIDontWantFromGo.IDs)
}

func waitGo(t *testing.T, ctx context.Context, g *GoNode, data string) GoMessage {
	t.Helper()
	var got GoMessage
	err := poll(ctx, 10*time.Second, 10*time.Millisecond, func() (bool, error) {
		for _, m := range g.Messages() {
			if string(m.Data) == data {
				got = m
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%s never got %q: %v", g.Name, data, err)
	}
	return got
}

func waitJS(t *testing.T, ctx context.Context, j *JSPeer, data string) JSMessage {
	t.Helper()
	var got JSMessage
	err := poll(ctx, 10*time.Second, 10*time.Millisecond, func() (bool, error) {
		for _, m := range j.Messages() {
			if string(m.Data) == data {
				got = m
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%s never got %q: %v", j.Name, data, err)
	}
	return got
}
