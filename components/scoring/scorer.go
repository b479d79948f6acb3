package scoring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/scoring/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// maxCoalesce bounds how many queued input events the driver handles after
// one that crossed a threshold before it publishes the snapshot, so that a
// burst of crossings yields one snapshot rather than one per event.
const maxCoalesce = 1024

// inputBatch bounds the input events the driver takes off its batch
// subscription at once (one wake-up, one copy of up to this many).
const inputBatch = 256

// Scorer is the scoring component: one driver goroutine that feeds every
// input event (see InputEvents) from the bus to the pure core
// (automaton.Automaton), ticks it every DecayInterval on the injected clock,
// and emits what it decides:
//
//   - EvtPeerScoreThresholdCrossed for each crossing, in the order they
//     happened, always before the EvtPeerScoresUpdated that shows it;
//   - EvtPeerScoresUpdated at each decay interval and after events that
//     crossed a threshold (queued events are handled first, up to 1024, so a
//     burst of crossings yields one snapshot).
//
// The per-message facts (QuietEvents) do not wake the driver: it handles
// them with the next other input, before each tick and each Breakdown, or
// when 256 are queued (one batch), in emission order with the rest.
// Their effect on scores is the same; a crossing they cause shows at the
// latest with the next tick's snapshot.
//
// The input subscription uses the Block policy: no fact is ever lost, and a
// driver that falls behind slows the emitters down instead. Emits to a
// Block subscriber of the outputs wait for it, so such a subscriber stalls
// scoring (and, through the full input buffer, the emitters of facts) while
// it is behind: snapshot subscribers should use Drop, since every snapshot
// is complete, and Block subscribers of crossings must keep up.
//
// Its API reaches the driver one way: Breakdown sends a request on the
// driver's request channel. Scores and SnapshotTime read the last published
// snapshot (an atomic pointer the driver swaps), Thresholds the
// configuration; all are safe for concurrent use.
type Scorer struct {
	cfg  config
	m    *metrics
	core *automaton.Automaton // owned by the driver goroutine
	out  *automaton.Output    // likewise
	em   *outbox.Emitters
	sub  *eventbus.BatchSubscription[any]

	view atomic.Pointer[view]
	reqs chan breakdownReq

	// sinceCrossed counts the events handled since the first threshold
	// crossing not yet published, or is -1 when none is pending. Driver
	// goroutine only.
	sinceCrossed int

	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool
	quit    chan struct{} // closed by Close: the driver returns
	done    chan struct{} // closed by the driver when it has returned
}

// view is the immutable inspection snapshot published with every
// EvtPeerScoresUpdated.
type view struct {
	scores []events.PeerScore // shared with the emitted event: read-only
	at     time.Time
}

// breakdownReq asks the driver goroutine, which owns the core, for one
// peer's breakdown.
type breakdownReq struct {
	peer  peer.ID
	reply chan breakdownReply // buffered: the driver never waits on it
}

type breakdownReply struct {
	b  Breakdown
	ok bool
}

