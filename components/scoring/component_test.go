package scoring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/scoring/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
)

// waitTimeout bounds every wait in driver tests; nothing here should take
// more than milliseconds.
const waitTimeout = 5 * time.Second

var ctx = context.Background()

// rig is a Scorer on a real bus with a mock clock, an emitter per input
// type and one subscription to both outputs (so their relative order shows).
type rig struct {
	t       *testing.T
	bus     *eventbus.Bus
	clk     *clock.Mock
	c       *Scorer
	reg     *prometheus.Registry
	out     event.Subscription
	ems     map[reflect.Type]event.Emitter
	emitted int
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t *testing.T, p Params) *rig {
	t.Helper()
	r := &rig{
		t:   t,
		bus: eventbus.New(eventbus.WithLogger(quietLogger())),
		clk: clock.NewMock(),
		reg: prometheus.NewRegistry(),
		ems: map[reflect.Type]event.Emitter{},
	}
	var err error
	r.c, err = New(r.bus, WithClock(r.clk), WithParams(p), WithRegisterer(r.reg), WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Drop, not Block: a test that stops reading must fail, not hang.
	r.out, err = r.bus.Subscribe([]any{new(events.EvtPeerScoreThresholdCrossed), new(events.EvtPeerScoresUpdated)},
		eventbus.BufSize(4096), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		r.out.Close()
		for _, em := range r.ems {
			em.Close()
		}
		r.bus.Close()
	})
	return r
}

// emit emits input events in order from this goroutine, then waits until
// the driver has handled all of them, so a clock advance that follows is
// seen after them.
func (r *rig) emit(evs ...any) {
	r.t.Helper()
	r.queue(evs...)
	bustest.Eventually(r.t, waitTimeout, fmt.Sprintf("the driver to handle all %d events", r.emitted),
		func() bool {
			return metrictest.Sum(r.t, r.reg, "meshbus_scoring_events_observed_total") >= float64(r.emitted)
		}, nil)
}

// queue emits input events in order from this goroutine and returns at
// once: for quiet facts (QuietEvents), which do not wake the driver.
func (r *rig) queue(evs ...any) {
	r.t.Helper()
	for _, ev := range evs {
		typ := reflect.TypeOf(ev)
		em := r.ems[typ]
		if em == nil {
			var err error
			if em, err = r.bus.Emitter(reflect.New(typ).Interface()); err != nil {
				r.t.Fatal(err)
			}
			r.ems[typ] = em
		}
		if err := em.Emit(ev); err != nil {
			r.t.Fatalf("emit %T: %v", ev, err)
		}
		r.emitted++
	}
}

// input is the bus's view of the driver's input subscription.
func (r *rig) input() eventbus.SubscriptionInfo {
	r.t.Helper()
	for _, si := range r.bus.Subscriptions() {
		if si.Name == "scoring" {
			return si
		}
	}
	r.t.Fatal("no scoring subscription")
	return eventbus.SubscriptionInfo{}
}

// queued is how many input events wait in the driver's subscription.
func (r *rig) queued() int { return r.input().Queued }

// next returns the next output event.
func (r *rig) next() any {
	r.t.Helper()
	select {
	case ev := <-r.out.Out():
		return ev
	case <-time.After(waitTimeout):
		r.t.Fatal("no output event")
		return nil
	}
}

// untilSnapshot returns the crossings emitted before the next snapshot, and
// the snapshot.
func (r *rig) untilSnapshot() ([]events.EvtPeerScoreThresholdCrossed, events.EvtPeerScoresUpdated) {
	r.t.Helper()
	var xs []events.EvtPeerScoreThresholdCrossed
	for {
		switch ev := r.next().(type) {
		case events.EvtPeerScoreThresholdCrossed:
			xs = append(xs, ev)
		case events.EvtPeerScoresUpdated:
			return xs, ev
		}
	}
}

// tick advances the clock one decay interval and returns the refresh's
// snapshot and the crossings that came with it. Snapshots still queued from
// earlier crossings (a burst of facts may yield several) are skipped with
// their crossings.
func (r *rig) tick() ([]events.EvtPeerScoreThresholdCrossed, events.EvtPeerScoresUpdated) {
	r.t.Helper()
	want := r.clk.Now().Add(r.c.cfg.params.DecayInterval)
	r.clk.Add(r.c.cfg.params.DecayInterval)
	for {
		xs, snap := r.untilSnapshot()
		if snap.At.Equal(want) {
			return xs, snap
		}
	}
}

