package router

import (
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// An RTT the prober measures reaches the router's automaton through the
// bus: the real prober (components/rtt) on the same bus and mock clock
// pings the connected peer, emits EvtPeerRTTMeasured, and the router's
// core records it (its rtt_recorded outcome).
func TestRTTReachesAutomatonViaBus(t *testing.T) {
	clk := clock.NewMock()
	a, b, _, _ := pair(t, clk, "lat", WithLatencyAwareMesh(DefaultLatencyConfig()))
	startProber(t, a, clk)
	bustest.Eventually(t, 10*time.Second, "the router recorded b's RTT", func() bool {
		v, _ := metrictest.Value(t, a.reg, "meshbus_router_outcomes_total", "outcome", "rtt_recorded")
		return v >= 1
	}, nil)
	if !contains(a.r.Mesh("lat"), b.h.ID()) {
		t.Fatal("b left the mesh")
	}
}

func TestLatencyOptionValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	bad := DefaultLatencyConfig()
	bad.RandomShare = 0
	if _, err := New(h, bus, WithLatencyAwareMesh(bad)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("RandomShare 0: %v, want ErrBadOption", err)
	}
	// The option wins over a later WithGossipConfig.
	r, err := New(h, bus, WithLatencyAwareMesh(DefaultLatencyConfig()), WithGossipConfig(DefaultGossipConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.cfg.gossip.Latency.Enabled {
		t.Fatal("WithGossipConfig after WithLatencyAwareMesh turned it off")
	}
}

func TestLazyForwardingOptionValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	bad := DefaultLazyConfig()
	bad.MinEager = 0
	if _, err := New(h, bus, WithLazyForwarding(bad)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("MinEager 0: %v, want ErrBadOption", err)
	}
	// The option wins over a later WithGossipConfig.
	r, err := New(h, bus, WithLazyForwarding(DefaultLazyConfig()), WithGossipConfig(DefaultGossipConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.cfg.gossip.Lazy.Enabled {
		t.Fatal("WithGossipConfig after WithLazyForwarding turned it off")
	}
}

// With batched lazy IHAVEs (LazyConfig.FlushInterval > 0) the driver calls
// the core's FlushLazy on its own ticker, between heartbeats; with
// FlushInterval 0 (immediate IHAVEs) it has no such ticker.
func TestLazyFlushTicker(t *testing.T) {
	for _, flush := range []time.Duration{200 * time.Millisecond, 0} {
		t.Run(flush.String(), func(t *testing.T) {
			clk := clock.NewMock()
			lc := DefaultLazyConfig()
			lc.FlushInterval = flush
			// Choking (on by default) batches too: off here.
			a, _, _, _ := pair(t, clk, "lazy", WithLazyForwarding(lc), WithoutChoking())
			flushes := func() float64 {
				v, _ := metrictest.Value(t, a.reg, "meshbus_router_outcomes_total", "outcome", "nothing_to_flush")
				return v
			}
			if flush > 0 {
				before := flushes()
				bustest.Eventually(t, 10*time.Second, "a flush between heartbeats", func() bool {
					return flushes() > before
				}, func() { clk.Add(flush) })
				return
			}
			hb := func() float64 {
				v, _ := metrictest.Value(t, a.reg, "meshbus_router_outcomes_total", "outcome", "heartbeat_done")
				return v
			}
			before := hb()
			bustest.Eventually(t, 10*time.Second, "a heartbeat", func() bool { return hb() > before }, heartbeat(clk))
			if n := flushes(); n != 0 {
				t.Fatalf("FlushInterval 0: %v flushes", n)
			}
		})
	}
}