// New validates the options, builds the core with its decay clock at the
// clock's now, subscribes to the input events on bus and creates the output
// emitters. It subscribes at once so that no fact emitted after New returns
// is lost; call Start soon (the subscription blocks its emitters once its
// buffer is full) or Close. Errors: ErrNilDependency, ErrBadOption (wrapping
// a *ParamError for bad parameters), or the bus's or the registerer's error.
func New(bus *eventbus.Bus, opts ...Option) (*Scorer, error) {
	if bus == nil {
		return nil, fmt.Errorf("%w: New needs a bus", ErrNilDependency)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	core, err := automaton.New(cfg.params, cfg.clk.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	m, err := newMetrics(cfg.reg)
	if err != nil {
		return nil, err
	}
	s := &Scorer{
		cfg: cfg, m: m, core: core, out: automaton.NewOutput(),
		quit: make(chan struct{}), done: make(chan struct{}), reqs: make(chan breakdownReq),
		sinceCrossed: -1,
	}
	s.view.Store(&view{at: cfg.clk.Now()})
	if s.em, err = outbox.NewEmitters(bus, s.out); err != nil {
		m.unregister(cfg.reg)
		return nil, fmt.Errorf("scoring: %w", err)
	}
	// Batch mode: the input is one fact per delivered or duplicate
	// message on every node, and a batch costs the emitters no channel
	// operation per event and the driver one wake-up per batch. The
	// message facts are quiet (they carry their own time and only add to
	// counters): they wait for the next other fact, the tick, a
	// Breakdown or a batch's worth (256: few wait, so they hold little
	// memory), so a busy node's driver wakes a few times a second
	// instead of once or twice per message.
	s.sub, err = bus.SubscribeBatch(InputEvents(),
		eventbus.Name("scoring"), eventbus.BufSize(cfg.inputBuf), eventbus.WithPolicy(eventbus.Block),
		eventbus.Quiet(QuietEvents()...), eventbus.QuietLimit(min(cfg.inputBuf, inputBatch)))
	if err != nil {
		_ = s.em.Close()
		m.unregister(cfg.reg)
		return nil, fmt.Errorf("scoring: subscribe: %w", err)
	}
	return s, nil
}

// InputEvents returns one pointer per event type the scorer consumes, in
// the form event.Bus.Subscribe takes.
func InputEvents() []any { return automaton.InputEvents() }

// QuietEvents returns the input events the driver takes without waking
// for them (eventbus.Quiet): the per-message facts (EvtMessageDelivered,
// EvtMessageDuplicated, EvtChokedPeerAnnounced, EvtMessagePublished).
// Each carries its own time, so handling it later changes nothing but
// when its effect shows: at the next snapshot (every DecayInterval), the
// next other input, or a Breakdown.
func QuietEvents() []any {
	return []any{new(events.EvtMessageDelivered), new(events.EvtMessageDuplicated),
		new(events.EvtChokedPeerAnnounced), new(events.EvtMessagePublished)}
}

// Start starts the driver goroutine and the decay ticker. It returns
// ErrStarted when called twice and ErrClosed after Close.
func (s *Scorer) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return ErrStarted
	}
	s.started = true
	// The ticker exists before Start returns, so a mock clock advanced
	// right after Start ticks it. The core counts decay steps from New, in
	// whole intervals, so each tick is one step.
	go s.run(s.cfg.clk.Ticker(s.cfg.params.DecayInterval))
	return nil
}

// Close stops the driver (waiting for it to finish the event in hand and
// any emit it is in), then closes the subscription and the emitters and
// unregisters the metrics. Scores keeps answering with the last snapshot;
// Breakdown answers ErrClosed. Closing twice is harmless.
func (s *Scorer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()

	close(s.quit)
	if started {
		<-s.done
	} else {
		close(s.done)
	}
	err := errors.Join(s.sub.Close(), s.em.Close())
	s.m.unregister(s.cfg.reg)
	return err
}

// Scores returns every scored peer's score as of the last snapshot, in a
// new map the caller owns. Safe for concurrent use.
func (s *Scorer) Scores() map[peer.ID]float64 {
	v := s.view.Load()
	m := make(map[peer.ID]float64, len(v.scores))
	for _, ps := range v.scores {
		m[ps.Peer] = ps.Score
	}
	return m
}

// Breakdown returns p's score term by term from the driver's live state:
// every input event emitted before the call is handled first (quiet ones
// included, see QuietEvents), so it may be newer than the last snapshot.
// The caller owns the result. The driver answers between events, so it
// waits for the event in hand, or until ctx ends. Errors: ErrNotScored,
// ErrNotStarted, ErrClosed (the driver stopped), ctx's error. Safe for
// concurrent use.
func (s *Scorer) Breakdown(ctx context.Context, p peer.ID) (Breakdown, error) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return Breakdown{}, ErrNotStarted
	}
	req := breakdownReq{peer: p, reply: make(chan breakdownReply, 1)}
	select {
	case s.reqs <- req:
	case <-s.done:
		return Breakdown{}, ErrClosed
	case <-ctx.Done():
		return Breakdown{}, ctx.Err()
	}
	r := <-req.reply // the driver answers at once
	if !r.ok {
		return Breakdown{}, fmt.Errorf("%w: %s", ErrNotScored, p)
	}
	return r.b, nil
}

// SnapshotTime returns when the snapshot behind Scores was taken (the
// scorer's construction time before the first one).
func (s *Scorer) SnapshotTime() time.Time { return s.view.Load().at }

// Thresholds returns the thresholds in force.
func (s *Scorer) Thresholds() Thresholds { return s.cfg.params.Thresholds }

