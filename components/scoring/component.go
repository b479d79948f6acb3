package scoring

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("scoring: component closed")

// maxCoalesce bounds how many queued input events the driver handles after
// one that crossed a threshold before it publishes the snapshot, so that a
// burst of crossings yields one snapshot rather than one per event.
const maxCoalesce = 1024

// Component is the scoring driver: one goroutine that feeds every input
// event (see InputEvents) from the bus to a Scorer, refreshes it every
// DecayInterval on the injected clock, and emits what it decides:
//
//   - EvtPeerScoreThresholdCrossed for each crossing, in the order they
//     happened, always before the EvtPeerScoresUpdated that shows it;
//   - EvtPeerScoresUpdated at each decay interval and after events that
//     crossed a threshold (queued events are handled first, up to 1024, so a
//     burst of crossings yields one snapshot).
//
// The input subscription uses the Block policy: no fact is ever lost, and a
// driver that falls behind slows the emitters down instead. Emits to a
// Block subscriber of the outputs wait for it, so such a subscriber stalls
// scoring (and, through the full input buffer, the emitters of facts) while
// it is behind: snapshot subscribers should use Drop, since every snapshot
// is complete, and Block subscribers of crossings must keep up.
type Component struct {
	bus    *eventbus.Bus
	clk    clock.Clock
	log    *slog.Logger
	m      *metrics
	scorer *Scorer // owned by the run goroutine once started

	sub       event.Subscription
	emCrossed *eventbus.Emitter[events.EvtPeerScoreThresholdCrossed]
	emScores  *eventbus.Emitter[events.EvtPeerScoresUpdated]

	view     atomic.Pointer[view]
	reqs     chan breakdownReq
	crossBuf []events.EvtPeerScoreThresholdCrossed // reused by publish

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

// breakdownReq asks the driver goroutine, which owns the Scorer, for one
// peer's breakdown.
type breakdownReq struct {
	peer  peer.ID
	reply chan breakdownReply // buffered: the driver never waits on it
}

type breakdownReply struct {
	b  Breakdown
	ok bool
}

// New validates params, builds the Scorer with its decay clock at clk.Now(),
// subscribes to the input events on bus and creates the output emitters.
// It subscribes at once so that no fact emitted after New returns is lost;
// call Start soon (the subscription blocks its emitters once its buffer is
// full) or Close. Errors: a *ParamError wrapping ErrInvalidParams, or the
// bus's or the metrics registerer's error.
func New(bus *eventbus.Bus, clk clock.Clock, params Params, opts ...Option) (*Component, error) {
	if bus == nil || clk == nil {
		return nil, errors.New("scoring: New needs a bus and a clock")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	scorer, err := NewScorer(params, clk.Now())
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	c := &Component{
		bus: bus, clk: clk, log: o.log.With("component", "scoring"), m: m, scorer: scorer,
		quit: make(chan struct{}), done: make(chan struct{}), reqs: make(chan breakdownReq),
	}
	c.view.Store(&view{at: clk.Now()})
	if c.emCrossed, err = eventbus.NewEmitter[events.EvtPeerScoreThresholdCrossed](bus); err != nil {
		return nil, fmt.Errorf("scoring: emitter: %w", err)
	}
	if c.emScores, err = eventbus.NewEmitter[events.EvtPeerScoresUpdated](bus); err != nil {
		c.emCrossed.Close()
		return nil, fmt.Errorf("scoring: emitter: %w", err)
	}
	c.sub, err = bus.Subscribe(InputEvents(),
		eventbus.Name("scoring"), eventbus.BufSize(o.inputBuf), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		c.emCrossed.Close()
		c.emScores.Close()
		return nil, fmt.Errorf("scoring: subscribe: %w", err)
	}
	return c, nil
}

// Start starts the driver goroutine and the decay ticker. It returns
// ErrClosed after Close; a second Start does nothing.
func (c *Component) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return nil
	}
	c.started = true
	// Decay steps are counted from the ticker's start, so each tick is
	// exactly one step (a late tick still counts whole intervals only).
	c.scorer.lastDecay = c.clk.Now()
	// The ticker exists before Start returns, so a mock clock advanced
	// right after Start ticks it.
	go c.run(c.clk.Ticker(c.scorer.params.DecayInterval))
	return nil
}

