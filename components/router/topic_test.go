package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
)

func TestLeavePrunes(t *testing.T) {
	clk := clock.NewMock()
	a, b, ta, _ := pair(t, clk, "l")
	prunedB, err := eventbus.Subscribe[events.EvtPeerPruned](b.bus, eventbus.BufSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer prunedB.Close()
	leftA, err := eventbus.Subscribe[events.EvtTopicLeft](a.bus, eventbus.BufSize(4))
	if err != nil {
		t.Fatal(err)
	}
	defer leftA.Close()
	sa, _ := ta.Subscribe()

	if err := ta.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-prunedB.Out():
		if ev.Peer != a.h.ID() || ev.Topic != "l" || ev.Reason != events.PruneReasonRemote || ev.Backoff != 10*time.Second {
			t.Fatalf("b saw %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never saw the PRUNE")
	}
	select {
	case ev := <-leftA.Out():
		if ev.Topic != "l" {
			t.Fatalf("left %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EvtTopicLeft")
	}
	bustest.Eventually(t, 10*time.Second, "b forgets a's subscription", func() bool { return !contains(b.r.TopicPeers("l"), a.h.ID()) }, nil)
	if len(a.r.Mesh("l")) != 0 || len(b.r.Mesh("l")) != 0 {
		t.Fatal("mesh survived the leave")
	}
	if err := ta.Publish(context.Background(), []byte("x")); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("publish after leave: %v", err)
	}
	if _, err := sa.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("subscription after leave: %v", err)
	}
	if err := ta.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// Rejoining works and builds the mesh again after the backoff.
	if _, err := a.r.Join("l"); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 20*time.Second, "mesh rebuilt", func() bool { return contains(a.r.Mesh("l"), b.h.ID()) }, heartbeat(clk))
}

func TestJoinErrors(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	if _, err := n.r.Join("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.r.Join("x"); !errors.Is(err, ErrTopicJoined) {
		t.Fatalf("double join: %v", err)
	}
	if _, err := n.r.Join(""); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("empty topic: %v", err)
	}
	if got := n.r.Topics(); len(got) != 1 || got[0] != "x" {
		t.Fatalf("topics %v", got)
	}
}

func TestPublishErrors(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithMaxRPCSize(4096))
	tp, _ := n.r.Join("x")
	ctx := context.Background()
	if err := tp.Publish(ctx, make([]byte, 5000)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if err := tp.Publish(ctx, []byte("alone"), RequirePeers()); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("no peers: %v", err)
	}
	if err := tp.Publish(ctx, []byte("alone")); err != nil {
		t.Fatalf("without RequirePeers: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tp.Publish(cctx, []byte("late")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if err := n.r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(ctx, []byte("closed")); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNotJoined) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := n.r.Join("y"); !errors.Is(err, ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
}

func TestSlowSubscriberDropsAndCounts(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	tp, _ := n.r.Join("x")
	sub, _ := tp.Subscribe(SubscriptionBuffer(2))
	fast, _ := tp.Subscribe()
	ctx := context.Background()
	for i := range 5 {
		if err := tp.Publish(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if sub.Dropped() != 3 || fast.Dropped() != 0 {
		t.Fatalf("dropped %d (slow) %d (fast)", sub.Dropped(), fast.Dropped())
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_subscription_drops_total"); got != 3 {
		t.Fatalf("drops metric %v", got)
	}
	if m := next(t, sub); m.Data[0] != 0 {
		t.Fatalf("oldest kept is %d", m.Data[0])
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); m.Data[0] != 1 { // buffered messages survive Close
		t.Fatalf("after close got %d", m.Data[0])
	}
	if _, err := sub.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("drained closed subscription: %v", err)
	}
}
