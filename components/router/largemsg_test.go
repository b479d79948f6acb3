package router

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/fragment"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// largeHello is a raw peer's first RPC advertising gossipsub v1.4
// large-message handling, with its subscriptions.
func largeHello(topics ...string) *pb.RPC {
	rpc := subscribeRPC(topics...)
	rpc.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{LargeMessageHandling: proto.Bool(true)}}
	return rpc
}

// fragmentsOf cuts m's encoding into fragments of size bytes under id
// (the default id of m when id is "").
func fragmentsOf(t testing.TB, m *pb.Message, id, topic string, size int) []*pb.LargeMessageFragment {
	t.Helper()
	enc, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		id = wire.DefaultMsgID(m)
	}
	return fragment.Split(nil, enc, []byte(id), topic, size)
}

func randomData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func peerExt(t testing.TB, r *Router, p *node) Extensions {
	t.Helper()
	e, ok := r.PeerExtensions(p.h.ID())
	if !ok {
		t.Fatalf("%s is not a peer", p.h.ID())
	}
	return e
}

// Two meshbus routers negotiate /meshsub/1.4.0 and record each other's
// large-message flag; a v1.4 peer that advertises nothing, and any peer of
// a router built WithoutLargeMessages, is not marked.
func TestV14NegotiationRecordsLargeMessages(t *testing.T) {
	clk := clock.NewMock()
	a, b := newNode(t, clk), newNode(t, clk)
	exts := bustest.Subscribe[events.EvtPeerExtensionsReceived](t, b.bus)
	testhost.Connect(t, a.h, b.h)
	if ev := bustest.Next(t, exts, nil, 10*time.Second); ev.Peer != a.h.ID() || ev.Protocol != wire.ProtocolMeshsub14 || !ev.LargeMessages || ev.PartialMessages {
		t.Fatalf("extensions event %+v", ev)
	}
	bustest.Eventually(t, 10*time.Second, "both marked v1.4", func() bool {
		ea, oka := a.r.PeerExtensions(b.h.ID())
		eb, okb := b.r.PeerExtensions(a.h.ID())
		return oka && okb && ea.LargeMessages && eb.LargeMessages
	}, nil)
	for _, n := range []*node{a, b} {
		if got := metrictest.Sum(t, n.reg, "meshbus_router_peers", "protocol", "/meshsub/1.4.0"); got != 1 {
			t.Fatalf("%v /meshsub/1.4.0 peers", got)
		}
	}

	// A raw v1.4 peer whose first RPC has no Extensions: not marked. Our
	// first RPC to it is the Extensions with the flag.
	f := newRawPeer(t, wire.ProtocolMeshsub14, false)
	testhost.Connect(t, f.h, b.h)
	first := f.waitRPC("first RPC", func(*pb.RPC) bool { return true })
	if !first.GetControl().GetExtensions().GetLargeMessageHandling() {
		t.Fatalf("first RPC on /meshsub/1.4.0: %v", first)
	}
	f.open(b.h.ID())
	f.send(subscribeRPC("x"))
	bustest.Eventually(t, 10*time.Second, "raw peer subscribed", func() bool { return contains(b.r.TopicPeers("x"), f.h.ID()) }, nil)
	if e, ok := b.r.PeerExtensions(f.h.ID()); !ok || e.LargeMessages {
		t.Fatalf("raw peer without the flag: %+v %v", e, ok)
	}

	// A router without large messages: advertises nothing (its first RPC
	// on v1.4 is its hello), marks nobody, while the event still says what
	// the peer advertised.
	c := newNode(t, clk, WithoutLargeMessages())
	cext := bustest.Subscribe[events.EvtPeerExtensionsReceived](t, c.bus)
	testhost.Connect(t, a.h, c.h)
	if ev := bustest.Next(t, cext, nil, 10*time.Second); ev.Peer != a.h.ID() || !ev.LargeMessages {
		t.Fatalf("c's extensions event %+v", ev)
	}
	bustest.Eventually(t, 10*time.Second, "a and c peers", func() bool {
		_, oka := a.r.PeerExtensions(c.h.ID())
		_, okc := c.r.PeerExtensions(a.h.ID())
		return oka && okc
	}, nil)
	if peerExt(t, a.r, c).LargeMessages || peerExt(t, c.r, a).LargeMessages {
		t.Fatal("a peer of a router without large messages is marked v1.4")
	}
	g := newRawPeer(t, wire.ProtocolMeshsub14, false)
	testhost.Connect(t, g.h, c.h)
	if first := g.waitRPC("first RPC", func(*pb.RPC) bool { return true }); first.GetControl().GetExtensions().GetLargeMessageHandling() {
		t.Fatalf("WithoutLargeMessages advertised large-message handling: %v", first)
	}
}

