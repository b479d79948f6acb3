package scoring_test

import (
	"context"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestColocationFromRealConnections feeds the scorer from the real
// connection tracker over loopback libp2p connections, as a node does: two
// peers on 127.0.0.1 with a colocation threshold of 1 each pay P₆ = 1 and
// fall below the gossip threshold; when one leaves, the other recovers.
func TestColocationFromRealConnections(t *testing.T) {
	a, b, c := testhost.New(t), testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	p := scoring.DefaultParams()
	p.IPColocationFactorWeight = -1
	p.IPColocationFactorThreshold = 1
	p.IPColocationFactorWhitelist = nil // loopback counts here
	p.Thresholds = scoring.Thresholds{Gossip: -0.5, Publish: -10, Graylist: -20, AcceptPX: 100, OpportunisticGraft: 3}
	s, err := scoring.New(bus, scoring.WithParams(p), scoring.WithClock(clock.NewMock()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	crossed := bustest.Subscribe[events.EvtPeerScoreThresholdCrossed](t, bus)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testhost.Track(t, a, bus)

	testhost.Connect(t, b, a)
	testhost.Connect(t, c, a)
	// Both fall below gossip, in either order.
	below := map[peer.ID]bool{}
	for len(below) < 2 {
		x := bustest.Next(t, crossed, nil, testhost.Timeout)
		if !x.Below || x.Threshold != events.ThresholdGossip || x.Score != -1 {
			t.Fatalf("crossing %+v", x)
		}
		below[x.Peer] = true
	}
	if !below[b.ID()] || !below[c.ID()] {
		t.Fatalf("crossings for %v, want %s and %s", below, b.ID(), c.ID())
	}
	br, err := s.Breakdown(context.Background(), b.ID())
	if err != nil || br.P6 != 1 {
		t.Fatalf("Breakdown(b) = %+v, %v; want P6 = 1", br, err)
	}

	if err := c.Network().ClosePeer(a.ID()); err != nil {
		t.Fatal(err)
	}
	// c leaves 127.0.0.1: b is alone on it again and rises over gossip.
	for {
		x := bustest.Next(t, crossed, nil, testhost.Timeout)
		if x.Peer == b.ID() {
			if x.Below || x.Score != 0 {
				t.Fatalf("crossing %+v", x)
			}
			break
		}
	}
}
