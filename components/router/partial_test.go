package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

func nextPartial(t testing.TB, s *PartialSubscription) PartialUpdate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("partial next: %v", err)
	}
	return u
}

// partialPair returns two meshbus nodes with the extension on, both joined
// to "t" with opts (a requesting, b as given), meshed with each other.
func partialPair(t *testing.T, bOpts PartialOptions) (a, b *node, ta, tb *Topic, clk *clock.Mock) {
	t.Helper()
	clk = clock.NewMock()
	a = newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	b = newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	var err error
	ta, err = a.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	tb, err = b.r.Join("t", WithPartial(bOpts))
	if err != nil {
		t.Fatal(err)
	}
	testhost.Connect(t, a.h, b.h)
	waitMeshed(t, clk, "t", a, b)
	bustest.Eventually(t, 10*time.Second, "extensions both ways", func() bool {
		ea, _ := a.r.PeerExtensions(b.h.ID())
		eb, _ := b.r.PeerExtensions(a.h.ID())
		return ea.PartialMessages && eb.PartialMessages
	}, heartbeat(clk))
	return a, b, ta, tb, clk
}

// Two meshbus nodes negotiate /meshsub/1.4.0, see each other's extension,
// and a group published complete on one completes on the other through a
// metadata round trip; extending it further pushes the new parts.
func TestPartialMessagesBetweenMeshbusNodes(t *testing.T) {
	clk := clock.NewMock()
	a := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	b := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	exts, err := eventbus.Subscribe[events.EvtPeerExtensionsReceived](b.bus, eventbus.BufSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer exts.Close()
	done, err := eventbus.Subscribe[events.EvtPartialGroupCompleted](b.bus, eventbus.BufSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer done.Close()
	ta, err := a.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	logicB := &bitLogic{n: 4}
	tb, err := b.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: logicB}))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tb.SubscribePartial(8)
	if err != nil {
		t.Fatal(err)
	}
	testhost.Connect(t, a.h, b.h)
	var ev events.EvtPeerExtensionsReceived
	select {
	case ev = <-exts.Out():
	case <-time.After(10 * time.Second):
		t.Fatal("no EvtPeerExtensionsReceived")
	}
	if ev.Peer != a.h.ID() || ev.Protocol != wire.ProtocolMeshsub14 || !ev.PartialMessages || !ev.LargeMessages {
		t.Fatalf("extensions event %+v", ev)
	}
	bustest.Eventually(t, 10*time.Second, "mesh", func() bool { return contains(a.r.Mesh("t"), b.h.ID()) }, heartbeat(clk))

	if err := ta.PublishPartial(context.Background(), []byte("g1"), fullBitParts(4, "x")); err != nil {
		t.Fatal(err)
	}
	u := nextPartial(t, sub)
	if string(u.GroupID) != "g1" || u.From != a.h.ID() || !u.Extended || !u.Complete || string(u.Message.(*bitParts).Full()) != "x-0x-1x-2x-3" {
		t.Fatalf("update %+v", u)
	}
	select {
	case e := <-done.Out():
		if e.GroupID != "g1" || e.From != a.h.ID() {
			t.Fatalf("completed %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EvtPartialGroupCompleted")
	}
	if got := metrictest.Sum(t, b.reg, "meshbus_router_peers", "protocol", "/meshsub/1.4.0"); got != 1 {
		t.Fatalf("b counts %v /meshsub/1.4.0 peers", got)
	}
}

