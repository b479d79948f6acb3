package dashboard

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/internal/metrictest"
)

// exported is what a fresh dashboard exports (names, help, types; a
// change here is a change to the dashboard's public metrics).
const exported = `
# HELP meshbus_dashboard_events_total Bus events the dashboard folded into its view.
# TYPE meshbus_dashboard_events_total counter
meshbus_dashboard_events_total 0
# HELP meshbus_dashboard_streams Pages currently streaming the view.
# TYPE meshbus_dashboard_streams gauge
meshbus_dashboard_streams 0
# HELP meshbus_dashboard_views_published_total Views published to the pages.
# TYPE meshbus_dashboard_views_published_total counter
meshbus_dashboard_views_published_total 0
`

// TestMetricsExported: with a registerer the dashboard exports exactly the
// families above, and Close takes them off again.
func TestMetricsExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, err := New(WithRegisterer(reg), WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	metrictest.ExportsUntilClose(t, reg, exported, d.Close)
}

// TestNoRegistererKeepsNoMetrics: without a registerer the dashboard keeps no
// metrics at all, and counting is a no-op.
func TestNoRegistererKeepsNoMetrics(t *testing.T) {
	d, err := New(WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.metrics.v != nil {
		t.Fatal("a dashboard without a registerer keeps metrics")
	}
}
