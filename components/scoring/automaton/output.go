package automaton

import (
	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// Output collects the events handler calls decided to emit, one lane per
// event type, in decision order across lanes (the driver emits them with
// outbox.Emitters, which keeps that order). Create it with NewOutput; Reset
// (or Emitters.Emit) empties it and keeps its buffers. Handlers accept a nil
// *Output and then decide nothing to emit (simulations that only read
// scores pass nil).
type Output struct {
	outbox.Outbox

	// Crossed are threshold crossings, in the order the scores moved.
	Crossed outbox.Lane[events.EvtPeerScoreThresholdCrossed]
	// Scores are score snapshots (HandleTick, AppendSnapshot); a snapshot
	// follows the crossings it shows.
	Scores outbox.Lane[events.EvtPeerScoresUpdated]
}

// NewOutput returns an empty Output ready for the handlers.
func NewOutput() *Output {
	o := &Output{}
	outbox.Init(o)
	return o
}
