// Package wire is the byte-level layer of the pubsub protocols (floodsub and
// gossipsub v1.0-v1.2): protocol ids, length-prefixed RPC framing with a size
// limit, splitting of oversized outbound RPCs, message signing and
// verification, sequence numbers and message ids.
//
// Everything here follows the libp2p specs (pubsub/README.md and
// pubsub/gossipsub/*.md) so that bytes produced by this package are read by
// other implementations (go-libp2p-pubsub, rust-libp2p, js-libp2p) and the
// other way round. The package has no goroutines and no state beyond what a
// caller holds (a Reader, a Writer, a Seqno, a Verifier).
//
// ed25519 signatures are verified with curve25519-voi
// (github.com/oasisprotocol/curve25519-voi) under options that accept
// exactly what crypto/ed25519 accepts, which is what go-libp2p and
// go-libp2p-pubsub accept; FuzzEd25519MatchesStdlib and
// TestEd25519EdgeCasesMatchStdlib compare the two.
package wire
