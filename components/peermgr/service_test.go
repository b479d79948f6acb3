package peermgr

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshbus/meshbus/events"
)

// serviceProtos is what a service peer speaks: no mesh protocol.
var serviceProtos = []protocol.ID{"/ipfs/id/1.0.0", "/vac/waku/store/2.0.0"}

// TestManagerTrimsExcessService: with a service budget of 1, the second
// inbound peer that identifies without a mesh protocol is disconnected at
// once (identification starts a pass; the timer is an hour away).
func TestManagerTrimsExcessService(t *testing.T) {
	ids := identities(t, 54, 3)
	a := newNode(t, ids[0], WithMaxConnections(4), WithMeshRatio(0.75))
	if got := a.m.Targets(); got.Service != 1 {
		t.Fatalf("targets %+v", got)
	}
	evicted := subscribe[events.EvtPeerEvicted](t, a.bus)
	a.start(t)
	var hs []host.Host
	for i := 1; i <= 2; i++ {
		h := newHost(t, ids[i])
		h.RemoveStreamHandler("/meshsub/1.1.0") // a service peer
		hs = append(hs, h)
		a.clk.Add(time.Second)
		if err := h.Connect(context.Background(), infoOf(a.h)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			eventually(t, "first service peer identified", func() bool {
				p, ok := a.m.Peer(h.ID())
				return ok && p.Connected() && p.Identified
			})
		}
	}
	e := waitFor(t, evicted, "service trim", func(events.EvtPeerEvicted) bool { return true })
	if e.Peer != hs[1].ID() || e.Reason != events.EvictExcessService || e.Removed {
		t.Fatalf("evicted %+v, want the newest service peer, kept in the store", e)
	}
	eventually(t, "newest service peer disconnected", func() bool {
		return a.h.Network().Connectedness(hs[1].ID()) != network.Connected
	})
	if a.h.Network().Connectedness(hs[0].ID()) != network.Connected {
		t.Fatal("the older service peer was trimmed")
	}
	if got := testutil.ToFloat64(a.m.met.evictedBy[events.EvictExcessService]); got != 1 {
		t.Fatalf("evictions_total{reason=excess_service} = %v, want 1", got)
	}
}
