package peermgr

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestManagerTrimsExcessService: with a service budget of 1, the second
// inbound peer that identifies without a mesh protocol is disconnected at
// once (identification starts a pass; the timer is an hour away).
func TestManagerTrimsExcessService(t *testing.T) {
	ids := identities(t, 54, 3)
	a := newNode(t, ids[0], WithMaxConnections(4), WithMeshRatio(0.75))
	if got := a.m.Targets(); got.Service != 1 {
		t.Fatalf("targets %+v", got)
	}
	evicted := bustest.Subscribe[events.EvtPeerEvicted](t, a.bus)
	a.start(t)
	var hs []host.Host
	for i := 1; i <= 2; i++ {
		h := meshHost(t, ids[i])
		h.RemoveStreamHandler("/meshsub/1.1.0") // a service peer
		hs = append(hs, h)
		a.clk.Add(time.Second)
		if err := h.Connect(context.Background(), testhost.Info(a.h)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			bustest.Eventually(t, testWait, "first service peer identified", func() bool {
				p, ok := a.m.Peer(h.ID())
				return ok && p.Connected() && p.Identified
			}, nil)
		}
	}
	e := bustest.Next(t, evicted, func(events.EvtPeerEvicted) bool { return true }, testWait)
	if e.Peer != hs[1].ID() || e.Reason != events.EvictExcessService || e.Removed {
		t.Fatalf("evicted %+v, want the newest service peer, kept in the store", e)
	}
	bustest.Eventually(t, testWait, "newest service peer disconnected", func() bool {
		return a.h.Network().Connectedness(hs[1].ID()) != network.Connected
	}, nil)
	if a.h.Network().Connectedness(hs[0].ID()) != network.Connected {
		t.Fatal("the older service peer was trimmed")
	}
	if got := a.m.met.v.Value(mEvictedBy[events.EvictExcessService]); got != 1 {
		t.Fatalf("evictions_total{reason=excess_service} = %v, want 1", got)
	}
}
