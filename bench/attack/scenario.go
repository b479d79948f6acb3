package main

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/sim"
	"github.com/meshbus/meshbus/components/scoring"
)

// scenario is one attack run's shape. Everything but the scoring switch is
// fixed by it, so an off run and an on run of one scenario differ only in
// whether the honest nodes score their peers.
type scenario struct {
	Honest  int // honest nodes
	Sybil   int // sybils: GRAFT every honest neighbour (respecting backoffs), never forward
	IHave   int // IHAVE spammers: advertise bogus ids, never answer IWANT, never forward
	Graft   int // graft spammers: GRAFT inside their own PRUNE backoff, never forward
	Invalid int // invalid senders: send messages honest validation rejects, never forward valid ones
	Degree  int // connections each node opens
	// AttackerDials is how many random attackers each honest node dials on
	// top of its Degree honest connections (discovery that hands out
	// sybils), so attackers also hold outbound links.
	AttackerDials int
	// FloodPublish: honest publishers send to every topic peer rather than
	// to their mesh only.
	FloodPublish bool
	Seed         uint64
	Messages     int           // messages published per phase, from random honest nodes
	Gap          time.Duration // between publishes
	Settle       time.Duration // run after each phase's publishes
	Sample       time.Duration // how often attacker mesh slots are counted
}

// result is what one run measured.
type result struct {
	Scoring bool
	// Early covers the first phase, which starts with the attackers already
	// connected and no mesh formed; Steady the second, once scoring (if on)
	// had time to act.
	Early, Steady sim.Stats
	// AttackerMeshSlots counts honest mesh slots held by attackers at the
	// end, AttackerSlotsByKind splits them by behaviour, and
	// HonestMeshSlots counts the rest. PeakAttackerShare is the largest
	// fraction of honest mesh slots attackers held at any sample, and
	// SteadyAttackerShare their mean fraction over the steady phase's
	// samples.
	AttackerMeshSlots, HonestMeshSlots     int
	AttackerSlotsByKind                    map[sim.Behavior]int
	PeakAttackerShare, SteadyAttackerShare float64
	// LongestAttackerStay is the longest an attacker stayed in one honest
	// node's mesh without a break, at sample resolution.
	LongestAttackerStay time.Duration
	// ExpelledAfter is the time from the start after which no attacker held
	// an honest mesh slot at any later sample; -1 if attackers still held
	// one at the end.
	ExpelledAfter time.Duration
	// Pairs counts the (honest node, peer) pairs at the end by the peer's
	// behaviour; BelowZero, BelowGossip and Graylisted count those scored
	// below 0 (for honest peers: false positives), below the gossip
	// threshold and below the graylist threshold.
	Pairs, BelowZero, BelowGossip, Graylisted map[sim.Behavior]int
	// Elapsed is the wall time the run took.
	Elapsed time.Duration
}

