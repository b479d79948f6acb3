package router

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
)

// TestMetricsWithoutRegisterer: a router given no registerer keeps no
// metrics and works as one with them; its peer, given a registry, exports
// the router's metric families under their usual names.
func TestMetricsWithoutRegisterer(t *testing.T) {
	clk := clock.NewMock()
	a, b := newNode(t, clk, WithRegisterer(nil)), newNode(t, clk)
	if a.r.m.v != nil {
		t.Fatal("a router without a registerer keeps metric values")
	}
	ta, tb := meshed(t, clk, "chat", a, b)
	sa, _ := ta.Subscribe()
	sb, _ := tb.Subscribe()
	exchange(t, ta, tb, sa, sb)

	if mfs, err := a.reg.Gather(); err != nil || len(mfs) != 0 {
		t.Fatalf("a's unused registry holds %d families (%v)", len(mfs), err)
	}
	bustest.Eventually(t, 10*time.Second, "b's delivered counter at 1", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_messages_total", "kind", "delivered") >= 1
	}, nil)
	// The families every router exports once it has joined a topic and
	// exchanged a message; those of rare events (rejections, penalties,
	// bad input, partial messages) appear at their first count.
	if miss := metrictest.Missing(t, b.reg,
		"meshbus_router_rpcs_total", "meshbus_router_messages_total",
		"meshbus_router_queue_drops_total", "meshbus_router_queue_cancelled_total",
		"meshbus_router_subscription_drops_total", "meshbus_router_stream_failures_total",
		"meshbus_router_inbound_streams_replaced_total", "meshbus_router_signature_checks_total",
		"meshbus_router_peers", "meshbus_router_outcomes_total",
		"meshbus_router_validations_running", "meshbus_router_mesh_peers",
	); miss != nil {
		t.Errorf("b does not export %q", miss)
	}
}

// TestMetricsNoAllocs: counting with metrics and without allocates nothing.
func TestMetricsNoAllocs(t *testing.T) {
	with, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	with.v = schema.NewValues()
	without, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*metrics{with, without} {
		if n := testing.AllocsPerRun(100, func() {
			m.v.Inc(mRPCsIn)
			m.outcome(1)
			m.reject(0)
			m.v.AddGauge(mValidationsAsync, 1)
		}); n != 0 {
			t.Fatalf("%v allocations per count", n)
		}
	}
}
