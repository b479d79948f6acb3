package conntrack

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

const waitFor = 10 * time.Second

func newLibp2pHost(t *testing.T) corehost.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// next reads one event or fails after waitFor.
func next[T any](t *testing.T, sub *eventbus.Subscription[T]) T {
	t.Helper()
	select {
	case v, ok := <-sub.Out():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return v
	case <-time.After(waitFor):
		var zero T
		t.Fatalf("no %T within %v", zero, waitFor)
		return zero
	}
}

func subscribe[T any](t *testing.T, b *eventbus.Bus) *eventbus.Subscription[T] {
	t.Helper()
	sub, err := eventbus.Subscribe[T](b, eventbus.BufSize(256), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// TestTrackerWithoutFx runs the tracker from its plain constructor: events
// carry the injected clock's time, identify follows Connected, and the
// metrics follow the connection.
func TestTrackerWithoutFx(t *testing.T) {
	h, other := newLibp2pHost(t), newLibp2pHost(t)
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	tr, err := New(h, bus, clk, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	opened := subscribe[events.EvtConnOpened](t, bus)
	closed := subscribe[events.EvtConnClosed](t, bus)
	conn := subscribe[events.EvtPeerConnectednessChanged](t, bus)
	ident := subscribe[events.EvtPeerIdentificationCompleted](t, bus)
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}

	if err := other.Connect(context.Background(), peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	o := next(t, opened)
	if o.Peer != other.ID() || o.Direction != network.DirInbound || o.RemoteIP != netip.MustParseAddr("127.0.0.1") || !o.At.Equal(clk.Now()) || o.ConnID == "" {
		t.Fatalf("opened = %+v", o)
	}
	if c := next(t, conn); c.Peer != other.ID() || c.Connectedness != network.Connected {
		t.Fatalf("connectedness = %+v", c)
	}
	if id := next(t, ident); id.Peer != other.ID() || len(id.Protocols) == 0 || id.AgentVersion == "" {
		t.Fatalf("identified = %+v", id)
	}
	if v := testutil.ToFloat64(tr.m.open); v != 1 {
		t.Fatalf("connections_open = %v, want 1", v)
	}

	clk.Add(5 * time.Second)
	if err := other.Network().ClosePeer(h.ID()); err != nil {
		t.Fatal(err)
	}
	c := next(t, closed)
	if c.ConnID != o.ConnID || c.At.Sub(c.Opened) != 5*time.Second {
		t.Fatalf("closed = %+v (opened id %s)", c, o.ConnID)
	}
	if c := next(t, conn); c.Connectedness != network.NotConnected {
		t.Fatalf("connectedness = %+v", c)
	}
	if err := tr.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("metrics left registered after Stop: %d (%v)", n, err)
	}
}

// TestTrackerScansExistingConnections: a connection opened before Start is
// reported at Start, and its close later.
func TestTrackerScansExistingConnections(t *testing.T) {
	h, other := newLibp2pHost(t), newLibp2pHost(t)
	if err := other.Connect(context.Background(), peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	bus := eventbus.New()
	defer bus.Close()
	tr, err := New(h, bus, clock.NewMock())
	if err != nil {
		t.Fatal(err)
	}
	conn := subscribe[events.EvtPeerConnectednessChanged](t, bus)
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer tr.Stop(context.Background())
	if c := next(t, conn); c.Peer != other.ID() || c.Connectedness != network.Connected {
		t.Fatalf("connectedness = %+v", c)
	}
	other.Network().ClosePeer(h.ID())
	if c := next(t, conn); c.Connectedness != network.NotConnected {
		t.Fatalf("connectedness = %+v", c)
	}
}

func TestTrackerConfigErrors(t *testing.T) {
	h := newLibp2pHost(t)
	bus := eventbus.New()
	defer bus.Close()
	if _, err := New(nil, bus, clock.New()); !errors.Is(err, ErrNilDependency) {
		t.Fatalf("nil host: %v", err)
	}
	if _, err := New(h, bus, clock.New(), WithMaxParked(0)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("maxParked 0: %v", err)
	}
	if _, err := New(h, bus, clock.New(), WithLogger(nil)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil logger: %v", err)
	}
	reg := prometheus.NewRegistry()
	tr, err := New(h, bus, clock.New(), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Stop(context.Background())
	if _, err := New(h, bus, clock.New(), WithRegisterer(reg)); err == nil {
		t.Fatal("second tracker on one registry: no error")
	}
	// A tracker that never started stops cleanly.
	if err := tr.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("Start after Stop: %v", err)
	}
}

// TestTrackerStopTimeout: a Block subscriber that never reads holds the
// tracker in an Emit; Stop gives up at ctx's end, and closing the bus lets
// the tracker goroutines finish (TestMain's leak check sees to that).
func TestTrackerStopTimeout(t *testing.T) {
	h, other := newLibp2pHost(t), newLibp2pHost(t)
	bus := eventbus.New()
	tr, err := New(h, bus, clock.NewMock())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eventbus.Subscribe[events.EvtConnOpened](bus, eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(0)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The dialing side's notifiee has run when Connect returns: the open is
	// queued, and the tracker will block emitting it.
	if err := h.Connect(context.Background(), peer.AddrInfo{ID: other.ID(), Addrs: other.Addrs()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := tr.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop: %v, want DeadlineExceeded", err)
	}
	bus.Close()
	select {
	case <-tr.done:
	case <-time.After(waitFor):
		t.Fatal("tracker goroutine still stuck after the bus closed")
	}
}
