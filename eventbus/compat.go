package eventbus

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"
)

// Wildcard is the event type that, given to Subscribe, subscribes to every
// event type. go-libp2p's event.WildcardSubscription is accepted as well.
var Wildcard any = new(wildcardType)

type wildcardType struct{}

// isWildcard reports whether x is Wildcard or go-libp2p's
// event.WildcardSubscription, recognised by its type so that the core does
// not import go-libp2p.
func isWildcard(x any) bool {
	if x == Wildcard {
		return true
	}
	t := reflect.TypeOf(x)
	return t != nil && t.Kind() == reflect.Pointer &&
		t.Elem().Name() == "wildcardSubscriptionType" &&
		t.Elem().PkgPath() == "github.com/libp2p/go-libp2p/core/event"
}

// Subscribe is the event.Bus API's Subscribe: eventType is new(EvtX) for
// one type, a non-empty slice of such pointers for several types on one
// channel, or Wildcard (or go-libp2p's event.WildcardSubscription) for
// every type. A pointer to an interface type subscribes to every event type
// implementing it. Events of one emitter arrive in emission order, also on
// multi-type subscriptions. An empty type list is ErrNoTypes. The result
// satisfies go-libp2p's event.Subscription; eventbus/libp2pbus wraps the
// bus as a go-libp2p event.Bus.
func (b *Bus) Subscribe(eventType any, opts ...SubscriptionOpt) (*AnySubscription, error) {
	types, wildcard, err := eventTypes(eventType)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	s := &chanSink[any]{}
	if err := b.subscribe(s, 1, types, wildcard, opts); err != nil {
		return nil, fmt.Errorf("subscribe %v: %w", types, err)
	}
	return &AnySubscription{c: &s.subCore, ch: s.ch}, nil
}

// eventTypes reads Subscribe's eventType argument: the event types it
// names, or wildcard for every type. Errors: ErrNoTypes, ErrNotPointer.
func eventTypes(eventType any) (types []reflect.Type, wildcard bool, err error) {
	if isWildcard(eventType) {
		return nil, true, nil
	}
	list, ok := eventType.([]any)
	if !ok {
		list = []any{eventType}
	}
	if len(list) == 0 {
		return nil, false, ErrNoTypes
	}
	for _, et := range list {
		t := reflect.TypeOf(et)
		if t == nil || t.Kind() != reflect.Pointer {
			return nil, false, fmt.Errorf("%v: %w", t, ErrNotPointer)
		}
		types = append(types, t.Elem())
	}
	return types, false, nil
}

// AnySubscription is a subscription made through the event.Bus API.
type AnySubscription struct {
	c  *subCore
	ch chan any
}

// Out returns the channel events arrive on; see Subscription.Out.
func (s *AnySubscription) Out() <-chan any { return s.ch }

// Close ends the subscription; see Subscription.Close.
func (s *AnySubscription) Close() error {
	s.c.end(nil)
	s.c.bus.detach(s.c)
	return nil
}

// CloseAfterDrain is Close, then a wait until the reader has taken what was
// queued; see Subscription.CloseAfterDrain.
func (s *AnySubscription) CloseAfterDrain(ctx context.Context) error {
	_ = s.Close()
	return waitEmpty(ctx, func() int { return len(s.ch) })
}

// Name returns the subscription's name.
func (s *AnySubscription) Name() string { return s.c.settings.name }

// ID returns the subscription's id: its SubscriptionInfo.ID in
// Bus.Subscriptions, unique among the bus's subscriptions (names need not
// be).
func (s *AnySubscription) ID() uint64 { return s.c.id }

// Err reports why the subscription ended; see Subscription.Err.
func (s *AnySubscription) Err() error { return s.c.Err() }

// Dropped returns how many events the subscription has dropped.
func (s *AnySubscription) Dropped() uint64 { return s.c.dropped.Load() }

