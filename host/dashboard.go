package host

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/dashboard/automaton"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/scoring"
)

// ComponentDashboard is the name of the dashboard add-on in lifecycle events.
const ComponentDashboard = "dashboard"

// WithDashboard adds the live dashboard add-on (package
// components/dashboard), serving the node's graph, meshes, scores, topics,
// bus and peer manager at http://addr/. Use a loopback address
// ("127.0.0.1:8080") unless the page is meant to be reachable from other
// machines; the dashboard is read-only. opts are further dashboard options.
func WithDashboard(addr string, opts ...dashboard.Option) Option {
	return func(c *config) error {
		if addr == "" {
			return fmt.Errorf("%w: WithDashboard with an empty address", ErrInvalidConfig)
		}
		all := append([]dashboard.Option{dashboard.WithAddr(addr)}, opts...)
		c.addons = append(c.addons, Component(ComponentDashboard,
			fx.Provide(dashboardMesh, dashboardChoked, dashboardFanout, dashboardDirect, dashboardBreakdowns),
			dashboard.Module,
			dashboard.Options(all...),
			fx.Invoke(func(*dashboard.Dashboard) {}),
		))
		return nil
	}
}

type dashboardIn struct {
	fx.In
	Router  *router.Router  `optional:"true"`
	Scoring *scoring.Scorer `optional:"true"`
}

// dashboardMesh reads the router's meshes for the dashboard's resyncs.
func dashboardMesh(in dashboardIn) dashboard.MeshFunc {
	if in.Router == nil {
		return nil
	}
	return RouterMeshes(in.Router)
}

// dashboardChoked reads the router's choke state for the dashboard's
// resyncs.
func dashboardChoked(in dashboardIn) dashboard.ChokedFunc {
	if in.Router == nil {
		return nil
	}
	return RouterChoked(in.Router)
}

// dashboardFanout reads the router's fanout sets for the dashboard's resyncs.
func dashboardFanout(in dashboardIn) dashboard.FanoutFunc {
	if in.Router == nil {
		return nil
	}
	return RouterFanouts(in.Router)
}

// dashboardDirect reads the router's direct peers for the dashboard.
func dashboardDirect(in dashboardIn) dashboard.DirectFunc {
	if in.Router == nil {
		return nil
	}
	return in.Router.DirectPeers
}

// dashboardBreakdowns reads the scorer's breakdowns for the dashboard.
func dashboardBreakdowns(in dashboardIn) dashboard.BreakdownsFunc {
	if in.Scoring == nil {
		return nil
	}
	return ScoreBreakdowns(in.Scoring)
}

// RouterMeshes returns a function listing r's mesh peers per joined topic,
// for a dashboard.Source.
func RouterMeshes(r *router.Router) func() map[string][]peer.ID {
	return func() map[string][]peer.ID {
		m := make(map[string][]peer.ID)
		for _, t := range r.Topics() {
			m[t] = r.Mesh(t)
		}
		return m
	}
}

// RouterChoked returns a function reading r's choke state per joined
// topic (Router.Choked), for a dashboard.Source.
func RouterChoked(r *router.Router) func() map[string]automaton.ChokeState {
	return func() map[string]automaton.ChokeState {
		m := make(map[string]automaton.ChokeState)
		for _, t := range r.Topics() {
			ours, theirs := r.Choked(t)
			m[t] = automaton.ChokeState{Ours: ours, Theirs: theirs}
		}
		return m
	}
}

// RouterFanouts returns a function listing r's fanout peers per topic it
// publishes to without having joined it, for a dashboard.Source.
func RouterFanouts(r *router.Router) func() map[string][]peer.ID {
	return func() map[string][]peer.ID {
		m := make(map[string][]peer.ID)
		for _, t := range r.FanoutTopics() {
			m[t] = r.Fanout(t)
		}
		return m
	}
}

// breakdownTimeout bounds one ScoreBreakdowns call's requests to the
// scorer's driver.
const breakdownTimeout = time.Second

// ScoreBreakdowns returns a function reading every scored peer's breakdown
// from s (P1-P4 summed over topics), for a dashboard.Source. One call waits
// at most a second for the scorer, then returns what it has.
func ScoreBreakdowns(s *scoring.Scorer) func() map[peer.ID]automaton.ScoreTerms {
	return func() map[peer.ID]automaton.ScoreTerms {
		ctx, cancel := context.WithTimeout(context.Background(), breakdownTimeout)
		defer cancel()
		out := make(map[peer.ID]automaton.ScoreTerms)
		for p := range s.Scores() {
			b, err := s.Breakdown(ctx, p)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				continue
			}
			t := automaton.ScoreTerms{Score: b.Score, TopicScore: b.TopicScore, P5: b.P5, P6: b.P6, P7: b.P7}
			for _, tb := range b.Topics {
				t.P1 += tb.P1
				t.P2 += tb.P2
				t.P3 += tb.P3
				t.P3b += tb.P3b
				t.P4 += tb.P4
			}
			out[p] = t
		}
		return out
	}
}
