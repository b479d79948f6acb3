package mdns

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"strings"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
	"github.com/prometheus/client_golang/prometheus"
)

// TestOptionsDropsAndLifecycle: invalid options are ErrBadOption, nil
// dependencies ErrNilDependency; found peers beyond the buffer are dropped
// and counted, never blocking the caller; Close is idempotent; Start after
// Close is ErrClosed.
func TestOptionsDropsAndLifecycle(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	for name, opt := range map[string]Option{
		"service": WithServiceName(""), "buffer": WithBuffer(0),
		"reannounce": WithReannounce(-time.Second), "maxpeers": WithMaxPeers(0),
	} {
		if _, err := New(h, bus, opt); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: %v, want ErrBadOption", name, err)
		}
	}
	if _, err := New(nil, bus); !errors.Is(err, ErrNilDependency) {
		t.Errorf("nil host: %v", err)
	}
	if _, err := New(h, bus, WithLogger(nil), WithClock(nil), nil); err != nil {
		t.Errorf("nil logger, clock and option: %v", err)
	}
	reg := prometheus.NewRegistry()
	m, err := New(h, bus, WithBuffer(2), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(h, bus, WithRegisterer(reg)); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second add-on on one registry: %v", err)
	}
	for range 5 {
		m.HandlePeerFound(peer.AddrInfo{ID: h.ID()}) // not started: nobody reads
	}
	if got := m.Dropped(); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	if v := metrictest.Must(t, reg, "meshbus_mdns_found_dropped_total"); v != 3 {
		t.Fatalf("found_dropped_total %v, want 3", v)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := metrictest.Value(t, reg, "meshbus_mdns_found_dropped_total"); ok {
		t.Fatal("metrics still registered after Close")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestDriverAnnouncesThroughTheCore runs the driver without the mDNS
// service (which would multicast off loopback; host's TestMDNSFindsPeer
// runs it in a network namespace) and feeds it finds as the service does:
// the node itself and a peer without addresses are not announced, a peer
// found again with the same addresses within WithReannounce is announced
// once, and again once the mock clock passes WithReannounce. The metrics
// count every find by the core's outcome.
func TestDriverAnnouncesThroughTheCore(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	rec := bustest.NewRecorder(t, bus, new(events.EvtPeerFound))
	reg := prometheus.NewRegistry()
	m, err := New(h, bus, WithClock(clk), WithReannounce(time.Minute), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.mu.Lock()
	m.started = true
	go m.loop()
	m.mu.Unlock()

	marker := testhost.New(t)
	m.HandlePeerFound(testhost.Info(h))
	m.HandlePeerFound(peer.AddrInfo{ID: other.ID()})
	m.HandlePeerFound(testhost.Info(other))
	m.HandlePeerFound(testhost.Info(other))
	// The driver handles finds in order: once the marker is announced,
	// every find before it was handled at the mock clock's start.
	m.HandlePeerFound(testhost.Info(marker))
	bustest.WaitFor(t, rec, func(e events.EvtPeerFound) bool { return e.Info.ID == marker.ID() }, testhost.Timeout)
	clk.Add(time.Minute)
	m.HandlePeerFound(testhost.Info(other))
	got := bustest.WaitCount[events.EvtPeerFound](t, rec, 3, testhost.Timeout)
	for i, want := range []peer.ID{other.ID(), marker.ID(), other.ID()} {
		if e := got[i]; e.Info.ID != want || e.Via != "mdns" || len(e.Info.Addrs) == 0 {
			t.Fatalf("event %d: %+v, want peer %s", i, e, want)
		}
	}
	// The driver counts a find before emitting its event: every find is
	// counted by now.
	for outcome, want := range map[string]float64{"announced": 3, "repeat": 1, "self": 1, "no_addrs": 1, "topic_not_followed": 0} {
		if v := metrictest.Must(t, reg, "meshbus_mdns_found_total", "outcome", outcome); v != want {
			t.Errorf("found_total{outcome=%q} = %v, want %v", outcome, v, want)
		}
	}
	if !got[2].At.Equal(clk.Now()) {
		t.Fatalf("re-announcement at %v, want the mock clock's %v", got[2].At, clk.Now())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(bustest.Of[events.EvtPeerFound](rec)); n != 3 || m.Announced() != 3 {
		t.Fatalf("%d events, %d announced; want 3", n, m.Announced())
	}
}
