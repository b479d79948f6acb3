package automaton

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

func TestP1TimeInMesh(t *testing.T) {
	s := newScorer(t, withTopic(TopicParams{
		TimeInMeshWeight: 0.1, TimeInMeshQuantum: time.Second, TimeInMeshCap: 10,
	}))
	connect(s, pA, "", t0)
	graft(s, pA, t0)
	// P₁ is computed lazily at Refresh: right after the graft it is 0.
	wantScore(t, s, pA, 0)

	// 3.5s in mesh = 3 whole quanta: 0.5 (tᵢ) · 0.1 (w₁) · 3 = 0.15.
	s.HandleTick(sec(3.5), nil)
	wantScore(t, s, pA, 0.15)

	// 20s would be 20 quanta, capped at 10: 0.5 · 0.1 · 10 = 0.5.
	s.HandleTick(sec(20), nil)
	wantScore(t, s, pA, 0.5)

	// Out of the mesh, P₁ is 0.
	prune(s, pA, sec(21))
	wantScore(t, s, pA, 0)
}

func TestP2FirstMessageDeliveriesCapAndDecay(t *testing.T) {
	s := newScorer(t, withTopic(TopicParams{
		FirstMessageDeliveriesWeight: 2, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 5,
	}))
	connect(s, pA, "", t0)
	for i, id := range []string{"m1", "m2", "m3"} {
		deliver(s, id, pA, sec(0.1*float64(i)))
	}
	// 3 first deliveries: 0.5 · 2 · 3 = 3. P₂ counts outside the mesh too.
	wantScore(t, s, pA, 3)

	for _, id := range []string{"m4", "m5", "m6", "m7"} {
		deliver(s, id, pA, sec(0.5))
	}
	// 7 deliveries, capped at 5 at increment: 0.5 · 2 · 5 = 5.
	wantScore(t, s, pA, 5)

	// A repeated delivery report for a judged message earns nothing.
	deliver(s, "m1", pA, sec(0.6))
	wantScore(t, s, pA, 5)

	// Decay 0.5 per second: 5 → 2.5 → 1.25 → 0.625 → 0.3125 → 0.15625,
	// then 0.078125 < DecayToZero (0.1) → 0. Score = P₂ (0.5 · 2 = 1).
	for i, want := range []float64{2.5, 1.25, 0.625, 0.3125, 0.15625, 0} {
		s.HandleTick(sec(float64(i+1)), nil)
		wantScore(t, s, pA, want)
	}
}

func TestP3MeshDeliveryDeficitAfterActivation(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, 0)))
	connect(s, pA, "", t0)
	connect(s, pB, "", t0)

	// Deliveries before the graft do not count: peers accumulate P₃ only
	// while in the mesh.
	deliver(s, "early", pA, t0)
	graft(s, pA, t0)
	graft(s, pB, t0)
	deliver(s, "m1", pA, sec(1))

	// At 5s the peers have been in the mesh exactly the activation window:
	// P₃ needs meshTime > activation, so nothing yet.
	s.HandleTick(sec(5), nil)
	wantScore(t, s, pA, 0)
	wantScore(t, s, pB, 0)

	// At 6s: A's counter is 1 · 0.9⁶ = 0.531441 (six decays since t0), so
	// its deficit is 4 - 0.531441 = 3.468559 and P₃ = 12.030901...;
	// score = 0.5 · -1 · 12.030901... B delivered nothing: 0.5 · -1 · 4² = -8.
	s.HandleTick(sec(6), nil)
	wantScore(t, s, pA, 0.5*-1*math.Pow(4-math.Pow(0.9, 6), 2))
	wantScore(t, s, pB, -8)

	// Out of the mesh, P₃ does not apply (P₃b is off in this test).
	prune(s, pB, sec(6.5))
	wantScore(t, s, pB, 0)
}

