package conntrack_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

const waitFor = 10 * time.Second

// TestTrackerWithoutFx runs the tracker from its plain constructor: events
// carry the injected clock's time, identify follows Connected, and the
// metrics follow the connection.
func TestTrackerWithoutFx(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	tr, err := conntrack.New(h, bus, conntrack.WithClock(clk), conntrack.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	opened := bustest.Subscribe[events.EvtConnOpened](t, bus)
	closed := bustest.Subscribe[events.EvtConnClosed](t, bus)
	conn := bustest.Subscribe[events.EvtPeerConnectednessChanged](t, bus)
	ident := bustest.Subscribe[events.EvtPeerIdentificationCompleted](t, bus)
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); !errors.Is(err, conntrack.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}

	testhost.Connect(t, other, h)
	o := bustest.Next(t, opened, nil, waitFor)
	if o.Peer != other.ID() || o.Direction != network.DirInbound || o.RemoteIP != netip.MustParseAddr("127.0.0.1") || !o.At.Equal(clk.Now()) || o.ConnID == "" {
		t.Fatalf("opened = %+v", o)
	}
	if c := bustest.Next(t, conn, nil, waitFor); c.Peer != other.ID() || c.Connectedness != network.Connected {
		t.Fatalf("connectedness = %+v", c)
	}
	if id := bustest.Next(t, ident, nil, waitFor); id.Peer != other.ID() || len(id.Protocols) == 0 || id.AgentVersion == "" {
		t.Fatalf("identified = %+v", id)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP meshbus_conntrack_connections_open Connections open, as the tracker counts them.
# TYPE meshbus_conntrack_connections_open gauge
meshbus_conntrack_connections_open 1
`), "meshbus_conntrack_connections_open"); err != nil {
		t.Fatal(err)
	}

	clk.Add(5 * time.Second)
	if err := other.Network().ClosePeer(h.ID()); err != nil {
		t.Fatal(err)
	}
	c := bustest.Next(t, closed, nil, waitFor)
	if c.ConnID != o.ConnID || c.At.Sub(c.Opened) != 5*time.Second {
		t.Fatalf("closed = %+v (opened id %s)", c, o.ConnID)
	}
	if c := bustest.Next(t, conn, nil, waitFor); c.Connectedness != network.NotConnected {
		t.Fatalf("connectedness = %+v", c)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("metrics left registered after Close: %d (%v)", n, err)
	}
}

// TestTrackerScansExistingConnections: a connection opened before Start is
// reported at Start, and its close later.
func TestTrackerScansExistingConnections(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	testhost.Connect(t, other, h)
	bus := eventbus.New()
	defer bus.Close()
	conn := bustest.Subscribe[events.EvtPeerConnectednessChanged](t, bus)
	testhost.Track(t, h, bus, conntrack.WithClock(clock.NewMock()))
	if c := bustest.Next(t, conn, nil, waitFor); c.Peer != other.ID() || c.Connectedness != network.Connected {
		t.Fatalf("connectedness = %+v", c)
	}
	other.Network().ClosePeer(h.ID())
	if c := bustest.Next(t, conn, nil, waitFor); c.Connectedness != network.NotConnected {
		t.Fatalf("connectedness = %+v", c)
	}
}

func TestTrackerConfigErrors(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	if _, err := conntrack.New(nil, bus); !errors.Is(err, conntrack.ErrNilDependency) {
		t.Fatalf("nil host: %v", err)
	}
	if _, err := conntrack.New(h, bus, conntrack.WithMaxParked(0)); !errors.Is(err, conntrack.ErrBadOption) {
		t.Fatalf("maxParked 0: %v", err)
	}
	// nil logger and nil clock mean the defaults.
	tr, err := conntrack.New(h, bus, conntrack.WithLogger(nil), conntrack.WithClock(nil))
	if err != nil {
		t.Fatalf("nil logger and clock: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	tr, err = conntrack.New(h, bus, conntrack.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := conntrack.New(h, bus, conntrack.WithRegisterer(reg)); err == nil {
		t.Fatal("second tracker on one registry: no error")
	}
	// A tracker that never started closes cleanly, and cannot start then.
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); !errors.Is(err, conntrack.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestTrackerCloseWaitsForBlockedSubscriber: a Block subscriber that never
// reads holds the tracker in an Emit; Close waits for it, and closing the
// bus releases the tracker, so Close returns and its goroutines end
// (TestMain's leak check sees to that).
func TestTrackerCloseWaitsForBlockedSubscriber(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	tr, err := conntrack.New(h, bus, conntrack.WithClock(clock.NewMock()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eventbus.Subscribe[events.EvtConnOpened](bus, eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(0)); err != nil {
		t.Fatal(err)
	}
	// Seen by this subscriber only once the tracker is past the blocked
	// emit: it must not arrive before the bus closes.
	conn := bustest.Subscribe[events.EvtPeerConnectednessChanged](t, bus)
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The dialing side's notifiee has run when Connect returns: the open is
	// queued, and the tracker will block emitting it.
	testhost.Connect(t, h, other)
	closed := make(chan error, 1)
	go func() { closed <- tr.Close() }()
	select {
	case c := <-conn.Out():
		t.Fatalf("connectedness %+v emitted past a blocked Block subscriber", c)
	case err := <-closed:
		t.Fatalf("Close returned %v while the tracker was blocked", err)
	default:
	}
	bus.Close()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Close still waiting after the bus closed")
	}
}

func TestIPOf(t *testing.T) {
	for in, want := range map[string]string{
		"/ip4/10.1.2.3/tcp/4001":     "10.1.2.3",
		"/ip6/::1/udp/4001/quic-v1":  "::1",
		"/ip6/::ffff:10.0.0.1/tcp/1": "10.0.0.1",
		"/dns4/example.com/tcp/4001": "invalid IP",
		"/p2p-circuit":               "invalid IP",
	} {
		if got := conntrack.IPOf(ma.StringCast(in)).String(); got != want {
			t.Errorf("IPOf(%s) = %s, want %s", in, got, want)
		}
	}
	if conntrack.IPOf(nil).IsValid() {
		t.Error("IPOf(nil) is valid")
	}
}
