package automaton

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// Output collects what the handlers decided: the events to emit, in
// decision order (the driver emits them with outbox.Emitters), and the
// probes to start. Create it with NewOutput; Reset empties it and keeps
// its buffers.
type Output struct {
	outbox.Outbox

	// Measured holds one event per successful probe result
	// (HandleProbeResult), with the round trip clamped to >= 0 and the
	// handler's now as the time; failed probes add none.
	Measured outbox.Lane[events.EvtPeerRTTMeasured]

	// Probes are the peers the driver must probe now, one probe each, in
	// decision order; each probe's result goes to HandleProbeResult.
	Probes []peer.ID
}

// NewOutput returns an empty Output ready for the handlers.
func NewOutput() *Output {
	o := &Output{}
	outbox.Init(o)
	return o
}

// Reset empties the events and the probes.
func (o *Output) Reset() {
	o.Outbox.Reset()
	clear(o.Probes)
	o.Probes = o.Probes[:0]
}
