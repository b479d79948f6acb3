package automaton

import "strconv"

// Outcome names what one handler call did. The set is closed: each handler's
// doc comment lists the ones it returns.
type Outcome uint8

// The outcomes.
const (
	// OutcomeScored: the fact changed a peer's counters, and the peers it
	// touched were rescored (crossings, if any, are in the Output).
	OutcomeScored Outcome = iota + 1
	// OutcomeRecorded: the fact was kept for later (a published message id,
	// an application score for a peer not scored yet); no score moved.
	OutcomeRecorded
	// OutcomePending: a copy of a message whose verdict is not out yet; it
	// counts once the verdict arrives.
	OutcomePending
	// OutcomeTopicNotScored: the fact's topic has no parameters; ignored.
	OutcomeTopicNotScored
	// OutcomeUnknownPeer: the fact is about a peer that is not scored; ignored.
	OutcomeUnknownPeer
	// OutcomeMissingField: the fact lacks its peer or message id; ignored.
	OutcomeMissingField
	// OutcomeRepeated: the same fact was counted already; ignored.
	OutcomeRepeated
	// OutcomeTermOff: the fact feeds a term whose weight is 0; ignored.
	OutcomeTermOff
	// OutcomeNothingToDo: a valid fact that changes no counter (a late
	// duplicate, an ignored message, a prune of a refused graft, ...).
	OutcomeNothingToDo
	// OutcomeInvalidAppScore: an EvtPeerAppScoreSet whose score is NaN or
	// infinite; ignored.
	OutcomeInvalidAppScore
	// OutcomeNotAnInput: HandleEvent got a type the scorer does not consume.
	OutcomeNotAnInput
	// OutcomeTicked: HandleTick decayed, refreshed and rescored.
	OutcomeTicked
)

var outcomeNames = [...]string{
	OutcomeScored:          "scored",
	OutcomeRecorded:        "recorded",
	OutcomePending:         "pending",
	OutcomeTopicNotScored:  "topic_not_scored",
	OutcomeUnknownPeer:     "unknown_peer",
	OutcomeMissingField:    "missing_field",
	OutcomeRepeated:        "repeated",
	OutcomeTermOff:         "term_off",
	OutcomeNothingToDo:     "nothing_to_do",
	OutcomeInvalidAppScore: "invalid_app_score",
	OutcomeNotAnInput:      "not_an_input",
	OutcomeTicked:          "ticked",
}

// String returns the outcome's snake_case name (used as a metric label).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && outcomeNames[o] != "" {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}
