package automaton

import (
	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// Output collects the events handler calls decided to emit, one lane per
// event type, in decision order across lanes (the driver emits them with
// outbox.Emitters, which keeps that order). Create it with NewOutput; Reset
// (or Emitters.Emit) empties it and keeps its buffers.
type Output struct {
	outbox.Outbox

	ConnOpened        outbox.Lane[events.EvtConnOpened]
	ConnClosed        outbox.Lane[events.EvtConnClosed]
	Connectedness     outbox.Lane[events.EvtPeerConnectednessChanged]
	Identified        outbox.Lane[events.EvtPeerIdentificationCompleted]
	IdentifyFailed    outbox.Lane[events.EvtPeerIdentificationFailed]
	ProtocolsUpdated  outbox.Lane[events.EvtPeerProtocolsUpdated]
	LocalAddrsUpdated outbox.Lane[events.EvtLocalAddressesUpdated]
}

// NewOutput returns an empty Output ready for the handlers.
func NewOutput() *Output {
	o := &Output{}
	outbox.Init(o)
	return o
}