func scoreOf(snap events.EvtPeerScoresUpdated, p string) (float64, bool) {
	for _, s := range snap.Scores {
		if string(s.Peer) == p {
			return s.Score, true
		}
	}
	return 0, false
}

func penaltyParams(decay float64) Params {
	p := baseParams()
	p.BehaviourPenaltyWeight = -1
	p.BehaviourPenaltyDecay = decay
	return p
}

func TestComponentCrossingsComeBeforeTheirSnapshot(t *testing.T) {
	r := newRig(t, penaltyParams(0.5))
	r.emit(events.EvtConnOpened{Peer: pA, At: r.clk.Now()},
		events.EvtPeerPenalized{Peer: pA, Reason: events.PenaltyBrokenPromise, Count: 5, At: r.clk.Now()})
	// P₇ = 5² = 25: score -25 falls below gossip (-10), then publish (-20).
	got := []any{r.next(), r.next(), r.next()}
	x0, ok0 := got[0].(events.EvtPeerScoreThresholdCrossed)
	x1, ok1 := got[1].(events.EvtPeerScoreThresholdCrossed)
	snap, ok2 := got[2].(events.EvtPeerScoresUpdated)
	if !ok0 || !ok1 || !ok2 {
		t.Fatalf("want crossed, crossed, snapshot; got %T, %T, %T", got[0], got[1], got[2])
	}
	if x0.Threshold != events.ThresholdGossip || x1.Threshold != events.ThresholdPublish || !x0.Below || x0.Score != -25 {
		t.Fatalf("crossings %+v, %+v", x0, x1)
	}
	if s, _ := scoreOf(snap, "A"); s != -25 || snap.Thresholds != baseParams().Thresholds {
		t.Fatalf("snapshot %+v", snap)
	}
	// The inspection calls answer with that snapshot.
	if got := r.c.Scores()[pA]; got != -25 {
		t.Fatalf("Scores()[A] = %v", got)
	}
	if b, err := r.c.Breakdown(ctx, pA); err != nil || b.P7 != 25 || !b.Connected {
		t.Fatalf("Breakdown(A) = %+v, %v", b, err)
	}
	if _, err := r.c.Breakdown(ctx, pB); !errors.Is(err, ErrNotScored) {
		t.Fatalf("Breakdown of an unknown peer: %v", err)
	}
	if r.c.Thresholds() != baseParams().Thresholds {
		t.Fatal("Thresholds")
	}
}

func TestComponentDecaysEachInterval(t *testing.T) {
	r := newRig(t, penaltyParams(0.5)) // DecayToZero 0.1
	start := r.clk.Now()
	r.emit(events.EvtConnOpened{Peer: pA, At: start}, events.EvtPeerPenalized{Peer: pA, Count: 5, At: start})
	r.untilSnapshot()
	// Counter 5 halves each second: 2.5, 1.25, 0.625, 0.3125, 0.15625, then
	// 0.078125 < 0.1 → 0. Score = -counter².
	for i, counter := range []float64{2.5, 1.25, 0.625, 0.3125, 0.15625, 0} {
		xs, snap := r.tick()
		if want := start.Add(time.Duration(i+1) * time.Second); !snap.At.Equal(want) {
			t.Fatalf("tick %d: snapshot at %v, want %v", i+1, snap.At, want)
		}
		if s, _ := scoreOf(snap, "A"); !approx(s, -counter*counter) {
			t.Fatalf("tick %d: score %v, want %v", i+1, s, -counter*counter)
		}
		// The first decay lifts -25 to -6.25: back over publish, then gossip.
		if i == 0 && (len(xs) != 2 || xs[0].Threshold != events.ThresholdPublish || xs[1].Threshold != events.ThresholdGossip || xs[0].Below) {
			t.Fatalf("tick 1 crossings: %+v", xs)
		}
		if i > 0 && len(xs) != 0 {
			t.Fatalf("tick %d: unexpected crossings %+v", i+1, xs)
		}
	}
	if !r.c.SnapshotTime().Equal(start.Add(6 * time.Second)) {
		t.Fatalf("SnapshotTime = %v", r.c.SnapshotTime())
	}
}

