package sim

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/events"
)

// PenaltyScorer is a minimal Scorer: a peer's score, as seen by one node, is
// -Weight × c², where c counts the penalties (EvtPeerPenalized) and the
// invalid messages (EvtMessageRejected with an Invalid reason) that node
// reported against it, decayed by Decay at every Scores call (like the
// behaviour penalty P7 and invalid-message term P4 of GossipSub v1.1,
// merged). It exists to exercise the
// scoring plumbing in simulations; the real scorer lives in
// components/scoring and is plugged in from bench/.
type PenaltyScorer struct {
	// Weight of the squared penalty count. Positive.
	Weight float64
	// Decay multiplies each count at every Scores call; in (0, 1].
	Decay float64
	// Thresholds are returned with every snapshot.
	Thresholds events.ScoreThresholds

	counts map[peer.ID]map[peer.ID]float64
}

// NewPenaltyScorer returns a PenaltyScorer.
func NewPenaltyScorer(weight, decay float64, th events.ScoreThresholds) *PenaltyScorer {
	return &PenaltyScorer{Weight: weight, Decay: decay, Thresholds: th, counts: make(map[peer.ID]map[peer.ID]float64)}
}

// Observe counts the penalties and invalid messages node reported.
func (s *PenaltyScorer) Observe(node peer.ID, _ time.Time, out *automaton.Output) {
	add := func(p peer.ID, c int) {
		m := s.counts[node]
		if m == nil {
			m = make(map[peer.ID]float64)
			s.counts[node] = m
		}
		m[p] += float64(c)
	}
	for _, p := range automaton.FactPeerPenalized.In(out) {
		add(p.Peer, p.Count)
	}
	for _, r := range automaton.FactMessageRejected.In(out) {
		if r.Reason.Invalid() {
			add(r.From, 1)
		}
	}
}

// Scores decays node's counts and returns its scores, sorted by peer.
func (s *PenaltyScorer) Scores(node peer.ID, _ time.Time) ([]events.PeerScore, events.ScoreThresholds) {
	m := s.counts[node]
	out := make([]events.PeerScore, 0, len(m))
	for p, c := range m {
		c *= s.Decay
		if c < 0.01 {
			delete(m, p)
			continue
		}
		m[p] = c
		out = append(out, events.PeerScore{Peer: p, Score: -s.Weight * c * c})
	}
	slices.SortFunc(out, func(a, b events.PeerScore) int {
		switch {
		case a.Peer < b.Peer:
			return -1
		case a.Peer > b.Peer:
			return 1
		}
		return 0
	})
	return out, s.Thresholds
}
