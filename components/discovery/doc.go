// Package discovery holds the discovery add-ons, whose one job is to find
// peers and announce each on the bus as an events.EvtPeerFound: package
// mdns finds peers on the local network, package dht finds peers of a topic
// through Kademlia DHT rendezvous. Neither dials: the peer manager adds
// every found peer to its store and dials it under its backoff, colocation
// and capacity rules.
//
// Both add-ons have the one component shape: their shared pure core,
// package automaton, decides which found peers are announced (never the
// node itself or a peer without addresses; a peer found again with the same
// addresses only once per re-announce interval) and which topics the DHT
// follows; each add-on's driver goroutine owns a core, the go-libp2p side
// and the emitter.
package discovery
