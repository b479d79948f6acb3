package peermgr

import (
	"testing"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestNoRegistererKeepsNoMetrics: without a registerer the manager keeps
// no metric values and no per-protocol gauge, and counting is a no-op.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	m, err := New(testhost.New(t), bus)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.met.v != nil || m.met.byProto != nil {
		t.Fatal("a manager without a registerer keeps metrics")
	}
	m.met.dialFailed(events.DialFailTimeout) // nil checks, no panic
	m.met.reject("anything")
	m.met.evict(events.EvictColocation)
	m.met.gauges(automaton.Census{StorePeers: 3})
}
