package gopubsub

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The scoring suite's topics: a busy one (8 messages per heartbeat, 8 per
// second in production time) and a quiet one (one message per second in
// production time, one per 10 heartbeats here).
const (
	topicBusy  = "scoring-busy"
	topicQuiet = "scoring-quiet"
)

// goScoreParams are go-libp2p-pubsub peer score parameters with P1-P4 and
// P7 on for both topics (and P3b; P5 is a constant 0; P6 is on but
// whitelists loopback, where every node of the suite lives). Time is scaled
// like hb, except the decay interval, which go-libp2p-pubsub floors at 1 s
// (10 heartbeats here): decays are per second of test time.
func goScoreParams() (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	topic := func(threshold float64) *pubsub.TopicScoreParams {
		return &pubsub.TopicScoreParams{
			TopicWeight: 1,
			// P1: 0.1 per heartbeat in the mesh, up to 3.
			TimeInMeshWeight: 0.1, TimeInMeshQuantum: hb, TimeInMeshCap: 30,
			// P2: 1 per first delivery, halved every second, up to 50.
			FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 50,
			// P3: the square of the deficit below threshold after 2 s in the mesh.
			MeshMessageDeliveriesWeight: -1, MeshMessageDeliveriesDecay: 0.5, MeshMessageDeliveriesCap: 100,
			MeshMessageDeliveriesThreshold: threshold, MeshMessageDeliveriesWindow: 50 * time.Millisecond,
			MeshMessageDeliveriesActivation: 2 * time.Second,
			// P3b.
			MeshFailurePenaltyWeight: -1, MeshFailurePenaltyDecay: 0.5,
			// P4.
			InvalidMessageDeliveriesWeight: -10, InvalidMessageDeliveriesDecay: 0.5,
		}
	}
	return &pubsub.PeerScoreParams{
			Topics: map[string]*pubsub.TopicScoreParams{
				topicBusy:  topic(2),
				topicQuiet: topic(0.3),
			},
			AppSpecificScore:            func(peer.ID) float64 { return 0 },
			AppSpecificWeight:           1,
			IPColocationFactorWeight:    -10,
			IPColocationFactorThreshold: 1,
			IPColocationFactorWhitelist: []*net.IPNet{loopback},
			BehaviourPenaltyWeight:      -10,
			BehaviourPenaltyThreshold:   0,
			BehaviourPenaltyDecay:       0.5,
			DecayInterval:               time.Second,
			DecayToZero:                 0.01,
			RetainScore:                 10 * time.Second,
		}, &pubsub.PeerScoreThresholds{
			GossipThreshold: -10, PublishThreshold: -50, GraylistThreshold: -80,
			AcceptPXThreshold: 10, OpportunisticGraftThreshold: 1,
		}
}

