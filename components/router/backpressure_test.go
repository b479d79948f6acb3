package router

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// A peer that never reads fills its queue: the router drops its data,
// counts, and emits EvtPeerQueueOverflowed, while a healthy peer receives
// every message.
func TestSlowPeerOverflowsOthersUnaffected(t *testing.T) {
	clk := clock.NewMock()
	a, _, ta, tb := pair(t, clk, "bulk", WithPeerQueues(32, 32))
	sb, _ := tb.Subscribe()
	overflow, err := eventbus.Subscribe[events.EvtPeerQueueOverflowed](a.bus, eventbus.BufSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer overflow.Close()

	slow := newRawPeer(t, wire.ProtocolMeshsub12, true)
	testhost.Connect(t, slow.h, a.h)
	slow.open(a.h.ID())
	slow.send(subscribeRPC("bulk"))
	bustest.Eventually(t, 10*time.Second, "slow peer subscribed", func() bool { return contains(a.r.TopicPeers("bulk"), slow.h.ID()) }, nil)

	payload := func(i int) []byte { // a fresh slice each time: published data is shared, never modified
		d := bytes.Repeat([]byte{7}, 16<<10)
		d[0], d[1] = byte(i), byte(i>>8)
		return d
	}
	ctx := context.Background()
	var ev events.EvtPeerQueueOverflowed
	got := false
	var ids []string
	for i := 0; i < 400 && !got; i++ {
		if err := ta.Publish(ctx, payload(i)); err != nil {
			t.Fatal(err)
		}
		// The healthy peer keeps up with every message.
		m := next(t, sb)
		if m.Data[0] != byte(i) || m.Data[1] != byte(i>>8) {
			t.Fatalf("healthy peer got message %d out of order", i)
		}
		ids = append(ids, m.ID)
		select {
		case ev = <-overflow.Out():
			got = true
		default:
		}
	}
	if !got {
		t.Fatal("no EvtPeerQueueOverflowed after 400 messages of 16 KiB to a peer that never reads")
	}
	if ev.Peer != slow.h.ID() || ev.Dropped < 1 {
		t.Fatalf("overflow event %+v", ev)
	}
	if metrictest.Sum(t, a.reg, "meshbus_router_queue_drops_total", "kind", "data") < 1 {
		t.Fatal("drops not counted")
	}
	// The message before the first drop is still queued (the writer is stuck
	// on the full stream): IDONTWANT from the peer cancels that copy.
	slow.send(&pb.RPC{Control: &pb.ControlMessage{Idontwant: []*pb.ControlIDontWant{{MessageIDs: [][]byte{[]byte(ids[len(ids)-2])}}}}})
	bustest.Eventually(t, 5*time.Second, "queued copy cancelled", func() bool {
		return metrictest.Sum(t, a.reg, "meshbus_router_queue_cancelled_total") == 1
	}, nil)
	// At most one event per heartbeat: more drops now are only counted...
	for i := range 10 {
		if err := ta.Publish(ctx, payload(1000+i)); err != nil {
			t.Fatal(err)
		}
		next(t, sb)
	}
	select {
	case ev := <-overflow.Out():
		t.Fatalf("second overflow event in one heartbeat: %+v", ev)
	default:
	}
	// ...and reported at the next heartbeat.
	clk.Add(time.Second)
	select {
	case ev := <-overflow.Out():
		if ev.Peer != slow.h.ID() || ev.Dropped < 9 { // 10 published, one fitting in the slot the cancel freed
			t.Fatalf("heartbeat overflow event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no overflow event at the heartbeat")
	}
}

func TestSendQueue(t *testing.T) {
	q := newSendQueue(3, 1)
	m := func(s string) *pb.Message { return &pb.Message{Data: []byte(s)} }
	for _, id := range []string{"a", "b", "c"} {
		if q.pushData(id, m(id), false) != pushQueued {
			t.Fatalf("push %s refused", id)
		}
	}
	if q.pushData("d", m("d"), false) != pushFull {
		t.Fatal("data queue accepted a 4th message")
	}
	if !q.pushControl(&pb.RPC{}) || q.pushControl(&pb.RPC{}) {
		t.Fatal("control queue bound wrong")
	}
	if !q.cancel("b") || q.cancel("b") || q.cancel("zzz") {
		t.Fatal("cancel wrong")
	}
	if q.pushData("d", m("d"), false) != pushQueued {
		t.Fatal("a cancelled slot was not freed")
	}
	if c, d := q.lens(); c != 1 || d != 3 {
		t.Fatalf("lens %d %d", c, d)
	}
	front := &pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{}}}
	q.pushControlFront(front) // beyond the bound, ahead of the queued one
	if q.popControl() != front || q.popControl() == nil || q.popControl() != nil {
		t.Fatal("control pop wrong")
	}
	size := func(*pb.Message) int { return 10 }
	got, _ := q.popData(nil, nil, nil, 15, size) // budget for one (always at least one)
	if len(got) != 1 || string(got[0].Data) != "a" {
		t.Fatalf("first batch %v", got)
	}
	got, _ = q.popData(nil, nil, nil, 100, size)
	if len(got) != 2 || string(got[0].Data) != "c" || string(got[1].Data) != "d" {
		t.Fatalf("second batch %v", got)
	}
	if got, _ := q.popData(nil, nil, nil, 100, size); len(got) != 0 {
		t.Fatalf("empty queue popped %v", got)
	}
	// Many cancels never let the slice grow without bound.
	for i := range 100 {
		id := string(rune('A' + i%26))
		q.pushData(id, m(id), false)
		q.cancel(id)
	}
	if len(q.data) > 2*q.maxData+1 {
		t.Fatalf("cancelled entries accumulate: %d", len(q.data))
	}
}

