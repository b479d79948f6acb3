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

// optionGroup is the fx value group carrying extra Options.
const optionGroup = `group:"peermgr_options"`

// Module provides a *Manager built from the host.Host, *eventbus.Bus and,
// when present, clock.Clock (default: the real clock),
// prometheus.Registerer (default: none), *slog.Logger and *Gater (which the
// manager then feeds) in the graph, plus any Options given with
// WithOptions; it starts the manager on fx start and closes it on stop.
var Module = fx.Module("peermgr",
	fx.Provide(newFromFx),
	fx.Invoke(func(*Manager) {}),
)

// WithOptions hands Options to Module.
func WithOptions(opts ...Option) fx.Option {
	list := make([]fx.Option, 0, len(opts))
	for _, o := range opts {
		list = append(list, fx.Provide(fx.Annotate(func() Option { return o }, fx.ResultTags(optionGroup))))
	}
	return fx.Options(list...)
}

type fxParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Host       host.Host
	Bus        *eventbus.Bus
	Clock      clock.Clock           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
	Gater      *Gater                `optional:"true"`
	Options    []Option              `group:"peermgr_options"`
}

func newFromFx(p fxParams) (*Manager, error) {
	clk := p.Clock
	if clk == nil {
		clk = clock.New()
	}
	opts := []Option{WithRegisterer(p.Registerer), WithLogger(p.Logger), WithGater(p.Gater)}
	opts = append(opts, p.Options...)
	m, err := New(p.Host, p.Bus, clk, opts...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: m.Start,
		OnStop:  func(context.Context) error { return m.Close() },
	})
	return m, nil
}
