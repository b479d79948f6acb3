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

	// ConnOpened holds one event per newly recorded connection
	// (HandleConnOpened), stamped with the handler's now; a repeated open
	// of a known connection adds none.
	ConnOpened outbox.Lane[events.EvtConnOpened]
	// ConnClosed holds one event per close of a connection seen open
	// (HandleConnClosed), carrying its open time and the handler's now.
	ConnClosed outbox.Lane[events.EvtConnClosed]
	// Connectedness holds Connected right after the EvtConnOpened of a
	// peer's first open connection and NotConnected right after the
	// EvtConnClosed of its last, so per peer they alternate.
	Connectedness outbox.Lane[events.EvtPeerConnectednessChanged]
	// Identified holds go-libp2p's identify results, added only while
	// the connection they ran on is open (a result that came before its
	// connection's open is held back and added by HandleConnOpened).
	Identified outbox.Lane[events.EvtPeerIdentificationCompleted]
	// IdentifyFailed holds go-libp2p's identify failures, passed through
	// unchanged in go-libp2p's order.
	IdentifyFailed outbox.Lane[events.EvtPeerIdentificationFailed]
	// ProtocolsUpdated holds go-libp2p's peer protocol updates, passed
	// through unchanged in go-libp2p's order.
	ProtocolsUpdated outbox.Lane[events.EvtPeerProtocolsUpdated]
	// LocalAddrsUpdated holds go-libp2p's local address updates, passed
	// through unchanged in go-libp2p's order.
	LocalAddrsUpdated outbox.Lane[events.EvtLocalAddressesUpdated]
}

// NewOutput returns an empty Output ready for the handlers.
func NewOutput() *Output {
	o := &Output{}
	outbox.Init(o)
	return o
}
