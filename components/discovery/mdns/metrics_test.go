package mdns

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/discovery/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// exported is what a fresh add-on exports (names, help, types and labels;
// a change here is a change to the add-on's public metrics).
const exported = `
# HELP meshbus_mdns_found_dropped_total Peers the mDNS service found while the driver's buffer was full, dropped unhandled.
# TYPE meshbus_mdns_found_dropped_total counter
meshbus_mdns_found_dropped_total 0
# HELP meshbus_mdns_found_total Peers found, by what the core decided: announced (an EvtPeerFound), repeat (a suppressed re-announcement), self, no_addrs, topic_not_followed.
# TYPE meshbus_mdns_found_total counter
meshbus_mdns_found_total{outcome="announced"} 0
meshbus_mdns_found_total{outcome="no_addrs"} 0
meshbus_mdns_found_total{outcome="repeat"} 0
meshbus_mdns_found_total{outcome="self"} 0
meshbus_mdns_found_total{outcome="topic_not_followed"} 0
`

// TestMetricsExported: with a registerer the add-on exports exactly the
// families above, and Close takes them off again.
func TestMetricsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus := eventbus.New()
	defer bus.Close()
	m, err := New(testhost.New(t), bus, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	metrictest.ExportsUntilClose(t, reg, exported, m.Close)
}

// TestNoRegistererKeepsNoMetrics: without a registerer the add-on keeps no
// metrics at all, and counting is a no-op.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	m, err := New(testhost.New(t), bus)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.met.v != nil {
		t.Fatal("an add-on without a registerer keeps metrics")
	}
	m.met.countFound(automaton.OutcomeAnnounced) // a nil check, no panic
	m.met.dropped()
}
