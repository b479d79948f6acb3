package scoring

import (
	"context"
	"log/slog"
	"reflect"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
)

// Module is the scoring component for fx. It needs an *eventbus.Bus and
// takes, when the graph has them, a clock.Clock (default: the real clock),
// Params (default: DefaultParams(), which has no topics: supply your own
// with fx.Supply(params) to score topics), a prometheus.Registerer and a
// *slog.Logger. It provides the *Component, always builds it, and ties
// Start and Close to the fx lifecycle.
var Module = fx.Module("scoring",
	fx.Provide(provide),
	fx.Invoke(func(*Component) {}),
)

// moduleIn is what Module takes from the fx graph.
type moduleIn struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Bus        *eventbus.Bus
	Clock      clock.Clock           `optional:"true"`
	Params     Params                `optional:"true"`
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger          `optional:"true"`
}

func provide(in moduleIn) (*Component, error) {
	params := in.Params
	if reflect.ValueOf(params).IsZero() { // not supplied: a zero Params is never valid anyway
		params = DefaultParams()
	}
	clk := in.Clock
	if clk == nil {
		clk = clock.New()
	}
	c, err := New(in.Bus, clk, params, WithLogger(in.Logger), WithRegisterer(in.Registerer))
	if err != nil {
		return nil, err
	}
	in.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { return c.Start() },
		OnStop:  func(context.Context) error { return c.Close() },
	})
	return c, nil
}
