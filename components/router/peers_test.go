package router

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// The router follows connectedness from the bus: a disconnect removes the
// peer (prunes first), a reconnect brings it back into the mesh.
func TestDisconnectAndReconnect(t *testing.T) {
	clk := clock.NewMock()
	a, b, ta, tb := pair(t, clk, "r")
	pruned, _ := eventbus.Subscribe[events.EvtPeerPruned](a.bus, eventbus.BufSize(16))
	defer pruned.Close()
	removed, _ := eventbus.Subscribe[events.EvtRouterPeerRemoved](a.bus, eventbus.BufSize(16))
	defer removed.Close()

	if err := a.h.Network().ClosePeer(b.h.ID()); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-pruned.Out():
		if ev.Peer != b.h.ID() || ev.Reason != events.PruneReasonPeerRemoved {
			t.Fatalf("pruned %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no prune on disconnect")
	}
	select {
	case ev := <-removed.Out():
		if ev.Peer != b.h.ID() {
			t.Fatalf("removed %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EvtRouterPeerRemoved on disconnect")
	}
	if contains(a.r.Peers(), b.h.ID()) {
		t.Fatal("peer still tracked after disconnect")
	}

	testhost.Connect(t, a.h, b.h)
	waitMeshed(t, clk, "r", a, b) // after the reconnect
	sb, _ := tb.Subscribe()
	if err := ta.Publish(context.Background(), []byte("back")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); string(m.Data) != "back" {
		t.Fatalf("got %q", m.Data)
	}
}

// Scores come from EvtPeerScoresUpdated: a graylisted peer's messages are
// not delivered.
func TestScoresFromBus(t *testing.T) {
	clk := clock.NewMock()
	a, b, ta, _ := pair(t, clk, "s")
	em, err := eventbus.NewEmitter[events.EvtPeerScoresUpdated](b.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	th := events.ScoreThresholds{Gossip: -10, Publish: -50, Graylist: -100}
	if err := em.Emit(events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: a.h.ID(), Score: -1000}}, Thresholds: th}); err != nil {
		t.Fatal(err)
	}
	i := 0
	bustest.Eventually(t, 10*time.Second, "graylisted message rejected", func() bool {
		i++
		if err := ta.Publish(context.Background(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		return metrictest.Sum(t, b.reg, "meshbus_router_messages_rejected_total", "reason", "graylisted") > 0
	}, nil)
}

// A peer that resets our stream while staying connected gets a new stream
// after a backoff on the injected clock, and our hello again.
func TestStreamReopenedAfterReset(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	tp, _ := n.r.Join("re")
	f := newRawPeer(t, wire.ProtocolMeshsub11, false)
	streams := f.routerStreams(wire.ProtocolMeshsub11)
	testhost.Connect(t, f.h, n.h)
	first := nextStream(t, streams)
	f.open(n.h.ID())
	f.send(subscribeRPC("re")) // so that publishes go to f
	bustest.Eventually(t, 10*time.Second, "peer subscribed", func() bool { return contains(n.r.TopicPeers("re"), f.h.ID()) }, nil)
	// The router notices on its next write, and keeps the peer's state.
	second := resetAndReopen(t, n, clk, first, streams, func() { _ = tp.Publish(context.Background(), []byte("probe")) }, nil)
	r := wire.NewReader(second, 0)
	rpc, err := r.ReadRPC()
	if err != nil || !hasSub(rpc, "re") {
		t.Fatalf("no hello first on the new stream: %v %v", rpc, err)
	}
	if !contains(n.r.TopicPeers("re"), f.h.ID()) {
		t.Fatal("the peer's subscription was lost")
	}
	if err := tp.Publish(context.Background(), []byte("after reopen")); err != nil {
		t.Fatal(err)
	}
	for {
		rpc, err := r.ReadRPC()
		if err != nil {
			t.Fatal(err)
		}
		if hasData(rpc, "after reopen") != nil {
			break
		}
	}
}
