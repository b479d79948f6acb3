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
	// To is the peer to write the RPC to.
	To peer.ID
	// Topic is the group's topic.
	Topic string
	// GroupID is the group's id (its bytes as a string).
	GroupID string
	// Parts reports that To may be sent the parts it lacks: it requested
	// partial messages, the local node supports sending them, and both
	// speak the extension.
	Parts bool
	// PeerMeta is To's last parts metadata for the group, received or
	// recorded by Sent; nil when unknown. It aliases the core's state,
	// which later HandlePartial and Sent calls overwrite in place: read
	// only, and before the next call.
	PeerMeta []byte
	// Metadata reports that To is to be sent the local parts metadata.
	Metadata bool
	// LastMeta is the metadata last sent to To for the group (meaningful
	// when SentMeta). It aliases the core's state, like PeerMeta.
	LastMeta []byte
	// SentMeta reports that metadata was sent to To for the group before.
	SentMeta bool
}

// Delivery hands an accepted partial RPC to the driver, for the application:
// Parts to merge into the group (nil: none), Metadata the peer's parts
// metadata (nil: none; already stored by the core). Opened is true when the
// RPC opened the group (the application has no state for it yet). The
// driver answers with Core.Merged.
type Delivery struct {
	// From is the peer that sent the RPC.
	From peer.ID
	// Topic is the group's topic, enabled locally.
	Topic string
	// GroupID is the group's id (its bytes as a string).
	GroupID string
	// Parts are the RPC's encoded parts (nil: none); they alias the
	// received RPC and are not copied.
	Parts []byte
	// Metadata is the RPC's parts metadata (nil: none), aliasing the
	// received RPC; the core has stored a copy.
	Metadata []byte
	// Opened reports that the RPC opened the group, so the application
	// has no state for it yet.
	Opened bool
}

// GroupKey names a group.
type GroupKey struct {
	// Topic is the group's topic.
	Topic string
	// GroupID is the group's id (its bytes as a string).
	GroupID string
}

// Output collects what one call decided. Slices are in decision order. The
// driver emits the facts type by type in this order: Extensions, Rejected,
// Penalized, Received, Completed.
type Output struct {
	// Sends are the RPCs for the driver to build and write; it reports
	// each written one with Core.Sent.
	Sends []Send
	// Deliveries are the accepted RPCs for the application; the driver
	// answers each with Core.Merged.
	Deliveries []Delivery
	// Evicted lists groups dropped by Heartbeat or DisableTopic; the driver
	// drops the application's state for them.
	Evicted []GroupKey

	// Extensions say which extensions a peer advertised (none included)
	// in the first RPC of its stream, for the driver to emit.
	Extensions []events.EvtPeerExtensionsReceived
	// Rejected are the refused partial RPCs (the application's refusals
	// included), for the driver to emit.
	Rejected []events.EvtPartialMessageRejected
	// Penalized are the peer misbehaviours found (the score's P7 counts
	// them), for the driver to emit.
	Penalized []events.EvtPeerPenalized
	// Received are the merged partial RPCs, for the driver to emit.
	Received []events.EvtPartialMessageReceived
	// Completed are the groups that became complete locally, each once,
	// for the driver to emit.
	Completed []events.EvtPartialGroupCompleted
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
