package host

import (
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/components/peermgr"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/rtt"
	"github.com/meshbus/meshbus/components/scoring"
)

// Names of the built-in components, as used by WithoutComponent,
// ReplaceComponent and the lifecycle events.
const (
	// ComponentConnTrack is connection tracking (package conntrack). Leaving
	// it out leaves the connection events without an emitter.
	ComponentConnTrack = "conntrack"
	// ComponentRTT is the RTT prober (package components/rtt): a libp2p
	// ping to every connected peer when it connects and every 30 s after,
	// announced as events.EvtPeerRTTMeasured. The router chokes only peers
	// it has measured (router.ChokeConfig.MaxRTT); leaving it out leaves
	// choking, PREAMBLE's RTT-based windows and latency-aware mesh
	// selection without RTTs.
	ComponentRTT = "rtt"
	// ComponentScoring is GossipSub peer scoring (package components/scoring).
	ComponentScoring = "scoring"
	// ComponentRouter is the GossipSub router (package components/router).
	ComponentRouter = "router"
	// ComponentPeerMgr is the peer manager (package components/peermgr).
	ComponentPeerMgr = "peermgr"
)

// builtin is one default component: its name and its fx module.
type builtin struct {
	name string
	opt  fx.Option
}

// builtins lists the default components in start order. Connection tracking
// comes first so that it runs before anything that reacts to connections
// starts, and stops last; the RTT prober, which reacts to connections,
// comes next; scoring starts before the router that reads its snapshots;
// the peer manager, which dials, starts last and stops first.
// Each entry forces its component's construction (router.Module only
// provides *router.Router), so a built-in runs even when nothing asks for it.
func builtins() []builtin {
	return []builtin{
		{ComponentConnTrack, conntrack.Module},
		{ComponentRTT, rtt.Module},
		{ComponentScoring, fx.Options(scoring.Module, fx.Invoke(func(*scoring.Scorer) {}))},
		{ComponentRouter, fx.Options(router.Module, scorerThresholds, fx.Invoke(func(*router.Router) {}))},
		{ComponentPeerMgr, fx.Options(peermgr.Module, fx.Invoke(func(*peermgr.Manager) {}))},
	}
}

// scorerThresholds hands the router the thresholds of the scorer in the
// graph, when there is one, so that they are in force from the router's
// construction on, before the scorer's first snapshot (which carries the
// same ones) reaches it. Without a scorer the router runs without scoring.
var scorerThresholds = fx.Provide(fx.Annotate(
	func(s *scoring.Scorer) []router.Option {
		if s == nil {
			return nil
		}
		return []router.Option{router.WithScoreThresholds(s.Thresholds())}
	},
	fx.ParamTags(`optional:"true"`),
	fx.ResultTags(`group:"router_options,flatten"`),
))

// BuiltinNames returns the names of the built-in components, in start order.
func BuiltinNames() []string {
	var names []string
	for _, b := range builtins() {
		names = append(names, b.name)
	}
	return names
}

// componentOptions returns the built-ins the config keeps, each (or its
// replacement) wrapped in Component under its name.
func (c *config) componentOptions() []fx.Option {
	var opts []fx.Option
	for _, b := range builtins() {
		if c.without[b.name] {
			continue
		}
		opt := b.opt
		if r, ok := c.replace[b.name]; ok {
			opt = r
		}
		opts = append(opts, Component(b.name, opt))
	}
	return opts
}
