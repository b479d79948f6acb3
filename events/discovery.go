package events

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Discovery events. Owner: the discovery add-ons (host/discovery); read by
// components/peermgr.

// EvtPeerFound is emitted by a discovery add-on (mDNS on the local network,
// DHT rendezvous) when it finds a peer. The peer manager adds the peer
// to its store with SourceDiscovery, so that discovered peers are dialed
// under the same backoff, colocation and capacity rules as any other. The
// same peer may be announced again: when its addresses change, and once per
// the add-on's re-announce interval (default 10 minutes) while it keeps
// being found, not once per mDNS response or DHT round. Info.Addrs is owned
// by the receiver.
type EvtPeerFound struct {
	// Info is the peer and the addresses it was found with.
	Info peer.AddrInfo
	// Via names the mechanism ("mdns", "dht").
	Via string
	// Topic is the topic the peer was found for ("" when the mechanism is
	// not topic based).
	Topic string
	// At is when the add-on took the find and decided to announce it, on
	// the add-on's clock.
	At time.Time
}