// v14Pair is two linked routers in topic "big" that negotiated gossipsub
// v1.4 both ways, a's topic and a subscription of b's.
func v14Pair(t *testing.T, clk *clock.Mock, opts ...Option) (a, b *node, ta *Topic, sb *Subscription) {
	t.Helper()
	a, b, ta, tb := pair(t, clk, "big", opts...)
	sb, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, "v1.4 both ways", func() bool {
		return peerExt(t, a.r, b).LargeMessages && peerExt(t, b.r, a).LargeMessages
	}, nil)
	return a, b, ta, sb
}

// Two meshbus routers that fragment from the spec's 64 KiB (our default
// threshold is the maximum RPC size) exchange a 200 KiB message as
// fragments: delivered once, byte for byte, and counted as fragments on
// both sides.
func TestFragmentedMessageDelivered(t *testing.T) {
	clk := clock.NewMock()
	cfg := DefaultLargeMessageConfig()
	cfg.FragmentThreshold = 64 << 10
	a, b, ta, sb := v14Pair(t, clk, WithLargeMessages(cfg))
	data := randomData(200<<10, 7)
	ctx := context.Background()
	if err := ta.Publish(ctx, data, RequirePeers()); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); !bytes.Equal(m.Data, data) || m.ReceivedFrom != a.h.ID() {
		t.Fatalf("got %d bytes from %s", len(m.Data), m.ReceivedFrom)
	}
	// A marker after it: the next message read is the marker (no second copy).
	if err := ta.Publish(ctx, []byte("marker"), RequirePeers()); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); string(m.Data) != "marker" {
		t.Fatalf("after the large message: %d bytes", len(m.Data))
	}
	bustest.Eventually(t, 10*time.Second, "counters", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_fragmented_messages_total", "direction", "in") == 1
	}, nil)
	// ~205 KB of encoding in 64 KiB fragments.
	for _, c := range []struct {
		n                  *node
		name, label, value string
		want               float64
	}{
		{a, "meshbus_router_fragmented_messages_total", "direction", "out", 1},
		{a, "meshbus_router_fragments_total", "kind", "out", 4},
		{b, "meshbus_router_fragments_total", "kind", "in", 4},
		{b, "meshbus_router_fragmented_messages_total", "direction", "out", 0}, // not sent back to its sender
		{b, "meshbus_router_fragments_rejected_total", "", "", 0},
		{b, "meshbus_router_fragment_reassembly_bytes", "", "", 0},
	} {
		var got float64
		if c.label == "" {
			got = metrictest.Sum(t, c.n.reg, c.name)
		} else {
			got = metrictest.Sum(t, c.n.reg, c.name, c.label, c.value)
		}
		if got != c.want {
			t.Errorf("%s{%s=%s} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
}

// A raw v1.4 peer sends malformed fragments: each case is a counted, named
// rejection with a penalty; a forged or invalid reassembled message is never
// delivered; reassembly memory stays bounded and is released at the
// timeout; honest messages (whole and fragmented) still get through, and
// fragments from a peer that did not advertise v1.4 are refused.
func TestHostileFragments(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	const topic = "t"
	tp, err := n.r.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tp.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	rejected := bustest.Subscribe[events.EvtFragmentRejected](t, n.bus)
	f := newRawPeer(t, wire.ProtocolMeshsub14, false)
	testhost.Connect(t, f.h, n.h)
	f.open(n.h.ID())
	f.send(largeHello(topic))
	bustest.Eventually(t, 10*time.Second, "raw peer marked v1.4", func() bool {
		e, ok := n.r.PeerExtensions(f.h.ID())
		return ok && e.LargeMessages
	}, nil)
	send := func(frags ...*pb.LargeMessageFragment) { f.send(&pb.RPC{LargeMessageFragments: frags}) }
	raw := func(id string, idx, total int, data []byte, topic string) *pb.LargeMessageFragment {
		return &pb.LargeMessageFragment{MessageID: []byte(id), FragmentIndex: proto.Uint32(uint32(idx)),
			TotalFragments: proto.Uint32(uint32(total)), FragmentData: data, TopicID: proto.String(topic)}
	}
	d := []byte("data")
	// Malformed: an index not below the total.
	send(raw("x1", 2, 2, d, topic))
	// Inconsistent total.
	send(raw("x2", 0, 3, d, topic), raw("x2", 1, 4, d, topic))
	// Too large: two 600 KiB fragments of a message over 1 MiB.
	send(raw("x3", 0, 2, make([]byte, 600<<10), topic))
	send(raw("x3", 1, 2, make([]byte, 600<<10), topic))
	// Forged: another message's bytes under an honest message's id.
	honest, other := f.message(topic, "honest"), f.message(topic, "forged")
	send(fragmentsOf(t, other, wire.DefaultMsgID(honest), topic, 16)...)
	// Topic mismatch: the fragments name another (joined) topic than the
	// message.
	if _, err := n.r.Join("u"); err != nil {
		t.Fatal(err)
	}
	send(fragmentsOf(t, f.message(topic, "elsewhere"), "", "u", 16)...)
	// A topic we are not in: the fragments are not kept (no rejection, no
	// penalty: a whole message of it is dropped the same way).
	send(fragmentsOf(t, f.message("v", "not-joined"), "", "v", 16)...)
	send(raw("x5", 0, 2, d, "v"))
	// Undecodable bytes.
	send(raw("x4", 0, 1, []byte{0xff, 0xff, 0xff}, topic))
	// Invalid: the right id, bad signature (the data changed after signing).
	bad := f.message(topic, "signed")
	bad.Data = []byte("tampered")
	send(fragmentsOf(t, bad, "", topic, 16)...)
	// Too many pending: 17 messages started, never completed.
	for i := range 17 {
		send(raw(string(rune('a'+i))+"-pending", 0, 2, d, topic))
	}
	// A whole message after all that: the marker that the RPCs above were
	// handled (one stream, in order).
	f.send(&pb.RPC{Publish: []*pb.Message{f.message(topic, "marker")}})
	if m := next(t, sub); string(m.Data) != "marker" {
		t.Fatalf("delivered %q before the marker", m.Data)
	}
	want := map[string]float64{
		"malformed": 1, "inconsistent": 1, "too_large": 1, "id_mismatch": 1, "topic_mismatch": 1,
		"undecodable": 1, "too_many_pending": 1,
	}
	check := func(want map[string]float64, penalties float64) {
		t.Helper()
		for reason, w := range want {
			if got := metrictest.Sum(t, n.reg, "meshbus_router_fragments_rejected_total", "reason", reason); got != w {
				t.Errorf("rejected %s: %v, want %v", reason, got, w)
			}
		}
		if got := metrictest.Sum(t, n.reg, "meshbus_router_penalties_total", "reason", "bad_fragment"); got != penalties {
			t.Errorf("bad_fragment penalties %v, want %v", got, penalties)
		}
	}
	check(want, 7)
	if got := metrictest.Sum(t, n.reg, "meshbus_router_fragments_total", "kind", "skipped"); got < 2 {
		t.Errorf("fragments of a topic not joined: %v skipped, want at least 2", got)
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_messages_rejected_total", "reason", "invalid_signature"); got != 1 {
		t.Errorf("invalid reassembled message: %v invalid_signature rejections, want 1", got)
	}
	held := metrictest.Sum(t, n.reg, "meshbus_router_fragment_reassembly_bytes")
	if held <= 0 || held > float64(DefaultLargeMessageConfig().MaxReassemblyBytes) {
		t.Fatalf("reassembly holds %v bytes", held)
	}
	for range 7 {
		if e := bustest.Next(t, rejected, nil, 10*time.Second); e.Peer != f.h.ID() || e.Reason == 0 {
			t.Fatalf("rejection event %+v", e)
		}
	}

	// The 16 pending reassemblies time out (30 s, checked at heartbeats).
	bustest.Eventually(t, 10*time.Second, "pending reassemblies timed out", func() bool {
		return metrictest.Sum(t, n.reg, "meshbus_router_fragments_rejected_total", "reason", "timed_out") == 16
	}, heartbeat(clk))
	want["timed_out"] = 16
	check(want, 7+16)
	if held := metrictest.Sum(t, n.reg, "meshbus_router_fragment_reassembly_bytes"); held != 0 {
		t.Fatalf("reassembly still holds %v bytes", held)
	}

	// An honest fragmented message still gets through.
	big := f.message(topic, string(randomData(100<<10, 3)))
	send(fragmentsOf(t, big, "", topic, 64<<10)...)
	if m := next(t, sub); !bytes.Equal(m.Data, big.Data) {
		t.Fatalf("delivered %d bytes, want the honest fragmented message", len(m.Data))
	}

	// A v1.4 peer that did not advertise the flag: its fragments are
	// refused (one rejection per RPC) and its message is not delivered.
	g := newRawPeer(t, wire.ProtocolMeshsub14, false)
	testhost.Connect(t, g.h, n.h)
	g.open(n.h.ID())
	g.send(subscribeRPC(topic))
	g.send(&pb.RPC{LargeMessageFragments: fragmentsOf(t, g.message(topic, "unasked"), "", topic, 16)})
	g.send(&pb.RPC{Publish: []*pb.Message{g.message(topic, "marker-g")}})
	if m := next(t, sub); string(m.Data) != "marker-g" {
		t.Fatalf("delivered %q from a peer without v1.4", m.Data)
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_fragments_rejected_total", "reason", "not_negotiated"); got != 1 {
		t.Fatalf("not_negotiated %v, want 1", got)
	}
	check(want, 7+16+1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unexpected delivery %q (%v)", m.Data, err)
	}
}

func TestLargeMessageOptionsValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	t.Cleanup(func() { _ = bus.Close() })
	for _, mut := range []func(*LargeMessageConfig){
		func(c *LargeMessageConfig) { c.FragmentSize = MinLargeMessageFragmentSize - 1 },
		func(c *LargeMessageConfig) { c.FragmentThreshold = 0 },
		func(c *LargeMessageConfig) { c.FragmentTimeout = 0 },
		func(c *LargeMessageConfig) { c.MaxPendingPerPeer = 0 },
		func(c *LargeMessageConfig) { c.MaxReassemblyBytes = 1000 },
	} {
		c := DefaultLargeMessageConfig()
		mut(&c)
		if _, err := New(h, bus, WithLargeMessages(c)); !errors.Is(err, ErrBadOption) {
			t.Fatalf("%+v: %v, want ErrBadOption", c, err)
		}
		// Turned off, the parameters do not matter.
		r, err := New(h, bus, WithLargeMessages(c), WithoutLargeMessages())
		if err != nil {
			t.Fatalf("off: %v", err)
		}
		_ = r.Close()
	}
}

// Each new inbound stream records the peer's flag again: a peer that
// reopens its stream without the flag is no longer a v1.4 peer, and with
// it again it is.
func TestV14NewStreamRecordsAgain(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	f := newRawPeer(t, wire.ProtocolMeshsub14, false)
	testhost.Connect(t, f.h, n.h)
	marked := func(want bool) func() bool {
		return func() bool { e, ok := n.r.PeerExtensions(f.h.ID()); return ok && e.LargeMessages == want }
	}
	f.open(n.h.ID())
	f.send(largeHello("a"))
	bustest.Eventually(t, 10*time.Second, "marked v1.4", marked(true), nil)
	f.open(n.h.ID()) // a new stream replaces the old one
	f.send(subscribeRPC("b"))
	bustest.Eventually(t, 10*time.Second, "unmarked on a stream without the flag", marked(false), nil)
	f.open(n.h.ID())
	f.send(largeHello("c"))
	bustest.Eventually(t, 10*time.Second, "marked again", marked(true), nil)
}

// With the default parameters a 200 KiB message goes whole between v1.4
// routers: the threshold is the maximum RPC size.
func TestDefaultSendsLargeMessagesWhole(t *testing.T) {
	clk := clock.NewMock()
	a, _, ta, sb := v14Pair(t, clk)
	data := randomData(200<<10, 8)
	if err := ta.Publish(context.Background(), data, RequirePeers()); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); !bytes.Equal(m.Data, data) {
		t.Fatalf("got %d bytes", len(m.Data))
	}
	if n := metrictest.Sum(t, a.reg, "meshbus_router_fragments_total", "kind", "out"); n != 0 {
		t.Fatalf("%v fragments sent with the default threshold", n)
	}
}

