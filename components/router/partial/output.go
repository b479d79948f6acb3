package partial

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// Send asks the driver to send one partial-messages RPC for a group to a
// peer. The driver asks the application for the bytes: when Parts, the parts
// the peer lacks given PeerMeta (nil PeerMeta: the peer's state is unknown,
// the application may push eagerly); when Metadata, the local parts metadata,
// omitted if it equals LastMeta and SentMeta is true (nothing new to tell).
// Nothing is written when both come out empty. The driver then reports
// what it wrote with Core.Sent.
type Send struct {
	To       peer.ID
	Topic    string
	GroupID  string
	Parts    bool
	PeerMeta []byte
	Metadata bool
	LastMeta []byte
	SentMeta bool
}

// Delivery hands an accepted partial RPC to the driver, for the application:
// Parts to merge into the group (nil: none), Metadata the peer's parts
// metadata (nil: none; already stored by the core). Opened is true when the
// RPC opened the group (the application has no state for it yet). The
// driver answers with Core.Merged.
type Delivery struct {
	From     peer.ID
	Topic    string
	GroupID  string
	Parts    []byte
	Metadata []byte
	Opened   bool
}

// GroupKey names a group.
type GroupKey struct {
	Topic   string
	GroupID string
}

// Output collects what one call decided. Slices are in decision order. The
// driver emits the facts type by type in this order: Extensions, Rejected,
// Penalized, Received, Completed.
type Output struct {
	Sends      []Send
	Deliveries []Delivery
	// Evicted lists groups dropped by Heartbeat or DisableTopic; the driver
	// drops the application's state for them.
	Evicted []GroupKey

	Extensions []events.EvtPeerExtensionsReceived
	Rejected   []events.EvtPartialMessageRejected
	Penalized  []events.EvtPeerPenalized
	Received   []events.EvtPartialMessageReceived
	Completed  []events.EvtPartialGroupCompleted
}

// Reset empties the Output, keeping its capacity.
func (o *Output) Reset() {
	clear(o.Sends)
	clear(o.Deliveries)
	o.Sends = o.Sends[:0]
	o.Deliveries = o.Deliveries[:0]
	o.Evicted = o.Evicted[:0]
	o.Extensions = o.Extensions[:0]
	o.Rejected = o.Rejected[:0]
	o.Penalized = o.Penalized[:0]
	o.Received = o.Received[:0]
	o.Completed = o.Completed[:0]
}

// Empty reports whether the Output holds nothing.
func (o *Output) Empty() bool {
	return len(o.Sends) == 0 && len(o.Deliveries) == 0 && len(o.Evicted) == 0 &&
		len(o.Extensions) == 0 && len(o.Rejected) == 0 && len(o.Penalized) == 0 &&
		len(o.Received) == 0 && len(o.Completed) == 0
}
