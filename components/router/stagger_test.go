package router

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// With staggered forwarding one copy at a time, a peer that never reads
// (its writer soon blocks on the full stream, so its copies are never
// reported written) does not stop the others: each copy it holds counts as
// in flight for MaxWait at most, and the healthy peer gets every message.
func TestStaggerStuckPeerDoesNotStopOthers(t *testing.T) {
	clk := clock.NewMock()
	const maxWait = 100 * time.Millisecond
	sc := StaggerConfig{MinData: 16 << 10, K: 1, PublishK: 1, MaxWait: maxWait}
	a, _, ta, tb := pair(t, clk, "big", WithStaggeredForwarding(sc))
	sb, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	stuck := newRawPeer(t, wire.ProtocolMeshsub12, true)
	testhost.Connect(t, stuck.h, a.h)
	stuck.open(a.h.ID())
	stuck.send(subscribeRPC("big"))
	bustest.Eventually(t, 10*time.Second, "stuck peer subscribed", func() bool { return contains(a.r.TopicPeers("big"), stuck.h.ID()) }, nil)
	// Only a mesh peer comes first in the stagger order (and can hold the
	// healthy one back): heartbeats graft the stuck peer. Without this the
	// test passed only when the healthy copy was slow enough for the clock
	// moves below to run a heartbeat.
	bustest.Eventually(t, 10*time.Second, "stuck peer in the mesh", func() bool { return contains(a.r.Mesh("big"), stuck.h.ID()) }, func() { clk.Add(time.Second) })

	const n = 24 // 24 x 128 KiB: far more than the stream takes unread
	for i := range n {
		d := bytes.Repeat([]byte{9}, 128<<10)
		d[0] = byte(i)
		if err := ta.Publish(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		var got byte
		ok := false
		// The healthy peer's copy may wait for the stuck one's MaxWait:
		// move the clock on until it arrives.
		bustest.Eventually(t, 10*time.Second, "healthy peer's copy", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			if m, err := sb.Next(ctx); err == nil {
				got, ok = m.Data[0], true
			}
			return ok
		}, func() { clk.Add(maxWait) })
		if got != byte(i) {
			t.Fatalf("healthy peer got message %d, want %d", got, i)
		}
	}
	// Copies were reported written (the healthy peer's), and at least one
	// of the stuck peer's held the next back until MaxWait.
	if metrictest.Sum(t, a.reg, "meshbus_router_outcomes_total", "outcome", "copy_done") < 1 {
		t.Error("no staggered copy reported written")
	}
	if metrictest.Sum(t, a.reg, "meshbus_router_outcomes_total", "outcome", "copies_released") < 1 {
		t.Error("no copy released by MaxWait: the stuck peer never held one back")
	}
}