func TestP3CounterCap(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, 0)))
	connect(s, pA, "", t0)
	graft(s, pA, t0)
	for i := range 20 {
		deliver(s, "m"+string(rune('a'+i)), pA, sec(0.5))
	}
	s.HandleTick(sec(6), nil)
	// The counter was capped at 8 at increment and decayed six times:
	// 8 · 0.9⁶ = 4.251528 >= threshold 4, so no deficit.
	wantScore(t, s, pA, 0)
	// One more decay: 8 · 0.9⁷ = 3.8263752, deficit 0.1736248:
	// score = 0.5 · -1 · 0.1736248² = -0.015072...
	s.HandleTick(sec(7), nil)
	wantScore(t, s, pA, -0.5*math.Pow(4-8*math.Pow(0.9, 7), 2))
}

func TestP3NearFirstDeliveries(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, 0)))
	for _, p := range []string{"A", "B", "C", "D"} {
		connect(s, peerID(p), "", t0)
		graft(s, peerID(p), t0)
	}
	// m1: A delivers first at 1s; B's copy 5ms later is near-first (window
	// 10ms); C's copy 20ms later is too late.
	deliver(s, "m1", pA, sec(1))
	duplicate(s, "m1", pB, sec(1.005))
	duplicate(s, "m1", pC, sec(1.020))
	// m2: D's copy arrives while the message is being validated (before
	// the Delivered fact): it counts when the verdict is valid.
	duplicate(s, "m2", pD, sec(2))
	deliver(s, "m2", pA, sec(2.5))
	// A peer counts once per message.
	duplicate(s, "m1", pB, sec(1.006))

	// After 6s (six decays of 0.9): A has 2 deliveries → 2·0.9⁶, B and D
	// 1·0.9⁶, C 0. Deficits: 4 - counter; score = 0.5 · -1 · deficit².
	s.HandleTick(sec(6), nil)
	d := math.Pow(0.9, 6)
	wantScore(t, s, pA, -0.5*math.Pow(4-2*d, 2))
	wantScore(t, s, pB, -0.5*math.Pow(4-d, 2))
	wantScore(t, s, pC, -0.5*16)
	wantScore(t, s, pD, -0.5*math.Pow(4-d, 2))
}

// A choked mesh peer's IHAVE of messages we have (the router's choke
// extension) counts for P₃ once per message, outside the window too; not
// for a message still being validated, one never delivered, or from a
// peer outside the mesh.
func TestP3ChokedPeerAnnouncements(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, 0)))
	for _, p := range []string{"A", "B", "C"} {
		connect(s, peerID(p), "", t0)
	}
	graft(s, pA, t0)
	graft(s, pB, t0)
	deliver(s, "m1", pA, sec(1))
	deliver(s, "m2", pA, sec(1))
	announce := func(p peer.ID, at time.Time, ids ...string) Outcome {
		return s.HandleChokedAnnounced(at, events.EvtChokedPeerAnnounced{Topic: topic, From: p, IDs: ids, At: at}, nil)
	}
	// B announces m1 and m2 200 ms later (window 10 ms), m1 again, and
	// m3, which nobody delivered.
	if o := announce(pB, sec(1.2), "m1", "m2", "m3"); o != OutcomeScored {
		t.Fatalf("announce = %v", o)
	}
	if o := announce(pB, sec(1.4), "m1"); o != OutcomeNothingToDo {
		t.Fatalf("repeated announce = %v", o)
	}
	if o := announce(pC, sec(1.2), "m1"); o != OutcomeNothingToDo {
		t.Fatalf("non-mesh announce = %v", o)
	}
	if o := s.HandleChokedAnnounced(sec(1), events.EvtChokedPeerAnnounced{Topic: "other", From: pB, IDs: []string{"m1"}}, nil); o != OutcomeTopicNotScored {
		t.Fatalf("unscored topic = %v", o)
	}
	if o := s.HandleChokedAnnounced(sec(1), events.EvtChokedPeerAnnounced{Topic: topic, IDs: []string{"m1"}}, nil); o != OutcomeMissingField {
		t.Fatalf("no sender = %v", o)
	}
	// A's copy of m1 later earns nothing more for B.
	duplicate(s, "m1", pB, sec(1.001))
	s.HandleTick(sec(6), nil)
	d := math.Pow(0.9, 6)
	wantScore(t, s, pB, -0.5*math.Pow(4-2*d, 2)) // as A: two deliveries
	wantScore(t, s, pA, -0.5*math.Pow(4-2*d, 2))
}

