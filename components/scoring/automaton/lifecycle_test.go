package automaton

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/meshbus/meshbus/events"
)

// invalidTopic turns on P₄ only: weight -3, decay 0.5.
func invalidTopic() Params {
	return withTopic(TopicParams{InvalidMessageDeliveriesWeight: -3, InvalidMessageDeliveriesDecay: 0.5})
}

func TestDecayToZero(t *testing.T) {
	p := baseParams()
	p.BehaviourPenaltyWeight = -1
	p.BehaviourPenaltyDecay = 0.5
	p.DecayToZero = 0.2
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pA, Count: 1, At: t0}, nil)
	// Counter 1 → 0.5 → 0.25 → 0.125 < 0.2 → 0.
	for i, counter := range []float64{0.5, 0.25, 0} {
		s.HandleTick(sec(float64(i+1)), nil)
		wantScore(t, s, pA, -counter*counter)
	}
	if b, _ := s.Breakdown(pA); b.P7 != 0 {
		t.Fatalf("P7 after decay to zero = %v", b.P7)
	}
}

func TestDecayCatchesUpWholeIntervals(t *testing.T) {
	// One Refresh after 3.7 intervals equals three Refreshes one interval
	// apart: decay counts whole intervals and keeps the remainder.
	run := func(refreshes ...float64) float64 {
		s := newScorer(t, invalidTopic())
		connect(s, pA, "", t0)
		for range 4 {
			reject(s, "", pA, events.RejectValidationFailed, t0)
		}
		for _, at := range refreshes {
			s.HandleTick(sec(at), nil)
		}
		return score(t, s, pA)
	}
	once, stepwise := run(3.7), run(1, 2, 3, 3.7)
	// Counter 4 · 0.5³ = 0.5, P₄ = 0.25: 0.5 · -3 · 0.25 = -0.375.
	if !approx(once, -0.375) || !approx(stepwise, -0.375) {
		t.Fatalf("one refresh: %v, stepwise: %v, want -0.375", once, stepwise)
	}
	// The remainder carries over: 0.3s more completes the fourth interval.
	s := newScorer(t, invalidTopic())
	connect(s, pA, "", t0)
	for range 4 {
		reject(s, "", pA, events.RejectValidationFailed, t0)
	}
	s.HandleTick(sec(3.7), nil)
	s.HandleTick(sec(3.9), nil)
	wantScore(t, s, pA, -0.375)
	s.HandleTick(sec(4), nil)
	// Counter 0.25 (P₄ 0.0625): 0.5 · -3 · 0.0625 = -0.09375.
	wantScore(t, s, pA, -0.09375)
}

func TestRetainScoreAfterDisconnect(t *testing.T) {
	s := newScorer(t, invalidTopic()) // RetainScore 30s
	connect(s, pA, "1.2.3.4", t0)
	reject(s, "bad", pA, events.RejectValidationFailed, t0)
	disconnect(s, pA, "1.2.3.4", t0)

	// Kept (and still decaying) until RetainScore has passed.
	s.HandleTick(sec(1), nil)
	wantScore(t, s, pA, -0.5*3*0.25) // counter 0.5
	if st := s.Stats(); st.Retained != 1 || st.Peers != 1 {
		t.Fatalf("stats = %+v, want 1 retained peer", st)
	}
	b, _ := s.Breakdown(pA)
	if b.Connected {
		t.Fatal("a retained peer is reported connected")
	}
	s.HandleTick(sec(29.9), nil)
	if _, ok := s.Score(pA); !ok {
		t.Fatal("forgotten before RetainScore")
	}
	s.HandleTick(sec(30), nil)
	if _, ok := s.Score(pA); ok {
		t.Fatal("still scored after RetainScore")
	}
	// Coming back after that starts from scratch.
	connect(s, pA, "1.2.3.4", sec(31))
	wantScore(t, s, pA, 0)
}