// A node that only supports sending partial messages gets no parts and is
// still served parts it asks for; full messages are not sent to a peer
// that requested partial messages, but are to one that only supports them.
func TestPartialSupportOnlyAndFullFallback(t *testing.T) {
	_, _, ta, tb, _ := partialPair(t, PartialOptions{SupportsSendingPartial: true, Logic: &bitLogic{n: 4}})
	sb, _ := tb.Subscribe()
	sa, _ := ta.Subscribe()
	// a requests partial: b's full message does not reach it ...
	if err := tb.Publish(context.Background(), []byte("full-from-b")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); string(m.Data) != "full-from-b" {
		t.Fatal("local delivery")
	}
	// ... but b (supports only) gets a's full fallback of a complete group.
	if err := ta.PublishPartial(context.Background(), []byte("g"), fullBitParts(4, "y")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); string(m.Data) != "y-0y-1y-2y-3" {
		t.Fatalf("b got %q", m.Data)
	}
	if m := next(t, sa); string(m.Data) != "y-0y-1y-2y-3" {
		t.Fatalf("a local %q", m.Data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if m, err := sa.Next(ctx); err == nil {
		t.Fatalf("a got %q: full message to a peer that requested partial", m.Data)
	}
	// b does not request partial, so it has no partial subscription updates
	// from a; a asks b for a group b publishes, and completes it.
	suba, _ := ta.SubscribePartial(4)
	if err := tb.PublishPartial(context.Background(), []byte("h"), fullBitParts(4, "z")); err != nil {
		t.Fatal(err)
	}
	u := nextPartial(t, suba)
	if string(u.GroupID) != "h" || !u.Complete {
		t.Fatalf("a update %+v", u)
	}
}

// A peer that floods unknown groups, sends oversized metadata, or sends
// the Extensions control message twice is rejected with named reasons,
// counted and penalised; no panic, the state stays bounded.
func TestBadPartialInputPenalised(t *testing.T) {
	clk := clock.NewMock()
	cfg := DefaultPartialConfig()
	cfg.MaxPeerGroupsPerPeer, cfg.MaxMetadataSize = 2, 8
	n := newNode(t, clk, WithPartialMessages(cfg))
	pens, err := eventbus.Subscribe[events.EvtPeerPenalized](n.bus, eventbus.BufSize(256))
	if err != nil {
		t.Fatal(err)
	}
	defer pens.Close()
	if _, err := n.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}})); err != nil {
		t.Fatal(err)
	}
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	testhost.Connect(t, f.h, n.h)
	f.waitRPC("extensions first", func(r *pb.RPC) bool { return r.GetControl().GetExtensions().GetPartialMessages() })
	f.open(n.h.ID())
	hello := subscribeRPC("t")
	hello.Subscriptions[0].RequestsPartial = proto.Bool(true)
	hello.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}
	f.send(hello)
	bustest.Eventually(t, 10*time.Second, "extensions recorded", func() bool { e, _ := n.r.PeerExtensions(f.h.ID()); return e.PartialMessages }, nil)
	// Twice.
	f.send(&pb.RPC{Control: &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(false)}}})
	// Oversized metadata, unknown-group flood.
	f.send(&pb.RPC{Partial: &pb.PartialMessagesExtension{TopicID: proto.String("t"), GroupID: []byte("big"), PartsMetadata: make([]byte, 9)}})
	for i := range 10 {
		f.send(&pb.RPC{Partial: &pb.PartialMessagesExtension{TopicID: proto.String("t"), GroupID: []byte{'g', byte(i)}, PartsMetadata: []byte{0}}})
	}
	// Parts the application refuses.
	f.send(&pb.RPC{Partial: &pb.PartialMessagesExtension{TopicID: proto.String("t"), GroupID: []byte{'g', 0}, PartialMessage: []byte{7, 200}}})
	want := map[events.PenaltyReason]int{events.PenaltyExtensionsMisuse: 1, events.PenaltyBadPartial: 1 + 8 + 1}
	got := map[events.PenaltyReason]int{}
	bustest.Eventually(t, 10*time.Second, "penalties", func() bool {
		for {
			select {
			case e := <-pens.Out():
				got[e.Reason] += e.Count
			default:
				return got[events.PenaltyExtensionsMisuse] == want[events.PenaltyExtensionsMisuse] && got[events.PenaltyBadPartial] == want[events.PenaltyBadPartial]
			}
		}
	}, nil)
	for reason, n2 := range map[string]float64{"metadata_too_large": 1, "too_many_groups": 8, "invalid": 1} {
		if c := metrictest.Sum(t, n.reg, "meshbus_router_partial_rejected_total", "reason", reason); c != n2 {
			t.Fatalf("%s counted %v, want %v", reason, c, n2)
		}
	}
	// The extension is still on (the repeat was ignored) and the node serves.
	if e, ok := n.r.PeerExtensions(f.h.ID()); !ok || !e.PartialMessages {
		t.Fatal("repeat changed the peer's extensions")
	}
}

func TestPartialAPIErrors(t *testing.T) {
	clk := clock.NewMock()
	off := newNode(t, clk)
	if _, err := off.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 1}})); !errors.Is(err, ErrPartialDisabled) {
		t.Fatalf("join on a router without the extension: %v", err)
	}
	if topics := off.r.Topics(); len(topics) != 0 {
		t.Fatalf("half-joined: %v", topics)
	}
	plain, err := off.r.Join("t")
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.PublishPartial(context.Background(), []byte("g"), newBitParts(1)); !errors.Is(err, ErrPartialDisabled) {
		t.Fatalf("publish partial on a plain topic: %v", err)
	}
	if _, err := plain.SubscribePartial(1); !errors.Is(err, ErrPartialDisabled) {
		t.Fatalf("subscribe partial on a plain topic: %v", err)
	}
	on := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	if _, err := on.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true})); !errors.Is(err, ErrBadOption) {
		t.Fatalf("no logic: %v", err)
	}
	tp, err := on.r.Join("u", WithPartial(PartialOptions{SupportsSendingPartial: true, Logic: &bitLogic{n: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.PublishPartial(context.Background(), nil, newBitParts(1)); !errors.Is(err, ErrInvalidGroup) {
		t.Fatalf("empty group: %v", err)
	}
	s, _ := tp.SubscribePartial(1)
	_ = tp.Close()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after leave: %v", err)
	}
	if err := tp.PublishPartial(context.Background(), []byte("g"), newBitParts(1)); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("after leave: %v", err)
	}
	bad := DefaultPartialConfig()
	bad.GroupTTL = 1
	bus := eventbus.New()
	defer bus.Close()
	if _, err := New(testhost.New(t), bus, WithClock(clk), WithPartialMessages(bad)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("bad partial config: %v", err)
	}
}
