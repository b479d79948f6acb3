package metrictest

import (
	"errors"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "c"}, []string{"kind", "dir"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h"})
	reg.MustRegister(c, g, h)
	c.WithLabelValues("a", "in").Add(2)
	c.WithLabelValues("a", "out").Add(3)
	c.WithLabelValues("b", "in").Add(5)
	g.Set(-1.5)
	h.Observe(1)
	h.Observe(7)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
		ok     bool
	}{
		{"c_total", nil, 10, true},
		{"c_total", []string{"kind", "a"}, 5, true},
		{"c_total", []string{"kind", "a", "dir", "out"}, 3, true},
		{"c_total", []string{"kind", "c"}, 0, false},
		{"g", nil, -1.5, true},
		{"h", nil, 2, true},
		{"absent", nil, 0, false},
	} {
		v, ok := Value(t, reg, tc.name, tc.labels...)
		if v != tc.want || ok != tc.ok {
			t.Errorf("Value(%s, %q) = %v, %v; want %v, %v", tc.name, tc.labels, v, ok, tc.want, tc.ok)
		}
		if s := Sum(t, reg, tc.name, tc.labels...); s != tc.want {
			t.Errorf("Sum(%s, %q) = %v, want %v", tc.name, tc.labels, s, tc.want)
		}
	}
	if v := Must(t, reg, "c_total", "dir", "in"); v != 7 {
		t.Errorf("Must(c_total, dir=in) = %v, want 7", v)
	}
}

func TestMissing(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"}))
	unused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "v_total", Help: "v"}, []string{"k"})
	reg.MustRegister(unused) // no series yet: not exported
	if got := Missing(t, reg, "g"); got != nil {
		t.Errorf("Missing(g) = %q, want nil", got)
	}
	if got := Missing(t, reg, "absent", "g", "v_total"); len(got) != 2 || got[0] != "absent" || got[1] != "v_total" {
		t.Errorf("Missing(absent, g, v_total) = %q, want [absent v_total]", got)
	}
}

// recorder is a testing.TB whose Fatalf records the failure and ends the
// calling goroutine, as the real one does.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}

// fails runs check against a recorder on its own goroutine (Fatalf ends
// it) and reports whether check failed it.
func fails(check func(testing.TB)) bool {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r.failed
}

func TestExportsUntilClose(t *testing.T) {
	const want = `
# HELP g a gauge
# TYPE g gauge
g 0
`
	build := func() (*prometheus.Registry, func() error) {
		reg := prometheus.NewRegistry()
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "a gauge"})
		reg.MustRegister(g)
		return reg, func() error {
			reg.Unregister(g)
			return nil
		}
	}
	reg, closeFn := build()
	ExportsUntilClose(t, reg, want, closeFn)

	cases := map[string]func(testing.TB){
		"other exposition": func(tb testing.TB) {
			reg, closeFn := build()
			ExportsUntilClose(tb, reg, "# HELP h x\n# TYPE h gauge\nh 0\n", closeFn)
		},
		"close leaves series": func(tb testing.TB) {
			reg, _ := build()
			ExportsUntilClose(tb, reg, want, func() error { return nil })
		},
		"close fails": func(tb testing.TB) {
			reg, _ := build()
			ExportsUntilClose(tb, reg, want, func() error { return errors.New("boom") })
		},
	}
	for name, check := range cases {
		if !fails(check) {
			t.Errorf("%s: ExportsUntilClose did not fail", name)
		}
	}
}
