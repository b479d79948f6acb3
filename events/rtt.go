package events

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Round-trip-time events. Owner: components/rtt (the RTT prober); read by
// components/router (latency-aware mesh selection) and any add-on.

// EvtPeerRTTMeasured is emitted by the RTT prober when it has measured the
// round-trip time to a connected peer with the libp2p ping protocol
// (/ipfs/ping/1.0.0): once soon after the peer connects, then once per the
// prober's interval while it stays connected. RTT is the smallest of the
// probe's samples (the least disturbed by queueing). A peer that never
// answers gets no event: to a reader it stays unknown. For one peer the
// events come in measurement order; they are snapshots, so a reader that
// misses one loses nothing but that value.
type EvtPeerRTTMeasured struct {
	// Peer is the connected peer probed.
	Peer peer.ID
	// RTT is the measured round trip (> 0 on a real network; a driver on a
	// mock clock may report 0).
	RTT time.Duration
	// At is when the prober handled the probe's result, on its clock.
	At time.Time
}
