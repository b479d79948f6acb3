package events

import (
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Connection tracking events. Owner: host (connection tracking), which bridges
// the libp2p swarm and go-libp2p's internal bus onto the meshbus bus without
// ever blocking either of them.

// EvtPeerConnectednessChanged is go-libp2p's own connectedness event, re-emitted
// on the meshbus bus by the host. It is emitted with network.Connected when the
// first connection to a peer opens and with network.NotConnected when the last
// one closes. Guarantee: for one peer, Connected and NotConnected alternate,
// starting with Connected, and a NotConnected is never lost or reordered, even
// when connections flap. The host computes it from its own count of open
// connections: Connected comes right after the EvtConnOpened of the peer's
// first connection, NotConnected right after the EvtConnClosed of its last.
// The emitter is not stateful (no replay to late subscribers).
type EvtPeerConnectednessChanged = event.EvtPeerConnectednessChanged

// EvtPeerIdentificationCompleted is go-libp2p's identify result (protocols,
// agent version, listen addresses, signed peer record), re-emitted by the host
// after the EvtConnOpened of the connection identify ran on, hence after the
// peer's EvtPeerConnectednessChanged(Connected), and only while the host
// counts that connection open: a result for a connection that already closed
// is dropped (counted in meshbus_conntrack_identify_dropped_total).
type EvtPeerIdentificationCompleted = event.EvtPeerIdentificationCompleted

// EvtPeerIdentificationFailed is go-libp2p's identify failure, re-emitted by
// the host in go-libp2p's order, with no ordering against the connection
// events (it carries no connection).
type EvtPeerIdentificationFailed = event.EvtPeerIdentificationFailed

// EvtPeerProtocolsUpdated is go-libp2p's protocol-change event for a remote
// peer, re-emitted by the host.
type EvtPeerProtocolsUpdated = event.EvtPeerProtocolsUpdated

// EvtLocalAddressesUpdated is go-libp2p's local address change event,
// re-emitted by the host. Its emitter is not stateful: a subscriber that
// joins later reads the current addresses from the libp2p host instead.
type EvtLocalAddressesUpdated = event.EvtLocalAddressesUpdated

// EvtConnOpened is emitted by the host when a connection (not a stream) to a
// remote peer opens. Guarantee: for one ConnID, EvtConnOpened comes before
// EvtConnClosed; for one peer, the EvtConnOpened of its first connection comes
// before that peer's EvtPeerConnectednessChanged(Connected).
type EvtConnOpened struct {
	// Peer is the remote peer.
	Peer peer.ID
	// ConnID identifies the connection within this process; it matches the
	// EvtConnClosed of the same connection.
	ConnID string
	// Direction is inbound or outbound.
	Direction network.Direction
	// RemoteAddr is the remote multiaddr of the connection.
	RemoteAddr ma.Multiaddr
	// RemoteIP is the IP of RemoteAddr, or the zero Addr when it has none
	// (relayed or non-IP transports).
	RemoteIP netip.Addr
	// Limited reports a limited (relayed) connection.
	Limited bool
	// At is when the host saw the connection open (injected clock).
	At time.Time
}

// EvtConnClosed is emitted by the host when a connection closes. Guarantee: it
// is never lost, and for one peer the EvtConnClosed of its last connection
// comes before that peer's EvtPeerConnectednessChanged(NotConnected).
type EvtConnClosed struct {
	// Peer is the remote peer.
	Peer peer.ID
	// ConnID matches the EvtConnOpened of the same connection.
	ConnID string
	// Direction is inbound or outbound.
	Direction network.Direction
	// RemoteAddr is the remote multiaddr of the connection.
	RemoteAddr ma.Multiaddr
	// RemoteIP is the IP of RemoteAddr, or the zero Addr.
	RemoteIP netip.Addr
	// Opened is when the connection opened; At - Opened is its lifetime.
	Opened time.Time
	// At is when the host saw the connection close (injected clock).
	At time.Time
}