// A large message queued for a peer that takes fragments is set aside to
// go as fragments only when the writer takes it: an IDONTWANT (or
// IMRECEIVING, or the peer's own copy) that cancels it while queued means
// no fragment of it is ever written.
func TestCancelledCopyIsNotFragmented(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := &Router{}
	r.cfg.maxRPCSize = wire.DefaultMaxRPCSize
	r.cfg.large = DefaultLargeMessageConfig()
	r.cfg.large.FragmentThreshold = 64 << 10
	r.large.fragmentOut = true
	topic := "big"
	big := func(seq string) *pb.Message {
		return &pb.Message{From: []byte("author"), Seqno: []byte(seq), Topic: &topic, Data: randomData(200<<10, 3)}
	}
	for _, cancel := range []bool{false, true} {
		q := newSendQueue(8, 8)
		q.large.Store(true)
		if q.pushData("m1", big("1"), false) != pushQueued {
			t.Fatal("push refused")
		}
		if cancel && !q.cancel("m1") {
			t.Fatal("cancel of a queued copy failed")
		}
		wr := &writer{pc: &peerConn{q: q}, budget: dataBatchBytes - 64, m: m}
		rpc := wr.next(r, q)
		switch {
		case cancel && (rpc != nil || len(wr.big) != 0):
			t.Fatalf("cancelled copy: next = %v, %d set aside for fragments", rpc, len(wr.big))
		case !cancel && (len(wr.big) != 1 || wr.bigIDs[0] != "m1"):
			t.Fatalf("queued copy: %d set aside (%v), want m1", len(wr.big), wr.bigIDs)
		}
	}
}
