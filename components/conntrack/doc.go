// Package conntrack bridges a go-libp2p host onto the meshbus bus: the
// swarm's connection notifications and go-libp2p's own bus events (identify,
// protocol updates, local address updates) become meshbus events.
//
// Shape: a pure state machine (state, in state.go) turns inputs into events;
// one tracker goroutine (Tracker, in tracker.go) owns it and emits its outputs.
// The go-libp2p side never waits for meshbus: the network.Notifiee callbacks
// and the go-libp2p bus pump only append to an unbounded inbox that the
// tracker goroutine drains, so a stalled meshbus subscriber can delay meshbus
// events but never a dial, an accept or an identify.
//
// Guarantees (for subscribers of the tracker's events):
//
//   - For one connection, EvtConnOpened comes before EvtConnClosed, and every
//     EvtConnOpened gets its EvtConnClosed while the tracker runs.
//   - For one peer, EvtPeerConnectednessChanged alternates Connected,
//     NotConnected, Connected, ..., computed from the tracker's own count of
//     open connections: Connected is emitted right after the EvtConnOpened of
//     the peer's first connection, NotConnected right after the EvtConnClosed
//     of its last. A NotConnected is never lost, however fast connections
//     flap.
//   - EvtPeerIdentificationCompleted is emitted after the EvtConnOpened (hence
//     after the Connected) of the connection identify ran on, and only while
//     the tracker considers that connection open; a result for a connection
//     that already closed is dropped and counted.
//   - EvtPeerIdentificationFailed, EvtPeerProtocolsUpdated and
//     EvtLocalAddressesUpdated are re-emitted as go-libp2p produced them, in
//     go-libp2p's order.
//
// The tracker's emitters are plain (not stateful); each subscriber chooses its
// own backpressure policy. A subscriber that must not lose a disconnect
// subscribes with eventbus.WithPolicy(eventbus.Block) and reads promptly.
package conntrack
