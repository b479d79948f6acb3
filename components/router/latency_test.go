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

// With batched lazy IHAVEs (LazyConfig.FlushInterval > 0) the driver
// flushes on the interval's ticks only while a batch waits (flushTimer):
// an idle router calls FlushLazy never, whatever the interval, as with
// FlushInterval 0 (immediate IHAVEs). TestChokingDiamond checks that a
// waiting batch goes out between heartbeats.
func TestLazyFlushIdle(t *testing.T) {
	for _, flush := range []time.Duration{200 * time.Millisecond, 0} {
		t.Run(flush.String(), func(t *testing.T) {
			clk := clock.NewMock()
			lc := DefaultLazyConfig()
			lc.FlushInterval = flush
			// Choking (on by default) batches too: off here.
			a, _, _, _ := pair(t, clk, "lazy", WithLazyForwarding(lc), WithoutChoking())
			outcome := func(name string) float64 {
				v, _ := metrictest.Value(t, a.reg, "meshbus_router_outcomes_total", "outcome", name)
				return v
			}
			before := outcome("heartbeat_done")
			step := 200 * time.Millisecond
			for range 10 { // two heartbeats, ten flush intervals
				clk.Add(step)
			}
			bustest.Eventually(t, 10*time.Second, "two heartbeats", func() bool {
				return outcome("heartbeat_done") >= before+2
			}, nil)
			if n, m := outcome("nothing_to_flush"), outcome("lazy_flushed"); n != 0 || m != 0 {
				t.Fatalf("idle router: %v empty and %v sent flushes", n, m)
			}
		})
	}
}
