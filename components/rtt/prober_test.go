package rtt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/components/rtt"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

const waitFor = 10 * time.Second

// A peer that connects is probed at once, and again every interval; each
// probe is one EvtPeerRTTMeasured on the bus.
func TestMeasuresConnectedPeer(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	testhost.Track(t, h, bus, conntrack.WithClock(clk))
	pr, err := rtt.New(h, bus, rtt.WithClock(clk), rtt.WithRegisterer(reg), rtt.WithInterval(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	measured := bustest.Subscribe[events.EvtPeerRTTMeasured](t, bus)
	if err := pr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if err := pr.Start(context.Background()); !errors.Is(err, rtt.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}

	testhost.Connect(t, h, other)
	m := bustest.Next(t, measured, nil, waitFor)
	// The round trip is wall-clock time over loopback; the event's time is
	// the prober's (mock) clock.
	if m.Peer != other.ID() || m.RTT <= 0 || m.RTT > waitFor || !m.At.Equal(clk.Now()) {
		t.Fatalf("measured %+v", m)
	}
	// The next probe comes after the interval (the ticker runs on the mock clock).
	clk.Add(11 * time.Second)
	if m := bustest.Next(t, measured, nil, waitFor); m.Peer != other.ID() {
		t.Fatalf("second measurement %+v", m)
	}
	if n := metrictest.Must(t, reg, "meshbus_rtt_outcomes_total", "outcome", "measured"); n != 2 {
		t.Fatalf("measured count %v, want 2", n)
	}
	if err := pr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := pr.Start(context.Background()); !errors.Is(err, rtt.ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
}

// A peer without the ping protocol is never measured: after MaxFailures
// failed probes it is given up (it stays unknown to readers).
func TestSilentPeerGivenUp(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t, libp2p.Ping(false))
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	reg := prometheus.NewRegistry()
	testhost.Track(t, h, bus, conntrack.WithClock(clk))
	pr, err := rtt.New(h, bus, rtt.WithClock(clk), rtt.WithRegisterer(reg), rtt.WithInterval(time.Second), rtt.WithMaxFailures(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	rec := bustest.NewRecorder(t, bus, new(events.EvtPeerRTTMeasured))
	testhost.Connect(t, h, other)
	bustest.Eventually(t, waitFor, "the silent peer given up", func() bool {
		v, _ := metrictest.Value(t, reg, "meshbus_rtt_outcomes_total", "outcome", "gave_up")
		return v == 1
	}, func() { clk.Add(time.Second) })
	if f := metrictest.Must(t, reg, "meshbus_rtt_outcomes_total", "outcome", "probe_failed"); f != 1 {
		t.Fatalf("failed probes %v, want 1 before giving up", f)
	}
	if n := rec.Len(); n != 0 {
		t.Fatalf("%d measurements of a peer that does not answer ping", n)
	}
}

func TestBadOptions(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	if _, err := rtt.New(nil, bus); !errors.Is(err, rtt.ErrNilDependency) {
		t.Fatalf("nil host: %v", err)
	}
	for _, o := range []rtt.Option{rtt.WithInterval(0), rtt.WithTimeout(0), rtt.WithSamples(0), rtt.WithSamples(17),
		rtt.WithMaxFailures(0), rtt.WithMaxInFlight(0), rtt.WithMaxPeers(0), rtt.WithTick(0), rtt.WithBuffer(0)} {
		if _, err := rtt.New(h, bus, o); !errors.Is(err, rtt.ErrBadOption) {
			t.Errorf("New: %v, want ErrBadOption", err)
		}
	}
	pr, err := rtt.New(h, bus, rtt.WithLogger(nil), rtt.WithClock(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Close(); err != nil {
		t.Fatalf("Close without Start: %v", err)
	}
}
