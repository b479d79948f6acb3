package conntrack

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module wires a Tracker into an fx application. It needs the libp2p host
// and the *eventbus.Bus; it takes, when the graph has them, a clock.Clock, a
// prometheus.Registerer and a *slog.Logger (the meshbus host provides all
// three), then the options given to Options, which win. It provides
// *Tracker, always builds it, starts it with the application and closes it
// when the application stops (giving up waiting at the stop context's end;
// the tracker then finishes once the bus releases it).
var Module = fx.Module("conntrack",
	fx.Provide(provide),
	fx.Invoke(func(*Tracker) {}),
)

// Options supplies options to Module. Use it at most once per application.
func Options(opts ...Option) fx.Option { return fx.Supply(suppliedOptions{opts}) }

type suppliedOptions struct{ opts []Option }

type moduleIn struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Host       corehost.Host
	Bus        *eventbus.Bus
	Clock      clock.Clock           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
	Options    suppliedOptions       `optional:"true"`
}

func provide(in moduleIn) (*Tracker, error) {
	opts := append([]Option{WithClock(in.Clock), WithRegisterer(in.Registerer), WithLogger(in.Logger)}, in.Options.opts...)
	t, err := New(in.Host, in.Bus, opts...)
	if err != nil {
		return nil, err
	}
	in.Lifecycle.Append(fx.Hook{
		OnStart: t.Start,
		OnStop:  func(ctx context.Context) error { return closeWithin(ctx, t.Close) },
	})
	return t, nil
}

// closeWithin runs closeFn and waits for it until ctx ends; closeFn keeps
// running after that.
func closeWithin(ctx context.Context, closeFn func() error) error {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
