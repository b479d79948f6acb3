package rtt

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/rtt/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// metrics are the prober's Prometheus collectors, every child resolved at
// construction so that counting does not allocate.
type metrics struct {
	outcomes   map[automaton.Outcome]prometheus.Counter
	rtt        prometheus.Histogram
	collectors []prometheus.Collector
}

func newMetrics() *metrics {
	const ns, sub = "meshbus", "rtt"
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "outcomes_total",
		Help: "Inputs handled by the RTT prober's core, by outcome (measured, probe_failed, gave_up, ...).",
	}, []string{"outcome"})
	m := &metrics{outcomes: make(map[automaton.Outcome]prometheus.Counter)}
	for _, o := range automaton.Outcomes() {
		m.outcomes[o] = vec.WithLabelValues(o.String())
	}
	m.rtt = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "round_trip_seconds",
		Help:    "Measured round-trip times (the smallest sample of each probe).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	m.collectors = []prometheus.Collector{vec, m.rtt}
	return m
}

func (m *metrics) outcome(o automaton.Outcome) {
	if c := m.outcomes[o]; c != nil {
		c.Inc()
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register("rtt", reg, m.collectors...)
}

func (m *metrics) unregister(reg prometheus.Registerer) { promreg.Unregister(reg, m.collectors...) }