func TestComponentRetainsThenForgets(t *testing.T) {
	r := newRig(t, penaltyParams(0.9)) // RetainScore 30s
	now := r.clk.Now()
	r.emit(
		events.EvtConnOpened{Peer: pA, At: now},
		events.EvtPeerConnectednessChanged{Peer: pA, Connectedness: network.Connected},
		events.EvtConnOpened{Peer: pB, At: now},
		events.EvtPeerConnectednessChanged{Peer: pB, Connectedness: network.Connected},
		events.EvtPeerPenalized{Peer: pA, Count: 5, At: now},
		events.EvtPeerPenalized{Peer: pB, Count: 5, At: now},
		events.EvtConnClosed{Peer: pA, At: now},
		events.EvtPeerConnectednessChanged{Peer: pA, Connectedness: network.NotConnected},
		events.EvtConnClosed{Peer: pB, At: now},
		events.EvtPeerConnectednessChanged{Peer: pB, Connectedness: network.NotConnected},
	)
	r.untilSnapshot()
	for i := 1; i <= 10; i++ {
		r.tick()
	}
	// B reconnects within the window: its penalty is still there.
	r.emit(events.EvtConnOpened{Peer: pB, At: r.clk.Now()},
		events.EvtPeerConnectednessChanged{Peer: pB, Connectedness: network.Connected})
	for i := 11; i <= 29; i++ {
		_, snap := r.tick()
		if _, ok := scoreOf(snap, "A"); !ok {
			t.Fatalf("A forgotten after %ds, RetainScore is 30s", i)
		}
		// Counter 5·0.9^i, score -(counter²).
		if s, _ := scoreOf(snap, "B"); !approx(s, -math.Pow(5*math.Pow(0.9, float64(i)), 2)) {
			t.Fatalf("B at %ds: %v", i, s)
		}
	}
	_, snap := r.tick()
	if _, ok := scoreOf(snap, "A"); ok {
		t.Fatal("A still scored after RetainScore")
	}
	if _, ok := scoreOf(snap, "B"); !ok {
		t.Fatal("reconnected B was forgotten")
	}
	if _, err := r.c.Breakdown(ctx, pA); !errors.Is(err, ErrNotScored) {
		t.Fatal("Breakdown still knows A")
	}
}

// The per-message facts do not wake the driver: they wait in its queue
// until the next other fact, a Breakdown or a tick, each of which sees
// every one of them, in order.
func TestQuietFactsWaitForTheDriver(t *testing.T) {
	p := withTopic(TopicParams{
		FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 10,
		InvalidMessageDeliveriesWeight: -10, InvalidMessageDeliveriesDecay: 0.5,
	})
	r := newRig(t, p)
	var quiet []reflect.Type
	for _, ev := range QuietEvents() {
		quiet = append(quiet, reflect.TypeOf(ev).Elem())
	}
	if got := r.input().Quiet; !slices.Equal(got, quiet) {
		t.Fatalf("the input subscription's quiet types are %v, want %v", got, quiet)
	}
	now := r.clk.Now()
	r.emit(events.EvtRouterPeerAdded{Peer: pA, At: now}, events.EvtRouterPeerAdded{Peer: pB, At: now})
	r.queue(
		events.EvtMessageDelivered{Topic: topic, ID: "m1", From: pA, At: now},
		events.EvtMessageDelivered{Topic: topic, ID: "m2", From: pA, At: now},
	)
	if n := r.queued(); n != 2 {
		t.Fatalf("%d facts queued, want the 2 quiet ones (the driver was woken)", n)
	}
	// Breakdown takes them first: 0.5 · 1 · 2 = 1.
	if a, err := r.c.Breakdown(ctx, pA); err != nil || a.Score != 1 {
		t.Fatalf("A = %v, %v; want 1", a.Score, err)
	}
	// A tick takes them before it decays: (3 · 0.5) · 0.5 = 0.75.
	r.queue(events.EvtMessageDelivered{Topic: topic, ID: "m3", From: pA, At: now})
	if _, snap := r.tick(); func() float64 { a, _ := scoreOf(snap, "A"); return a }() != 0.75 {
		t.Fatalf("A after the tick = %v, want 0.75", snap.Scores)
	}
	// Another fact wakes the driver, which takes the quiet one before it.
	r.queue(events.EvtMessageDelivered{Topic: topic, ID: "m4", From: pA, At: now})
	r.emit(events.EvtMessageRejected{Topic: topic, ID: "x", From: pB, Reason: events.RejectInvalidSignature, At: now})
	if n := r.queued(); n != 0 {
		t.Fatalf("%d facts still queued after a rejection woke the driver", n)
	}
}

