// Package metrictest is the test kit's one reader of Prometheus metrics:
// it gathers a registry and sums the series of one family that carry given
// labels, lists the families it lacks, or compares its whole exposition,
// so that tests assert on the metrics a component exports instead of
// walking the registry by hand. Test code only (internal/archtest keeps
// it out of non-test code).
package metrictest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Value gathers g and returns the sum of the values of family name's
// series whose labels include every pair in labels (alternating name,
// value; no pairs selects every series). A counter, gauge or untyped
// series gives its value, a histogram or summary its sample count. ok is
// false when no series matched (the family is absent or no series has the
// labels). A gather error or an odd number of label strings fails t.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) (v float64, ok bool) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("metrictest: labels %q are not name/value pairs", labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("metrictest: gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			ok = true
			switch {
			case m.Counter != nil:
				v += m.GetCounter().GetValue()
			case m.Gauge != nil:
				v += m.GetGauge().GetValue()
			case m.Untyped != nil:
				v += m.GetUntyped().GetValue()
			case m.Histogram != nil:
				v += float64(m.GetHistogram().GetSampleCount())
			case m.Summary != nil:
				v += float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return v, ok
}

// Sum is Value without ok: 0 when no series matched.
func Sum(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := Value(t, g, name, labels...)
	return v
}

// Must is Value that fails t when no series matched.
func Must(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := Value(t, g, name, labels...)
	if !ok {
		t.Fatalf("metrictest: no series of %s with labels %q", name, labels)
	}
	return v
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Missing gathers g and returns the family names of want that it does not
// export, in want's order (nil when it exports them all). A gather error
// fails t.
func Missing(t testing.TB, g prometheus.Gatherer, want ...string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("metrictest: gather: %v", err)
	}
	have := make(map[string]bool, len(mfs))
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	var missing []string
	for _, name := range want {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	return missing
}

// ExportsUntilClose checks a component's public metrics over its life:
// gathered now, reg exports exactly the exposition want (names, help,
// types, labels and values, in the text format), and after closeFn
// returns it exports nothing, so Close took every collector off. A
// mismatch, a gather error or an error from closeFn fails t.
func ExportsUntilClose(t testing.TB, reg prometheus.Gatherer, want string, closeFn func() error) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatalf("metrictest: exported metrics: %v", err)
	}
	if err := closeFn(); err != nil {
		t.Fatalf("metrictest: close: %v", err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("metrictest: %d series left registered after close (gather error: %v)", n, err)
	}
}
