package automaton

import "strconv"

// Outcome names what one handler call did. The set is closed: each handler's
// doc comment lists the ones it returns.
type Outcome uint8

// The outcomes.
const (
	// OutcomeConnOpened: the connection is now tracked as open.
	OutcomeConnOpened Outcome = iota + 1
	// OutcomeConnAlreadyOpen: a second report of an open connection; ignored.
	OutcomeConnAlreadyOpen
	// OutcomeConnClosed: the connection is no longer tracked.
	OutcomeConnClosed
	// OutcomeConnUnknown: a close of a connection never seen open; ignored.
	OutcomeConnUnknown
	// OutcomeIdentifyEmitted: the identify result is in the Output.
	OutcomeIdentifyEmitted
	// OutcomeIdentifyParked: kept until its connection's open is handled.
	OutcomeIdentifyParked
	// OutcomeIdentifyDroppedClosed: its connection already closed.
	OutcomeIdentifyDroppedClosed
	// OutcomeIdentifyDroppedFull: Config.MaxParked results already wait.
	OutcomeIdentifyDroppedFull
	// OutcomeIdentifyDroppedUnknown: the peer is not connected, or the
	// result names another peer than its connection's.
	OutcomeIdentifyDroppedUnknown
	// OutcomePassedThrough: a go-libp2p event re-emitted as it is.
	OutcomePassedThrough
)

var outcomeNames = [...]string{
	OutcomeConnOpened:             "conn_opened",
	OutcomeConnAlreadyOpen:        "conn_already_open",
	OutcomeConnClosed:             "conn_closed",
	OutcomeConnUnknown:            "conn_unknown",
	OutcomeIdentifyEmitted:        "identify_emitted",
	OutcomeIdentifyParked:         "identify_parked",
	OutcomeIdentifyDroppedClosed:  "identify_dropped_closed",
	OutcomeIdentifyDroppedFull:    "identify_dropped_full",
	OutcomeIdentifyDroppedUnknown: "identify_dropped_unknown",
	OutcomePassedThrough:          "passed_through",
}

// String returns the outcome's snake_case name (used as a metric label).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && outcomeNames[o] != "" {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}
