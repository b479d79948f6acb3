// Package peerstore is the peer manager's pure, in-memory record of every
// peer it knows: addresses, protocols, connections, dial failures and
// backoff. It does no I/O, starts no goroutines and reads no clock: every
// method that depends on time takes it as an argument. A Store is not safe for
// concurrent use; its owner serialises access.
package peerstore

import (
	"net/netip"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// Peer is a snapshot of what the store knows about one peer. Slices in a Peer
// returned by the Store are copies owned by the caller.
type Peer struct {
	// ID is the peer's id.
	ID peer.ID
	// Addrs are the addresses known for the peer (signed ones replace
	// unsigned ones).
	Addrs []ma.Multiaddr
	// Protocols are the protocols the peer announced in identify.
	Protocols []protocol.ID
	// Source is where the store first learned of the peer (upgraded to
	// static when the user adds it).
	Source events.PeerSource
	// Connectedness is network.Connected while at least one connection is
	// open, network.NotConnected otherwise.
	Connectedness network.Connectedness
	// Direction is the direction of the peer's oldest open connection, or
	// network.DirUnknown when not connected.
	Direction network.Direction
	// IP is the remote IP of the peer's oldest open connection, or the zero
	// Addr.
	IP netip.Addr
	// ConnectedAt is when the peer's current connected period began; zero
	// when not connected.
	ConnectedAt time.Time
	// Failures counts consecutive failed dials (and graylistings) since the
	// last successful dial.
	Failures int
	// LastFailure is when the last dial failed; zero if never.
	LastFailure time.Time
	// BackoffUntil is the earliest time the peer may be dialed again.
	BackoffUntil time.Time
	// LastDisconnect is when the peer last went from connected to not
	// connected; zero if never.
	LastDisconnect time.Time
	// AddedAt is when the peer entered the store.
	AddedAt time.Time
	// Identified reports that Protocols came from identify.
	Identified bool
	// Graylisted reports that the peer's score is below the graylist
	// threshold.
	Graylisted bool
}

// Connected reports whether the peer has an open connection.
func (p *Peer) Connected() bool { return p.Connectedness == network.Connected }

// Speaks reports whether the peer announced protocol proto.
func (p *Peer) Speaks(proto protocol.ID) bool { return slices.Contains(p.Protocols, proto) }

// LastSeen is the last time the peer was known to be reachable or newly
// learned of: its last disconnect, or when it was added.
func (p *Peer) LastSeen() time.Time {
	if p.LastDisconnect.After(p.AddedAt) {
		return p.LastDisconnect
	}
	return p.AddedAt
}

// clone returns a deep copy of p (slices copied).
func (p *Peer) clone() Peer {
	c := *p
	c.Addrs = slices.Clone(p.Addrs)
	c.Protocols = slices.Clone(p.Protocols)
	return c
}