func TestP3bMeshFailurePenalty(t *testing.T) {
	tp := meshTopic(-1, -2)
	s := newScorer(t, withTopic(tp))
	for _, p := range []string{"A", "B", "C", "D"} {
		connect(s, peerID(p), "", t0)
		graft(s, peerID(p), t0)
	}
	// B is pruned at 3s, inside the activation window: no penalty.
	prune(s, pB, sec(3))
	wantScore(t, s, pB, 0)

	// A is pruned at 7s with no deliveries, in the mesh longer than the
	// 5s activation: P₃b += (4 - 0)² = 16. Score = 0.5 · -2 · 16 = -16
	// (P₃ no longer applies out of the mesh).
	s.HandleTick(sec(7), nil)
	prune(s, pA, sec(7))
	wantScore(t, s, pA, -16)

	// C disconnects at 7s: a disconnect charges P₃b like a prune.
	disconnect(s, pC, "", sec(7))
	wantScore(t, s, pC, -16)

	// D's GRAFT rejection is not a prune from the mesh: D stays in it.
	s.HandlePruned(sec(7), events.EvtPeerPruned{Peer: pD, Topic: topic, Reason: events.PruneReasonGraftRejected, At: sec(7)}, nil)
	if b, _ := s.Breakdown(pD); len(b.Topics) != 1 || !b.Topics[0].InMesh || b.Topics[0].P3b != 0 {
		t.Fatalf("D after a graft-rejected prune: %+v", b.Topics)
	}

	// P₃b decays: one step of 0.9 → 14.4 → score 0.5 · -2 · 14.4 = -14.4.
	s.HandleTick(sec(8), nil)
	wantScore(t, s, pA, -14.4)
	// A second prune of a peer out of the mesh changes nothing.
	prune(s, pA, sec(8))
	wantScore(t, s, pA, -14.4)
}

func TestP4InvalidMessages(t *testing.T) {
	s := newScorer(t, withTopic(TopicParams{
		InvalidMessageDeliveriesWeight: -3, InvalidMessageDeliveriesDecay: 0.5,
	}))
	connect(s, pA, "", t0)
	reject(s, "bad1", pA, events.RejectValidationFailed, t0)
	reject(s, "bad2", pA, events.RejectInvalidSignature, t0)
	// Counter 2, P₄ = 2² = 4: 0.5 · -3 · 4 = -6.
	wantScore(t, s, pA, -6)

	// Ignored, throttled, unjoined and graylisted rejections cost nothing.
	for _, r := range []events.RejectReason{
		events.RejectValidationIgnored, events.RejectValidationThrottled,
		events.RejectTopicNotJoined, events.RejectGraylisted,
	} {
		reject(s, "meh-"+r.String(), pA, r, t0)
	}
	wantScore(t, s, pA, -6)

	// Decay 0.5: counter 1, P₄ = 1: 0.5 · -3 · 1 = -1.5.
	s.HandleTick(sec(1), nil)
	wantScore(t, s, pA, -1.5)
}

