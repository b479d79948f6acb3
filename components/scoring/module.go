package scoring

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module is the scoring component for fx. It needs an *eventbus.Bus and
// takes, when the graph has them, a clock.Clock, a prometheus.Registerer and
// a *slog.Logger (the meshbus host provides all three), then the options
// given to Options, which win (WithParams to score topics: the default
// parameters score none). It provides the *Scorer, always builds it, and
// ties Start and Close to the fx lifecycle.
var Module = fx.Module("scoring",
	fx.Provide(provide),
	fx.Invoke(func(*Scorer) {}),
)

// Options supplies options to Module. Use it at most once per application.
func Options(opts ...Option) fx.Option { return fx.Supply(suppliedOptions{opts}) }

type suppliedOptions struct{ opts []Option }

// moduleIn is what Module takes from the fx graph.
type moduleIn struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Bus        *eventbus.Bus
	Clock      clock.Clock           `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
	Options    suppliedOptions       `optional:"true"`
}

func provide(in moduleIn) (*Scorer, error) {
	opts := append([]Option{WithClock(in.Clock), WithRegisterer(in.Registerer), WithLogger(in.Logger)}, in.Options.opts...)
	s, err := New(in.Bus, opts...)
	if err != nil {
		return nil, err
	}
	in.Lifecycle.Append(fx.Hook{
		OnStart: s.Start,
		OnStop:  func(context.Context) error { return s.Close() },
	})
	return s, nil
}
