package automaton

import "strconv"

// Outcome names what one handler call did. The set is closed: each handler's
// doc comment lists the ones it returns.
type Outcome uint8

// The outcomes.
const (
	// OutcomeTracked: a connected peer is now tracked; its first probe is due.
	OutcomeTracked Outcome = iota + 1
	// OutcomeAlreadyTracked: a second connect of a tracked peer; ignored.
	OutcomeAlreadyTracked
	// OutcomeTooManyPeers: Config.MaxPeers peers are tracked; not probed.
	OutcomeTooManyPeers
	// OutcomeInvalidInput: an empty peer id.
	OutcomeInvalidInput
	// OutcomeForgotten: a disconnected peer is no longer tracked.
	OutcomeForgotten
	// OutcomeUnknownPeer: an input about a peer not tracked (or a result
	// with no probe running); ignored.
	OutcomeUnknownPeer
	// OutcomeMeasured: a probe succeeded; EvtPeerRTTMeasured is in the Output.
	OutcomeMeasured
	// OutcomeProbeFailed: a probe failed; retried after Config.Interval.
	OutcomeProbeFailed
	// OutcomeGaveUp: Config.MaxFailures probes in a row failed; the peer
	// is not probed again until it reconnects (it stays unknown).
	OutcomeGaveUp
	// OutcomeTickDone: HandleTick ran.
	OutcomeTickDone

	outcomeEnd
)

var outcomeNames = [...]string{
	OutcomeTracked:        "tracked",
	OutcomeAlreadyTracked: "already_tracked",
	OutcomeTooManyPeers:   "too_many_peers",
	OutcomeInvalidInput:   "invalid_input",
	OutcomeForgotten:      "forgotten",
	OutcomeUnknownPeer:    "unknown_peer",
	OutcomeMeasured:       "measured",
	OutcomeProbeFailed:    "probe_failed",
	OutcomeGaveUp:         "gave_up",
	OutcomeTickDone:       "tick_done",
}

// String returns the outcome's snake_case name (used as a metric label).
func (o Outcome) String() string {
	if o > 0 && o < outcomeEnd {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Outcomes returns every outcome in declaration order.
func Outcomes() []Outcome {
	out := make([]Outcome, 0, outcomeEnd-1)
	for o := Outcome(1); o < outcomeEnd; o++ {
		out = append(out, o)
	}
	return out
}