// maxStay is how long an attacker may stay in an honest mesh before scoring
// should have pruned it: DefaultTopicParams' mesh-delivery activation
// (30 s), within which a silent sybil is indistinguishable from a new
// honest mesh peer, plus a few heartbeats for the deficit to show.
const maxStay = 35 * time.Second

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
	for _, k := range []struct {
		n int
		b sim.Behavior
	}{{sc.Sybil, sim.Sybil}, {sc.IHave, sim.IHaveSpammer}, {sc.Graft, sim.GraftSpammer}, {sc.Invalid, sim.InvalidSender}} {
		for range k.n {
			adv = append(adv, k.b)
		}
	}
	router := automaton.DefaultConfig()
	router.FloodPublish = sc.FloodPublish
	cfg := sim.Config{Nodes: sc.Honest, Degree: sc.Degree, Seed: sc.Seed, Topic: topic, Router: router,
		Adversaries: adv, AdversaryDials: sc.AttackerDials}
	var scorer *simScorer
	if withScoring {
		var err error
		if scorer, err = newSimScorer(attackParams(topic)); err != nil {
			return result{}, err
		}
		cfg.Scorer = scorer
	}
	wall := time.Now()
	s, err := sim.New(cfg)
	if err != nil {
		return result{}, err
	}
	r := result{Scoring: withScoring, ExpelledAfter: -1, AttackerSlotsByKind: map[sim.Behavior]int{},
		Pairs: map[sim.Behavior]int{}, BelowZero: map[sim.Behavior]int{}, BelowGossip: map[sim.Behavior]int{}, Graylisted: map[sim.Behavior]int{}}
	index := make(map[peer.ID]int, s.Len())
	for j := range s.Len() {
		index[sim.PeerID(j)] = j
	}
	start := s.Now()
	var lastAttacked time.Time      // last sample with an attacker in an honest mesh
	since := map[[2]int]time.Time{} // (honest node, attacker) in that mesh since
	steady := false
	var steadyAtk, steadyAll int
	sample := func() {
		now := s.Now()
		a, h := s.MeshSlots()
		if a+h > 0 {
			r.PeakAttackerShare = max(r.PeakAttackerShare, float64(a)/float64(a+h))
		}
		if steady {
			steadyAtk, steadyAll = steadyAtk+a, steadyAll+a+h
		}
		if a > 0 {
			lastAttacked = now
		}
		present := map[[2]int]bool{}
		for _, i := range s.LiveNodes() {
			for _, p := range s.Automaton(i).Mesh(topic) {
				if j := index[p]; s.Behavior(j) != sim.Honest {
					k := [2]int{i, j}
					present[k] = true
					if _, ok := since[k]; !ok {
						since[k] = now
					}
				}
			}
		}
		for k, t := range since {
			if present[k] {
				r.LongestAttackerStay = max(r.LongestAttackerStay, now.Sub(t))
			} else {
				delete(since, k)
			}
		}
	}
	// advance runs d of virtual time, sampling every sc.Sample.
	advance := func(d time.Duration) {
		for d > 0 {
			step := min(d, sc.Sample)
			s.Run(step)
			d -= step
			sample()
		}
	}
	phase := func() (sim.Stats, error) {
		s.ResetStats()
		for range sc.Messages {
			if _, err := s.PublishRandom(128); err != nil {
				return sim.Stats{}, err
			}
			advance(sc.Gap)
		}
		advance(sc.Settle)
		return s.Stats(), nil
	}
	sample()
	if r.Early, err = phase(); err != nil {
		return r, err
	}
	steady = true
	if r.Steady, err = phase(); err != nil {
		return r, err
	}
	if scorer != nil && scorer.err != nil {
		return r, fmt.Errorf("scorer: %w", scorer.err)
	}
	r.AttackerMeshSlots, r.HonestMeshSlots = s.MeshSlots()
	if r.AttackerMeshSlots == 0 {
		r.ExpelledAfter = 0
		if !lastAttacked.IsZero() {
			r.ExpelledAfter = lastAttacked.Sub(start) + sc.Sample
		}
	}
	if steadyAll > 0 {
		r.SteadyAttackerShare = float64(steadyAtk) / float64(steadyAll)
	}
	for k := range since {
		r.AttackerSlotsByKind[s.Behavior(k[1])]++
	}
	for _, i := range s.LiveNodes() {
		a := s.Automaton(i)
		th := a.Thresholds()
		for j := range s.Len() {
			p := sim.PeerID(j)
			if j == i || !a.HasPeer(p) {
				continue
			}
			score, b := a.Score(p), s.Behavior(j)
			r.Pairs[b]++
			if score < 0 {
				r.BelowZero[b]++
			}
			if score < th.Gossip {
				r.BelowGossip[b]++
			}
			if score < th.Graylist {
				r.Graylisted[b]++
			}
		}
	}
	r.Elapsed = time.Since(wall)
	return r, nil
}
