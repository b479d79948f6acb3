package peermgr

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestGaterRefusesUntilBackoffEnds: a graylisted peer is refused while
// graylisted and, once cleared, until its backoff ends; a permanent
// graylisting (no backoff) lasts until cleared; sweep forgets what no longer
// refuses.
func TestGaterRefusesUntilBackoffEnds(t *testing.T) {
	ids := identities(t, 60, 3)
	clk := clock.NewMock()
	g := NewGater(clk)
	p, q := ids[1].id, ids[2].id
	if !g.InterceptPeerDial(p) || !g.InterceptSecured(network.DirInbound, p, nil) {
		t.Fatal("an empty gater refused a peer")
	}
	g.graylist(p, clk.Now().Add(120*time.Second))
	g.graylist(q, time.Time{})
	for _, id := range []peer.ID{p, q} {
		if g.InterceptPeerDial(id) || g.InterceptSecured(network.DirInbound, id, nil) || g.InterceptSecured(network.DirOutbound, id, nil) {
			t.Fatalf("graylisted %s allowed", id)
		}
	}
	if d, s := g.Refused(); d != 2 || s != 4 {
		t.Fatalf("refused dials %d, secured %d; want 2, 4", d, s)
	}
	// Cleared with 60 s of backoff left: still refused until it ends.
	clk.Add(60 * time.Second)
	g.clear(p, clk.Now())
	g.clear(q, clk.Now())
	if !g.Refuses(p) {
		t.Fatal("cleared peer allowed before its backoff ended")
	}
	if g.Refuses(q) {
		t.Fatal("cleared peer without backoff still refused")
	}
	// A later, shorter graylisting does not shorten the backoff.
	g.graylist(p, clk.Now().Add(time.Second))
	g.clear(p, clk.Now())
	clk.Add(60*time.Second - time.Nanosecond)
	if !g.Refuses(p) || g.sweep(clk.Now()) != 1 {
		t.Fatal("refusal ended before the backoff")
	}
	clk.Add(time.Nanosecond)
	if g.Refuses(p) || !g.InterceptPeerDial(p) || !g.InterceptSecured(network.DirInbound, p, nil) {
		t.Fatal("peer refused after its backoff ended")
	}
	if n := g.sweep(clk.Now()); n != 0 {
		t.Fatalf("%d gates left after the sweep", n)
	}
	if ok, _ := g.InterceptUpgraded(nil); !ok || !g.InterceptAccept(nil) || !g.InterceptAddrDial(p, nil) {
		t.Fatal("stages without a peer id refused")
	}
}

// TestManagerGaterRefusesGraylistedRedial: on real hosts, a peer the manager
// graylisted cannot come back: its redial is refused at the handshake and
// never reaches the bus, and our dials to it are refused too. After the
// score recovers and the backoff ends, it connects again.
func TestManagerGaterRefusesGraylistedRedial(t *testing.T) {
	ids := identities(t, 62, 2)
	clk := clock.NewMock()
	g := NewGater(clk)
	n := &node{h: meshHost(t, ids[0], libp2p.ConnectionGater(g)), bus: eventbus.New(), clk: clk, reg: prometheus.NewRegistry()}
	t.Cleanup(func() { _ = n.bus.Close() })
	testhost.Track(t, n.h, n.bus, conntrack.WithClock(n.clk))
	m, err := New(n.h, n.bus, WithClock(n.clk), WithConnectivityInterval(time.Hour, time.Hour), WithRegisterer(n.reg), WithGater(g))
	if err != nil {
		t.Fatal(err)
	}
	n.m = m
	t.Cleanup(func() { _ = m.Close() })
	opened := bustest.Subscribe[events.EvtConnOpened](t, n.bus)
	backed := bustest.Subscribe[events.EvtPeerBackedOff](t, n.bus)
	n.start(t)

	b := meshHost(t, ids[1])
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := b.Connect(ctx, testhost.Info(n.h)); err != nil {
		t.Fatal(err)
	}
	bustest.Next(t, opened, func(e events.EvtConnOpened) bool { return e.Peer == b.ID() }, testWait)
	bustest.Eventually(t, testWait, "b in the store, connected", func() bool { return isConnected(n.m, b.ID()) }, nil)

	em, err := eventbus.NewEmitter[events.EvtPeerScoreThresholdCrossed](n.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	_ = em.Emit(events.EvtPeerScoreThresholdCrossed{Peer: b.ID(), Threshold: events.ThresholdGraylist, Below: true, Score: -1000})
	bo := bustest.Next(t, backed, func(e events.EvtPeerBackedOff) bool { return e.Peer == b.ID() }, testWait)
	bustest.Eventually(t, testWait, "graylisted peer disconnected", func() bool {
		return n.h.Network().Connectedness(b.ID()) != network.Connected && b.Network().Connectedness(n.h.ID()) != network.Connected
	}, nil)

	// The redial is refused right after the handshake. b's own upgrade may
	// already have finished (the muxer is negotiated inside the handshake),
	// so its Connect may even return nil; what matters is that the
	// connection dies there and never reaches our bus.
	_ = b.Connect(ctx, testhost.Info(n.h))
	bustest.Eventually(t, testWait, "refusal counted", func() bool {
		_, s := g.Refused()
		return s >= 1
	}, nil)
	bustest.Eventually(t, testWait, "refused connection closed on b's side", func() bool {
		return b.Network().Connectedness(n.h.ID()) != network.Connected
	}, nil)
	if err := n.h.Connect(ctx, testhost.Info(b)); !errors.Is(err, swarm.ErrGaterDisallowedConnection) {
		t.Fatalf("our dial to a graylisted peer: %v, want ErrGaterDisallowedConnection", err)
	}
	if got := metrictest.Must(t, n.reg, "meshbus_peermgr_gater_refused_total", "stage", "dial"); got < 1 {
		t.Fatalf("gater_refused_total{stage=dial} = %v", got)
	}
	select {
	case e := <-opened.Out():
		t.Fatalf("a refused connection reached the bus: %+v", e)
	default:
	}

	// Score recovers, backoff ends: b is let in again.
	_ = em.Emit(events.EvtPeerScoreThresholdCrossed{Peer: b.ID(), Threshold: events.ThresholdGraylist, Below: false, Score: 0})
	bustest.Eventually(t, testWait, "graylisting cleared", func() bool {
		p, ok := n.m.Peer(b.ID())
		return ok && !p.Graylisted
	}, nil)
	if !g.Refuses(b.ID()) {
		t.Fatal("refusal ended with the graylisting, before the backoff")
	}
	clk.Set(bo.Until)
	if err := b.Connect(ctx, testhost.Info(n.h)); err != nil {
		t.Fatalf("redial after the backoff: %v", err)
	}
	bustest.Next(t, opened, func(e events.EvtConnOpened) bool { return e.Peer == b.ID() }, testWait)
}
