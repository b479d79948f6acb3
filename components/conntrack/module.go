package conntrack

import (
	"log/slog"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module wires a Tracker into an fx application that provides the libp2p
// host, the bus, the clock, a prometheus.Registerer and a *slog.Logger (the
// meshbus host provides all of them). It provides *Tracker and starts and
// stops it with the application.
var Module = fx.Module("conntrack",
	fx.Provide(newForFx),
	fx.Invoke(func(*Tracker) {}),
)

func newForFx(lc fx.Lifecycle, h corehost.Host, bus *eventbus.Bus, clk clock.Clock, reg prometheus.Registerer, log *slog.Logger) (*Tracker, error) {
	t, err := New(h, bus, clk, WithRegisterer(reg), WithLogger(log))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{OnStart: t.Start, OnStop: t.Stop})
	return t, nil
}
