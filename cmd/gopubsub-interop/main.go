// Command gopubsub-interop is the reference node for the libp2p GossipSub
// interop test plans, built on go-libp2p-pubsub: the same contract as
// meshbus-interop (test-specs/implementation.md of libp2p/test-plans) with
// the implementation the plans call "go", so that the runner can compare
// meshbus with it in one network. It is written here from the contract;
// like the plans' own go node it logs a "Received Message" record for every
// message of every RPC received (RecvRPC), duplicates included.
//
// INTEROP_DEBUG=1 in the environment turns on debug diagnostics.
//
// Partial messages are on from initGossipSub (go-libp2p-pubsub's
// partialmessages extension, as the plans' go node): subscribeToTopic with
// partial: true joins the topic requesting partial messages,
// addPartialMessage adds parts to a group, publishPartial offers the group
// to the mesh (and the peers already in the group's state) or to
// publishToNodeIDs, without joining the topic, and "All parts received" is
// written once per group when it completes. Parts received are merged, and
// the group offered again, on a worker goroutine (partial.go), not on
// pubsub's event loop. subscribeToTopic with partial: true on a topic
// already subscribed without it is an error.
package main

import (
	"log/slog"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

func main() { script.Main("gopubsub-interop", newNode) }

// newNode is script.Main's backend constructor: node id's libp2p host,
// listening already; Init starts go-libp2p-pubsub on it.
func newNode(id int, rec *script.Recorder, log *slog.Logger) (script.NodeBackend, error) {
	b, err := newBackend(id, rec, log)
	if err != nil {
		return nil, err // not a nil *backend in a non-nil interface
	}
	return b, nil
}
