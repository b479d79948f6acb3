package main

import (
	"fmt"
	"time"

	"github.com/meshbus/meshbus/components/router/sim"
	"github.com/meshbus/meshbus/components/scoring"
)

// scenario is one attack run's shape.
type scenario struct {
	Honest   int           // honest nodes
	IHave    int           // IHAVE spammers: advertise bogus ids, never answer IWANT, never forward
	Graft    int           // graft spammers: GRAFT inside their own PRUNE backoff, never forward
	Degree   int           // connections each node opens
	Seed     uint64        // drives everything
	Messages int           // messages published per phase
	Gap      time.Duration // between publishes
	Settle   time.Duration // run after each phase's publishes
}

// result is what one run measured.
type result struct {
	Scoring bool
	// Early covers the first phase, while meshes form with attackers in
	// them; Steady the second, once scoring had time to act.
	Early, Steady sim.Stats
	// AttackerMeshSlots counts honest mesh slots held by attackers at the
	// end; HonestMeshSlots the rest.
	AttackerMeshSlots, HonestMeshSlots int
	// AttackersBelowGossip counts (honest node, attacker) pairs scored
	// below the gossip threshold at the end, out of AttackerPairs;
	// HonestBelowZero counts (honest node, honest peer) pairs scored below 0
	// (false positives), out of HonestPairs.
	AttackersBelowGossip, AttackerPairs int
	HonestBelowZero, HonestPairs        int
}

// attackParams are the scoring parameters of the runs: DefaultParams with
// the simulator's topic configured by DefaultTopicParams, untuned.
func attackParams(topic string) scoring.Params {
	p := scoring.DefaultParams()
	p.Topics[topic] = scoring.DefaultTopicParams()
	return p
}

// run plays the scenario once, with the real scorer or with none.
func (sc scenario) run(withScoring bool) (result, error) {
	const topic = "sim"
	var adv []sim.Behavior
	for range sc.IHave {
		adv = append(adv, sim.IHaveSpammer)
	}
	for range sc.Graft {
		adv = append(adv, sim.GraftSpammer)
	}
	cfg := sim.Config{Nodes: sc.Honest, Degree: sc.Degree, Seed: sc.Seed, Topic: topic, Adversaries: adv}
	var scorer *simScorer
	if withScoring {
		var err error
		if scorer, err = newSimScorer(attackParams(topic)); err != nil {
			return result{}, err
		}
		cfg.Scorer = scorer
	}
	s, err := sim.New(cfg)
	if err != nil {
		return result{}, err
	}
	phase := func() (sim.Stats, error) {
		s.ResetStats()
		for range sc.Messages {
			if _, err := s.PublishRandom(128); err != nil {
				return sim.Stats{}, err
			}
			s.Run(sc.Gap)
		}
		s.Run(sc.Settle)
		return s.Stats(), nil
	}
	r := result{Scoring: withScoring}
	if r.Early, err = phase(); err != nil {
		return r, err
	}
	if r.Steady, err = phase(); err != nil {
		return r, err
	}
	if scorer != nil && scorer.err != nil {
		return r, fmt.Errorf("scorer: %w", scorer.err)
	}
	attacker := map[string]bool{}
	for j := sc.Honest; j < s.Len(); j++ {
		attacker[string(sim.PeerID(j))] = true
	}
	for _, i := range s.LiveNodes() {
		a := s.Automaton(i)
		for _, m := range a.Mesh(topic) {
			if attacker[string(m)] {
				r.AttackerMeshSlots++
			} else {
				r.HonestMeshSlots++
			}
		}
		gossip := a.Thresholds().Gossip
		for j := 0; j < s.Len(); j++ {
			p := sim.PeerID(j)
			if j == i || !a.HasPeer(p) {
				continue
			}
			sc := a.Score(p)
			if attacker[string(p)] {
				r.AttackerPairs++
				if withScoring && sc < gossip {
					r.AttackersBelowGossip++
				}
				continue
			}
			r.HonestPairs++
			if sc < 0 {
				r.HonestBelowZero++
			}
		}
	}
	return r, nil
}
