package promreg

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func counter(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
}

func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := counter("a_total"), counter("b_total")
	if err := Register("x", reg, a, b); err != nil {
		t.Fatal(err)
	}
	// A second set with a clashing name: nothing of it may stay registered.
	c := counter("c_total")
	err := Register("y", reg, c, counter("a_total"))
	if err == nil || !strings.Contains(err.Error(), "y: metrics already registered") {
		t.Fatalf("clash: %v", err)
	}
	if err := reg.Register(c); err != nil {
		t.Fatalf("c stayed registered after the failed set: %v", err)
	}
	Unregister(reg, a, b, c)
	if err := Register("x", reg, a, b, c); err != nil {
		t.Fatalf("after Unregister every collector registers again: %v", err)
	}
}

func TestNilRegistry(t *testing.T) {
	if err := Register("x", nil, counter("a_total")); err != nil {
		t.Fatal(err)
	}
	Unregister(nil, counter("a_total"))
}
