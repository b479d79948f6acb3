// Package harness puts meshbus GossipSub routers (components/router) and
// js-libp2p nodes running @chainsafe/libp2p-gossipsub (an independent
// implementation, bench/interop/jspeer) into one mesh over real TCP + noise +
// yamux connections on loopback, and checks that every message is delivered
// to every node exactly once, whichever implementation published it and
// whichever implementations relayed it.
//
// A JSPeer is one node process (node jspeer/peer.mjs) driven by JSON lines
// on its stdin and stdout. A GoNode is a go-libp2p host, a meshbus bus and a
// router, with the host's connectedness, identify and protocol events
// forwarded onto the bus (the router learns peers only from the bus). Run
// builds a mixed mesh from a Config, publishes from both kinds, and returns a
// Result: delivery per (publisher kind, receiver kind) pair, duplicates,
// rejections, the pubsub protocol each side negotiated, grafts, and whether
// both sides computed the same message ids.
//
// Time is the wall clock on purpose: the JS peers run their own heartbeats
// in real time, so the Go routers share it. Nothing sleeps to let things
// settle; every wait polls a condition under a deadline.
//
// Prerequisites: node (20 or later) on PATH and the JS dependencies installed
// with `npm ci --prefix bench/interop/jspeer`; CheckPrerequisites says which
// one is missing and what to run.
package harness