func TestReconnectWithinRetentionKeepsPenalty(t *testing.T) {
	p := invalidTopic()
	p.Topics[topic] = TopicParams{TopicWeight: 0.5, InvalidMessageDeliveriesWeight: -3, InvalidMessageDeliveriesDecay: 0.99}
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	for range 2 {
		reject(s, "", pA, events.RejectValidationFailed, t0)
	}
	disconnect(s, pA, "", t0)
	connect(s, pA, "", sec(10))
	// Ten decays of 0.99: counter 2 · 0.99¹⁰, P₄ its square, times 0.5 · -3.
	s.HandleTick(sec(10), nil)
	c := 2 * 0.9043820750088044 // 0.99¹⁰
	wantScore(t, s, pA, -1.5*c*c)
	// Live again: not forgotten after the old deadline.
	s.HandleTick(sec(100), nil)
	if _, ok := s.Score(pA); !ok {
		t.Fatal("a reconnected peer was forgotten at its old retention deadline")
	}
}

func TestRetainScoreZeroForgetsAtNextRefresh(t *testing.T) {
	p := invalidTopic()
	p.RetainScore = 0
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	disconnect(s, pA, "", t0)
	s.HandleTick(t0, nil)
	if s.Len() != 0 {
		t.Fatalf("Len = %d after RetainScore 0", s.Len())
	}
}

func TestStrayFactDoesNotPinPeer(t *testing.T) {
	// A message event for a peer nobody saw connect (a late event after it
	// was forgotten) is scored, but the peer is retained, not live.
	s := newScorer(t, invalidTopic())
	reject(s, "bad", pA, events.RejectValidationFailed, t0)
	if st := s.Stats(); st.Retained != 1 {
		t.Fatalf("stats = %+v, want the stray peer retained", st)
	}
	s.HandleTick(sec(30), nil)
	if s.Len() != 0 {
		t.Fatal("stray peer kept past RetainScore")
	}
}

func TestRouterPeerRemovedKeepsConnectedPeer(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, -1)))
	connect(s, pA, "9.9.9.9", t0)
	graft(s, pA, t0)
	s.HandleRouterPeerRemoved(sec(10), events.EvtRouterPeerRemoved{Peer: pA, At: sec(10)}, nil)
	// Leaving the meshes charges P₃b: 0.5 · -1 · 4² = -8.
	wantScore(t, s, pA, -8)
	// Still connected from 9.9.9.9: kept past RetainScore until it closes.
	s.HandleTick(sec(60), nil)
	if _, ok := s.Score(pA); !ok {
		t.Fatal("a peer with an open connection was forgotten")
	}
	disconnect(s, pA, "9.9.9.9", sec(61))
	s.HandleTick(sec(61), nil)
	if _, ok := s.Score(pA); ok {
		t.Fatal("peer kept after its connection closed past RetainScore")
	}
	// RouterPeerAdded makes a peer live.
	s.HandleRouterPeerAdded(sec(62), events.EvtRouterPeerAdded{Peer: pB, At: sec(62)}, nil)
	if st := s.Stats(); st.Peers != 1 || st.Retained != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestThresholdCrossingsInOrder(t *testing.T) {
	p := baseParams() // gossip -10, publish -20, graylist -30, accept-PX 10, opportunistic 1
	p.BehaviourPenaltyWeight = -1
	p.BehaviourPenaltyDecay = 0.5
	p.AppSpecificWeight = 2
	s := newScorer(t, p)
	out := NewOutput()
	connectTo(s, pA, "", t0, out)
	if n := out.Crossed.Len(); n != 0 {
		t.Fatalf("a new peer at 0 crossed %d thresholds", n)
	}

	// Penalty 5: P₇ = 25, score -25: falls below gossip, then publish.
	if o := s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pA, Count: 5, At: t0}, out); o != OutcomeScored {
		t.Fatalf("outcome %v", o)
	}
	got := take(out)
	want := []events.EvtPeerScoreThresholdCrossed{
		{Peer: pA, Threshold: events.ThresholdGossip, Below: true, Score: -25, At: t0},
		{Peer: pA, Threshold: events.ThresholdPublish, Below: true, Score: -25, At: t0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("falling crossings:\n got %+v\nwant %+v", got, want)
	}

	// App score 20: 2·20 - 25 = 15: rises over publish, gossip,
	// opportunistic-graft and accept-PX, lowest first.
	s.HandleAppScoreSet(sec(1), events.EvtPeerAppScoreSet{Peer: pA, Score: 20}, out)
	got = take(out)
	var kinds []events.Threshold
	for _, c := range got {
		if c.Below || c.Score != 15 || c.At != sec(1) {
			t.Fatalf("rising crossing %+v", c)
		}
		kinds = append(kinds, c.Threshold)
	}
	wantKinds := []events.Threshold{events.ThresholdPublish, events.ThresholdGossip,
		events.ThresholdOpportunisticGraft, events.ThresholdAcceptPX}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Fatalf("rising order %v, want %v", kinds, wantKinds)
	}

	// Decay at a Refresh also crosses: counter 2.5, P₇ 6.25: 40 - 6.25 =
	// 33.75, no crossing; nothing pending.
	// The tick's snapshot is its only event.
	if o := s.HandleTick(sec(1), out); o != OutcomeTicked {
		t.Fatalf("outcome %v", o)
	}
	if n := out.Crossed.Len(); n != 0 || out.Scores.Len() != 1 || out.Len() != 1 {
		t.Fatalf("%d crossings without a crossing, %d snapshots", n, out.Scores.Len())
	}
	if snap := out.Scores.Items()[0]; len(snap.Scores) != 1 || snap.Scores[0].Score != 33.75 || snap.At != sec(1) {
		t.Fatalf("snapshot %+v", snap)
	}
	out.Reset()

	// A new peer whose preset app score puts it below the graylist
	// crosses gossip, publish and graylist when it appears.
	if o := s.HandleAppScoreSet(sec(2), events.EvtPeerAppScoreSet{Peer: pB, Score: -50}, out); o != OutcomeRecorded {
		t.Fatalf("outcome %v", o)
	}
	connectTo(s, pB, "", sec(2), out)
	got = take(out)
	if len(got) != 3 || got[2].Threshold != events.ThresholdGraylist || got[2].Peer != pB {
		t.Fatalf("preset app score crossings: %+v", got)
	}
}

