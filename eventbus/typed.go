package eventbus

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
)

// Subscription is a typed subscription delivering values of type E on its
// own buffered channel.
type Subscription[E any] struct {
	c  *subCore
	ch chan E
}

// Subscribe subscribes to events of type T. When T is an interface type, the
// subscription receives every event type that implements it; Subscribe[any]
// receives everything, as a wildcard subscription (SubscriptionInfo.Wildcard).
// Events of one emitter arrive in emission order.
func Subscribe[T any](b *Bus, opts ...SubscriptionOpt) (*Subscription[T], error) {
	return subscribeTyped[T, T](b, nil, opts)
}

// SubscribeSequenced is Subscribe with each event wrapped in a Sequenced
// carrying its bus-wide sequence number.
func SubscribeSequenced[T any](b *Bus, opts ...SubscriptionOpt) (*Subscription[Sequenced[T]], error) {
	opts = append(opts[:len(opts):len(opts)], WithSequence())
	return subscribeTyped[T](b, sequencer[T](), opts)
}

func subscribeTyped[T, E any](b *Bus, convert func(any, uint64) (E, bool), opts []SubscriptionOpt) (*Subscription[E], error) {
	s := &chanSink[E]{convert: convert}
	// The channel is made after the settings are known, before any attach.
	typ := reflect.TypeFor[T]()
	if err := b.subscribe(s, 2, []reflect.Type{typ}, false, opts); err != nil {
		return nil, fmt.Errorf("subscribe %v: %w", typ, err)
	}
	return &Subscription[E]{c: &s.subCore, ch: s.ch}, nil
}

// Out returns the channel events arrive on. It is closed when the
// subscription ends: after Close, when the bus closes, when the Kill policy
// ends it, or when a sealed bus finds no emitter for a RequireEmitter type.
func (s *Subscription[E]) Out() <-chan E { return s.ch }

// Close ends the subscription and closes its channel; it returns once no
// emitter can send on it any more. What was queued stays readable until the
// channel reports closed, under every policy; an emitter blocked on a full
// Block subscription gives up at once (the event is counted as abandoned),
// so Close starts no goroutine and waits for none that competes with
// emitters. Closing twice is harmless. It may wait for emitters of the same
// types that are blocked on other Block subscribers.
func (s *Subscription[E]) Close() error {
	s.c.end(nil)
	s.c.bus.detach(s.c)
	return nil
}

// CloseAfterDrain stops new deliveries and closes the channel at once (what
// is queued stays readable, then the channel reports closed), then waits
// until the reader has taken everything that was queued, or ctx is done
// (its error is returned). A channel cannot report its reader's progress,
// so the wait checks the queue's length at a short interval (100µs).
func (s *Subscription[E]) CloseAfterDrain(ctx context.Context) error {
	_ = s.Close()
	return waitEmpty(ctx, func() int { return len(s.ch) })
}

// Err reports why the subscription ended: nil while it lives or after Close,
// ErrKilled, ErrClosed, or an ErrNoEmitter wrapping the missing type.
func (s *Subscription[E]) Err() error { return s.c.Err() }

// Name returns the subscription's name.
func (s *Subscription[E]) Name() string { return s.c.settings.name }

// ID returns the subscription's id: its SubscriptionInfo.ID in
// Bus.Subscriptions, unique among the bus's subscriptions (names need not
// be).
func (s *Subscription[E]) ID() uint64 { return s.c.id }

// Dropped returns how many events the subscription has dropped.
func (s *Subscription[E]) Dropped() uint64 { return s.c.dropped.Load() }

// Emitter emits events of type T. It is safe for concurrent use, except
// one made with SingleProducer, whose Emit, EmitMany and Close must not
// run concurrently.
type Emitter[T any] struct {
	b        *Bus
	n        *node
	stateful bool
	closed   atomic.Bool
	y        yielder
	slot     *emitSlot // see fastpath.go
	// sp is the lane cache of a single-producer emitter (SingleProducer);
	// nil for others.
	sp *singleCache[T]
}

// NewEmitter returns an emitter of events of type T. With SingleProducer
// it fails with ErrSingleProducer when T already has a live emitter; any
// emitter of T fails so while T has a live single-producer emitter.
func NewEmitter[T any](b *Bus, opts ...EmitterOpt) (*Emitter[T], error) {
	st, err := newEmitterSettings(opts)
	if err != nil {
		return nil, err
	}
	typ := reflect.TypeFor[T]()
	n, err := b.newEmitterNode(typ, st.single)
	if err != nil {
		return nil, fmt.Errorf("emitter %v: %w", typ, err)
	}
	e := &Emitter[T]{b: b, n: n, stateful: st.stateful}
	if st.single {
		e.sp = &singleCache[T]{stateful: st.stateful, closed: &e.closed, busClosed: &b.isClosed}
	}
	e.slot = n.addSlot(&e.closed)
	return e, nil
}

