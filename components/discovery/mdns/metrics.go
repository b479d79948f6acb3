package mdns

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/discovery/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// The add-on's metric series, shared by every mDNS add-on in the process
// (descriptors and label values exist once; an add-on's own part is one
// promreg.Values).
var (
	schema promreg.Schema

	foundFam = schema.Family("meshbus_mdns_found_total",
		"Peers found, by what the core decided: announced (an EvtPeerFound), repeat (a suppressed re-announcement), self, no_addrs, topic_not_followed.",
		prometheus.CounterValue, "outcome")
	// mFound are the series of automaton.HandleFound's outcomes.
	mFound = promreg.SeriesOf(foundFam, automaton.OutcomeAnnounced, automaton.OutcomeRepeat,
		automaton.OutcomeSelf, automaton.OutcomeNoAddrs, automaton.OutcomeTopicNotFollowed)
	mDropped = schema.Counter("meshbus_mdns_found_dropped_total",
		"Peers the mDNS service found while the driver's buffer was full, dropped unhandled.")
)

// metrics are one add-on's Prometheus metrics: nil values without a
// registerer (an update is a nil check, nothing is kept); with one,
// updating never allocates.
type metrics struct{ v *promreg.Values }

// newMetrics registers the add-on's metrics on reg; with a nil reg it
// keeps none.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	v, err := schema.Registered("mdns", reg)
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

// dropped counts one find dropped because the driver's buffer was full.
func (m *metrics) dropped() { m.v.Inc(mDropped) }

// unregister removes the metrics from reg (none kept: nothing to do).
func (m *metrics) unregister(reg prometheus.Registerer) { m.v.Unregister(reg) }
