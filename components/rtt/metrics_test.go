package rtt

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/rtt/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// exported is what a fresh prober exports: every outcome at zero and the
// empty round-trip histogram (names, help, types and labels; a change here
// is a change to the prober's public metrics).
const exported = `
# HELP meshbus_rtt_outcomes_total Inputs handled by the RTT prober's core, by outcome (measured, probe_failed, gave_up, ...).
# TYPE meshbus_rtt_outcomes_total counter
meshbus_rtt_outcomes_total{outcome="already_tracked"} 0
meshbus_rtt_outcomes_total{outcome="forgotten"} 0
meshbus_rtt_outcomes_total{outcome="gave_up"} 0
meshbus_rtt_outcomes_total{outcome="invalid_input"} 0
meshbus_rtt_outcomes_total{outcome="measured"} 0
meshbus_rtt_outcomes_total{outcome="probe_failed"} 0
meshbus_rtt_outcomes_total{outcome="tick_done"} 0
meshbus_rtt_outcomes_total{outcome="too_many_peers"} 0
meshbus_rtt_outcomes_total{outcome="tracked"} 0
meshbus_rtt_outcomes_total{outcome="unknown_peer"} 0
# HELP meshbus_rtt_round_trip_seconds Measured round-trip times (the smallest sample of each probe).
# TYPE meshbus_rtt_round_trip_seconds histogram
meshbus_rtt_round_trip_seconds_bucket{le="0.0005"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.001"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.002"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.004"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.008"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.016"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.032"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.064"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.128"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.256"} 0
meshbus_rtt_round_trip_seconds_bucket{le="0.512"} 0
meshbus_rtt_round_trip_seconds_bucket{le="1.024"} 0
meshbus_rtt_round_trip_seconds_bucket{le="2.048"} 0
meshbus_rtt_round_trip_seconds_bucket{le="4.096"} 0
meshbus_rtt_round_trip_seconds_bucket{le="+Inf"} 0
meshbus_rtt_round_trip_seconds_sum 0
meshbus_rtt_round_trip_seconds_count 0
`

// TestMetricsExported: with a registerer the prober exports exactly the
// families above, and Close takes them off again.
func TestMetricsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus := eventbus.New()
	defer bus.Close()
	p, err := New(testhost.New(t), bus, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	metrictest.ExportsUntilClose(t, reg, exported, p.Close)
}

// TestNoRegistererKeepsNoMetrics: without a registerer the prober keeps no
// metrics at all, and counting is a no-op.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	p, err := New(testhost.New(t), bus)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.met.v != nil || p.met.rtt != nil {
		t.Fatal("a prober without a registerer keeps metrics")
	}
	p.met.outcome(automaton.OutcomeMeasured) // a nil check, no panic
	p.met.observeRTT(0.001)
}
