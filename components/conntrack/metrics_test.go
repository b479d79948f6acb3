package conntrack_test

import (
	"context"
	"testing"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestNoRegistererKeepsNoMetrics: without a registerer the tracker keeps
// no metric values, and starting and closing it (which register and
// unregister them) is fine.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	tr, err := conntrack.New(testhost.New(t), bus)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if conntrack.KeepsMetrics(tr) {
		t.Fatal("a tracker without a registerer keeps metrics")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}
