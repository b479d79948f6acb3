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
// scoring, no connection manager), with the RTT prober (components/rtt)
// for latency-aware publishing unless MESHBUS_LATENCY_MESH=0; the other
// MESHBUS_* knobs are documented in backend.go and docs/testplans.md. A
// knob set to a value it does not take (a switch other than 0 or 1, a
// negative count, a duration without its unit) fails Init with an error
// naming every such variable, instead of running the default unnoticed.
//
// Partial messages (the v1.3 extension) are on from initGossipSub:
// subscribeToTopic with partial: true joins the topic requesting and
// offering partial messages in the plans' encoding
// (interop/testplans/script/partial.go), addPartialMessage adds parts to a
// group, publishPartial offers the group to the mesh or to
// publishToNodeIDs, and "All parts received" is written once per group
// when it completes. meshbus publishes partial messages only on a joined
// topic, so publishPartial on a topic not subscribed joins it (and so
// subscribes), offering but not requesting partial messages;
// subscribeToTopic with partial: true on a topic already subscribed without
// it is an error.
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