// run is the driver goroutine. It takes the input a batch at a time and
// serves ticks, Breakdown requests and Close between batches.
func (s *Scorer) run(ticker *clock.Ticker) {
	defer close(s.done)
	defer ticker.Stop()
	buf := make([]any, min(s.cfg.inputBuf, inputBatch))
	for {
		batch, err := s.sub.TryNext(buf)
		if len(batch) > 0 {
			s.input(batch)
			clear(batch) // the events are handled: do not keep them alive
			if s.sinceCrossed >= 0 {
				continue // coalescing: take what is queued before publishing
			}
			select {
			case <-s.quit:
				return
			case t := <-ticker.C:
				s.tick(buf, t)
			case req := <-s.reqs:
				s.breakdown(buf, req)
			default:
			}
			continue
		}
		s.publishCrossed() // nothing more queued
		if err != nil {
			s.cfg.log.Info("input subscription ended; scoring stops", "err", err)
			return
		}
		select {
		case <-s.quit:
			return
		case <-s.sub.Ready():
		case t := <-ticker.C:
			s.tick(buf, t)
		case req := <-s.reqs:
			s.breakdown(buf, req)
		}
	}
}

// drain handles every queued input event (quiet ones included: see
// QuietEvents) and publishes the crossings they caused, so that a tick
// or a Breakdown sees every fact emitted before it.
func (s *Scorer) drain(buf []any) {
	for {
		batch, _ := s.sub.TryNext(buf)
		if len(batch) == 0 {
			break
		}
		s.input(batch)
		clear(batch)
	}
	s.publishCrossed()
}

func (s *Scorer) tick(buf []any, t time.Time) {
	s.drain(buf)
	s.core.HandleTick(t, s.out)
	s.publish(t, true)
}

func (s *Scorer) breakdown(buf []any, req breakdownReq) {
	s.drain(buf)
	b, ok := s.core.Breakdown(req.peer)
	req.reply <- breakdownReply{b, ok}
}

// input handles a batch of input events, oldest first. After an event
// that crossed a threshold, the snapshot that shows it is published once
// the queue is empty or maxCoalesce more events were handled, whichever
// comes first, so that a burst of crossings yields one snapshot.
func (s *Scorer) input(batch []any) {
	for _, ev := range batch {
		s.handle(ev)
		switch {
		case s.sinceCrossed >= 0:
			s.sinceCrossed++
			if s.sinceCrossed >= maxCoalesce {
				s.publishCrossed()
			}
		case s.out.Crossed.Len() > 0:
			s.sinceCrossed = 0
		}
	}
}

// publishCrossed publishes the crossings handled so far and a snapshot
// that shows them, if any are pending.
func (s *Scorer) publishCrossed() {
	if s.sinceCrossed < 0 {
		return
	}
	s.sinceCrossed = -1
	now := s.cfg.clk.Now()
	s.core.AppendSnapshot(now, s.out)
	s.publish(now, false)
}

func (s *Scorer) handle(ev any) {
	if o := s.core.HandleEvent(s.cfg.clk.Now(), ev, s.out); o == automaton.OutcomeInvalidAppScore {
		s.m.v.Inc(mRejectedAppScores)
		s.cfg.log.Warn("ignoring an application score that is not a finite number", "event", ev)
	}
	s.m.v.Inc(mObserved) // after handling: tests wait on it
}

// publish emits the Output (crossings, then the snapshot that shows them),
// installing the snapshot as the view behind Scores first. After a tick
// (refresh true) it also updates the score histogram and the gauges.
func (s *Scorer) publish(at time.Time, refresh bool) {
	for _, x := range s.out.Crossed.Items() {
		s.m.crossed(x)
	}
	if snaps := s.out.Scores.Items(); len(snaps) > 0 {
		snap := snaps[len(snaps)-1]
		s.view.Store(&view{scores: snap.Scores, at: at})
		if refresh {
			for _, ps := range snap.Scores {
				s.m.score(ps.Score)
			}
		}
		s.m.v.Add(mSnapshots, uint64(len(snaps)))
	}
	if refresh {
		st := s.core.Stats()
		s.m.v.Set(mPeers, float64(st.Peers))
		s.m.v.Set(mRetained, float64(st.Retained))
		s.m.v.Set(mRecords, float64(st.DeliveryRecords))
	}
	s.em.Emit(&s.out.Outbox, func(err error) { s.cfg.log.Debug("emit", "err", err) })
}
