package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// Dial is one dial for the driver to start.
type Dial struct {
	// Peer is who to dial.
	Peer peer.ID
	// Addrs are the addresses to try; a fresh slice the driver owns.
	Addrs []ma.Multiaddr
	// Attempt counts dials since the peer's last success, from 1.
	Attempt int
	// Started is the now of the handler that decided the dial; the driver
	// hands it back in DialResult.
	Started time.Time
}

// DialResult is the driver's answer to a Dial (HandleDialResult).
type DialResult struct {
	// Dial is the dial this answers.
	Dial Dial
	// Reason is why it failed; 0 on success.
	Reason events.DialFailReason
	// Err is the dial error, if any.
	Err error
}

// Gate is a change for the connection gater: refuse Peer (Graylisted, until
// at least Until) or stop refusing it.
type Gate struct {
	// Peer is the peer the change is for.
	Peer peer.ID
	// Graylisted is true when Peer was just graylisted (or is restated as
	// graylisted by SyncGates at start) and false when its graylisting
	// ended; the driver passes it to its Gater, if it has one.
	Graylisted bool
	// Until is, for a graylisting, the end of the backoff it started (the
	// peer store's BackoffUntil; for a restatement by SyncGates, the one
	// the store loaded); the Gater keeps refusing Peer until then even
	// after a clear. It is zero for a clear and when the backoff is
	// permanent.
	Until time.Time
}

// Protection asks the driver to protect (or unprotect) Peer in the libp2p
// connection manager under Tag, so that a connection-manager trim never
// closes it.
type Protection struct {
	// Peer is the peer to protect or unprotect.
	Peer peer.ID
	// Tag is one of TagMesh, TagStatic or TagPinned; each reason for
	// protection has its own tag, so removing one leaves the others.
	Tag string
	// Protect is true to protect (ConnManager.Protect) and false to
	// unprotect (ConnManager.Unprotect).
	Protect bool
}

// The connection-manager protection tags the automaton uses.
const (
	// TagMesh protects a peer that is in at least one topic mesh.
	TagMesh = "meshbus-mesh"
	// TagStatic protects a peer the user gave (bootstrap, direct, static).
	TagStatic = "meshbus-static"
	// TagPinned protects a peer pinned to a service slot.
	TagPinned = "meshbus-pinned"
)

// Census is the connection count by direction and protocol and the store
// size, computed by a connectivity pass for the driver's gauges.
type Census struct {
	// ByDirection counts connected peers by network.Direction.
	ByDirection [3]int
	// ByProtocol counts connected peers speaking each tracked protocol.
	ByProtocol map[protocol.ID]int
	// StorePeers is the number of peers in the store.
	StorePeers int
}

// FactKind names which typed slice of Output a Fact points into.
type FactKind uint8

// The kinds of facts, one per event type an Output carries.
const (
	FactPeerDiscovered FactKind = iota + 1
	FactDialAttempted
	FactDialSucceeded
	FactDialFailed
	FactPeerBackedOff
	FactPeerEvicted
	FactPeerRecordRejected
)

// Fact points at one event in Output: Kind selects the slice, Index the
// element. Output.Facts lists them in decision order.
type Fact struct {
	// Kind selects the Output slice that holds the event.
	Kind FactKind
	// Index is the event's position in that slice.
	Index int
}

