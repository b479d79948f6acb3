// Package conntrack is the connection tracking component: it turns a
// go-libp2p host's connection notifications and go-libp2p's own bus events
// (identify, protocol updates, local address updates) into meshbus events.
//
// Shape (the one every component has; docs/architecture.md): the pure core
// is package automaton (inputs in, events out through automaton.Output,
// a named Outcome per input); Tracker (tracker.go) is the driver, one
// goroutine that owns the core and the emitters; options.go, errors.go and
// module.go hold the options, the sentinel errors and the fx Module.
// The go-libp2p side never waits for meshbus: the network.Notifiee callbacks
// and the go-libp2p bus pump only append to an unbounded inbox (inbox.go)
// that the driver drains, so a stalled meshbus subscriber can delay meshbus
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