// take returns the crossings in out and resets it.
func take(out *Output) []events.EvtPeerScoreThresholdCrossed {
	got := slices.Clone(out.Crossed.Items())
	out.Reset()
	return got
}

// TestNilOutputDiscardsCrossings: a caller that only reads scores passes a
// nil Output; the scores move all the same.
func TestNilOutputDiscardsCrossings(t *testing.T) {
	p := baseParams()
	p.BehaviourPenaltyWeight = -1
	p.BehaviourPenaltyDecay = 0.5
	s := newScorer(t, p)
	if o := s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pA, Count: 10, At: t0}, nil); o != OutcomeScored {
		t.Fatalf("outcome %v", o)
	}
	wantScore(t, s, pA, -100)
	out := NewOutput()
	s.HandlePenalized(t0, events.EvtPeerPenalized{Peer: pB, Count: 10, At: t0}, out)
	if out.Crossed.Len() != 3 {
		t.Fatalf("crossings with an Output: %d, want 3", out.Crossed.Len())
	}
}

func TestDeliveryRecordsBoundedAndExpired(t *testing.T) {
	p := withTopic(TopicParams{FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 100})
	p.MaxDeliveryRecords = 4
	p.DeliveryRecordTTL = 10 * time.Second
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	for i := range 6 {
		deliver(s, fmt.Sprint("m", i), pA, sec(float64(i)))
	}
	st := s.Stats()
	if st.DeliveryRecords != 4 || st.EvictedRecords != 2 {
		t.Fatalf("stats = %+v, want 4 records, 2 evicted", st)
	}
	// m5 was created at 5s: at 15s every record is past its 10s TTL.
	s.HandleTick(sec(15), nil)
	if st := s.Stats(); st.DeliveryRecords != 0 {
		t.Fatalf("records after TTL: %d", st.DeliveryRecords)
	}
	// Recycled records start clean: a new delivery of an old id counts.
	deliver(s, "m0", pB, sec(16))
	if b, _ := s.Breakdown(pB); len(b.Topics) != 1 || b.Topics[0].P2 != 1 {
		t.Fatalf("B after delivering a recycled id: %+v", b.Topics)
	}
}

