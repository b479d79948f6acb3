package host

import (
	"testing"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
)

// TestBuiltinRTTProber: a node from New measures a connected peer's RTT
// with its built-in prober and its router records it (what choking's
// MaxRTT gate needs); WithoutComponent(ComponentRTT) leaves the prober
// out and the node still runs.
func TestBuiltinRTTProber(t *testing.T) {
	a, b := newNode(t, noDialer), newNode(t, noDialer)
	connect(t, a, b)
	bustest.Eventually(t, waitFor, "a's router recorded b's RTT", func() bool {
		v, _ := metrictest.Value(t, a.Registry(), "meshbus_router_outcomes_total", "outcome", "rtt_recorded")
		return v >= 1
	}, nil)
	if v, _ := metrictest.Value(t, a.Registry(), "meshbus_rtt_outcomes_total", "outcome", "measured"); v < 1 {
		t.Fatalf("the prober's measured count is %v", v)
	}

	c := newNode(t, noDialer, WithoutComponent(ComponentRTT))
	connect(t, c, b)
	if miss := metrictest.Missing(t, c.Registry(), "meshbus_rtt_round_trip_seconds"); miss == nil {
		t.Fatal("a node without the prober exports the prober's histogram")
	}
}
