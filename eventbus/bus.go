package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// Bus is a local event bus. It is safe for concurrent use; see the package
// comment for its lock discipline.
type Bus struct {
	mu        sync.RWMutex
	nodes     map[reflect.Type]*node
	wildcards []*subCore            // subscribed to every type; guarded by mu
	ifaces    []*subCore            // subscribed to interface types; guarded by mu
	subs      map[*subCore]struct{} // every live subscription; guarded by mu
	sealed    bool                  // guarded by mu
	closed    bool                  // guarded by mu
	// emitterAdded is closed and replaced whenever an emitter is created, to
	// wake WaitForEmitter; guarded by mu.
	emitterAdded chan struct{}

	isClosed atomic.Bool // mirrors closed for Emit's lock-free check
	// ending counts subscriptions that ended and are not detached yet
	// (raised by subCore.endHeld before the subscription is seen ended,
	// lowered by detach once it left every node; briefly one more while
	// two ends race). While it is zero, no subscription in any node's
	// fanout has ended, so a typed or event.Bus Emit, which loads it
	// after taking the node's read lock, sends to its channel
	// subscriptions without checking each one's ended flag (a load from
	// another cache line per subscriber). An Emit that starts after an end
	// sees the count raised, or the subscription gone from the fanout.
	ending         atomic.Int64
	seq            atomic.Uint64
	nextID         atomic.Uint64
	notifierPanics atomic.Uint64

	defaultPolicy   Policy
	defaultNotifier Notifier
	log             *slog.Logger
}

// New returns an empty bus. Its default policy is Notify with LogNotifier.
func New(opts ...Option) *Bus {
	b := &Bus{
		nodes:         make(map[reflect.Type]*node),
		subs:          make(map[*subCore]struct{}),
		emitterAdded:  make(chan struct{}),
		defaultPolicy: Notify,
		log:           slog.Default(),
	}
	for _, o := range opts {
		o(b)
	}
	if b.defaultNotifier == nil {
		b.defaultNotifier = LogNotifier(b.log)
	}
	return b
}

// Close ends every subscription (their channels close after what they have
// queued, which stays readable; emitters blocked on a Block subscription
// give up at once; Err reports ErrClosed), and makes further
// Emit, Subscribe and NewEmitter calls fail with ErrClosed. It waits for
// nothing but the bus's own bookkeeping. Closing twice is harmless.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.isClosed.Store(true)
	// Single-producer emitters' fast paths check neither flag: the lanes'
	// dirty bits send them to the path that does (see lane.refresh).
	for _, n := range b.nodes {
		if p := n.lanePub.Load(); p != nil {
			p.Or(2)
		}
	}
	// Wake WaitForEmitter callers, which then see closed.
	close(b.emitterAdded)
	b.emitterAdded = make(chan struct{})
	subs := make([]*subCore, 0, len(b.subs))
	for c := range b.subs {
		subs = append(subs, c)
	}
	b.mu.Unlock()
	// End everything first: an emitter blocked on any Block subscription
	// gives up when it ends, and must let go of its node lock before the
	// detaches below, each of which needs that lock, whatever order they
	// run in.
	for _, c := range subs {
		c.end(ErrClosed)
	}
	for _, c := range subs {
		b.detach(c)
	}
	return nil
}

// nodeLocked returns the node of t, creating it with the wildcard and
// matching interface subscriptions attached. Call with b.mu held for writing.
func (b *Bus) nodeLocked(t reflect.Type) *node {
	if n, ok := b.nodes[t]; ok {
		return n
	}
	n := &node{typ: t}
	n.fastCond.L = &n.fastMu
	n.fanp.Store(&fanout{})
	b.nodes[t] = n
	// The node is new, so nobody else holds its lock yet: attaching under
	// b.mu cannot wait on an emitter.
	for _, c := range b.wildcards {
		n.attach(c.self)
	}
	for _, c := range b.ifaces {
		if c.matches(t) {
			n.attach(c.self)
		}
	}
	return n
}

// matches reports whether a node of type t delivers to the subscription.
func (c *subCore) matches(t reflect.Type) bool {
	if c.wildcard {
		return true
	}
	for _, st := range c.types {
		if st == t || (st.Kind() == reflect.Interface && t.Implements(st)) {
			return true
		}
	}
	return false
}

// hasEmitterLocked reports whether some node delivering to type t has an
// emitter. Call with b.mu held.
func (b *Bus) hasEmitterLocked(t reflect.Type) bool {
	if t.Kind() != reflect.Interface {
		n, ok := b.nodes[t]
		return ok && n.emitters > 0
	}
	for nt, n := range b.nodes {
		if n.emitters > 0 && (nt == t || nt.Implements(t)) {
			return true
		}
	}
	return false
}

