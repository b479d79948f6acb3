package rtt

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module provides and starts a *Prober from the host.Host, *eventbus.Bus
// and, when present, clock.Clock, prometheus.Registerer and *slog.Logger in
// the graph, with the Options given by Options. It is an add-on: host.New
// runs it when given host.WithComponent("rtt", rtt.Module).
var Module = fx.Module("rtt", fx.Provide(newForFx), fx.Invoke(func(*Prober) {}))

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

func newForFx(p fxParams) (*Prober, error) {
	pr, err := New(p.Host, p.Bus, append([]Option{WithClock(p.Clock), WithRegisterer(p.Registerer), WithLogger(p.Logger)}, p.Options...)...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: pr.Start, OnStop: func(context.Context) error { return pr.Close() }})
	return pr, nil
}
