package automaton

import "strconv"

// Outcome names what one handler call did. The set is closed: each
// handler's doc comment lists the ones it returns.
type Outcome uint8

// The outcomes.
const (
	// OutcomeAnnounced: the found peer is announced (an EvtPeerFound is in
	// the Output).
	OutcomeAnnounced Outcome = iota + 1
	// OutcomeSelf: the node found itself; ignored.
	OutcomeSelf
	// OutcomeNoAddrs: the peer came without an address to dial; ignored.
	OutcomeNoAddrs
	// OutcomeTopicNotFollowed: found for a topic no longer followed (left
	// while the round ran); ignored.
	OutcomeTopicNotFollowed
	// OutcomeRepeat: announced with the same addresses less than
	// Config.Reannounce ago; not announced again.
	OutcomeRepeat
	// OutcomeTopicAdded: the joined topic is followed from now on.
	OutcomeTopicAdded
	// OutcomeTopicKnown: the joined topic was already followed.
	OutcomeTopicKnown
	// OutcomeTopicInvalid: an empty topic; ignored.
	OutcomeTopicInvalid
	// OutcomeTopicRemoved: the left topic is no longer followed.
	OutcomeTopicRemoved
	// OutcomeTopicConfigured: the left topic is configured; still followed.
	OutcomeTopicConfigured
	// OutcomeTopicUnknown: the left topic was not followed.
	OutcomeTopicUnknown
)

var outcomeNames = [...]string{
	OutcomeAnnounced:        "announced",
	OutcomeSelf:             "self",
	OutcomeNoAddrs:          "no_addrs",
	OutcomeTopicNotFollowed: "topic_not_followed",
	OutcomeRepeat:           "repeat",
	OutcomeTopicAdded:       "topic_added",
	OutcomeTopicKnown:       "topic_known",
	OutcomeTopicInvalid:     "topic_invalid",
	OutcomeTopicRemoved:     "topic_removed",
	OutcomeTopicConfigured:  "topic_configured",
	OutcomeTopicUnknown:     "topic_unknown",
}

// String returns the outcome's snake_case name (used as a metric label).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && outcomeNames[o] != "" {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}
