// Package discovery holds the discovery add-ons, whose one job is to find
// peers and announce each on the bus as an events.EvtPeerFound: package
// mdns finds peers on the local network, package dht finds peers of a topic
// through Kademlia DHT rendezvous. Neither dials: the peer manager adds
// every found peer to its store and dials it under its backoff, colocation
// and capacity rules.
package discovery
