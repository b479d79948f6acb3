package events

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Peer manager events. Owner: components/peermgr.

// PeerSource names where the peer manager learned of a peer.
type PeerSource uint8

// The ways the peer manager learns of peers.
const (
	SourceStatic    PeerSource = iota + 1 // configured by the user
	SourceExchange                        // peer exchange (a PRUNE's PX records)
	SourceDiscovery                       // a discovery mechanism or identify
	SourceInbound                         // the peer connected to us
)

// String returns the source's name.
func (s PeerSource) String() string {
	switch s {
	case SourceStatic:
		return "static"
	case SourceExchange:
		return "exchange"
	case SourceDiscovery:
		return "discovery"
	case SourceInbound:
		return "inbound"
	}
	return "unknown"
}

// EvtPeerDiscovered is emitted when a peer is added to the peer store.
type EvtPeerDiscovered struct {
	// Peer is the peer added to the store.
	Peer peer.ID
	// Source is where the peer manager learned of the peer (its
	// configuration, peer exchange, discovery or identify, an inbound
	// connection).
	Source PeerSource
	// Addrs are the addresses that came with the peer (its dial address
	// when learned from an outbound connection; nil when none came); the
	// event owns them: read-only.
	Addrs []ma.Multiaddr
	// At is when the peer manager added the peer, on its clock.
	At time.Time
}

// EvtDialAttempted is emitted when the peer manager starts dialing a peer.
// Each attempt is followed by exactly one EvtDialSucceeded or EvtDialFailed.
type EvtDialAttempted struct {
	// Peer is the peer dialed.
	Peer peer.ID
	// Attempt counts dials to this peer since its last success, from 1.
	Attempt int
	// At is when the peer manager's connectivity pass decided the dial, on
	// its clock; EvtDialSucceeded.Took counts from it.
	At time.Time
}

// EvtDialSucceeded is emitted when a dial by the peer manager connects.
type EvtDialSucceeded struct {
	// Peer is the peer dialed, now connected.
	Peer peer.ID
	// Took is the time from the dial's start to its success, on the
	// peer manager's clock.
	Took time.Duration
	// At is when the peer manager took the dial's result, on its clock (the
	// EvtDialAttempted's At plus Took).
	At time.Time
}

// DialFailReason names why a dial failed.
type DialFailReason uint8

// The reasons a dial fails.
const (
	DialFailTimeout     DialFailReason = iota + 1 // no answer within the dial timeout
	DialFailNoAddresses                           // no known address to dial
	DialFailError                                 // the transport returned an error
	DialFailCanceled                              // the node is shutting down
)

// String returns the reason's name.
func (r DialFailReason) String() string {
	switch r {
	case DialFailTimeout:
		return "timeout"
	case DialFailNoAddresses:
		return "no_addresses"
	case DialFailError:
		return "error"
	case DialFailCanceled:
		return "canceled"
	}
	return "unknown"
}

// EvtDialFailed is emitted when a dial by the peer manager fails.
type EvtDialFailed struct {
	// Peer is the peer dialed.
	Peer peer.ID
	// Reason is why the dial failed, as the dialer classified it.
	Reason DialFailReason
	// Err is the dial error's text.
	Err string
	// Failures counts consecutive failed dials to the peer, this one
	// included unless it was canceled or the peer has left the store.
	Failures int
	// At is when the peer manager took the dial's result, on its clock.
	At time.Time
}

// EvtPeerBackedOff is emitted when the peer manager will not dial a peer
// before Until: after a failed dial, a graylisting, or the end of the
// peer's last connection (whoever closed it; Reconnects > 0 then).
type EvtPeerBackedOff struct {
	// Peer is the peer backed off.
	Peer peer.ID
	// Until is the earliest time the peer manager dials the peer again
	// (zero when Permanent).
	Until time.Time
	// Failures counts the peer's failed dials and graylistings since its
	// last successful dial, counting the failed dial or graylisting
	// that caused this backoff, if one did.
	Failures int
	// Reconnects counts the peer's consecutive short-lived connections when
	// the backoff follows a disconnect (the backoff doubles with each); 0
	// for a dial failure or a graylisting.
	Reconnects int
	// At is when the peer manager set the backoff, on its clock: when it took
	// the failed dial's result, the graylisting or the disconnect.
	At time.Time
	// Permanent reports that the peer reached the failure limit and will not
	// be dialed again (Until is then zero); it stays in the store until
	// capacity pruning removes it.
	Permanent bool
	// Graylisted reports that the backoff follows a graylisting rather than
	// a failed dial.
	Graylisted bool
}

// EvictReason names why the peer manager disconnected or dropped a peer.
type EvictReason uint8

// The reasons a peer is evicted.
const (
	EvictColocation    EvictReason = iota + 1 // too many peers on one IP
	EvictCapacity                             // the peer store is full
	EvictFailures                             // too many failed dials
	EvictGraylisted                           // score fell below the graylist threshold
	EvictExcessInbound                        // over the inbound connection target
	EvictExcessService                        // over the service-peer share of the connection budget
)

// String returns the reason's name.
func (r EvictReason) String() string {
	switch r {
	case EvictColocation:
		return "colocation"
	case EvictCapacity:
		return "capacity"
	case EvictFailures:
		return "failures"
	case EvictGraylisted:
		return "graylisted"
	case EvictExcessInbound:
		return "excess_inbound"
	case EvictExcessService:
		return "excess_service"
	}
	return "unknown"
}

// EvtPeerEvicted is emitted when the peer manager disconnects a peer or
// removes it from the store. Removed reports whether it left the store too.
type EvtPeerEvicted struct {
	// Peer is the peer disconnected or removed.
	Peer peer.ID
	// Reason is why the peer manager evicted it.
	Reason EvictReason
	// Removed reports whether the peer also left the peer store (false:
	// it stays known, disconnected).
	Removed bool
	// At is when the peer manager decided the eviction, on its clock.
	At time.Time
}

// EvtPeerRecordRejected is emitted when a peer-exchange record is refused
// (bad signature, peer id that does not match its record, unparseable
// address).
type EvtPeerRecordRejected struct {
	// From is who offered the record.
	From peer.ID
	// Peer is the id the record claimed, if it could be read.
	Peer peer.ID
	// Reason is one of the peer manager's rejection labels (the Reject
	// constants of components/peermgr/automaton: "unsigned",
	// "bad_envelope", "peer_id_mismatch", "unparseable_address", ...).
	Reason string
	// At is when the peer manager checked the record (on taking the
	// EvtPeerExchangeReceived that carried it), on its clock.
	At time.Time
}
