package automaton

import (
	"sort"
	"time"

	"github.com/meshbus/meshbus/events"
)

// rung is one threshold on the ladder.
type rung struct {
	kind  events.Threshold
	value float64
}

// thresholdLadder holds the five thresholds in ascending order of value (ties
// in the order of the events.Threshold constants), so that crossings are
// reported in the order a moving score meets them: a falling score crosses
// the highest threshold first, a rising one the lowest.
type thresholdLadder [5]rung

func newThresholdLadder(t Thresholds) thresholdLadder {
	l := thresholdLadder{
		{events.ThresholdGossip, t.Gossip},
		{events.ThresholdPublish, t.Publish},
		{events.ThresholdGraylist, t.Graylist},
		{events.ThresholdAcceptPX, t.AcceptPX},
		{events.ThresholdOpportunisticGraft, t.OpportunisticGraft},
	}
	sort.SliceStable(l[:], func(i, j int) bool { return l[i].value < l[j].value })
	return l
}

// mask returns a bit per rung, set when score is below that threshold.
func (l *thresholdLadder) mask(score float64) uint8 {
	var m uint8
	for i := range l {
		if score < l[i].value {
			m |= 1 << i
		}
	}
	return m
}

// rescore recomputes ps's score and appends to the current Output a
// crossing for every threshold it moved across since the last rescore.
func (a *Automaton) rescore(ps *peerState, t time.Time) {
	ps.score = a.compute(ps)
	m := a.ladder.mask(ps.score)
	changed := m ^ ps.below
	if changed == 0 {
		return
	}
	ps.below = m
	falling := m&changed != 0 // the score only moves one way per rescore
	for k := range a.ladder {
		i := k
		if falling {
			i = len(a.ladder) - 1 - k
		}
		if changed&(1<<i) == 0 {
			continue
		}
		if a.out == nil {
			continue
		}
		a.out.Crossed.Add(events.EvtPeerScoreThresholdCrossed{
			Peer:      ps.id,
			Threshold: a.ladder[i].kind,
			Below:     m&(1<<i) != 0,
			Score:     ps.score,
			At:        t,
		})
	}
}