func TestComponentScoresTopicFacts(t *testing.T) {
	p := withTopic(TopicParams{
		FirstMessageDeliveriesWeight: 1, FirstMessageDeliveriesDecay: 0.5, FirstMessageDeliveriesCap: 10,
		InvalidMessageDeliveriesWeight: -10, InvalidMessageDeliveriesDecay: 0.5,
	})
	r := newRig(t, p)
	now := r.clk.Now()
	r.emit(
		events.EvtRouterPeerAdded{Peer: pA, At: now},
		events.EvtRouterPeerAdded{Peer: pB, At: now},
		events.EvtPeerGrafted{Peer: pA, Topic: topic, At: now},
		events.EvtMessageDelivered{Topic: topic, ID: "m1", From: pA, At: now},
		events.EvtMessageDelivered{Topic: topic, ID: "m2", From: pA, At: now},
		events.EvtMessageDuplicated{Topic: topic, ID: "m1", From: pB, At: now},
		events.EvtMessageRejected{Topic: topic, ID: "x", From: pB, Reason: events.RejectInvalidSignature, At: now},
	)
	// A: 0.5 · 1 · 2 = 1 (crosses opportunistic-graft 1). B: 0.5 · -10 · 1 = -5.
	// Breakdown reads the driver's live state, past every handled fact.
	if a, _ := r.c.Breakdown(ctx, pA); a.Score != 1 {
		t.Fatalf("A = %v", a.Score)
	}
	if b, _ := r.c.Breakdown(ctx, pB); b.Score != -5 {
		t.Fatalf("B = %v", b.Score)
	}
	_, snap := r.tick()
	// One decay: A's P₂ 1 → 0.5; B's P₄ counter 0.5 → 0.25 · 0.5 · -10 = -1.25.
	if a, _ := scoreOf(snap, "A"); a != 0.5 {
		t.Fatalf("A after decay = %v", a)
	}
	if b, _ := scoreOf(snap, "B"); b != -1.25 {
		t.Fatalf("B after decay = %v", b)
	}
}

func TestComponentMetrics(t *testing.T) {
	r := newRig(t, penaltyParams(0.5))
	now := r.clk.Now()
	r.emit(events.EvtConnOpened{Peer: pA, At: now}, events.EvtConnOpened{Peer: pB, At: now},
		events.EvtPeerPenalized{Peer: pA, Count: 10, At: now},
		events.EvtPeerAppScoreSet{Peer: pB, Score: math.NaN()})
	r.untilSnapshot()
	r.tick()

	if n := metrictest.Must(t, r.reg, "meshbus_scoring_peer_score"); n != 2 { // two peers, one refresh
		t.Fatalf("histogram samples = %v, want 2", n)
	}
	// P₇ 100 → -100: below gossip, publish, graylist.
	if below := metrictest.Sum(t, r.reg, "meshbus_scoring_threshold_crossings_total", "direction", "below"); below != 3 {
		t.Fatalf("below crossings = %v, want 3", below)
	}
	if v := metrictest.Must(t, r.reg, "meshbus_scoring_peers"); v != 2 {
		t.Fatalf("peers gauge = %v", v)
	}
	if v := metrictest.Must(t, r.reg, "meshbus_scoring_rejected_app_scores_total"); v != 1 {
		t.Fatalf("rejected app scores = %v", v)
	}
	if v := metrictest.Must(t, r.reg, "meshbus_scoring_snapshots_total"); v != 2 {
		t.Fatalf("snapshots = %v", v)
	}

	// Registering twice on one registry fails at construction, cleanly.
	_, err := New(r.bus, WithClock(r.clk), WithParams(penaltyParams(0.5)), WithRegisterer(r.reg))
	if err == nil {
		t.Fatal("second registration succeeded")
	}
}