func TestP4ForwardersOfInvalidMessage(t *testing.T) {
	s := newScorer(t, withTopic(TopicParams{
		InvalidMessageDeliveriesWeight: -3, InvalidMessageDeliveriesDecay: 0.5,
	}))
	for _, p := range []string{"A", "B", "C", "D"} {
		connect(s, peerID(p), "", t0)
	}
	// B sends "bad" while A's copy is being validated; the verdict is
	// invalid: both pay. C sends it afterwards (twice): C pays once.
	duplicate(s, "bad", pB, t0)
	reject(s, "bad", pA, events.RejectValidationFailed, sec(0.1))
	duplicate(s, "bad", pC, sec(0.2))
	duplicate(s, "bad", pC, sec(0.3))
	for _, p := range []string{"A", "B", "C"} {
		// Counter 1: 0.5 · -3 · 1² = -1.5.
		wantScore(t, s, peerID(p), -1.5)
	}

	// A message under a valid id with an invalid payload costs its sender
	// only; the valid deliverer keeps its score.
	deliver(s, "good", pD, sec(1))
	reject(s, "good", pA, events.RejectInvalidSignature, sec(1.1))
	wantScore(t, s, pD, 0)
	// A's counter is now 2: 0.5 · -3 · 4 = -6.
	wantScore(t, s, pA, -6)

	// An ignored message's early copies cost nothing.
	duplicate(s, "dull", pB, sec(2))
	reject(s, "dull", pA, events.RejectValidationIgnored, sec(2.1))
	duplicate(s, "dull", pC, sec(2.2))
	wantScore(t, s, pB, -1.5)
	wantScore(t, s, pC, -1.5)
}

func TestP5ApplicationScore(t *testing.T) {
	p := baseParams()
	p.AppSpecificWeight = 2
	s := newScorer(t, p)

	// Set before the peer is known: applies when it connects.
	if o := s.HandleAppScoreSet(t0, events.EvtPeerAppScoreSet{Peer: pA, Score: 3}, nil); o != OutcomeRecorded {
		t.Fatalf("outcome %v", o)
	}
	if _, ok := s.Score(pA); ok {
		t.Fatal("an app score alone must not make a peer scored")
	}
	connect(s, pA, "", t0)
	// 2 · 3 = 6.
	wantScore(t, s, pA, 6)
	// The latest value wins: 2 · -4 = -8.
	s.HandleAppScoreSet(t0, events.EvtPeerAppScoreSet{Peer: pA, Score: -4}, nil)
	wantScore(t, s, pA, -8)

	if o := s.HandleAppScoreSet(t0, events.EvtPeerAppScoreSet{Peer: pA, Score: math.NaN()}, nil); o != OutcomeInvalidAppScore {
		t.Fatalf("NaN app score: %v, want OutcomeInvalidAppScore", o)
	}
	if o := s.HandleEvent(t0, events.EvtPeerAppScoreSet{Peer: pA, Score: math.Inf(-1)}, nil); o != OutcomeInvalidAppScore {
		t.Fatalf("-Inf through HandleEvent: %v", o)
	}
	wantScore(t, s, pA, -8)
}

