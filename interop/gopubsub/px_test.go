package gopubsub

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/events"
)

const topicPX = "px"

// TestPruneWithPeerExchangeFromGo: a go-libp2p-pubsub hub with peer
// exchange on and a full mesh (Dhi 2, taken by two of its three go
// peers) answers the GRAFT of each of three meshbus nodes, which know only
// the hub, with a PRUNE carrying a backoff (2 s) and PX records of its
// other topic peers, with their signed peer records. meshbus honours it:
//   - every meshbus node receives PX records, each with a signed peer
//     record, rejects none of them, and connects to a go peer it only
//     learnt of from them (the peer manager dials the signed addresses);
//   - the PX peers end up in the meshbus nodes' meshes;
//   - over several backoff periods the hub's tracer sees the meshbus nodes
//     GRAFT again (after each backoff) but never during one, and the hub
//     reports no behaviour penalty against them.
//
// meshbus accepts PX only from peers scored at or above its accept-PX
// threshold (100 by default, reached only with topic scoring); the meshbus
// nodes here run with it at 0.
func TestPruneWithPeerExchangeFromGo(t *testing.T) {
	params, thresholds := goScoreParams()
	params.Topics = map[string]*pubsub.TopicScoreParams{}
	hub := startGo(t, goOpts{name: "hub", key: testKey(t, 3000), topics: []string{topicPX}, px: true,
		score: params, thresh: thresholds,
		tweak: func(p *pubsub.GossipSubParams) {
			p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout, p.Dlazy = 2, 1, 2, 1, 0, 2
		}})
	t.Cleanup(func() { _ = hub.Close() })
	gos := make([]*goNode, 3)
	mbs := make([]*mbNode, 3)
	sp := scoring.DefaultParams()
	sp.Thresholds.AcceptPX = 0
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			gos[i] = startGo(t, goOpts{name: fmt.Sprintf("go%d", i), key: testKey(t, 3100+i), topics: []string{topicPX}})
		})
		wg.Go(func() {
			mbs[i] = startMB(t, mbOpts{name: fmt.Sprintf("mb%d", i), key: testKey(t, 3200+i), topics: []string{topicPX},
				seed: uint64(i), scoring: &sp,
				tweak: func(c *router.GossipConfig) {
					c.PeerExchange = true
					// Dlo above the 6 peers of the topic: the node keeps
					// wanting the hub back, and grafts it after every backoff.
					c.D, c.Dlo, c.Dhi = 8, 7, 12
				}})
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := range 3 {
			_ = gos[i].Close()
			_ = mbs[i].Close()
		}
	})
	ctx, cancel := within(time.Minute)
	defer cancel()
	for _, g := range gos {
		if err := connect(ctx, g, hub); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, func() string { return fmt.Sprintf("hub mesh %d, want 2", len(hub.Mesh(topicPX))) },
		func() bool { return len(hub.Mesh(topicPX)) == 2 })
	for _, m := range mbs {
		if err := connect(ctx, m, hub); err != nil {
			t.Fatal(err)
		}
	}
	goIDs := map[peer.ID]string{}
	for _, g := range gos {
		goIDs[g.ID()] = g.name
	}
	names := map[peer.ID]string{hub.ID(): "hub"}
	for i := range 3 {
		names[gos[i].ID()], names[mbs[i].ID()] = gos[i].name, mbs[i].name
	}
	start := time.Now()
	// Every meshbus node got signed PX records and connected to a go peer
	// it learnt of only from them, which joined its mesh.
	for _, m := range mbs {
		waitUntil(t, 20*time.Second, func() string {
			m.mu.Lock()
			defer m.mu.Unlock()
			return fmt.Sprintf("%s: %d PX events, mesh %v, discovered %v", m.name, len(m.px), m.Mesh(topicPX), m.discovered)
		}, func() bool {
			for _, p := range m.Mesh(topicPX) {
				if _, ok := goIDs[p]; ok && m.Host().Network().Connectedness(p) == network.Connected {
					return true
				}
			}
			return false
		})
	}
	// Run on for at least three backoff periods, so that each meshbus node
	// grafts the hub again after its backoffs.
	waitUntil(t, 30*time.Second, func() string {
		hub.tr.mu.Lock()
		defer hub.tr.mu.Unlock()
		return fmt.Sprintf("GRAFTs at the hub: %v", hub.tr.grafts)
	}, func() bool {
		if time.Since(start) < 3*pruneBackoff {
			return false
		}
		hub.tr.mu.Lock()
		defer hub.tr.mu.Unlock()
		for _, m := range mbs {
			if hub.tr.grafts[m.ID()] < 2 {
				return false
			}
		}
		return true
	})

	hub.tr.mu.Lock()
	for _, m := range mbs {
		var recs, signed int
		for _, pi := range hub.tr.pxSent[m.ID()] {
			recs++
			if len(pi.GetSignedPeerRecord()) > 0 {
				signed++
			}
		}
		t.Logf("hub -> %s: %d PRUNEs (backoff %v), %d PX records (%d signed); %d GRAFTs from it, the earliest %v after a PRUNE",
			m.name, hub.tr.prunedBy[m.ID()], pruneBackoff, recs, signed, hub.tr.grafts[m.ID()], hub.tr.regraftGap[m.ID()].Round(time.Millisecond))
		if hub.tr.prunedBy[m.ID()] < 2 || signed == 0 {
			t.Errorf("hub pruned %s %d times with %d signed PX records; want at least 2 and 1", m.name, hub.tr.prunedBy[m.ID()], signed)
		}
	}
	hub.tr.mu.Unlock()
	for _, v := range hub.tr.violations() {
		t.Errorf("hub saw %s", v)
	}
	scores, _ := hub.Scores()
	for _, m := range mbs {
		if s := scores[m.ID()]; s != nil && s.BehaviourPenalty != 0 {
			t.Errorf("hub gives %s a behaviour penalty %.2f", m.name, s.BehaviourPenalty)
		}
		m.mu.Lock()
		var recs, signed int
		for _, e := range m.px {
			for _, r := range e.Records {
				recs++
				if len(r.SignedPeerRecord) > 0 {
					signed++
				}
			}
		}
		var fromPX []string
		for p, src := range m.discovered {
			if src == events.SourceExchange {
				fromPX = append(fromPX, names[p])
			}
		}
		slices.Sort(fromPX)
		t.Logf("%s: %d PX events, %d records (%d signed), %d rejected; discovered by PX: %v; mesh %d",
			m.name, len(m.px), recs, signed, len(m.pxRejected), fromPX, len(m.Mesh(topicPX)))
		if len(m.px) == 0 || signed == 0 {
			t.Errorf("%s got %d PX events with %d signed records", m.name, len(m.px), signed)
		}
		var backoffs []time.Duration
		for _, e := range m.pruned {
			if e.Peer == hub.ID() && e.Reason == events.PruneReasonRemote {
				backoffs = append(backoffs, e.Backoff)
			}
		}
		if len(backoffs) == 0 || slices.ContainsFunc(backoffs, func(d time.Duration) bool { return d != pruneBackoff }) {
			t.Errorf("%s recorded the hub's PRUNEs with backoffs %v, want %v each", m.name, backoffs, pruneBackoff)
		}
		for _, r := range m.pxRejected {
			t.Errorf("%s rejected a PX record from %s for %s: %s", m.name, r.From, r.Peer, r.Reason)
		}
		m.mu.Unlock()
		for _, p := range m.problems() {
			t.Error(p)
		}
	}
}