// Close stops the driver (waiting for it to finish the event in hand and
// any emit it is in), then closes the subscription and the emitters. Scores
// keeps answering with the last snapshot and Breakdown with the final
// state. Closing twice is harmless.
func (c *Component) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()

	close(c.quit)
	if started {
		<-c.done
	}
	return errors.Join(c.sub.Close(), c.emCrossed.Close(), c.emScores.Close())
}

// Scores returns every scored peer's score as of the last snapshot, in a
// new map the caller owns. Safe for concurrent use.
func (c *Component) Scores() map[peer.ID]float64 {
	v := c.view.Load()
	m := make(map[peer.ID]float64, len(v.scores))
	for _, s := range v.scores {
		m[s.Peer] = s.Score
	}
	return m
}

// Breakdown returns p's score term by term from the driver's live state
// (every event handled so far, so it may be newer than the last snapshot),
// and whether p is scored. The caller owns the result. It is answered by
// the driver goroutine between events, so it waits for the event in hand;
// before Start and after the driver stopped it reads the state directly.
// Safe for concurrent use.
func (c *Component) Breakdown(p peer.ID) (Breakdown, bool) {
	c.mu.Lock()
	if !c.started {
		// No driver: mu keeps Start out while we read.
		defer c.mu.Unlock()
		return c.scorer.Breakdown(p)
	}
	c.mu.Unlock()
	req := breakdownReq{peer: p, reply: make(chan breakdownReply, 1)}
	select {
	case c.reqs <- req:
		r := <-req.reply
		return r.b, r.ok
	case <-c.done:
		// The driver has exited and never touches the Scorer again;
		// Breakdown only reads it, so concurrent callers are fine.
		return c.scorer.Breakdown(p)
	}
}

// SnapshotTime returns when the snapshot behind Scores was taken (the
// component's construction time before the first one).
func (c *Component) SnapshotTime() time.Time { return c.view.Load().at }

// Thresholds returns the thresholds in force.
func (c *Component) Thresholds() Thresholds { return c.scorer.params.Thresholds }

// run is the driver goroutine.
func (c *Component) run(ticker *clock.Ticker) {
	defer close(c.done)
	defer ticker.Stop()
	in := c.sub.Out()
	for {
		select {
		case <-c.quit:
			return
		case ev, ok := <-in:
			if !ok {
				var err error
				if e, ok := c.sub.(interface{ Err() error }); ok {
					err = e.Err()
				}
				c.log.Info("input subscription ended; scoring stops", "err", err)
				return
			}
			c.observe(ev)
			if c.scorer.PendingCrossings() == 0 {
				continue
			}
			c.coalesce(in)
			c.publish(c.clk.Now(), false)
		case t := <-ticker.C:
			c.scorer.Refresh(t)
			c.publish(t, true)
		case req := <-c.reqs:
			b, ok := c.scorer.Breakdown(req.peer)
			req.reply <- breakdownReply{b, ok}
		}
	}
}

// coalesce handles up to maxCoalesce events already queued, without
// waiting.
func (c *Component) coalesce(in <-chan any) {
	for range maxCoalesce {
		select {
		case ev, ok := <-in:
			if !ok {
				return
			}
			c.observe(ev)
		default:
			return
		}
	}
}

func (c *Component) observe(ev any) {
	if err := c.scorer.Observe(c.clk.Now(), ev); err != nil {
		c.m.rejectedAppScores.Inc()
		c.log.Warn("ignoring event", "err", err)
	}
	c.m.observed.Inc() // after handling: tests wait on it
}

// publish emits the pending crossings, then a snapshot, and installs it as
// the view behind Scores. After a Refresh (refresh true) it also updates
// the score histogram and the gauges.
func (c *Component) publish(at time.Time, refresh bool) {
	c.crossBuf = c.scorer.TakeCrossings(c.crossBuf[:0])
	for _, x := range c.crossBuf {
		c.m.crossed(x)
		if err := c.emCrossed.Emit(x); err != nil {
			c.log.Debug("emit threshold crossing", "err", err)
		}
	}
	clear(c.crossBuf)

	snap := c.scorer.Snapshot(at)
	c.view.Store(&view{scores: snap.Scores, at: at})

	if refresh {
		for _, s := range snap.Scores {
			c.m.scores.Observe(s.Score)
		}
		st := c.scorer.Stats()
		c.m.peers.Set(float64(st.Peers))
		c.m.retained.Set(float64(st.Retained))
		c.m.records.Set(float64(st.DeliveryRecords))
	}
	c.m.snapshots.Inc()
	if err := c.emScores.Emit(snap); err != nil {
		c.log.Debug("emit scores", "err", err)
	}
}