// Output collects what handler calls decided. The caller owns it and passes
// it to every handler, which appends; Reset empties it and keeps capacity.
// The driver carries it out in this order: Gates (so a graylisted peer
// cannot come straight back), Facts (so EvtDialAttempted precedes its
// dial's result), Dials, Closes, Protections. The zero value is ready to
// use.
type Output struct {
	// Facts lists every event below in decision order.
	Facts []Fact

	// The events to emit, one slice per type; the driver emits them in
	// Facts order, not slice by slice.
	//
	// Discovered holds one event per peer that entered the store: added
	// by the user or a discovery mechanism, first seen on a connection, or
	// learnt from a peer exchange record.
	Discovered []events.EvtPeerDiscovered
	// Attempted holds one event per dial in Dials, in the same order; it
	// is emitted before the dial starts.
	Attempted []events.EvtDialAttempted
	// Succeeded holds one event per successful DialResult, with the time
	// since the Dial's Started.
	Succeeded []events.EvtDialSucceeded
	// Failed holds one event per failed DialResult, canceled dials
	// included; it precedes the BackedOff the failure causes.
	Failed []events.EvtDialFailed
	// BackedOff holds the backoffs decided: after a failed dial, a
	// graylisting (counted as a failure) or the end of a peer's last
	// connection.
	BackedOff []events.EvtPeerBackedOff
	// Evicted holds the peers evicted for graylisting, the colocation
	// limit, the inbound or service budget, or store capacity; a connected
	// one also has an entry in Closes, and Removed marks those dropped
	// from the store.
	Evicted []events.EvtPeerEvicted
	// Rejected holds one event per peer exchange record that failed
	// verification; the record is not stored.
	Rejected []events.EvtPeerRecordRejected

	// Dials are dials to start, best candidate first.
	Dials []Dial
	// Closes are peers to disconnect.
	Closes []peer.ID
	// Gates are connection gater changes, in decision order.
	Gates []Gate
	// Protections are connection manager changes, in decision order.
	Protections []Protection
	// Census is set by a connectivity pass (HasCensus).
	Census Census
	// HasCensus reports that a connectivity pass set Census.
	HasCensus bool
	// Next is set by a connectivity pass: when the next one is due.
	Next time.Duration
}

// Reset empties the Output, keeping allocated capacity.
func (o *Output) Reset() {
	o.Facts = o.Facts[:0]
	o.Discovered = o.Discovered[:0]
	o.Attempted = o.Attempted[:0]
	o.Succeeded = o.Succeeded[:0]
	o.Failed = o.Failed[:0]
	o.BackedOff = o.BackedOff[:0]
	o.Evicted = o.Evicted[:0]
	o.Rejected = o.Rejected[:0]
	o.Dials = o.Dials[:0]
	o.Closes = o.Closes[:0]
	o.Gates = o.Gates[:0]
	o.Protections = o.Protections[:0]
	o.Census = Census{}
	o.HasCensus = false
	o.Next = 0
}

// Empty reports whether the Output holds nothing to carry out.
func (o *Output) Empty() bool {
	return len(o.Facts) == 0 && len(o.Dials) == 0 && len(o.Closes) == 0 &&
		len(o.Gates) == 0 && len(o.Protections) == 0 && !o.HasCensus
}

func (o *Output) fact(k FactKind, i int) { o.Facts = append(o.Facts, Fact{Kind: k, Index: i}) }

func (o *Output) discovered(e events.EvtPeerDiscovered) {
	o.Discovered = append(o.Discovered, e)
	o.fact(FactPeerDiscovered, len(o.Discovered)-1)
}

func (o *Output) attempted(e events.EvtDialAttempted) {
	o.Attempted = append(o.Attempted, e)
	o.fact(FactDialAttempted, len(o.Attempted)-1)
}

func (o *Output) succeeded(e events.EvtDialSucceeded) {
	o.Succeeded = append(o.Succeeded, e)
	o.fact(FactDialSucceeded, len(o.Succeeded)-1)
}

func (o *Output) failed(e events.EvtDialFailed) {
	o.Failed = append(o.Failed, e)
	o.fact(FactDialFailed, len(o.Failed)-1)
}

func (o *Output) backedOff(e events.EvtPeerBackedOff) {
	o.BackedOff = append(o.BackedOff, e)
	o.fact(FactPeerBackedOff, len(o.BackedOff)-1)
}

func (o *Output) evicted(e events.EvtPeerEvicted) {
	o.Evicted = append(o.Evicted, e)
	o.fact(FactPeerEvicted, len(o.Evicted)-1)
}

func (o *Output) rejected(e events.EvtPeerRecordRejected) {
	o.Rejected = append(o.Rejected, e)
	o.fact(FactPeerRecordRejected, len(o.Rejected)-1)
}
