package scoring

import (
	"testing"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// TestNoRegistererKeepsNoMetrics: without a registerer the scorer keeps
// no metric values and no histogram, and counting is a no-op.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	s, err := New(bus)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.m.v != nil || s.m.scores != nil {
		t.Fatal("a scorer without a registerer keeps metrics")
	}
	s.m.crossed(events.EvtPeerScoreThresholdCrossed{Threshold: events.ThresholdGossip, Below: true}) // nil checks, no panic
	s.m.score(-1)
	s.m.unregister(nil)
}