// subscribe registers a new subscription and attaches it to its nodes.
func (b *Bus) subscribe(s sink, callerSkip int, types []reflect.Type, wildcard bool, opts []SubscriptionOpt) error {
	if len(types) == 1 && types[0] == reflect.TypeFor[any]() {
		// Subscribe[any] and SubscribeBatch[any] receive every type: they
		// are wildcard subscriptions, and introspection says so.
		types, wildcard = nil, true
	}
	c := s.core()
	st, err := b.newSubSettings(callerSkip+1, opts)
	if err != nil {
		return err
	}
	c.bus, c.self, c.settings = b, s, st
	c.id = b.nextID.Add(1)
	c.types, c.wildcard = types, wildcard
	c.done = make(chan struct{})
	s.init()
	if len(st.quiet) > 0 || st.quietLimit > 0 {
		if err := setQuiet(s, c, wildcard); err != nil {
			return err
		}
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if st.requireEmitter && b.sealed && !wildcard {
		for _, t := range types {
			if !b.hasEmitterLocked(t) {
				b.mu.Unlock()
				return fmt.Errorf("%w: %v (subscriber %s)", ErrNoEmitter, t, st.name)
			}
		}
	}
	var targets []*node
	seen := make(map[*node]bool)
	add := func(n *node) {
		if !seen[n] {
			seen[n] = true
			targets = append(targets, n)
		}
	}
	hasIface := false
	for _, t := range types {
		if t.Kind() == reflect.Interface {
			hasIface = true
			continue
		}
		add(b.nodeLocked(t))
	}
	if wildcard || hasIface {
		for _, n := range b.nodes {
			if c.matches(n.typ) {
				add(n)
			}
		}
	}
	// A batch queue of one concrete type shares its node's producer lock;
	// bind it before anything can deliver to it.
	if nb, ok := s.(interface{ bindNode(*node) }); ok && oneConcreteType(types, wildcard) {
		nb.bindNode(targets[0])
	}
	// Register last, so that nodeLocked above did not attach c already.
	if wildcard {
		b.wildcards = append(b.wildcards, c)
	} else if hasIface {
		b.ifaces = append(b.ifaces, c)
	}
	b.subs[c] = struct{}{}
	b.mu.Unlock()

	// Attach outside b.mu: an attach waits for the type's emitters, and one
	// of them may be blocked on a Block subscriber. A concurrent Close of c
	// cannot be missed: an attach recorded before detach's snapshot is
	// removed by detach, and one after it is refused (subCore.attached).
	for _, n := range targets {
		n.attach(s)
	}
	return nil
}

// oneConcreteType reports whether a subscription is to exactly one
// concrete type: a batch queue of such a type is bound to its node's lane.
func oneConcreteType(types []reflect.Type, wildcard bool) bool {
	return !wildcard && len(types) == 1 && types[0].Kind() != reflect.Interface
}

// setQuiet checks the Quiet option's types (and QuietLimit) against the
// subscription and turns them on: only a batch queue of its own ring (not
// one bound to a type's shared lane: SubscribeBatch of one concrete type)
// takes it, only for types it receives, with a limit within its buffer.
func setQuiet(s sink, c *subCore, wildcard bool) error {
	q, ok := s.(interface{ setQuiet() })
	if !ok {
		return fmt.Errorf("%w: Quiet is for batch subscriptions", ErrBadOption)
	}
	if _, lane := s.(interface{ bindNode(*node) }); lane && oneConcreteType(c.types, wildcard) {
		return fmt.Errorf("%w: Quiet needs a batch subscription of several types (or an interface type): one type's queue wakes for every event", ErrBadOption)
	}
	for _, t := range c.settings.quiet {
		if !c.matches(t) {
			return fmt.Errorf("%w: Quiet(%v): the subscription does not receive it", ErrBadOption, t)
		}
	}
	switch n := c.settings.quietLimit; {
	case len(c.settings.quiet) == 0:
		return fmt.Errorf("%w: QuietLimit(%d) without Quiet", ErrBadOption, n)
	case n > max(c.settings.bufSize, 1):
		return fmt.Errorf("%w: QuietLimit(%d) above the BufSize (%d)", ErrBadOption, n, c.settings.bufSize)
	}
	q.setQuiet()
	return nil
}

// detach removes c from the bus and closes its channel, once. Call it after
// c.end: an emitter blocked on a Block subscription holds the node's read
// lock, and it gives up (counting the event as abandoned) when c.done
// closes, which is what lets detach take the node's write lock. No goroutine
// is started and none is waited for.
func (b *Bus) detach(c *subCore) {
	c.detachOnce.Do(func() {
		b.mu.Lock()
		delete(b.subs, c)
		b.wildcards = removeSub(b.wildcards, c)
		b.ifaces = removeSub(b.ifaces, c)
		b.mu.Unlock()
		// Nodes created after the registries above no longer see c, and
		// beginDetach stops attaches in flight: every node that can ever
		// deliver to c is in this list.
		for _, n := range c.beginDetach() {
			n.detach(c.self)
		}
		if c.ended.Load() { // always, when called after end as it must be
			b.ending.Add(-1)
		}
		c.self.closeChan()
	})
}

// detachKilled detaches the subscriptions that an Emit killed, on the
// emitter's goroutine once the Emit released the node's lock, then yields
// the processor: the detach held the node's lock for writing, so other
// emitters (and a Close of the subscription waiting for this detach) were
// made runnable on this processor and would otherwise wait for the emitter's
// time slice to end. Detaching here rather than in a goroutine of its own
// keeps that goroutine from taking the place of one the Emit woke (a reader
// about to take the subscription's last events) in the processor's queue.
// It waits for the type's Emits in flight on other goroutines, as a
// Subscribe or Close does.
func (b *Bus) detachKilled(k *kills) {
	b.detach(k.first)
	for _, c := range k.more {
		b.detach(c)
	}
	runtime.Gosched()
}

func removeSub(list []*subCore, c *subCore) []*subCore {
	for i, x := range list {
		if x == c {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// newEmitterNode registers an emitter of type t (a single-producer one if
// single) and returns its node. A type's single-producer emitter is its
// only emitter: ErrSingleProducer otherwise.
func (b *Bus) newEmitterNode(t reflect.Type, single bool) (*node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	n := b.nodeLocked(t)
	if n.single.Load() || single && n.emitters > 0 {
		return nil, ErrSingleProducer
	}
	if single {
		n.single.Store(true)
	}
	n.emitters++
	close(b.emitterAdded)
	b.emitterAdded = make(chan struct{})
	return n, nil
}

func (b *Bus) emitterClosed(n *node, single bool) {
	b.mu.Lock()
	n.emitters--
	if single {
		n.single.Store(false)
	}
	b.mu.Unlock()
}

// Seal ends the bus's start phase: every subscription made with
// RequireEmitter whose type has no emitter now is ended with ErrNoEmitter
// (its channel closes), and the returned error joins one ErrNoEmitter per
// such subscription, naming the type and the subscriber. After Seal,
// Subscribe with RequireEmitter fails at once for types without an emitter.
// Sealing twice re-checks.
func (b *Bus) Seal() error {
	b.mu.Lock()
	b.sealed = true
	var failed []*subCore
	var errs []error
	for c := range b.subs {
		if !c.settings.requireEmitter || c.wildcard {
			continue
		}
		for _, t := range c.types {
			if !b.hasEmitterLocked(t) {
				failed = append(failed, c)
				errs = append(errs, fmt.Errorf("%w: %v (subscriber %s)", ErrNoEmitter, t, c.settings.name))
				break
			}
		}
	}
	b.mu.Unlock()
	for i, c := range failed {
		c.end(errs[i])
		b.detach(c)
	}
	return errors.Join(errs...)
}

// Stat counts the subscribers and emitters of one event type.
type Stat struct {
	// Subscribers counts subscriptions receiving the type, including
	// wildcard and interface subscriptions.
	Subscribers int
	// Emitters counts live emitters of exactly this type.
	Emitters int
}

// Stat reports the subscriber and emitter counts of type t.
func (b *Bus) Stat(t reflect.Type) Stat {
	b.mu.RLock()
	n, ok := b.nodes[t]
	var emitters int
	if ok {
		emitters = n.emitters
	}
	b.mu.RUnlock()
	if !ok {
		return Stat{}
	}
	return Stat{Subscribers: n.subscribers(), Emitters: emitters}
}

// StatOf is Stat for type T.
func StatOf[T any](b *Bus) Stat { return b.Stat(reflect.TypeFor[T]()) }

// WaitForEmitter blocks until type t (or, for an interface type, a type
// implementing it) has an emitter, ctx is done (its error is returned), or
// the bus closes (ErrClosed).
func (b *Bus) WaitForEmitter(ctx context.Context, t reflect.Type) error {
	for {
		b.mu.RLock()
		closed, has, wake := b.closed, b.hasEmitterLocked(t), b.emitterAdded
		b.mu.RUnlock()
		switch {
		case closed:
			return ErrClosed
		case has:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// WaitForEmitterOf is WaitForEmitter for type T.
func WaitForEmitterOf[T any](ctx context.Context, b *Bus) error {
	return b.WaitForEmitter(ctx, reflect.TypeFor[T]())
}

// GetAllEventTypes returns every type the bus has an emitter for, sorted by
// name (event.Bus).
func (b *Bus) GetAllEventTypes() []reflect.Type {
	b.mu.RLock()
	types := make([]reflect.Type, 0, len(b.nodes))
	for t, n := range b.nodes {
		if n.emitters > 0 {
			types = append(types, t)
		}
	}
	b.mu.RUnlock()
	sort.Slice(types, func(i, j int) bool { return types[i].String() < types[j].String() })
	return types
}

// NotifierPanics counts Notifier calls that panicked.
func (b *Bus) NotifierPanics() uint64 { return b.notifierPanics.Load() }
