package conntrack

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// metrics are the tracker's Prometheus collectors. Every child is resolved
// at construction so that updating one on the tracker's hot path does not
// allocate.
type metrics struct {
	opened          prometheus.Counter
	closed          prometheus.Counter
	open            prometheus.Gauge
	peers           prometheus.Gauge
	batch           prometheus.Gauge
	identifyClosed  prometheus.Counter
	identifyFull    prometheus.Counter
	identifyUnknown prometheus.Counter
	emitErrors      prometheus.Counter
	collectors      []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "meshbus", Subsystem: "conntrack", Name: "connections_opened_total",
			Help: "Connections the tracker saw open.",
		}),
		closed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "meshbus", Subsystem: "conntrack", Name: "connections_closed_total",
			Help: "Connections the tracker saw close.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "meshbus", Subsystem: "conntrack", Name: "connections_open",
			Help: "Connections open, as the tracker counts them.",
		}),
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "meshbus", Subsystem: "conntrack", Name: "peers_connected",
			Help: "Peers with at least one open connection, as the tracker counts them.",
		}),
		batch: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "meshbus", Subsystem: "conntrack", Name: "inbox_batch_size",
			Help: "Inputs in the tracker's last drained batch (a backlog indicator).",
		}),
		emitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "meshbus", Subsystem: "conntrack", Name: "emit_errors_total",
			Help: "Events the tracker could not emit (bus or emitter closed).",
		}),
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "meshbus", Subsystem: "conntrack", Name: "identify_dropped_total",
		Help: "Identify results not re-emitted, by reason.",
	}, []string{"reason"})
	m.identifyClosed = dropped.WithLabelValues("conn_closed")
	m.identifyFull = dropped.WithLabelValues("parked_full")
	m.identifyUnknown = dropped.WithLabelValues("peer_not_connected")
	m.collectors = []prometheus.Collector{m.opened, m.closed, m.open, m.peers, m.batch, m.emitErrors, dropped}
	return m
}

// register registers every collector on reg (nil: none), all or none.
func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register("conntrack", reg, m.collectors...)
}

// unregister removes the collectors from reg (nil: nothing).
func (m *metrics) unregister(reg prometheus.Registerer) { promreg.Unregister(reg, m.collectors...) }

// outcome counts what the core did with one input.
func (m *metrics) outcome(o automaton.Outcome) {
	switch o {
	case automaton.OutcomeConnOpened:
		m.opened.Inc()
	case automaton.OutcomeConnClosed:
		m.closed.Inc()
	case automaton.OutcomeIdentifyDroppedClosed:
		m.identifyClosed.Inc()
	case automaton.OutcomeIdentifyDroppedFull:
		m.identifyFull.Inc()
	case automaton.OutcomeIdentifyDroppedUnknown:
		m.identifyUnknown.Inc()
	}
}
