package router

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/internal/testhost"
)

func TestLearnedIDontWantOptionValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	bad := DefaultIDontWantLearnConfig()
	bad.ProbeEvery = 0
	if _, err := New(h, bus, WithLearnedIDontWant(bad)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("ProbeEvery 0: %v, want ErrBadOption", err)
	}
	// The option wins over a later WithGossipConfig, whichever it sets.
	off := DefaultGossipConfig()
	off.IDontWantLearn = IDontWantLearnConfig{}
	r, err := New(h, bus, WithLearnedIDontWant(DefaultIDontWantLearnConfig()), WithGossipConfig(off))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.cfg.gossip.IDontWantLearn != DefaultIDontWantLearnConfig() {
		t.Fatalf("WithGossipConfig after WithLearnedIDontWant changed it: %+v", r.cfg.gossip.IDontWantLearn)
	}
}

// The driver adds each Output's learned-IDONTWANT counts to
// meshbus_router_idontwant_learned_total{kind}.
func TestLearnedIDontWantMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.idontwant(automaton.IDontWantCounts{Suppressed: 7, Probes: 1, Late: 3, Timely: 2, Quieted: 1})
	m.idontwant(automaton.IDontWantCounts{Suppressed: 1, Resumed: 1})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "meshbus_router_idontwant_learned_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			got[s.GetLabel()[0].GetValue()] = s.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"suppressed": 8, "probe": 1, "late": 3, "timely": 2, "quieted": 1, "resumed": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
