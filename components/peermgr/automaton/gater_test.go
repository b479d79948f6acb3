package automaton

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// TestCoreFeedsGater: graylisting hands the gater the peer and its backoff,
// a clearing snapshot or threshold crossing and a removal clear it, and
// syncGates restates loaded graylisted peers.
func TestCoreFeedsGater(t *testing.T) {
	ids := identities(t, 61, 4)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	p, q := ids[1].id, ids[2].id
	c.onConnOpened(connOpen(p, network.DirInbound, "10.0.0.1", clk.Now()), clk.Now())
	c.onConnOpened(connOpen(q, network.DirInbound, "10.0.0.2", clk.Now()), clk.Now())
	c.takeOutbox()
	c.onThreshold(events.EvtPeerScoreThresholdCrossed{Peer: p, Threshold: events.ThresholdGraylist, Below: true}, clk.Now())
	o := c.takeOutbox()
	want := Gate{Peer: p, Graylisted: true, Until: clk.Now().Add(120 * time.Second)}
	if len(o.Gates) != 1 || o.Gates[0] != want {
		t.Fatalf("gates %+v, want %+v", o.Gates, want)
	}
	// Already graylisted: nothing new.
	c.onScores(events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: p, Score: -100}}, Thresholds: events.ScoreThresholds{Graylist: -80}}, clk.Now())
	if o := c.takeOutbox(); len(o.Gates) != 0 {
		t.Fatalf("repeated graylisting: gates %+v", o.Gates)
	}
	// A snapshot without p clears it; q, never graylisted, is left alone.
	c.onScores(events.EvtPeerScoresUpdated{Thresholds: events.ScoreThresholds{Graylist: -80}}, clk.Now())
	if o := c.takeOutbox(); len(o.Gates) != 1 || o.Gates[0] != (Gate{Peer: p}) {
		t.Fatalf("clearing snapshot: gates %+v", o.Gates)
	}
	c.onThreshold(events.EvtPeerScoreThresholdCrossed{Peer: q, Threshold: events.ThresholdGraylist, Below: true}, clk.Now())
	c.onThreshold(events.EvtPeerScoreThresholdCrossed{Peer: q, Threshold: events.ThresholdGraylist, Below: false}, clk.Now())
	if o := c.takeOutbox(); len(o.Gates) != 2 || o.Gates[1] != (Gate{Peer: q}) {
		t.Fatalf("crossing back: gates %+v", o.Gates)
	}
	// A graylisted peer leaving the store is cleared from the gater.
	c.onThreshold(events.EvtPeerScoreThresholdCrossed{Peer: q, Threshold: events.ThresholdGraylist, Below: true}, clk.Now())
	c.takeOutbox()
	c.remove(q)
	if o := c.takeOutbox(); len(o.Gates) != 1 || o.Gates[0] != (Gate{Peer: q}) {
		t.Fatalf("removal: gates %+v", o.Gates)
	}
	// Loaded peers: graylisted ones are restated with the backoff the
	// store kept, so that a restart does not cut it short.
	_ = c.addPeer(peer.AddrInfo{ID: ids[3].id, Addrs: []ma.Multiaddr{addr(t, 3)}}, events.SourceDiscovery, clk.Now())
	c.store.SetGraylisted(ids[3].id, true)
	backoff := clk.Now().Add(90 * time.Second)
	c.store.SetBackoff(ids[3].id, backoff)
	c.takeOutbox()
	c.syncGates()
	if o := c.takeOutbox(); len(o.Gates) != 1 || o.Gates[0] != (Gate{Peer: ids[3].id, Graylisted: true, Until: backoff}) {
		t.Fatalf("sync: gates %+v", o.Gates)
	}
}