func TestP6IPColocation(t *testing.T) {
	p := baseParams()
	p.IPColocationFactorWeight = -1
	p.IPColocationFactorThreshold = 2
	p.IPColocationFactorWhitelist = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	s := newScorer(t, p)

	connect(s, pA, "1.2.3.4", t0)
	connect(s, pB, "1.2.3.4", t0)
	// 2 peers on the IP: not above the threshold of 2.
	wantScore(t, s, pA, 0)

	// A second connection of A from the same IP does not count twice.
	s.HandleConnOpened(t0, events.EvtConnOpened{Peer: pA, ConnID: "A2", RemoteIP: netip.MustParseAddr("1.2.3.4"), At: t0}, nil)
	wantScore(t, s, pA, 0)

	// C arrives as an IPv4-mapped IPv6 address of the same IP: 3 peers,
	// surplus 1, P₆ = 1, score -1 · 1 = -1 for all three.
	connect(s, pC, "::ffff:1.2.3.4", t0)
	for _, q := range []string{"A", "B", "C"} {
		wantScore(t, s, peerID(q), -1)
	}
	// D makes 4: surplus 2, P₆ = 4: -4 each.
	connect(s, pD, "1.2.3.4", t0)
	wantScore(t, s, pA, -4)
	wantScore(t, s, pD, -4)

	// A also has a second, lonely IP: it adds nothing.
	s.HandleConnOpened(t0, events.EvtConnOpened{Peer: pA, ConnID: "A3", RemoteIP: netip.MustParseAddr("5.6.7.8"), At: t0}, nil)
	wantScore(t, s, pA, -4)

	// D leaves: 3 peers, -1 each; D itself has no IP left: 0.
	disconnect(s, pD, "1.2.3.4", sec(1))
	wantScore(t, s, pA, -1)
	wantScore(t, s, pD, 0)

	// Closing one of A's two connections from 1.2.3.4 keeps A on it.
	s.HandleConnClosed(sec(1), events.EvtConnClosed{Peer: pA, ConnID: "A2", RemoteIP: netip.MustParseAddr("1.2.3.4"), At: sec(1)}, nil)
	wantScore(t, s, pB, -1)

	// Whitelisted and IP-less (relayed) connections are ignored.
	for _, q := range []string{"w1", "w2", "w3", "w4"} {
		connect(s, peerID(q), "10.1.1.1", t0)
	}
	wantScore(t, s, peerID("w1"), 0)
	for _, q := range []string{"r1", "r2", "r3"} {
		connect(s, peerID(q), "", t0)
	}
	wantScore(t, s, peerID("r1"), 0)

	b, _ := s.Breakdown(pA)
	if b.P6 != 1 {
		t.Fatalf("breakdown P6 = %v, want 1", b.P6)
	}
}

func TestP7BehaviourPenalty(t *testing.T) {
	p := baseParams()
	p.BehaviourPenaltyWeight = -1
	p.BehaviourPenaltyDecay = 0.5
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pA, Reason: events.PenaltyBrokenPromise, Count: 2, At: t0}, nil)
	// A zero count means one occurrence.
	s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pA, Reason: events.PenaltyGraftBackoff, At: t0}, nil)
	// Counter 3, P₇ = 9: -1 · 9 = -9.
	wantScore(t, s, pA, -9)
	// Decay 0.5: counter 1.5, P₇ = 2.25.
	s.HandleTick(sec(1), nil)
	wantScore(t, s, pA, -2.25)
}

func TestTopicScoreCap(t *testing.T) {
	p := withTopic(TopicParams{
		FirstMessageDeliveriesWeight: 2, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 5,
		InvalidMessageDeliveriesWeight: -3, InvalidMessageDeliveriesDecay: 0.5,
	})
	p.TopicScoreCap = 2
	p.AppSpecificWeight = 1
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	s.HandleAppScoreSet(t0, events.EvtPeerAppScoreSet{Peer: pA, Score: 1}, nil)
	for _, id := range []string{"m1", "m2", "m3"} {
		deliver(s, id, pA, t0)
	}
	// Topics give 0.5 · 2 · 3 = 3, capped at 2; P₅ is outside the cap: 3.
	wantScore(t, s, pA, 3)
	b, _ := s.Breakdown(pA)
	if b.TopicScore != 2 || b.Topics[0].Score != 3 {
		t.Fatalf("breakdown: topic score %v (want 2), row score %v (want 3)", b.TopicScore, b.Topics[0].Score)
	}

	// The cap bounds rewards, not penalties: 3 - 0.5·3·2² = 3 - 6 = -3.
	reject(s, "x", pA, events.RejectValidationFailed, t0)
	reject(s, "y", pA, events.RejectValidationFailed, t0)
	wantScore(t, s, pA, -3+1)
}

