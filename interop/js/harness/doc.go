// Package harness puts meshbus GossipSub routers (components/router) and
// js-libp2p nodes running @chainsafe/libp2p-gossipsub (an independent
// implementation, interop/js/jspeer) into one mesh over real TCP + noise +
// yamux connections on loopback, and checks that they interoperate on the
// wire.
//
// A JSPeer is one node process (node jspeer/peer.mjs) driven by JSON lines
// on its stdin and stdout. A GoNode is a go-libp2p host, a meshbus bus and a
// router, with the host's connectedness, identify and protocol events
// forwarded onto the bus (the router learns peers only from the bus). NewMesh
// starts a mix of both from a Config, connects them (both kinds dial both
// kinds) and waits for the meshes; Mesh.Exchange publishes from both kinds
// and returns a Result; Run does both.
//
// Result.Err is nil only when interop held:
//   - every message reached every node exactly once (by content), for each
//     (publisher kind, receiver kind) pair, with the publisher as author;
//   - every meshbus <-> js link negotiated /meshsub/1.2.0 or /meshsub/1.1.0
//     on both sides and (on a ring) was grafted by both;
//   - nothing was rejected: meshbus rejected no JS message and the JS peers,
//     which verify signatures under StrictSign, found no meshbus message
//     invalid;
//   - both sides computed the spec's message id, from || seqno, for every
//     delivery, and every IDONTWANT id meshbus sent names a message the JS
//     peer knows;
//   - neither side penalised the other (JS score below 0, or a behaviour
//     penalty: broken IWANT promise, GRAFT in backoff, ...), and no mesh is
//     empty at the end.
//
// A JS peer can run @libp2p/floodsub instead (JSOptions.Floodsub), to check
// that the router treats /floodsub/1.0.0 peers as the GossipSub spec says:
// no mesh, no control messages, every message of their topics, theirs
// accepted (TestInteropWithJSFloodsub).
//
// Time is the wall clock on purpose: the JS peers run their own heartbeats
// in real time, so the Go routers share it. Nothing sleeps to let things
// settle; every wait polls a condition under a deadline.
//
// Prerequisites: node and npm (Node.js 20 or later) on PATH. Prepare
// installs the JS peer's pinned dependencies (npm ci of the committed
// lockfile) into a cache directory outside the source tree
// (DefaultPeerDir), once per lockfile; the tests call it, and skip saying
// why when node or npm is missing. CheckPrerequisites says what is missing.
package harness
