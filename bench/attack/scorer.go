package main

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/sim"
	scoring "github.com/meshbus/meshbus/components/scoring/automaton"
	"github.com/meshbus/meshbus/events"
)

// simScorer plugs the real scoring core into the simulator: one
// scoring.Automaton per simulated node, fed every fact that node's automaton
// outputs and refreshed right before each of its heartbeats.
type simScorer struct {
	params scoring.Params
	nodes  map[peer.ID]*scoring.Automaton
	err    error // first construction error, reported by the scenario
}

var _ sim.Scorer = (*simScorer)(nil)

func newSimScorer(p scoring.Params) (*simScorer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &simScorer{params: p, nodes: make(map[peer.ID]*scoring.Automaton)}, nil
}

// scorer returns node's Scorer, created on first use with its decay clock at
// now.
func (a *simScorer) scorer(node peer.ID, now time.Time) *scoring.Automaton {
	s := a.nodes[node]
	if s == nil {
		var err error
		if s, err = scoring.New(a.params, now); err != nil {
			// Validated in newSimScorer: cannot happen, but never panic.
			a.err = err
			return nil
		}
		a.nodes[node] = s
	}
	return s
}

// Observe feeds node's facts to its Scorer in decision order.
func (a *simScorer) Observe(node peer.ID, now time.Time, out *automaton.Output) {
	s := a.scorer(node, now)
	if s == nil {
		return
	}
	out.ForEachFact(func(ev any) { s.HandleEvent(now, ev, nil) })
}

// Scores refreshes node's Scorer (decaying by whole intervals elapsed) and
// returns its scores. Crossings are not collected (nil Output): the
// automaton reads scores, not crossings.
func (a *simScorer) Scores(node peer.ID, now time.Time) ([]events.PeerScore, events.ScoreThresholds) {
	s := a.scorer(node, now)
	if s == nil {
		return nil, a.params.Thresholds
	}
	s.HandleTick(now, nil)
	return s.AppendScores(nil), s.Thresholds()
}
