package scoring_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// The driver on a bus, with a mock clock: facts in, snapshots out.
func ExampleNew() {
	bus := eventbus.New()
	defer bus.Close()
	clk := clock.NewMock()
	c, err := scoring.New(bus, scoring.WithClock(clk))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	snaps, _ := eventbus.Subscribe[events.EvtPeerScoresUpdated](bus, eventbus.BufSize(4), eventbus.WithPolicy(eventbus.Drop))
	defer snaps.Close()
	em, _ := eventbus.NewEmitter[events.EvtPeerPenalized](bus)
	defer em.Close()
	if err := c.Start(context.Background()); err != nil {
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
