// Command meshbus-interop is meshbus's node for the libp2p GossipSub interop
// test plans (libp2p/test-plans, gossipsub-interop): it follows
// test-specs/implementation.md. The node id comes from the host name nodeN,
// the ed25519 key from the node id; it listens on TCP port 9000, reads
// --params params.json and runs its script; messages are unsigned
// (StrictNoSign, no author) with the plans' message id (the first 8 bytes of
// data). Standard output carries the plans' NDJSON records (PeerID, and
// Received Message for every copy received, duplicates included);
// diagnostics go to standard error. The process exits when the script ends.
//
// The router is meshbus's components/router in a host.New assembly without
// the scorer and the peer manager, matching the reference node (no peer
// scoring, no connection manager). Partial-message instructions fail with a
// clear "unsupported instruction" error: the router has no partial messages
// yet.
package main

import (
	"log/slog"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

func main() { script.Main("meshbus-interop", newNode) }

// newNode is script.Main's backend constructor: node id's meshbus node,
// started by Init.
func newNode(id int, rec *script.Recorder, log *slog.Logger) (script.NodeBackend, error) {
	return newBackend(id, rec, log), nil
}
