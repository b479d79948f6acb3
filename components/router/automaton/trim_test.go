package automaton

import (
	"testing"

	"github.com/meshbus/meshbus/components/router/wire"
)

// A mesh of exactly Dhi peers is left alone by default (the spec trims
// above Dhi) and trimmed to D with TrimAtDhi (go-libp2p-pubsub's rule);
// one peer fewer is left alone either way.
func TestTrimAtDhi(t *testing.T) {
	for _, tc := range []struct {
		trimAtDhi bool
		size      int
		want      int
	}{
		{false, 12, 12},
		{true, 12, 6},
		{true, 11, 11},
		{false, 13, 6},
	} {
		h := newHarness(t, func(c *Config) { c.TrimAtDhi = tc.trimAtDhi })
		h.join(topicA)
		for i := 1; i <= tc.size; i++ {
			// outbound, so that grafts are accepted over Dhi too
			p := h.add(i, wire.ProtocolMeshsub12, true, topicA)
			h.graftIn(p, topicA)
		}
		if got := len(h.mesh(topicA)); got != tc.size {
			t.Fatalf("TrimAtDhi %v: mesh %d before the heartbeat, want %d", tc.trimAtDhi, got, tc.size)
		}
		h.reset()
		h.heartbeat()
		if got := len(h.mesh(topicA)); got != tc.want {
			t.Errorf("TrimAtDhi %v, mesh of %d: %d after the heartbeat, want %d", tc.trimAtDhi, tc.size, got, tc.want)
		}
		if pruned := len(FactPeerPruned.In(&h.out)); pruned != tc.size-tc.want {
			t.Errorf("TrimAtDhi %v, mesh of %d: %d EvtPeerPruned, want %d", tc.trimAtDhi, tc.size, pruned, tc.size-tc.want)
		}
	}
}
