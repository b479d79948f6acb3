package host

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// TestNoReconnectStorm: seven nodes with default options connect to one
// hub on 127.0.0.1. Over 10 s of node time (a shared mock clock, advanced
// in 100 ms steps, each followed by a round trip through every peer
// manager) every spoke stays connected, the hub opens at most 2
// connections per spoke, evicts nobody, and no spoke redials it.
//
// Before the fix the hub evicted spokes for colocation (5 per IP) and the
// spokes redialed at once: 69 connections, 61 evictions and 2 of 7 spokes
// disconnected after 10 s of real time.
func TestNoReconnectStorm(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.Unix(1_700_000_000, 0))
	hub := newNode(t, WithClock(mock))
	swarm := countSwarm(hub)
	evicted := record(t, hub.Bus(), new(events.EvtPeerEvicted))
	var spokes []*Node
	var dials []*eventbus.Subscription[events.EvtDialAttempted]
	for range 7 {
		s := newNode(t, WithClock(mock))
		d, err := eventbus.Subscribe[events.EvtDialAttempted](s.Bus(), eventbus.BufSize(1024))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		dials = append(dials, d)
		spokes = append(spokes, s)
		connect(t, s, hub)
	}
	all := append([]*Node{hub}, spokes...)
	// Every spoke is known connected and identified to the hub's manager.
	deadline := time.Now().Add(waitFor)
	for _, s := range spokes {
		for {
			p, ok := hub.PeerManager().Peer(s.ID())
			if ok && p.Connected() && p.Identified {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("spoke %s never identified by the hub", s.ID())
			}
			waitSwarmChange(swarm)
		}
	}
	for range 100 {
		mock.Add(100 * time.Millisecond)
		for _, n := range all {
			_ = n.PeerManager().Peers() // a round trip through the driver
		}
	}
	for i, s := range spokes {
		if hub.Host().Network().Connectedness(s.ID()) != network.Connected {
			t.Errorf("spoke %d is not connected to the hub", i)
		}
		for len(dials[i].Out()) > 0 {
			if d := <-dials[i].Out(); d.Peer == hub.ID() {
				t.Errorf("spoke %d redialed the hub: %+v", i, d)
			}
		}
	}
	swarm.mu.Lock()
	opened := swarm.opened
	swarm.mu.Unlock()
	if opened > 2*len(spokes) {
		t.Fatalf("the hub opened %d connections for %d spokes, want at most %d", opened, len(spokes), 2*len(spokes))
	}
	if n := len(evicted.sub.Out()); n > 0 {
		t.Fatalf("the hub evicted %d times: %v", n, <-evicted.sub.Out())
	}
	t.Logf("hub opened %d connections for %d spokes over 10 s of node time; no eviction, no redial", opened, len(spokes))
}

// waitSwarmChange waits for the next connection change of c, or a short
// bound (the condition polled is the peer manager's view, which follows
// the swarm through the bus).
func waitSwarmChange(c *swarmCounter) {
	select {
	case <-c.changed:
	case <-time.After(20 * time.Millisecond):
	}
}
