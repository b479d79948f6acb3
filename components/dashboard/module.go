package dashboard

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/dashboard/automaton"
	"github.com/meshbus/meshbus/eventbus"
)

// MeshFunc returns each joined topic's mesh peers (a router's view). An fx
// application may provide one for Module, which then reloads the mesh after
// the dashboard dropped events.
type MeshFunc func() map[string][]peer.ID

// FanoutFunc returns each fanout topic's fanout peers (a router's view). An
// fx application may provide one for Module, which then reloads the fanout
// after the dashboard dropped events.
type FanoutFunc func() map[string][]peer.ID

// ChokedFunc returns each joined topic's choke state (a router's Choked).
// An fx application may provide one for Module, which then reloads the
// mesh's choke marks after the dashboard dropped events.
type ChokedFunc func() map[string]automaton.ChokeState

// DirectFunc returns the node's direct peers (a router's configuration). An
// fx application may provide one for Module, which then marks them from
// the start.
type DirectFunc func() []peer.ID

// BreakdownsFunc returns every scored peer's P1-P7 breakdown. An fx
// application may provide one for Module, which then shows the breakdown.
type BreakdownsFunc func() map[peer.ID]automaton.ScoreTerms

// Module provides *Dashboard to an fx application, watching the
// application's own node: it needs *eventbus.Bus and host.Host; clock.Clock,
// *slog.Logger, prometheus.Registerer, MeshFunc, ChokedFunc, FanoutFunc,
// DirectFunc and BreakdownsFunc are used
// when present, options come from Options. The dashboard starts and stops
// with the application (it starts after the components provided before it).
var Module = fx.Module("dashboard", fx.Provide(provide))

// Options supplies dashboard options to Module (one call per application).
func Options(opts ...Option) fx.Option {
	return fx.Supply(fx.Annotate(opts, fx.ResultTags(`name:"dashboard_options"`)))
}

// Params are Module's dependencies. Bus (the node's bus, whose events
// the dashboard shows) and Host (its id and connections) are required.
// The rest are optional: Clock (default the real clock), Logger (default
// slog.Default()), Registerer (the dashboard's own metrics; none without it), the
// router's and scorer's views (Mesh, Choked, Fanout, Direct, Breakdowns:
// see each type), and Options, supplied by Options.
type Params struct {
	fx.In

	// Bus is the node's event bus, whose events the dashboard shows.
	Bus *eventbus.Bus
	// Host gives the node's peer id (and page name) and is read for its
	// open connections.
	Host corehost.Host
	// Clock drives publishing and sampling; nil means the real clock.
	Clock clock.Clock `optional:"true"`
	// Logger is the dashboard's logger; nil means slog.Default().
	Logger *slog.Logger `optional:"true"`
	// Registerer receives the dashboard's own metrics; nil registers none.
	Registerer prometheus.Registerer `optional:"true"`
	// Mesh, when present, reloads the mesh on attach and after dropped
	// events.
	Mesh MeshFunc `optional:"true"`
	// Choked, when present, reloads the mesh's choke marks on attach and
	// after dropped events.
	Choked ChokedFunc `optional:"true"`
	// Fanout, when present, reloads the fanout on attach and after dropped
	// events.
	Fanout FanoutFunc `optional:"true"`
	// Direct, when present, marks the node's direct peers from the start
	// (read on attach and after dropped events).
	Direct DirectFunc `optional:"true"`
	// Breakdowns, when present, supplies the P1-P7 breakdowns at each
	// stats sample.
	Breakdowns BreakdownsFunc `optional:"true"`
	// Options are the options supplied by Options, applied after Clock,
	// Logger and Registerer.
	Options []Option `name:"dashboard_options" optional:"true"`
}

func provide(lc fx.Lifecycle, p Params) (*Dashboard, error) {
	opts := []Option{WithClock(p.Clock), WithLogger(p.Logger)}
	if p.Registerer != nil {
		opts = append(opts, WithRegisterer(p.Registerer))
	}
	d, err := New(append(opts, p.Options...)...)
	if err != nil {
		return nil, err
	}
	id := p.Host.ID()
	name := id.String()
	if len(name) > 6 {
		name = "node-" + name[len(name)-6:]
	}
	if err := d.Attach(Source{
		Name: name, Bus: p.Bus, ID: id, Host: p.Host,
		Mesh: p.Mesh, Choked: p.Choked, Fanout: p.Fanout, Direct: p.Direct, Breakdowns: p.Breakdowns,
	}); err != nil {
		d.Close()
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: d.Start,
		OnStop:  func(context.Context) error { return d.Close() },
	})
	return d, nil
}
