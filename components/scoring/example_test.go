package scoring_test

import (
	"fmt"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// The pure core, fed facts by hand with explicit times.
func ExampleScorer() {
	p := scoring.DefaultParams()
	p.Topics["blocks"] = scoring.DefaultTopicParams()
	start := time.Unix(0, 0)
	s, err := scoring.NewScorer(p, start)
	if err != nil {
		panic(err)
	}
	honest, spammer := peer.ID("honest"), peer.ID("spammer")
	s.Observe(start, events.EvtRouterPeerAdded{Peer: honest, At: start})
	s.Observe(start, events.EvtRouterPeerAdded{Peer: spammer, At: start})
	for i := range 5 {
		s.Observe(start, events.EvtMessageDelivered{Topic: "blocks", ID: fmt.Sprint("m", i), From: honest, At: start})
	}
	s.Observe(start, events.EvtMessageRejected{Topic: "blocks", ID: "bad", From: spammer,
		Reason: events.RejectValidationFailed, At: start})
	s.Observe(start, events.EvtPeerPenalized{Peer: spammer, Reason: events.PenaltyBrokenPromise, Count: 3, At: start})

	for _, x := range s.TakeCrossings(nil) {
		fmt.Printf("%s crossed %s, below=%v\n", string(x.Peer), x.Threshold, x.Below)
	}
	// One decay step: honest P₂ 5 → 4.5 (weight 1); spammer P₄ counter
	// 1 → 0.99 (-10 · 0.99² = -9.80) and P₇ 3 → 2.94 (-1 · 2.94² = -8.64).
	s.Refresh(start.Add(time.Second))
	h, _ := s.Score(honest)
	sp, _ := s.Score(spammer)
	fmt.Printf("honest %.2f, spammer %.2f\n", h, sp)
	// Output:
	// honest crossed opportunistic_graft, below=false
	// spammer crossed gossip, below=true
	// honest 4.50, spammer -18.44
}

// The driver on a bus, with a mock clock: facts in, snapshots out.
func ExampleNew() {
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	c, err := scoring.New(bus, clk, scoring.DefaultParams())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	snaps, _ := eventbus.Subscribe[events.EvtPeerScoresUpdated](bus, eventbus.BufSize(4), eventbus.WithPolicy(eventbus.Drop))
	defer snaps.Close()
	em, _ := eventbus.NewEmitter[events.EvtPeerPenalized](bus)
	defer em.Close()
	if err := c.Start(); err != nil {
		panic(err)
	}

	// Nine penalties: P₇ = 81, score -81, below the -80 graylist threshold:
	// the crossings and a snapshot follow at once.
	em.Emit(events.EvtPeerPenalized{Peer: "p", Reason: events.PenaltyGraftBackoff, Count: 9, At: clk.Now()})
	snap := <-snaps.Out()
	fmt.Printf("%s %.0f (graylist %.0f)\n", string(snap.Scores[0].Peer), snap.Scores[0].Score, snap.Thresholds.Graylist)

	// One decay interval later: counter 9 · 0.98 = 8.82, score -77.79.
	clk.Add(time.Second)
	snap = <-snaps.Out()
	fmt.Printf("%.2f\n", snap.Scores[0].Score)
	// Output:
	// p -81 (graylist -80)
	// -77.79
}
