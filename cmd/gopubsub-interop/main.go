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
// Partial-message instructions fail with a clear "unsupported instruction"
// error (not implemented in this reference).
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
