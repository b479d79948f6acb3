package promreg

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testSchema has one of each kind of series.
var (
	testSchema   Schema
	tCount       = testSchema.Counter("t_count_total", "A counter.")
	tGauge       = testSchema.Gauge("t_gauge", "A gauge.")
	tFam         = testSchema.Family("t_kind_total", "By kind.", prometheus.CounterValue, "kind")
	tKindA       = tFam.Series("a")
	tKindRare    = tFam.Lazy("rare")
	tKindNever   = tFam.Lazy("never")
	tLazyCounter = testSchema.Family("t_lazy_total", "Lazy, no labels.", prometheus.CounterValue).Lazy()
)

func TestValuesExport(t *testing.T) {
	v := testSchema.NewValues()
	reg := prometheus.NewRegistry()
	if err := Register("t", reg, v); err != nil {
		t.Fatal(err)
	}
	v.Inc(tCount)
	v.Add(tCount, 2)
	v.Set(tGauge, 1.5)
	v.AddGauge(tGauge, -0.5)
	v.Inc(tKindRare)
	// Exported from the start: the counter, the gauge and kind "a" at 0;
	// lazy series only once nonzero ("never" and t_lazy_total are not).
	want := `
# HELP t_count_total A counter.
# TYPE t_count_total counter
t_count_total 3
# HELP t_gauge A gauge.
# TYPE t_gauge gauge
t_gauge 1
# HELP t_kind_total By kind.
# TYPE t_kind_total counter
t_kind_total{kind="a"} 0
t_kind_total{kind="rare"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if got := v.Value(tCount); got != 3 {
		t.Fatalf("Value(count) = %v", got)
	}
	if got := v.Value(tGauge); got != 1 {
		t.Fatalf("Value(gauge) = %v", got)
	}
	if v.Value(tKindA) != 0 || v.Value(tKindNever) != 0 {
		t.Fatal("series never counted are not 0")
	}
}

// TestValuesShareSchema: two nodes' values of one schema are independent,
// register on their own registries, and cannot share one.
func TestValuesShareSchema(t *testing.T) {
	a, b := testSchema.NewValues(), testSchema.NewValues()
	ra, rb := prometheus.NewRegistry(), prometheus.NewRegistry()
	if err := Register("a", ra, a); err != nil {
		t.Fatal(err)
	}
	if err := Register("b", rb, b); err != nil {
		t.Fatal(err)
	}
	a.Inc(tLazyCounter)
	if n := testutil.CollectAndCount(a, "t_lazy_total"); n != 1 {
		t.Fatalf("a exports %d t_lazy_total series", n)
	}
	if n := testutil.CollectAndCount(b, "t_lazy_total"); n != 0 {
		t.Fatalf("b exports %d t_lazy_total series, counted only on a", n)
	}
	if err := Register("b", ra, b); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second Values of one schema on one registry: %v", err)
	}
}

// TestNilValues: a nil *Values (a component without a registry) ignores
// every update.
func TestNilValues(t *testing.T) {
	var v *Values
	v.Inc(tCount)
	v.Add(tCount, 3)
	v.Set(tGauge, 2)
	v.AddGauge(tGauge, 1)
	if got := v.Value(tCount); got != 0 {
		t.Fatalf("nil Value = %v", got)
	}
}

// TestValuesNoAllocs: updates allocate nothing, with values or without.
func TestValuesNoAllocs(t *testing.T) {
	v := testSchema.NewValues()
	var none *Values
	if n := testing.AllocsPerRun(100, func() {
		v.Inc(tKindRare)
		v.Add(tCount, 2)
		v.Set(tGauge, 3)
		v.AddGauge(tGauge, -1)
		none.Inc(tCount)
	}); n != 0 {
		t.Fatalf("%v allocations per update round", n)
	}
}

func BenchmarkValuesInc(b *testing.B) {
	v := testSchema.NewValues()
	b.ReportAllocs()
	for b.Loop() {
		v.Inc(tCount)
	}
}

// testKey is an enumeration for SeriesOf: 0 and 2 get series, 1 and 3 not.
type testKey uint8

func (k testKey) String() string { return [...]string{"zero", "one", "two", "three"}[k] }

func TestSeriesOf(t *testing.T) {
	var s Schema
	f := s.Family("t_keyed_total", "By key.", prometheus.CounterValue, "key")
	ks := SeriesOf(f, testKey(2), testKey(0))
	v := s.NewValues()
	for _, k := range []testKey{0, 1, 2, 2, 3, 200} {
		if id, ok := ks.ID(k); ok {
			v.Inc(id)
		} else if k == 0 || k == 2 {
			t.Fatalf("ID(%v): no series", k)
		}
	}
	reg := prometheus.NewRegistry()
	if err := Register("t", reg, v); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP t_keyed_total By key.
# TYPE t_keyed_total counter
t_keyed_total{key="two"} 2
t_keyed_total{key="zero"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestRegistered: Registered puts the values and the extras on the
// registry, all or none, and Unregister takes them off; with no registry
// nothing is kept and Unregister on the nil values does nothing.
func TestRegistered(t *testing.T) {
	if v, err := testSchema.Registered("t", nil); v != nil || err != nil {
		t.Fatalf("Registered(nil reg) = %v, %v; want nil, nil", v, err)
	}
	var none *Values
	none.Unregister(prometheus.NewRegistry()) // nothing registered: no panic

	reg := prometheus.NewRegistry()
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_extra_total", Help: "An extra collector."})
	v, err := testSchema.Registered("t", reg, extra)
	if err != nil {
		t.Fatal(err)
	}
	v.Inc(tCount)
	if n, err := testutil.GatherAndCount(reg, "t_count_total", "t_extra_total"); err != nil || n != 2 {
		t.Fatalf("registered series = %d, %v; want 2", n, err)
	}
	// A second node on the same registry fails and leaves nothing of its own.
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_other_total", Help: "Another."})
	if _, err := testSchema.Registered("t2", reg, other); err == nil || !strings.Contains(err.Error(), "t2: metrics already registered") {
		t.Fatalf("second Registered on one registry: %v", err)
	}
	if n, _ := testutil.GatherAndCount(reg, "t_other_total"); n != 0 {
		t.Fatal("the failed Registered left its extra collector registered")
	}
	v.Unregister(reg, extra)
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Fatalf("%d series left after Unregister", n)
	}
}
