package dht

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module provides and starts a *DHT from the host.Host, *eventbus.Bus and,
// when present, clock.Clock, prometheus.Registerer (the add-on's metrics)
// and *slog.Logger in the graph, with the Options given by Options.
var Module = fx.Module("dht", fx.Provide(newForFx), fx.Invoke(func(*DHT) {}))

// Options hands Options to Module (one call per application).
func Options(opts ...Option) fx.Option { return fx.Supply(moduleOptions(opts)) }

type moduleOptions []Option

type fxParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Host       host.Host
	Bus        *eventbus.Bus
	Clock      clock.Clock           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
	Options    moduleOptions         `optional:"true"`
}

func newForFx(p fxParams) (*DHT, error) {
	d, err := New(p.Host, p.Bus, append([]Option{WithClock(p.Clock), WithRegisterer(p.Registerer), WithLogger(p.Logger)}, p.Options...)...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: d.Start, OnStop: func(context.Context) error { return d.Close() }})
	return d, nil
}
