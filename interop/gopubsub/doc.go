// Package gopubsub holds the wire-interop suite against go-libp2p-pubsub
// v0.19.0, the reference GossipSub implementation: real go-libp2p-pubsub
// nodes and meshbus nodes (host.New, every built-in component) in one test
// process, over TCP + noise + yamux on 127.0.0.1. Everything is in the
// tests (go test ./interop/gopubsub); go-libp2p-pubsub is a test
// dependency only. docs/interop.md lists the scenarios and the matrix.
package gopubsub