// TestPeerExchangeBelowAcceptThreshold: with meshbus's default accept-PX
// threshold (100), a PRUNE's PX records from a peer scored below it (the
// go hub, scored 0: no topic is scored) must be ignored: no
// EvtPeerExchangeReceived, no peer discovered by exchange.
//
// The meshbus node's scorer publishes no snapshot during the test (its
// decay interval is an hour), so every PRUNE arrives before the first
// snapshot: the window in which the router once ran with all-zero
// thresholds and accepted PX from anyone. The router now has the scorer's
// thresholds from its construction on (host wires them), so the hub's
// score of 0 is below AcceptPX from the start.
func TestPeerExchangeBelowAcceptThreshold(t *testing.T) {
	hub := startGo(t, goOpts{name: "hub", key: testKey(t, 3300), topics: []string{topicPX}, px: true,
		tweak: func(p *pubsub.GossipSubParams) {
			p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout, p.Dlazy = 2, 1, 2, 1, 0, 2
		}})
	t.Cleanup(func() { _ = hub.Close() })
	var gs [2]*goNode
	for i := range gs {
		gs[i] = startGo(t, goOpts{name: fmt.Sprintf("go%d", i), key: testKey(t, 3301+i), topics: []string{topicPX}})
		t.Cleanup(func() { _ = gs[i].Close() })
	}
	sp := scoring.DefaultParams()
	sp.DecayInterval = time.Hour // no snapshot while the test runs
	m := startMB(t, mbOpts{name: "mb0", key: testKey(t, 3310), topics: []string{topicPX}, scoring: &sp,
		tweak: func(c *router.GossipConfig) { c.PeerExchange = true }})
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := within(time.Minute)
	defer cancel()
	for _, g := range gs {
		if err := connect(ctx, g, hub); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, func() string { return "the hub's mesh is not full" },
		func() bool { return len(hub.Mesh(topicPX)) == 2 })
	if err := connect(ctx, m, hub); err != nil {
		t.Fatal(err)
	}
	// Two PRUNEs with PX.
	waitUntil(t, 20*time.Second, func() string {
		hub.tr.mu.Lock()
		defer hub.tr.mu.Unlock()
		return fmt.Sprintf("hub pruned mb0 %d times", hub.tr.prunedBy[m.ID()])
	}, func() bool {
		hub.tr.mu.Lock()
		defer hub.tr.mu.Unlock()
		return hub.tr.prunedBy[m.ID()] >= 2 && len(hub.tr.pxSent[m.ID()]) >= 2
	})
	// The second PRUNE has been handled once the router recorded it (PX is
	// decided, and would be emitted, before the EvtPeerPruned of its PRUNE).
	waitUntil(t, 10*time.Second, func() string { return "mb0 did not record two PRUNEs from the hub" }, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		for _, e := range m.pruned {
			if e.Peer == hub.ID() {
				n++
			}
		}
		return n >= 2
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.firstScores.IsZero() {
		t.Fatalf("a score snapshot came at %v: the test no longer covers the time before the first one", m.firstScores.Format("15:04:05.000"))
	}
	hub.tr.mu.Lock()
	pxSent := len(hub.tr.pxSent[m.ID()])
	hub.tr.mu.Unlock()
	t.Logf("%d PRUNEs with %d PX records from the hub (score 0), all before any score snapshot; %d PX events",
		len(m.pruned), pxSent, len(m.px))
	for _, e := range m.px {
		t.Errorf("PX from %s (score 0, accept-PX threshold %v) accepted at %v, before the first score snapshot",
			e.From, sp.Thresholds.AcceptPX, e.At.Format("15:04:05.000"))
	}
	for p, src := range m.discovered {
		if src == events.SourceExchange {
			t.Errorf("peer %s discovered by exchange", p)
		}
	}
}