// Emitter is the event.Bus API's Emitter: eventType is new(EvtX). The
// emitter checks each event's type (ErrWrongType) with reflection; use
// NewEmitter for a reflection-free, allocation-free emitter. The result
// satisfies go-libp2p's event.Emitter.
func (b *Bus) Emitter(eventType any, opts ...EmitterOpt) (*AnyEmitter, error) {
	t := reflect.TypeOf(eventType)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("emitter %v: %w", t, ErrNotPointer)
	}
	st, err := newEmitterSettings(opts)
	if err != nil {
		return nil, err
	}
	if st.single {
		return nil, fmt.Errorf("emitter %v: %w: SingleProducer is an option of NewEmitter only", t.Elem(), ErrBadOption)
	}
	n, err := b.newEmitterNode(t.Elem(), false)
	if err != nil {
		return nil, fmt.Errorf("emitter %v: %w", t.Elem(), err)
	}
	e := &AnyEmitter{b: b, n: n, stateful: st.stateful}
	e.slot = n.addSlot(&e.closed)
	return e, nil
}

// AnyEmitter is an emitter made through the event.Bus API. It is safe for
// concurrent use.
type AnyEmitter struct {
	b        *Bus
	n        *node
	stateful bool
	closed   atomic.Bool
	y        yielder
	slot     *emitSlot // see fastpath.go
}

// Emit delivers evt to every subscription of its type; see Emitter.Emit.
func (e *AnyEmitter) Emit(evt any) error {
	if e.closed.Load() {
		return ErrEmitterClosed
	}
	if e.b.isClosed.Load() {
		return ErrClosed
	}
	n := e.n
	if e.y.owedTo.Load() != nil {
		e.y.payDue(n) // see yielder.payDue
	}
	if t := reflect.TypeOf(evt); t != n.typ && (t == nil || n.typ.Kind() != reflect.Interface || !t.Implements(n.typ)) {
		return fmt.Errorf("%w: emitter of %v got %v", ErrWrongType, n.typ, t)
	}
	// event.Bus channel subscriptions only: the fast path, announced on
	// the emitter's slot instead of the node's read lock (see
	// fastpath.go); otherwise the node's read lock.
	f, fast := n.beginEmit(e.slot, e.stateful, true)
	var h handoff  // see yielder.maybeYield
	var kill kills // the subscriptions this Emit killed, detached after it
	if fast != nil {
		// Counted by fast.leave.
	} else if f.lane != nil {
		// The lane counts the Emit; evt's type is the node's (checked
		// above: lanes exist for concrete types only).
		n.emu.Lock()
		var k *kills
		h.woke, h.oweTo, k = f.lane.emitAny(evt, &e.closed)
		if k != nil {
			kill.addAll(k)
		}
		n.emu.Unlock()
		h.oweLen = -1
	} else {
		n.emitted.Add(1)
	}
	var seq uint64
	if f.seqSinks > 0 {
		seq = e.b.seq.Add(1)
	}
	if e.stateful {
		n.remember(evt)
	}
	checkEnded := e.b.ending.Load() != 0 // see Bus.ending
	offer(n, f.boxed, &evt, checkEnded, &h, &kill, fast)
	for _, s := range f.typedSinks {
		if c := s.deliverAny(n, evt, seq); c != nil {
			kill.add(c)
		}
	}
	for _, s := range f.other {
		if c := s.deliverAny(n, evt, seq); c != nil {
			kill.add(c)
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

// Close releases the emitter; later Emits fail. Closing twice is harmless.
func (e *AnyEmitter) Close() error {
	if e.closed.CompareAndSwap(false, true) {
		e.b.emitterClosed(e.n, false)
	}
	return nil
}

// waitEmpty waits until queued reports 0 or ctx is done.
func waitEmpty(ctx context.Context, queued func() int) error {
	if queued() == 0 {
		return nil
	}
	t := time.NewTicker(100 * time.Microsecond)
	defer t.Stop()
	for queued() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
