// Package script is the contract of the libp2p GossipSub interop test plans
// (libp2p/test-plans, gossipsub-interop/test-specs/implementation.md), shared
// by every node binary meshbus builds for them: it parses params.json and its
// script instructions, derives the node id from the host name and the
// deterministic ed25519 key from the node id, computes the plans' message id,
// writes the NDJSON records the plans' analysis reads, and runs a script
// against a Backend (one GossipSub implementation).
//
// The package knows nothing about any one implementation: a backend turns
// each instruction into calls on its own router.
package script