func TestPublishedEchoesCountOnlyInWindow(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, 0)))
	connect(s, pA, "", t0)
	connect(s, pB, "", t0)
	graft(s, pA, t0)
	graft(s, pB, t0)
	s.HandlePublished(sec(1), events.EvtMessagePublished{Topic: topic, ID: "mine", At: sec(1)}, nil)
	duplicate(s, "mine", pA, sec(1.001)) // within 10ms: counts
	duplicate(s, "mine", pB, sec(2))     // late echo: nothing
	s.HandleTick(sec(6), nil)
	d := 0.531441 // 0.9⁶
	wantScore(t, s, pA, -0.5*(4-d)*(4-d))
	wantScore(t, s, pB, -8)
}

func TestHandleEventDispatch(t *testing.T) {
	p := withTopic(TopicParams{
		FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 10,
		InvalidMessageDeliveriesWeight: -1, InvalidMessageDeliveriesDecay: 0.5,
		MeshMessageDeliveriesWeight: -1, MeshMessageDeliveriesDecay: 0.5, MeshMessageDeliveriesThreshold: 1,
		MeshMessageDeliveriesCap: 1, MeshMessageDeliveriesActivation: time.Second,
		MeshFailurePenaltyWeight: -1, MeshFailurePenaltyDecay: 0.5,
	})
	p.BehaviourPenaltyWeight = -1
	p.BehaviourPenaltyDecay = 0.5
	p.AppSpecificWeight = 1
	s := newScorer(t, p)
	for _, c := range []struct {
		ev   any
		want Outcome
	}{
		{events.EvtRouterPeerAdded{Peer: pA, At: t0}, OutcomeScored},
		{events.EvtPeerConnectednessChanged{Peer: pB, Connectedness: network.Connected}, OutcomeScored},
		{events.EvtConnOpened{Peer: pC, At: t0}, OutcomeScored},
		{events.EvtPeerGrafted{Peer: pA, Topic: topic, At: t0}, OutcomeScored},
		{events.EvtPeerGrafted{Peer: pA, Topic: "other", At: t0}, OutcomeTopicNotScored},
		{events.EvtMessagePublished{Topic: topic, ID: "mine", At: t0}, OutcomeRecorded},
		{events.EvtMessagePublished{Topic: topic, ID: "mine", At: t0}, OutcomeRepeated},
		{events.EvtMessageDelivered{Topic: topic, ID: "m", From: pA, At: t0}, OutcomeScored},
		{events.EvtMessageDuplicated{Topic: topic, ID: "m", From: pB, At: t0}, OutcomeNothingToDo},
		{events.EvtMessageDuplicated{Topic: topic, ID: "", From: pB, At: t0}, OutcomeMissingField},
		{events.EvtChokedPeerAnnounced{Topic: topic, IDs: []string{"m"}, At: t0}, OutcomeMissingField},
		{events.EvtMessageRejected{Topic: topic, ID: "x", From: pB, Reason: events.RejectValidationFailed, At: t0}, OutcomeScored},
		{events.EvtPeerPenalized{Peer: pC, Count: 1, At: t0}, OutcomeScored},
		{events.EvtPeerAppScoreSet{Peer: pA, Score: 1}, OutcomeScored},
		{events.EvtPeerPruned{Peer: pD, Topic: topic, At: t0}, OutcomeUnknownPeer},
		{events.EvtTopicJoined{Topic: topic, At: t0}, OutcomeNotAnInput},
		{"not an event", OutcomeNotAnInput},
	} {
		if o := s.HandleEvent(t0, c.ev, nil); o != c.want {
			t.Fatalf("HandleEvent(%T %+v) = %v, want %v", c.ev, c.ev, o, c.want)
		}
	}
	// A: P₂ 1 + P₅ 1 (topic weight 0.5): 0.5 + 1. B: P₄ -0.5. C: P₇ -1.
	wantScore(t, s, pA, 1.5)
	wantScore(t, s, pB, -0.5)
	wantScore(t, s, pC, -1)

	// Leaving: unsubscribe and topic-left take peers out of the mesh,
	// removal and disconnects retain them.
	s.HandleEvent(sec(5), events.EvtPeerGrafted{Peer: pB, Topic: topic, At: sec(5)}, nil)
	s.HandleEvent(sec(9), events.EvtPeerUnsubscribed{Peer: pA, Topic: topic, At: sec(9)}, nil)
	s.HandleEvent(sec(9), events.EvtTopicLeft{Topic: topic, At: sec(9)}, nil)
	for _, q := range []string{"A", "B"} {
		if b, _ := s.Breakdown(peerID(q)); len(b.Topics) > 0 && b.Topics[0].InMesh {
			t.Fatalf("%s still in the mesh", q)
		}
	}
	s.HandleEvent(sec(10), events.EvtRouterPeerRemoved{Peer: pA, At: sec(10)}, nil)
	s.HandleEvent(sec(10), events.EvtConnClosed{Peer: pC, At: sec(10)}, nil)
	s.HandleEvent(sec(10), events.EvtPeerConnectednessChanged{Peer: pB, Connectedness: network.NotConnected}, nil)
	if st := s.Stats(); st.Retained != 2 {
		t.Fatalf("stats = %+v, want A and B retained", st)
	}
	if got := len(InputEvents()); got != 16 {
		t.Fatalf("InputEvents lists %d types", got)
	}
}

