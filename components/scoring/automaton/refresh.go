package automaton

import (
	"math"
	"time"
)

// HandleTick brings the Automaton up to now and appends a snapshot: it
// applies one decay step per whole DecayInterval elapsed since the last step
// (so it may be called at any rate), updates every mesh peer's time in mesh,
// forgets retained peers whose RetainScore has passed (and that have no open
// connection left), expires old delivery records, recomputes every score
// (appending threshold crossings to out) and appends the EvtPeerScoresUpdated
// snapshot after them. A now before the last step only recomputes. With a
// nil out nothing is appended. Outcome: OutcomeTicked.
func (a *Automaton) HandleTick(now time.Time, out *Output) Outcome {
	a.out = out
	steps := 0
	if elapsed := now.Sub(a.lastDecay); elapsed >= a.params.DecayInterval {
		n := elapsed / a.params.DecayInterval
		a.lastDecay = a.lastDecay.Add(n * a.params.DecayInterval)
		steps = int(min(n, math.MaxInt32))
	}
	for i := 0; i < len(a.peers); {
		ps := a.peers[i]
		if !ps.live && len(ps.ips) == 0 && !now.Before(ps.expire) {
			a.forget(ps) // swaps the last peer into i: look at i again
			continue
		}
		if steps > 0 {
			a.decay(ps, steps)
		}
		for j := range ps.topics {
			if ts := &ps.topics[j]; ts.inMesh {
				ts.meshTime = max(now.Sub(ts.graftTime), 0)
			}
		}
		a.rescore(ps, now)
		i++
	}
	a.records.expire(now)
	if out != nil {
		a.AppendSnapshot(now, out)
	}
	return OutcomeTicked
}

// decay multiplies every decaying counter of ps by its factor once per step,
// snapping values below DecayToZero to 0, as the spec's pseudo-code does.
func (a *Automaton) decay(ps *peerState, steps int) {
	z := a.params.DecayToZero
	if ps.behaviourPenalty != 0 {
		ps.behaviourPenalty = decayed(ps.behaviourPenalty, a.params.BehaviourPenaltyDecay, steps, z)
	}
	for i := range ps.topics {
		ts := &ps.topics[i]
		tc := a.topicList[i]
		if ts.firstMessageDeliveries != 0 {
			ts.firstMessageDeliveries = decayed(ts.firstMessageDeliveries, tc.FirstMessageDeliveriesDecay, steps, z)
		}
		if ts.meshMessageDeliveries != 0 {
			ts.meshMessageDeliveries = decayed(ts.meshMessageDeliveries, tc.MeshMessageDeliveriesDecay, steps, z)
		}
		if ts.meshFailurePenalty != 0 {
			ts.meshFailurePenalty = decayed(ts.meshFailurePenalty, tc.MeshFailurePenaltyDecay, steps, z)
		}
		if ts.invalidMessageDeliveries != 0 {
			ts.invalidMessageDeliveries = decayed(ts.invalidMessageDeliveries, tc.InvalidMessageDeliveriesDecay, steps, z)
		}
	}
}

// decayed returns v·factor^steps, or 0 below zero. Counters are never
// negative and only tracked (non-zero) when their factor was validated, so
// several steps at once equal the same steps one by one: once a step goes
// below zero, every later one stays below.
func decayed(v, factor float64, steps int, zero float64) float64 {
	if steps == 1 {
		v *= factor
	} else {
		v *= math.Pow(factor, float64(steps))
	}
	if v < zero {
		return 0
	}
	return v
}
