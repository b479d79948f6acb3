package automaton_test

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/scoring/automaton"
	"github.com/meshbus/meshbus/events"
)

// The pure core, fed facts by hand with explicit times.
func Example() {
	p := automaton.DefaultParams()
	p.Topics["blocks"] = automaton.DefaultTopicParams()
	start := time.Unix(0, 0)
	s, err := automaton.New(p, start)
	if err != nil {
		panic(err)
	}
	out := automaton.NewOutput()
	honest, spammer := peer.ID("honest"), peer.ID("spammer")
	s.HandleEvent(start, events.EvtRouterPeerAdded{Peer: honest, At: start}, out)
	s.HandleEvent(start, events.EvtRouterPeerAdded{Peer: spammer, At: start}, out)
	for i := range 5 {
		s.HandleEvent(start, events.EvtMessageDelivered{Topic: "blocks", ID: fmt.Sprint("m", i), From: honest, At: start}, out)
	}
	s.HandleEvent(start, events.EvtMessageRejected{Topic: "blocks", ID: "bad", From: spammer,
		Reason: events.RejectValidationFailed, At: start}, out)
	s.HandleEvent(start, events.EvtPeerPenalized{Peer: spammer, Reason: events.PenaltyBrokenPromise, Count: 3, At: start}, out)

	for _, x := range out.Crossed.Items() {
		fmt.Printf("%s crossed %s, below=%v\n", string(x.Peer), x.Threshold, x.Below)
	}
	// One decay step: honest P₂ 5 → 4.5 (weight 1); spammer P₄ counter
	// 1 → 0.99 (-10 · 0.99² = -9.80) and P₇ 3 → 2.94 (-1 · 2.94² = -8.64).
	out.Reset()
	s.HandleTick(start.Add(time.Second), out)
	h, _ := s.Score(honest)
	sp, _ := s.Score(spammer)
	fmt.Printf("honest %.2f, spammer %.2f\n", h, sp)
	// Output:
	// honest crossed opportunistic_graft, below=false
	// spammer crossed gossip, below=true
	// honest 4.50, spammer -18.44
}