// TestGoScoresMeshbusPeers puts meshbus and go-libp2p-pubsub peers in the
// same position around a go-libp2p-pubsub observer that scores them with
// its own peer scoring (WithPeerScore, read with WithPeerScoreInspect): 4
// meshbus and 4 go leaves, each linked only to the observer, in a busy and
// a quiet topic. Leaf pair j (meshbus j and go j) publishes the same
// messages at the same ticks. Afterwards:
//   - averaged over the steady phase, each meshbus leaf scores no lower
//     than the go leaf of its pair (to within one first delivery, the
//     jitter of a message crossing a decay tick), in total and in first
//     deliveries per topic, and the meshbus leaves no lower on average;
//   - no meshbus leaf has an invalid delivery (P4) or a behaviour penalty
//     (P7), or a P3 deficit a go leaf does not also have;
//   - once its meshes held every leaf, the observer never pruned a meshbus
//     leaf, and every meshbus leaf is in its mesh of both topics at the end;
//   - the observer's tracer saw no GRAFT from anyone during a backoff.
func TestGoScoresMeshbusPeers(t *testing.T) {
	const pairs = 4
	params, thresholds := goScoreParams()
	topics := []string{topicBusy, topicQuiet}
	obs := startGo(t, goOpts{name: "observer", key: testKey(t, 2000), topics: topics,
		score: params, thresh: thresholds,
		tweak: func(p *pubsub.GossipSubParams) {
			// Room for every leaf in the mesh: D 8, Dhi 12.
			p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout = 2*pairs, 2*pairs-2, 12, 4, 2
		}})
	t.Cleanup(func() { _ = obs.Close() })
	mbs := make([]*mbNode, pairs)
	gos := make([]*goNode, pairs)
	var wg sync.WaitGroup
	for j := range pairs {
		wg.Go(func() {
			mbs[j] = startMB(t, mbOpts{name: fmt.Sprintf("mb%d", j), key: testKey(t, 2100+j), topics: topics, seed: uint64(j)})
		})
		wg.Go(func() {
			gos[j] = startGo(t, goOpts{name: fmt.Sprintf("go%d", j), key: testKey(t, 2200+j), topics: topics})
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for j := range pairs {
			_ = mbs[j].Close()
			_ = gos[j].Close()
		}
	})
	ctx, cancel := within(time.Minute)
	defer cancel()
	var leaves []node
	for j := range pairs {
		leaves = append(leaves, mbs[j], gos[j])
	}
	for _, l := range leaves {
		if err := connect(ctx, l, obs); err != nil {
			t.Fatalf("%s -> observer: %v", l.Name(), err)
		}
	}
	inMesh := func(topic string, p peer.ID) bool { return slices.Contains(obs.Mesh(topic), p) }
	allInMesh := func() bool {
		for _, l := range leaves {
			for _, tp := range topics {
				if !inMesh(tp, l.ID()) {
					return false
				}
			}
		}
		return true
	}

	// Every leaf knows the observer subscribes to both topics (and the
	// other way round) before any message: a message published earlier
	// has nobody to go to.
	waitUntil(t, 30*time.Second, func() string { return "subscriptions not exchanged" }, func() bool {
		for _, l := range leaves {
			for _, tp := range topics {
				if !slices.Contains(l.TopicPeers(tp), obs.ID()) || !slices.Contains(obs.TopicPeers(tp), l.ID()) {
					return false
				}
			}
		}
		return true
	})

	// Traffic starts at once (an idle mesh would earn every peer a P3
	// deficit after the activation time, and the observer would rightly
	// prune them all). Each tick of one heartbeat, every leaf publishes a
	// busy message; every second tick, one pair publishes a quiet message
	// (one per 10 heartbeats in all). It runs until the observer's meshes
	// hold every leaf, then 40 ticks (4 s) more.
	rng := rand.New(rand.NewPCG(3, 4))
	var sent []published
	tick := time.NewTicker(hb)
	defer tick.Stop()
	start := time.Now()
	deadline := start.Add(slack * 30 * time.Second)
	var formedAt time.Time
	var prunedBefore map[peer.ID]int
	left := -1
	for i := 0; left != 0; i++ {
		<-tick.C
		if left < 0 && allInMesh() {
			left, formedAt = 40, time.Now()
			obs.tr.mu.Lock()
			prunedBefore = maps.Clone(obs.tr.prunedBy)
			obs.tr.mu.Unlock()
		}
		if left > 0 {
			left--
		}
		if left < 0 && time.Now().After(deadline) {
			t.Fatalf("after %v of traffic: observer's meshes: busy %d, quiet %d peers, want %d",
				time.Since(start).Round(time.Second), len(obs.Mesh(topicBusy)), len(obs.Mesh(topicQuiet)), len(leaves))
		}
		// Alternate which kind of a pair publishes first, so that neither
		// is systematically the later (less decayed) one at a decay tick.
		order := leaves
		if i%2 == 1 {
			order = slices.Clone(leaves)
			for j := 0; j < len(order); j += 2 {
				order[j], order[j+1] = order[j+1], order[j]
			}
		}
		for _, l := range order {
			data := payload(rng, 256)
			if err := l.Publish(ctx, topicBusy, data); err != nil {
				t.Fatalf("%s: %v", l.Name(), err)
			}
			sent = append(sent, published{key: msgKey(data), from: slices.Index(leaves, l)})
		}
		if i%2 == 0 {
			j := (i / 2) % pairs
			for _, l := range []node{mbs[j], gos[j]} {
				if err := l.Publish(ctx, topicQuiet, payload(rng, 256)); err != nil {
					t.Fatalf("%s: %v", l.Name(), err)
				}
			}
		}
	}
	trafficEnd := time.Now()
	t.Logf("meshes formed %v after traffic started; %d busy messages in %v", formedAt.Sub(start).Round(hb), len(sent), trafficEnd.Sub(start).Round(hb))
	waitUntil(t, 30*time.Second, func() string {
		missing := map[string]int{}
		for _, s := range sent {
			if obs.Count(topicBusy, s.key) == 0 {
				missing[leaves[s.from].Name()]++
			}
		}
		sc, _ := obs.Scores()
		var diag []string
		for _, l := range leaves {
			if s := sc[l.ID()]; s != nil {
				diag = append(diag, l.Name()+": "+describe(s))
			}
			diag = append(diag, fmt.Sprintf("%s topic peers %d mesh %d", l.Name(), len(l.TopicPeers(topicBusy)), len(l.Mesh(topicBusy))))
			if g, ok := l.(*goNode); ok {
				g.tr.mu.Lock()
				diag = append(diag, fmt.Sprintf("%s sent %d msgs, dropped %d RPCs", g.name, g.tr.sentMsgs, g.tr.dropped))
				g.tr.mu.Unlock()
			}
		}
		obs.tr.mu.Lock()
		defer obs.tr.mu.Unlock()
		return fmt.Sprintf("the observer lacks busy messages from %v (of %d); it rejected %v; %v", missing, len(sent), obs.tr.rejected, diag)
	}, func() bool {
		for _, s := range sent {
			if obs.Count(topicBusy, s.key) == 0 {
				return false
			}
		}
		return true
	})
	// Read a snapshot taken after the last message arrived.
	_, before := obs.Scores()
	var scores map[peer.ID]*pubsub.PeerScoreSnapshot
	waitUntil(t, 5*time.Second, func() string { return "no score snapshot" }, func() bool {
		s, n := obs.Scores()
		scores = s
		return n >= before+2 && len(s) >= len(leaves)
	})

	mbID := map[peer.ID]bool{}
	for _, m := range mbs {
		mbID[m.ID()] = true
	}
	// Scores are compared as means over the snapshots of the steady phase
	// (from the mesh-delivery activation after the meshes formed to the
	// end of the traffic), not at one instant: at one instant, a pair
	// differs by whichever message crossed the last decay tick.
	window := obs.ScoresBetween(formedAt.Add(params.Topics[topicBusy].MeshMessageDeliveriesActivation), trafficEnd)
	if len(window) < 5 {
		t.Fatalf("only %d score snapshots in the steady phase", len(window))
	}
	mean := func(id peer.ID) (score float64, p2, p3 map[string]float64) {
		p2, p3 = map[string]float64{}, map[string]float64{}
		n := 0
		for _, w := range window {
			s := w.scores[id]
			if s == nil {
				continue
			}
			n++
			score += s.Score
			for _, tp := range topics {
				if ts := s.Topics[tp]; ts != nil {
					p2[tp] += ts.FirstMessageDeliveries
					p3[tp] += ts.MeshMessageDeliveries
				}
			}
			if mbID[id] && s.BehaviourPenalty != 0 {
				t.Errorf("meshbus leaf %s had a behaviour penalty %.2f", id, s.BehaviourPenalty)
			}
		}
		if n == 0 {
			t.Fatalf("no score for %s in the steady phase", id)
		}
		for _, tp := range topics {
			p2[tp] /= float64(n)
			p3[tp] /= float64(n)
		}
		return score / float64(n), p2, p3
	}
	const tol = 1.0 // one first delivery (P2 weight 1)
	var mbSum, goSum float64
	for j := range pairs {
		msc, mp2, mp3 := mean(mbs[j].ID())
		gsc, gp2, gp3 := mean(gos[j].ID())
		mbSum += msc
		goSum += gsc
		t.Logf("pair %d, steady-phase means over %d snapshots: meshbus score %.3f (busy P2 %.2f P3 %.2f, quiet P2 %.2f P3 %.2f), go %.3f (busy P2 %.2f P3 %.2f, quiet P2 %.2f P3 %.2f)",
			j, len(window), msc, mp2[topicBusy], mp3[topicBusy], mp2[topicQuiet], mp3[topicQuiet], gsc, gp2[topicBusy], gp3[topicBusy], gp2[topicQuiet], gp3[topicQuiet])
		if msc < gsc-tol {
			t.Errorf("pair %d: meshbus leaf scored %.3f, go leaf %.3f", j, msc, gsc)
		}
		for _, tp := range topics {
			th := params.Topics[tp].MeshMessageDeliveriesThreshold
			if mp3[tp] < th && gp3[tp] >= th {
				t.Errorf("pair %d %s: meshbus leaf has a P3 deficit (%.2f < %.2f), the go leaf none (%.2f)", j, tp, mp3[tp], th, gp3[tp])
			}
			if mp2[tp] < gp2[tp]-tol {
				t.Errorf("pair %d %s: meshbus leaf has %.2f first deliveries, go leaf %.2f", j, tp, mp2[tp], gp2[tp])
			}
		}
		ms, gs := scores[mbs[j].ID()], scores[gos[j].ID()]
		if ms == nil || gs == nil {
			t.Fatalf("pair %d: no final score for meshbus (%v) or go (%v)", j, ms != nil, gs != nil)
		}
		t.Logf("pair %d, final: meshbus %s, go %s", j, describe(ms), describe(gs))
		for _, tp := range topics {
			if mt := ms.Topics[tp]; mt == nil {
				t.Errorf("pair %d %s: no topic score for the meshbus leaf", j, tp)
			} else if mt.InvalidMessageDeliveries != 0 {
				t.Errorf("pair %d %s: meshbus leaf has %.2f invalid deliveries", j, tp, mt.InvalidMessageDeliveries)
			}
		}
		if ms.BehaviourPenalty != 0 {
			t.Errorf("pair %d: meshbus leaf has a behaviour penalty %.2f", j, ms.BehaviourPenalty)
		}
	}
	t.Logf("steady-phase mean score: meshbus %.3f, go %.3f", mbSum/pairs, goSum/pairs)
	if mbSum/pairs < goSum/pairs-tol/2 {
		t.Errorf("meshbus leaves scored %.3f on average, go leaves %.3f", mbSum/pairs, goSum/pairs)
	}
	obs.tr.mu.Lock()
	for p, c := range obs.tr.prunedBy {
		if mbID[p] && c > prunedBefore[p] {
			t.Errorf("the observer pruned meshbus leaf %s %d times once the meshes had formed", p, c-prunedBefore[p])
		}
	}
	obs.tr.mu.Unlock()
	for _, m := range mbs {
		for _, tp := range topics {
			if !inMesh(tp, m.ID()) {
				t.Errorf("%s left the observer's %s mesh", m.name, tp)
			}
		}
		for _, p := range m.problems() {
			t.Error(p)
		}
	}
	for _, v := range obs.tr.violations() {
		t.Errorf("observer saw %s", v)
	}
}

// describe formats a score snapshot with its per-topic components.
func describe(s *pubsub.PeerScoreSnapshot) string {
	out := fmt.Sprintf("score %.3f (P7 %.2f)", s.Score, s.BehaviourPenalty)
	for _, tp := range []string{topicBusy, topicQuiet} {
		if ts := s.Topics[tp]; ts != nil {
			out += fmt.Sprintf(" %s[mesh %v, P2 %.2f, P3 %.2f, P4 %.2f]", tp[len("scoring-"):],
				ts.TimeInMesh.Round(hb), ts.FirstMessageDeliveries, ts.MeshMessageDeliveries, ts.InvalidMessageDeliveries)
		}
	}
	return out
}