// Emit delivers v to every subscription of its type, in the calling
// goroutine. It uses no reflection and, for typed subscribers of exactly T,
// does not box v (so it does not allocate); subscribers through the
// event.Bus API or an interface type share one boxed copy. It blocks only
// while a Block subscriber has no room, and, when it killed a channel
// subscription (the Kill policy), while it detaches it after the delivery
// (waiting, as a Close does, for the type's Emits in flight on other
// goroutines). It fails with ErrEmitterClosed after Close and ErrClosed
// after the bus closed. On a SingleProducer emitter, concurrent calls are
// misuse (see SingleProducer).
func (e *Emitter[T]) Emit(v T) error {
	// A single-producer emitter's fast path, written out here (as a call,
	// with the copy of v into its arguments, it cost about 3 of its 13
	// ns): the type's only emitter, and the member with the least room,
	// as the emitter last saw them, still has some; one compare-and-swap
	// from the seq the emitter left publishes, and fails if anything
	// changed since (see singleCache). The seq is not loaded first: a
	// load of the word the last Emit's compare-and-swap wrote waits for
	// it, 2 of the path's 7 ns (BenchmarkPushFloor, one-cas against
	// one-cas-noload). A failed compare-and-swap leaves the slot written
	// but unpublished, which nobody reads (see lane.trySingleMany, its
	// EmitMany twin, for why the write is safe whatever changed). The
	// emitter's Close clears c.ok, and Bus.Close sets the lane's dirty
	// bit, so neither closed flag needs a look here.
	if c := e.sp; c != nil {
		c.calls++ // unsynchronised on purpose: see singleCache.calls
		if c.ok && e.y.owedTo.Load() == nil {
			s := c.seq
			if t := s >> 2; t < c.room || c.moreRoom(t) {
				c.slots[t&c.mask] = v // also without members: nobody reads it then
				if ns := (t + 1) << 2; c.ln.seq.CompareAndSwap(s, ns) {
					c.seq = ns
					if c.ln.nwait.Load() > 0 {
						e.wakeSingle()
					}
					if c.sn != nil {
						c.ln.notifySat(c.sn, t, 1, nil)
					}
					return nil
				}
			}
		}
	}
	n := e.n
	if e.closed.Load() {
		return ErrEmitterClosed
	}
	if e.b.isClosed.Load() {
		return ErrClosed
	}
	if e.y.owedTo.Load() != nil {
		e.y.payDue(n) // see yielder.payDue
	}
	if e.sp != nil {
		// The slow path below refreshes the single-producer cache.
	} else if f := n.fanp.Load(); f.laneOnly && !e.stateful {
		// Only batch queues of exactly T: the lane's fast path takes its
		// word and no lock. Attach and detach replace the fanout under
		// the word, so the fast path sees any change.
		if ln, ok := f.lane.(*lane[T]); ok {
			st, woke, owe := ln.tryFast(f, v, &e.closed)
			if st == fastFull {
				// Block members without room: yield once, holding
				// nothing, so that a reader readied on this processor
				// (woken by an earlier Emit, it waits there until this
				// goroutine stops) takes its batch and makes room; a
				// park and a wake through the slow path cost more
				// (docs/eventbus.md, "Eighth pass").
				runtime.Gosched()
				st, woke, owe = ln.tryFast(f, v, &e.closed)
			}
			if st == fastOK {
				if woke || owe != nil {
					e.y.maybeYield(n, woke, owe, -1)
				}
				return nil
			}
		}
	}
	// Plain channel subscriptions only: the fast path, announced on the
	// emitter's slot instead of the node's read lock (see fastpath.go).
	f, fast := n.beginEmit(e.slot, e.stateful, false)
	var h handoff  // see yielder.maybeYield
	var kill kills // the subscriptions this Emit killed, detached after it
	if typed, ok := f.typed.([]flatSink[T]); ok {
		// While no subscription of the bus is ending (Bus.ending), none
		// here has ended: no per-subscriber check.
		offer(n, typed, &v, e.b.ending.Load() != 0, &h, &kill, fast)
	}
	if fast == nil {
		// The slow path: a fast-path Emit has no lane, nothing beyond
		// the flat array, and is counted by endEmit.
		if ln, ok := f.lane.(*lane[T]); ok {
			// Batch queues: one write into the shared ring for all of
			// them.
			n.emu.Lock()
			w, owe := ln.emit(v, &kill, e.sp, &e.closed)
			n.emu.Unlock()
			h.woke = w || h.woke
			if owe != nil && h.oweTo == nil {
				h.oweTo, h.oweLen = owe, -1
			}
		} else {
			n.emitted.Add(1)
		}
		if e.stateful || f.mixed {
			e.emitRest(n, f, v, &kill)
		}
	}
	if fast != nil {
		fast.leave(n) // counts the Emit
	} else {
		n.mu.RUnlock()
	}
	if kill.first != nil {
		e.b.detachKilled(&kill)
		return nil
	}
	if h.woke || h.oweTo != nil {
		e.y.maybeYield(n, h.woke, h.oweTo, h.oweLen)
	}
	return nil
}