func TestUnconfiguredTopicContributesNothing(t *testing.T) {
	s := newScorer(t, withTopic(TopicParams{
		FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 5,
		InvalidMessageDeliveriesWeight: -1, InvalidMessageDeliveriesDecay: 0.5,
	}))
	connect(s, pA, "", t0)
	s.HandleDelivered(t0, events.EvtMessageDelivered{Topic: "other", ID: "m", From: pA, At: t0}, nil)
	s.HandleRejected(t0, events.EvtMessageRejected{Topic: "other", ID: "x", From: pA, Reason: events.RejectValidationFailed, At: t0}, nil)
	s.HandleGrafted(t0, events.EvtPeerGrafted{Peer: pA, Topic: "other", At: t0}, nil)
	wantScore(t, s, pA, 0)
	if st := s.Stats(); st.DeliveryRecords != 0 {
		t.Fatalf("records for an unconfigured topic: %d", st.DeliveryRecords)
	}
}

func TestWholeScoreFunction(t *testing.T) {
	// Every term at once, with the arithmetic of the spec's formula.
	p := withTopic(TopicParams{
		TopicWeight:      2,
		TimeInMeshWeight: 0.5, TimeInMeshQuantum: time.Second, TimeInMeshCap: 100,
		FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 10,
		MeshMessageDeliveriesWeight: -1, MeshMessageDeliveriesDecay: 0.5, MeshMessageDeliveriesThreshold: 3,
		MeshMessageDeliveriesCap: 10, MeshMessageDeliveriesActivation: time.Second,
		MeshFailurePenaltyWeight: -1, MeshFailurePenaltyDecay: 0.5,
		InvalidMessageDeliveriesWeight: -1, InvalidMessageDeliveriesDecay: 0.5,
	})
	p.AppSpecificWeight = 3
	p.IPColocationFactorWeight = -2
	p.IPColocationFactorThreshold = 1
	p.BehaviourPenaltyWeight = -0.5
	p.BehaviourPenaltyDecay = 0.5
	s := newScorer(t, p)
	connect(s, pA, "1.1.1.1", t0)
	connect(s, pB, "1.1.1.1", t0)
	graft(s, pA, t0)
	deliver(s, "m1", pA, t0)
	deliver(s, "m2", pA, t0)
	reject(s, "x", pA, events.RejectValidationFailed, t0)
	s.HandleAppScoreSet(t0, events.EvtPeerAppScoreSet{Peer: pA, Score: 1}, nil)
	s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pA, Count: 2, At: t0}, nil)
	s.HandleTick(sec(2), nil)
	// After two decays of 0.5: P₂ counter 2 → 0.5; P₃ counter 2 → 0.5;
	// P₄ counter 1 → 0.25 (P₄ = 0.0625); P₇ counter 2 → 0.5 (P₇ = 0.25).
	// P₁ = 2 quanta. P₃ deficit = 3 - 0.5 = 2.5 → 6.25. P₃b = 0.
	// Topic: 2 · (0.5·2 + 1·0.5 - 1·6.25 - 1·0 - 1·0.0625) = 2 · -4.8125 = -9.625.
	// P₅: 3 · 1 = 3. P₆: 2 peers on the IP, threshold 1 → surplus 1 → -2 · 1.
	// P₇: -0.5 · 0.25 = -0.125. Total: -9.625 + 3 - 2 - 0.125 = -8.75.
	wantScore(t, s, pA, -8.75)
	b, _ := s.Breakdown(pA)
	want := TopicBreakdown{Topic: topic, InMesh: true, MeshTime: 2 * time.Second,
		P1: 2, P2: 0.5, P3: 6.25, P3b: 0, P4: 0.0625, Score: -9.625}
	if len(b.Topics) != 1 || b.Topics[0] != want {
		t.Fatalf("topic breakdown = %+v, want %+v", b.Topics, want)
	}
	if b.P5 != 1 || b.P6 != 1 || b.P7 != 0.25 || b.TopicScore != -9.625 || !b.Connected || b.Score != -8.75 {
		t.Fatalf("breakdown = %+v", b)
	}
}