func TestComponentLifecycle(t *testing.T) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	defer bus.Close()
	clk := clock.NewMock()

	if _, err := New(bus, WithClock(clk), WithParams(Params{})); !errors.Is(err, ErrBadOption) || !errors.Is(err, automaton.ErrInvalidParams) {
		t.Fatalf("New with zero params: %v", err)
	}
	var pe *ParamError
	if _, err := New(bus, WithParams(Params{DecayInterval: time.Second})); !errors.As(err, &pe) || pe.Field == "" {
		t.Fatalf("New with bad params does not name the field: %v", err)
	}
	for _, n := range []int{0, eventbus.MaxBufSize + 1} {
		if _, err := New(bus, WithInputBuffer(n)); !errors.Is(err, ErrBadOption) {
			t.Fatalf("New with input buffer %d: %v", n, err)
		}
	}
	if _, err := New(nil); !errors.Is(err, ErrNilDependency) {
		t.Fatalf("New without a bus: %v", err)
	}

	// Closed without being started; nil logger and clock mean the defaults.
	c, err := New(bus, WithLogger(nil), WithClock(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Breakdown(ctx, pA); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Breakdown before Start: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Started twice, closed twice.
	c, err = New(bus, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.Scores()) != 0 {
		t.Fatal("scores after an empty run")
	}
	if _, err := c.Breakdown(ctx, pA); !errors.Is(err, ErrClosed) {
		t.Fatalf("Breakdown after Close: %v", err)
	}
}

func TestComponentStopsWhenBusCloses(t *testing.T) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	c, err := New(bus, WithClock(clock.NewMock()), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	bus.Close()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		t.Fatal("driver still running after the bus closed")
	}
	if _, err := c.Breakdown(ctx, pA); !errors.Is(err, ErrClosed) {
		t.Fatalf("Breakdown after the driver stopped: %v", err)
	}
	c.Close()
}

func TestComponentBreakdownIsLiveAndConcurrent(t *testing.T) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	defer bus.Close()
	clk := clock.NewMock()
	c, err := New(bus, WithClock(clk), WithParams(penaltyParams(0.5)), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	em, err := eventbus.NewEmitter[events.EvtPeerPenalized](bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	// Before Start the events wait in the subscription.
	em.Emit(events.EvtPeerPenalized{Peer: pA, Count: 1, At: clk.Now()})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Readers race the driver while it handles more events.
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
				c.Breakdown(ctx, pA)
				c.Scores()
			}
		}
	}()
	for range 50 {
		em.Emit(events.EvtPeerPenalized{Peer: pA, Count: 1, At: clk.Now()})
	}
	// Breakdown sees every handled event even without a snapshot: wait for
	// all 51 penalties (P₇ = 51²).
	bustest.Eventually(t, waitTimeout, "the breakdown to show all penalties", func() bool {
		b, err := c.Breakdown(ctx, pA)
		return err == nil && b.P7 == 51*51
	}, nil)
	close(stop)
	<-readerDone
	c.Close()
}

func TestComponentBurstOfCrossingsCoalesces(t *testing.T) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	defer bus.Close()
	clk := clock.NewMock()
	c, err := New(bus, WithClock(clk), WithParams(penaltyParams(0.5)), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := bus.Subscribe([]any{new(events.EvtPeerScoreThresholdCrossed), new(events.EvtPeerScoresUpdated)},
		eventbus.BufSize(4096), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	em, err := eventbus.NewEmitter[events.EvtPeerPenalized](bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	// 200 peers each fall below gossip and publish (-25). The events queue
	// before Start, so the driver meets them as one burst.
	const n = 200
	for i := range n {
		em.Emit(events.EvtPeerPenalized{Peer: peerID(fmt.Sprint("p", i)), Count: 5, At: clk.Now()})
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	crossed := map[string]int{}
	snapshots := 0
	for len(crossed) < n || crossed[fmt.Sprint("p", n-1)] < 2 {
		select {
		case ev := <-out.Out():
			switch e := ev.(type) {
			case events.EvtPeerScoreThresholdCrossed:
				crossed[string(e.Peer)]++
			case events.EvtPeerScoresUpdated:
				snapshots++
				// Every peer a snapshot shows below gossip had both its
				// crossings delivered before the snapshot.
				for _, s := range e.Scores {
					if s.Score < -20 && crossed[string(s.Peer)] != 2 {
						t.Fatalf("snapshot shows %s at %v before its crossings (%d seen)", s.Peer, s.Score, crossed[string(s.Peer)])
					}
				}
			}
		case <-time.After(waitTimeout):
			t.Fatalf("got crossings for %d peers", len(crossed))
		}
	}
	// Then the snapshot closing the burst.
	for snapshots == 0 || len(c.Scores()) < n {
		select {
		case ev := <-out.Out():
			if _, ok := ev.(events.EvtPeerScoresUpdated); ok {
				snapshots++
			}
		case <-time.After(waitTimeout):
			t.Fatal("no snapshot after the burst")
		}
	}
	// One snapshot per event would be 200; the queued burst is handled
	// before publishing.
	if snapshots > n/4 {
		t.Fatalf("%d snapshots for a burst of %d crossing events", snapshots, n)
	}
	t.Logf("%d crossing events, %d snapshots", 2*n, snapshots)
}