// A message the peer's reader has seen the peer does not need (it sent
// IDONTWANT for it, or the message) is not queued, and a queued one is
// skipped when the writer pops it.
func TestSendQueueSkipsUnwanted(t *testing.T) {
	q := newSendQueue(8, 1)
	m := func(s string) *pb.Message { return &pb.Message{Data: []byte(s)} }
	for _, id := range []string{"a", "b", "c"} {
		if q.pushData(id, m(id), false) != pushQueued {
			t.Fatalf("push %s refused", id)
		}
	}
	// The peer sends us "b" and IDONTWANT for "x".
	topic := "t"
	rpc := &pb.RPC{
		Publish: []*pb.Message{{From: []byte("author"), Seqno: []byte("b"), Topic: &topic}},
		Control: &pb.ControlMessage{Idontwant: []*pb.ControlIDontWant{{MessageIDs: [][]byte{[]byte("x")}}}},
	}
	if hs := noteUnwanted(&q.unwanted, rpc, []string{"b"}, nil); len(hs) != 2 {
		t.Fatalf("noted %d ids, want 2", len(hs))
	}
	if q.pushData("x", m("x"), false) != pushUnwanted {
		t.Fatal("a message the peer sent IDONTWANT for was queued")
	}
	got, skipped := q.popData(nil, nil, nil, 100, func(*pb.Message) int { return 10 })
	if skipped != 1 || len(got) != 2 || string(got[0].Data) != "a" || string(got[1].Data) != "c" {
		t.Fatalf("popped %v, skipped %d: want a and c, 1 skipped", got, skipped)
	}
	if _, d := q.lens(); d != 0 {
		t.Fatalf("%d live messages left", d)
	}
	// The ring forgets the oldest beyond its capacity.
	for i := range unwantedCap {
		q.unwanted.add(uint64(i) + 1)
	}
	if q.unwanted.has(wire.IDHash("x")) || !q.unwanted.has(1) || !q.unwanted.has(unwantedCap) {
		t.Fatal("ring kept the wrong ids")
	}
}

// When every chosen peer's queue is full, Publish says so.
func TestPublishReportsFullQueues(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPeerQueues(4, 4))
	tp, _ := n.r.Join("q")
	slow := newRawPeer(t, wire.ProtocolMeshsub12, true)
	testhost.Connect(t, slow.h, n.h)
	slow.open(n.h.ID())
	slow.send(subscribeRPC("q"))
	bustest.Eventually(t, 10*time.Second, "slow peer subscribed", func() bool { return contains(n.r.TopicPeers("q"), slow.h.ID()) }, nil)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = tp.Publish(context.Background(), bytes.Repeat([]byte{byte(i)}, 16<<10))
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("want ErrQueueFull, got %v", err)
	}
}
