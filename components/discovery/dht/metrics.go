package dht

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/discovery/automaton"
	"github.com/meshbus/meshbus/internal/promreg"
)

// foundOutcomes are the outcomes of automaton.HandleFound, each a label
// value of the found counter.
var foundOutcomes = []automaton.Outcome{automaton.OutcomeAnnounced, automaton.OutcomeRepeat,
	automaton.OutcomeSelf, automaton.OutcomeNoAddrs, automaton.OutcomeTopicNotFollowed}

// metrics are the add-on's Prometheus collectors, every child resolved at
// construction so that counting a find does not allocate.
type metrics struct {
	found           map[automaton.Outcome]prometheus.Counter
	rounds          prometheus.Counter
	advertiseErrors prometheus.Counter
	findErrors      prometheus.Counter
	collectors      []prometheus.Collector
}

func newMetrics() *metrics {
	const ns, sub = "meshbus", "dht"
	found := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "found_total",
		Help: "Peers found, by what the core decided: announced (an EvtPeerFound), repeat (a suppressed re-announcement), self, no_addrs, topic_not_followed.",
	}, []string{"outcome"})
	m := &metrics{found: make(map[automaton.Outcome]prometheus.Counter, len(foundOutcomes))}
	for _, o := range foundOutcomes {
		m.found[o] = found.WithLabelValues(o.String())
	}
	m.collectors = []prometheus.Collector{found}
	m.rounds = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "rounds_total",
		Help: "Discovery rounds completed (each advertises and looks up every followed topic).",
	})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "errors_total",
		Help: "DHT queries of a round that failed, by operation (advertise, find_peers).",
	}, []string{"op"})
	m.advertiseErrors = errs.WithLabelValues("advertise")
	m.findErrors = errs.WithLabelValues("find_peers")
	m.collectors = append(m.collectors, m.rounds, errs)
	return m
}

// countFound counts one find by the core's outcome.
func (m *metrics) countFound(o automaton.Outcome) {
	if c := m.found[o]; c != nil {
		c.Inc()
	}
}

// register registers every collector on reg (nil: none), all or none.
func (m *metrics) register(reg prometheus.Registerer) error {
	return promreg.Register("dht", reg, m.collectors...)
}

// unregister removes the collectors from reg (nil: nothing).
func (m *metrics) unregister(reg prometheus.Registerer) { promreg.Unregister(reg, m.collectors...) }
