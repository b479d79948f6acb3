package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Breakdown is one peer's score with every term, for inspection tools and
// tests. Raw parameter values are given (P₁ quanta, P₂ count, P₃ deficit²,
// ...); weighted contributions are the topics' Score fields and
// TopicScore, plus w₅·P5, w₆·P6 and w₇·P7.
type Breakdown struct {
	// Peer is the scored peer the terms are for.
	Peer peer.ID
	// Score is the total, as the snapshots carry it.
	Score float64
	// Connected is false while the peer is retained after a disconnect.
	Connected bool
	// Topics lists the configured topics where the peer is in the mesh or
	// has a non-zero counter, in topic name order.
	Topics []TopicBreakdown
	// TopicScore is Σ tᵢ·(topic terms), after TopicScoreCap.
	TopicScore float64
	// P5 is the application score; P6 the IP colocation surplus squared,
	// summed over the peer's IPs; P7 the behaviour penalty counter squared.
	P5, P6, P7 float64
}

// TopicBreakdown is one peer's terms in one topic.
type TopicBreakdown struct {
	// Topic is the configured (scored) topic's name.
	Topic string
	// InMesh reports that the peer is in the topic's mesh: grafted and
	// not pruned since. P₁ and P₃ are zero while it is false.
	InMesh bool
	// MeshTime is the time in mesh as of the last Refresh (P₁ and P₃ are
	// computed lazily, per the spec).
	MeshTime time.Duration
	// P1 time in mesh (quanta, capped), P2 first deliveries, P3 mesh
	// delivery deficit squared, P3b mesh failure penalty, P4 invalid
	// deliveries squared.
	P1, P2, P3, P3b, P4 float64
	// Score is tᵢ·(w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄), before the cap.
	Score float64
}

// terms returns P₁..P₄ of one peer in one topic, following the spec's
// pseudo-code.
func (tc *topicConf) terms(ts *topicState) (p1, p2, p3, p3b, p4 float64) {
	if ts.inMesh && tc.TimeInMeshWeight != 0 {
		// Whole quanta: the spec's float64(meshTime / TimeInMeshQuantum).
		p1 = min(float64(ts.meshTime/tc.TimeInMeshQuantum), tc.TimeInMeshCap)
	}
	p2 = ts.firstMessageDeliveries
	if ts.inMesh && tc.trackMesh && tc.MeshMessageDeliveriesWeight != 0 &&
		ts.meshTime > tc.MeshMessageDeliveriesActivation &&
		ts.meshMessageDeliveries < tc.MeshMessageDeliveriesThreshold {
		d := tc.MeshMessageDeliveriesThreshold - ts.meshMessageDeliveries
		p3 = d * d
	}
	p3b = ts.meshFailurePenalty
	p4 = ts.invalidMessageDeliveries * ts.invalidMessageDeliveries
	return p1, p2, p3, p3b, p4
}

// weigh returns tᵢ·(w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄).
func (tc *topicConf) weigh(p1, p2, p3, p3b, p4 float64) float64 {
	return tc.TopicWeight * (tc.TimeInMeshWeight*p1 +
		tc.FirstMessageDeliveriesWeight*p2 +
		tc.MeshMessageDeliveriesWeight*p3 +
		tc.MeshFailurePenaltyWeight*p3b +
		tc.InvalidMessageDeliveriesWeight*p4)
}

// capTopics applies TopicScoreCap to the positive side of the topic sum.
func (a *Automaton) capTopics(sum float64) float64 {
	if c := a.params.TopicScoreCap; c > 0 && sum > c {
		return c
	}
	return sum
}

// compute returns ps's score from its current state.
func (a *Automaton) compute(ps *peerState) float64 {
	var topics float64
	for i := range ps.topics {
		tc := a.topicList[i]
		topics += tc.weigh(tc.terms(&ps.topics[i]))
	}
	score := a.capTopics(topics)
	score += a.params.AppSpecificWeight * ps.appScore
	if w := a.params.IPColocationFactorWeight; w != 0 && len(ps.ips) > 0 {
		score += w * a.colocation(ps)
	}
	score += a.params.BehaviourPenaltyWeight * ps.behaviourPenalty * ps.behaviourPenalty
	return score
}

// Breakdown returns p's score term by term, and whether p is scored.
func (a *Automaton) Breakdown(p peer.ID) (Breakdown, bool) {
	ps := a.index[p]
	if ps == nil {
		return Breakdown{}, false
	}
	b, _ := a.breakdown(ps, nil)
	return b, true
}

// AppendBreakdowns appends the breakdown of every scored peer to dst, in the
// order of AppendScores. The topic rows of all peers are appended to the
// single backing slice topics (returned too), so a caller rebuilding
// breakdowns periodically can keep both allocations small.
func (a *Automaton) AppendBreakdowns(dst []Breakdown, topics []TopicBreakdown) ([]Breakdown, []TopicBreakdown) {
	for _, ps := range a.peers {
		var b Breakdown
		b, topics = a.breakdown(ps, topics)
		dst = append(dst, b)
	}
	return dst, topics
}

// breakdown computes ps's breakdown, appending its topic rows to buf; the
// Breakdown's Topics slice aliases buf's new tail (with its capacity clipped,
// so later appends to buf never write through it).
func (a *Automaton) breakdown(ps *peerState, buf []TopicBreakdown) (Breakdown, []TopicBreakdown) {
	b := Breakdown{Peer: ps.id, Score: ps.score, Connected: ps.live, P5: ps.appScore}
	start := len(buf)
	var sum float64
	for i := range ps.topics {
		ts := &ps.topics[i]
		tc := a.topicList[i]
		p1, p2, p3, p3b, p4 := tc.terms(ts)
		w := tc.weigh(p1, p2, p3, p3b, p4)
		sum += w
		if !ts.inMesh && p2 == 0 && p3b == 0 && p4 == 0 && ts.meshMessageDeliveries == 0 {
			continue
		}
		buf = append(buf, TopicBreakdown{
			Topic: tc.name, InMesh: ts.inMesh, MeshTime: ts.meshTime,
			P1: p1, P2: p2, P3: p3, P3b: p3b, P4: p4, Score: w,
		})
	}
	if len(buf) > start {
		b.Topics = buf[start:len(buf):len(buf)]
	}
	b.TopicScore = a.capTopics(sum)
	if len(ps.ips) > 0 {
		b.P6 = a.colocation(ps)
	}
	b.P7 = ps.behaviourPenalty * ps.behaviourPenalty
	return b, buf
}
