package peermgr

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

func TestModuleWiresAndStarts(t *testing.T) {
	ids := identities(t, 30, 2)
	h := meshHost(t, ids[0])
	other := meshHost(t, ids[1])
	bus := eventbus.New()
	defer bus.Close()
	mock := clock.NewMock()
	reg := prometheus.NewRegistry()
	testhost.Track(t, h, bus, conntrack.WithClock(mock))
	var m *Manager
	app := fx.New(
		fx.NopLogger,
		fx.Supply(fx.Annotate(h, fx.As(new(host.Host)))),
		fx.Supply(bus),
		fx.Provide(func() clock.Clock { return mock }),
		fx.Provide(func() prometheus.Registerer { return reg }),
		Module,
		Options(WithColocationLimit(3), WithConnectivityInterval(time.Hour, time.Hour)),
		fx.Populate(&m),
	)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.cfg.auto.ColocationLimit; got != 3 {
		t.Fatalf("option not applied: ColocationLimit = %d", got)
	}
	if err := m.AddPeer(testhost.Info(other), events.SourceStatic); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, testWait, "connected through the fx-built manager", func() bool { return isConnected(m, other.ID()) }, nil)
	if mfs, err := reg.Gather(); err != nil || len(mfs) == 0 {
		t.Fatalf("no metrics on the supplied registerer: %v", err)
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.AddPeer(testhost.Info(other), events.SourceStatic); err == nil {
		t.Fatal("manager still accepts peers after fx stop")
	}
}

// TestModuleDefaults: without a clock, registerer or logger in the graph
// the module still builds.
func TestModuleDefaults(t *testing.T) {
	ids := identities(t, 31, 1)
	h := meshHost(t, ids[0])
	bus := eventbus.New()
	defer bus.Close()
	var m *Manager
	app := fx.New(
		fx.NopLogger,
		fx.Supply(fx.Annotate(h, fx.As(new(host.Host)))),
		fx.Supply(bus),
		Module,
		fx.Populate(&m),
	)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Targets().Outbound != 10 {
		t.Fatalf("default targets not in force: %+v", m.Targets())
	}
	if err := app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
