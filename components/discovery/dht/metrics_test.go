package dht

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
# HELP meshbus_dht_errors_total DHT queries of a round that failed, by operation (advertise, find_peers).
# TYPE meshbus_dht_errors_total counter
meshbus_dht_errors_total{op="advertise"} 0
meshbus_dht_errors_total{op="find_peers"} 0
# HELP meshbus_dht_found_total Peers found, by what the core decided: announced (an EvtPeerFound), repeat (a suppressed re-announcement), self, no_addrs, topic_not_followed.
# TYPE meshbus_dht_found_total counter
meshbus_dht_found_total{outcome="announced"} 0
meshbus_dht_found_total{outcome="no_addrs"} 0
meshbus_dht_found_total{outcome="repeat"} 0
meshbus_dht_found_total{outcome="self"} 0
meshbus_dht_found_total{outcome="topic_not_followed"} 0
# HELP meshbus_dht_rounds_total Discovery rounds completed (each advertises and looks up every followed topic).
# TYPE meshbus_dht_rounds_total counter
meshbus_dht_rounds_total 0
`

// TestMetricsExported: with a registerer the add-on exports exactly the
// families above, and Close takes them off again.
func TestMetricsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus := eventbus.New()
	defer bus.Close()
	d, err := New(testhost.New(t), bus, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	metrictest.ExportsUntilClose(t, reg, exported, d.Close)
}

// TestNoRegistererKeepsNoMetrics: without a registerer the add-on keeps no
// metrics at all, and counting is a no-op.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	d, err := New(testhost.New(t), bus)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.met.v != nil {
		t.Fatal("an add-on without a registerer keeps metrics")
	}
	d.met.countFound(automaton.OutcomeAnnounced) // a nil check, no panic
	d.met.round()
	d.met.advertiseFailed()
	d.met.findFailed()
}
