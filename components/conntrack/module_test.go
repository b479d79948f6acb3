package conntrack_test

import (
	"errors"
	"testing"

	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestModule: Module builds the tracker from the graph, Options reaches it,
// and the lifecycle starts and closes it.
func TestModule(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	conn := bustest.Subscribe[events.EvtPeerConnectednessChanged](t, bus)
	var tr *conntrack.Tracker
	app := fxtest.New(t, fx.NopLogger, fx.Supply(bus), fx.Provide(func() corehost.Host { return h }),
		conntrack.Module, conntrack.Options(conntrack.WithMaxParked(8)), fx.Populate(&tr))
	app.RequireStart()
	testhost.Connect(t, other, h)
	if c := bustest.Next(t, conn, nil, waitFor); c.Peer != other.ID() || c.Connectedness != network.Connected {
		t.Fatalf("connectedness = %+v", c)
	}
	app.RequireStop()
	if err := tr.Start(t.Context()); !errors.Is(err, conntrack.ErrClosed) {
		t.Fatalf("Start after the app stopped: %v", err)
	}

	bad := fx.New(fx.NopLogger, fx.Supply(bus), fx.Provide(func() corehost.Host { return h }),
		conntrack.Module, conntrack.Options(conntrack.WithMaxParked(-1)))
	if err := bad.Err(); !errors.Is(err, conntrack.ErrBadOption) {
		t.Fatalf("bad option through Options: %v", err)
	}
}
