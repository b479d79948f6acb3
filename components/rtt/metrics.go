package rtt

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/rtt/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// The prober's metric series, shared by every prober in the process
// (descriptors and label values exist once; a prober's own part is one
// promreg.Values and its round-trip histogram).
var (
	schema promreg.Schema

	outcomesFam = schema.Family("meshbus_rtt_outcomes_total",
		"Inputs handled by the RTT prober's core, by outcome (measured, probe_failed, gave_up, ...).",
		prometheus.CounterValue, "outcome")
	mOutcomes = promreg.SeriesOf(outcomesFam, automaton.Outcomes()...)
)

// metrics are one prober's Prometheus metrics. Without a registerer both
// fields are nil and an update is a nil check: nothing is kept. With one,
// updating never allocates.
type metrics struct {
	v   *promreg.Values
	rtt prometheus.Histogram // nil without a registerer
}

// newMetrics registers the prober's metrics on reg, all or none; with a
// nil reg it keeps none.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	if reg == nil {
		return m, nil
	}
	m.rtt = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "meshbus", Subsystem: "rtt", Name: "round_trip_seconds",
		Help:    "Measured round-trip times (the smallest sample of each probe).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	v, err := schema.Registered("rtt", reg, m.rtt)
	if err != nil {
		return nil, err
	}
	m.v = v
	return m, nil
}

// outcome counts one input's outcome.
func (m *metrics) outcome(o automaton.Outcome) {
	if id, ok := mOutcomes.ID(o); ok {
		m.v.Inc(id)
	}
}

// observeRTT observes one measured round trip, in seconds.
func (m *metrics) observeRTT(seconds float64) {
	if m.rtt != nil {
		m.rtt.Observe(seconds)
	}
}

// unregister removes the metrics from reg (none kept: nothing to do).
func (m *metrics) unregister(reg prometheus.Registerer) {
	m.v.Unregister(reg, m.rtt)
}
