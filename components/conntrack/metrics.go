package conntrack

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// The tracker's metric series, shared by every tracker in the process
// (descriptors and label values exist once; a tracker's own part is one
// promreg.Values).
var (
	schema promreg.Schema

	mOpened = schema.Counter("meshbus_conntrack_connections_opened_total", "Connections the tracker saw open.")
	mClosed = schema.Counter("meshbus_conntrack_connections_closed_total", "Connections the tracker saw close.")
	mOpen   = schema.Gauge("meshbus_conntrack_connections_open", "Connections open, as the tracker counts them.")
	mPeers  = schema.Gauge("meshbus_conntrack_peers_connected",
		"Peers with at least one open connection, as the tracker counts them.")
	mBatch = schema.Gauge("meshbus_conntrack_inbox_batch_size",
		"Inputs in the tracker's last drained batch (a backlog indicator).")
	mEmitErrors = schema.Counter("meshbus_conntrack_emit_errors_total",
		"Events the tracker could not emit (bus or emitter closed).")

	droppedFam = schema.Family("meshbus_conntrack_identify_dropped_total",
		"Identify results not re-emitted, by reason.", prometheus.CounterValue, "reason")
	mIdentifyClosed  = droppedFam.Series("conn_closed")
	mIdentifyFull    = droppedFam.Series("parked_full")
	mIdentifyUnknown = droppedFam.Series("peer_not_connected")
)

// metrics are one tracker's Prometheus metrics: nil values without a
// registerer (updating costs a nil check); with one, updating never
// allocates.
type metrics struct{ v *promreg.Values }

// newMetrics returns the tracker's metrics, kept only with a registerer.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return &metrics{}
	}
	return &metrics{v: schema.NewValues()}
}

// register registers the metrics on reg (nil: none).
func (m *metrics) register(reg prometheus.Registerer) error {
	if m.v == nil {
		return nil
	}
	return promreg.Register("conntrack", reg, m.v)
}

// unregister removes the metrics from reg (nil: nothing).
func (m *metrics) unregister(reg prometheus.Registerer) {
	if m.v != nil {
		promreg.Unregister(reg, m.v)
	}
}

// outcome counts what the core did with one input.
func (m *metrics) outcome(o automaton.Outcome) {
	switch o {
	case automaton.OutcomeConnOpened:
		m.v.Inc(mOpened)
	case automaton.OutcomeConnClosed:
		m.v.Inc(mClosed)
	case automaton.OutcomeIdentifyDroppedClosed:
		m.v.Inc(mIdentifyClosed)
	case automaton.OutcomeIdentifyDroppedFull:
		m.v.Inc(mIdentifyFull)
	case automaton.OutcomeIdentifyDroppedUnknown:
		m.v.Inc(mIdentifyUnknown)
	}
}
