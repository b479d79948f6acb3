package metrictest

import (
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