// wakeSingle wakes the lane's parked readers after a single-producer fast
// path published (see lane.wakeAll and yielder.maybeYield).
func (e *Emitter[T]) wakeSingle() {
	if woke, owe := e.sp.ln.wakeAll(); woke || owe != nil {
		e.y.maybeYield(e.n, woke, owe, -1)
	}
}

// EmitMany emits the events of evs in order, as len(evs) calls of Emit
// would (same ordering, policies, blocking and counters), and returns how
// many it emitted: len(evs), or fewer with the error of the first Emit
// that failed (ErrEmitterClosed, ErrClosed). When every subscriber of T is
// a batch subscription of exactly T sharing the type's ring and has room,
// it takes the ring once for as many events as fit and publishes them
// with one store, so the emitter's cost per event falls with len(evs).
// evs is copied; the caller keeps it.
func (e *Emitter[T]) EmitMany(evs []T) (int, error) {
	done := 0
	for done < len(evs) {
		if e.closed.Load() {
			return done, ErrEmitterClosed
		}
		if e.b.isClosed.Load() {
			return done, ErrClosed
		}
		n := e.n
		if e.y.owedTo.Load() != nil {
			e.y.payDue(n)
		}
		if c := e.sp; c != nil {
			c.calls++ // see singleCache.calls
			if c.ok {
				if k, woke, owe := c.ln.trySingleMany(c, evs[done:]); k > 0 {
					done += k
					if woke || owe != nil {
						e.y.maybeYield(n, woke, owe, -1)
					}
					continue
				}
			}
		} else if f := n.fanp.Load(); f.laneOnly && !e.stateful {
			if ln, ok := f.lane.(*lane[T]); ok {
				if k, woke, owe := ln.tryFastMany(f, evs[done:], &e.closed); k > 0 {
					done += k
					if woke || owe != nil {
						e.y.maybeYield(n, woke, owe, -1)
					}
					continue
				}
			}
		}
		// Slow path, one event: it makes room (or moves members) and
		// the next round may take the fast path again.
		if err := e.Emit(evs[done]); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// emitRest delivers v to the sinks outside the typed flat array (sequenced,
// interface-typed and event.Bus-API ones) and keeps it for a stateful
// emitter. Called inside Emit, with n.mu held and f the Emit's snapshot of
// n's fanout; kill collects the subscriptions it kills.
func (e *Emitter[T]) emitRest(n *node, f *fanout, v T, kill *kills) {
	var seq uint64
	if f.seqSinks > 0 {
		seq = e.b.seq.Add(1)
	}
	var boxed any
	if e.stateful {
		boxed = v
		n.remember(boxed)
	}
	for _, s := range f.other {
		if s, ok := s.(*chanSink[Sequenced[T]]); ok {
			s.send(n, Sequenced[T]{Seq: seq, Event: v}, kill)
			continue
		}
		if r, ok := s.(*ringSink[Sequenced[T]]); ok && r.convert != nil {
			r.pushLocking(n, Sequenced[T]{Seq: seq, Event: v}, kill)
			continue
		}
		if r, ok := s.(*ringSink[T]); ok && r.convert == nil {
			r.pushLocking(n, v, kill)
			continue
		}
		if boxed == nil {
			boxed = v
		}
		if c := s.deliverAny(n, boxed, seq); c != nil {
			kill.add(c)
		}
	}
	if len(f.boxed) > 0 {
		if boxed == nil {
			boxed = v
		}
		var h handoff // not used: see Emit
		offer(n, f.boxed, &boxed, true, &h, kill, nil)
	}
}

// Close releases the emitter; later Emits fail. Closing twice is harmless.
// A SingleProducer emitter's Close must not run concurrently with its Emit
// or EmitMany; once it returned, the type may have other emitters again.
func (e *Emitter[T]) Close() error {
	if e.sp != nil {
		e.sp.calls++ // see singleCache.calls
		e.sp.ok = false
	}
	if e.closed.CompareAndSwap(false, true) {
		e.b.emitterClosed(e.n, e.sp != nil)
	}
	return nil
}
