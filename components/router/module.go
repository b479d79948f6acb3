package router

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module provides *Router to an fx application. It needs host.Host,
// *eventbus.Bus and clock.Clock; prometheus.Registerer and *slog.Logger are
// used when present. Options come from Options. The router starts and stops
// with the application (Start on start, Close on stop).
var Module = fx.Module("router", fx.Provide(provide))

// Options supplies router options to Module, e.g.
// fx.Options(router.Module, router.Options(router.WithMaxRPCSize(4<<20))).
func Options(opts ...Option) fx.Option {
	return fx.Provide(fx.Annotate(func() []Option { return opts }, fx.ResultTags(`group:"router_options,flatten"`)))
}

// moduleIn is what Module takes from the fx graph.
type moduleIn struct {
	fx.In

	Host       host.Host
	Bus        *eventbus.Bus
	Clock      clock.Clock
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
	Options    []Option              `group:"router_options"`
}

func provide(lc fx.Lifecycle, p moduleIn) (*Router, error) {
	opts := []Option{WithClock(p.Clock)}
	if p.Registerer != nil {
		opts = append(opts, WithRegisterer(p.Registerer))
	}
	if p.Logger != nil {
		opts = append(opts, WithLogger(p.Logger))
	}
	opts = append(opts, p.Options...)
	r, err := New(p.Host, p.Bus, opts...)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: r.Start,
		OnStop:  func(context.Context) error { return r.Close() },
	})
	return r, nil
}
