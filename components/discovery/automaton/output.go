package automaton

import (
	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// Output collects the events the handlers decided, in decision order (the
// driver emits them with outbox.Emitters). Create it with NewOutput; Reset
// (or Emitters.Emit) empties it and keeps its buffers.
type Output struct {
	outbox.Outbox

	// Found holds one EvtPeerFound per announced peer (HandleFound's
	// OutcomeAnnounced), with a copy of the found addresses, the
	// configured Via and the handler's now; the driver emits them on the
	// bus.
	Found outbox.Lane[events.EvtPeerFound]
}

// NewOutput returns an empty Output ready for the handlers.
func NewOutput() *Output {
	o := &Output{}
	outbox.Init(o)
	return o
}
