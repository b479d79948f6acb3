package peermgr

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module provides a *Manager built from the host.Host and *eventbus.Bus in
// the graph and, when present, clock.Clock, prometheus.Registerer,
// *slog.Logger and *Gater (which the manager then feeds), plus the Options
// given with Options; it starts the manager on fx start and closes it on
// stop.
var Module = fx.Module("peermgr",
	fx.Provide(newForFx),
	fx.Invoke(func(*Manager) {}),
)

// Options hands Options to Module; call it once per application (later
// options override earlier ones of the same kind).
func Options(opts ...Option) fx.Option {
	return fx.Supply(moduleOptions(opts))
}

// WithOptions is Options.
//
// Deprecated: use Options.
func WithOptions(opts ...Option) fx.Option { return Options(opts...) }

// moduleOptions carries Options through the fx graph.
type moduleOptions []Option

type fxParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Host       host.Host
	Bus        *eventbus.Bus
	Clock      clock.Clock           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
	Gater      *Gater                `optional:"true"`
	Options    moduleOptions         `optional:"true"`
}

func newForFx(p fxParams) (*Manager, error) {
	opts := []Option{WithClock(p.Clock), WithRegisterer(p.Registerer), WithLogger(p.Logger), WithGater(p.Gater)}
	opts = append(opts, p.Options...)
	m, err := New(p.Host, p.Bus, opts...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: m.Start,
		OnStop:  func(context.Context) error { return m.Close() },
	})
	return m, nil
}
