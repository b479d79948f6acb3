package dht

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/discovery/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// The add-on's metric series, shared by every DHT add-on in the process
// (descriptors and label values exist once; an add-on's own part is one
// promreg.Values).
var (
	schema promreg.Schema

	foundFam = schema.Family("meshbus_dht_found_total",
		"Peers found, by what the core decided: announced (an EvtPeerFound), repeat (a suppressed re-announcement), self, no_addrs, topic_not_followed.",
		prometheus.CounterValue, "outcome")
	// mFound are the series of automaton.HandleFound's outcomes.
	mFound = promreg.SeriesOf(foundFam, automaton.OutcomeAnnounced, automaton.OutcomeRepeat,
		automaton.OutcomeSelf, automaton.OutcomeNoAddrs, automaton.OutcomeTopicNotFollowed)
	mRounds = schema.Counter("meshbus_dht_rounds_total",
		"Discovery rounds completed (each advertises and looks up every followed topic).")
	errorsFam = schema.Family("meshbus_dht_errors_total",
		"DHT queries of a round that failed, by operation (advertise, find_peers).",
		prometheus.CounterValue, "op")
	mAdvertiseErrors = errorsFam.Series("advertise")
	mFindErrors      = errorsFam.Series("find_peers")
)

// metrics are one add-on's Prometheus metrics: nil values without a
// registerer (an update is a nil check, nothing is kept); with one,
// updating never allocates.
type metrics struct{ v *promreg.Values }

// newMetrics registers the add-on's metrics on reg; with a nil reg it
// keeps none.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	v, err := schema.Registered("dht", reg)
	if err != nil {
		return nil, err
	}
	return &metrics{v: v}, nil
}

// countFound counts one find by the core's outcome.
func (m *metrics) countFound(o automaton.Outcome) {
	if id, ok := mFound.ID(o); ok {
		m.v.Inc(id)
	}
}

// round counts one completed discovery round.
func (m *metrics) round() { m.v.Inc(mRounds) }

// advertiseFailed counts one failed advertise query.
func (m *metrics) advertiseFailed() { m.v.Inc(mAdvertiseErrors) }

// findFailed counts one failed find-peers query.
func (m *metrics) findFailed() { m.v.Inc(mFindErrors) }

// unregister removes the metrics from reg (none kept: nothing to do).
func (m *metrics) unregister(reg prometheus.Registerer) { m.v.Unregister(reg) }