func TestScoresAndSnapshot(t *testing.T) {
	p := baseParams()
	p.AppSpecificWeight = 1
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	connect(s, pB, "", t0)
	s.HandleAppScoreSet(t0, events.EvtPeerAppScoreSet{Peer: pB, Score: 2}, nil)
	m := s.Scores()
	if len(m) != 2 || m[pA] != 0 || m[pB] != 2 {
		t.Fatalf("Scores = %v", m)
	}
	snap := s.Snapshot(sec(1))
	want := []events.PeerScore{{Peer: pA, Score: 0}, {Peer: pB, Score: 2}}
	if !reflect.DeepEqual(snap.Scores, want) || snap.Thresholds != p.Thresholds || snap.At != sec(1) {
		t.Fatalf("snapshot = %+v", snap)
	}
	if s.Thresholds() != p.Thresholds {
		t.Fatal("Thresholds differ from the params")
	}
	bs, rows := s.AppendBreakdowns(nil, nil)
	if len(bs) != 2 || bs[1].Score != 2 || bs[1].P5 != 2 || len(rows) != 0 {
		t.Fatalf("breakdowns = %+v", bs)
	}
	if _, ok := s.Breakdown(pC); ok {
		t.Fatal("breakdown of an unknown peer")
	}
}

func TestParamsAreCopied(t *testing.T) {
	p := invalidTopic()
	s := newScorer(t, p)
	p.Topics[topic] = TopicParams{} // would be invalid
	delete(p.Topics, topic)
	connect(s, pA, "", t0)
	reject(s, "x", pA, events.RejectValidationFailed, t0)
	wantScore(t, s, pA, -1.5)
	if got := s.Params(); len(got.Topics) != 1 {
		t.Fatalf("Params() = %+v", got)
	}
}

func TestIgnoredMessageEarlyCopiesEarnNothing(t *testing.T) {
	s := newScorer(t, withTopic(meshTopic(-1, 0)))
	for _, p := range []string{"A", "B"} {
		connect(s, peerID(p), "", t0)
		graft(s, peerID(p), t0)
	}
	// B's copy arrives while A's is validated; the verdict is ignore; then
	// the same id is delivered from A (a resent copy that validated).
	duplicate(s, "m", pB, sec(1))
	reject(s, "m", pA, events.RejectValidationIgnored, sec(1))
	deliver(s, "m", pA, sec(1.001))
	s.HandleTick(sec(6), nil)
	// A: one first delivery, counter 0.9⁶; B: nothing, full deficit 4.
	wantScore(t, s, pA, -0.5*(4-0.531441)*(4-0.531441))
	wantScore(t, s, pB, -8)
}
