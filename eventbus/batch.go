package eventbus

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
)

// ringSink is a batch subscription's delivery end: a bounded queue of E
// (no channel operation per event) that the reader empties a batch at a
// time.
//
// A typed batch subscription of exactly one concrete type (the common case)
// is bound to its node: it is a member of the node's lane, the shared ring
// every bound queue of the type reads from with a cursor of its own (lhead),
// so that an Emit copies the event once however many subscribers there
// are (see lane). It falls back to its private ring (slots) while it is
// full under Drop/Notify/Kill, after it ended, and for a stateful replay;
// shared says which one it reads. Its producer lock (plock) is the node's
// emu, which is also the lane's lock.
//
// Other batch subscriptions (sequenced, interface-typed, several types)
// only have the private ring, with their own producer lock pmu.
//
// Private ring: producers are serialised by plock; the reader takes no
// lock. A producer writes the slot at tail and publishes tail+1 (pub); the
// reader loads pub, copies [head, pub) out and publishes its new head,
// which producers load to see the room. Parking on either side is a flag
// set before a re-check (readerWaits, writersWait) and a capacity-1 token
// channel, so neither side can miss the other's progress.
type ringSink[E any] struct {
	subCore
	slots []E    // the private ring, allocated when first written (ensureSlots)
	size  uint64 // len(slots) once allocated: limit rounded up to a power of two
	mask  uint64 // size-1
	limit uint64 // the subscription's BufSize (at least 1)

	plock *sync.Mutex // &node.emu for a bound queue, else &pmu; set before attach
	pmu   sync.Mutex
	node  *node // the one node of a bound queue; nil otherwise

	tail   uint64 // the next private slot to write; guarded by *plock
	gaveUp int    // events an emitter gave up (ended) and counted; guarded by *plock
	spun   bool   // an emitter waiting for room yielded once instead of parking; guarded by *plock
	// endSeen: the lane handled this member's end (lane.ending); guarded
	// by emu.
	endSeen bool
	_       [40]byte
	pub     atomic.Uint64 // tail as published to the reader
	_       [56]byte
	head    atomic.Uint64 // the next private slot to read; written by the reader only
	lhead   atomic.Uint64 // the next lane position to read while shared; written under cmu
	_       [48]byte

	// satFrom is, while the lane has set this Drop member aside as full
	// (lane.saturate), 1 + the lane position of the first event it drops;
	// 0 otherwise. Written under emu; the reader loads it after publishing
	// head.
	satFrom atomic.Uint64

	lnp    atomic.Pointer[lane[E]] // the node's lane, once a bound queue joined it
	shared atomic.Bool             // reading from the lane at lhead (written under cmu and emu)
	cmu    sync.Mutex              // held by the reader while it copies from the lane, and by the emitter to move it out

	// Quiet types (the Quiet option; wakeAt is 0 without it): a push of
	// one wakes the parked reader only once the queue holds wakeAt
	// events. loud is the private ring's tail after the last push of
	// another type: the reader parks only while head has reached it and
	// fewer than wakeAt are queued.
	wakeAt uint64
	loud   atomic.Uint64

	readerWaits atomic.Bool   // the reader is parked on wake
	writersWait atomic.Int32  // Block producers parked on space
	space       chan struct{} // capacity 1: one token wakes one parked producer, who passes it on
	wake        chan struct{} // capacity 1: one token wakes the reader (closeChan leaves one too)
	gone        chan struct{} // closed by closeChan: no producer will push again
	isGone      atomic.Bool
	readMu      sync.Mutex    // one reader at a time
	drained     chan struct{} // closed once the reader found the ended queue empty
	drainedOnce sync.Once
	handlerDone chan struct{} // closed when a handler goroutine returned; nil without one
	convert     func(ev any, seq uint64) (E, bool)
}

// bindNode makes n the queue's only node, so that it joins n's lane and
// shares n's producer lock. Called by subscribe before attaching, for typed
// subscriptions of one concrete type.
func (r *ringSink[E]) bindNode(n *node) {
	if r.convert == nil && reflect.TypeFor[E]() == n.typ {
		r.node, r.plock, r.bound = n, &n.emu, r
	}
}

// boundTo reports whether the queue is bound to n (a member of n's lane).
func (r *ringSink[E]) boundTo(n *node) bool { return r.node == n && r.lnp.Load() != nil }

// joinLane makes a bound queue a member of its node's lane, creating the
// lane with the first member. Called by attach with n.mu, n.emu and the
// lane's word held (a lane it creates, it returns with the word held).
func (r *ringSink[E]) joinLane(n *node) bool {
	if r.node != n {
		return false
	}
	if n.lane == nil {
		size := uint64(1)
		for size < r.limit {
			size <<= 1
		}
		ln := newLane[E](n, size)
		ln.lockWord()
		n.lane = ln
		n.lanePub.Store(ln.count())
	}
	ln := n.lane.(*lane[E])
	r.lnp.Store(ln)
	ln.join(r)
	return true
}

// leaveLane takes a bound queue out of its node's lane for good. Called by
// detach with n.mu, n.emu and the lane's word held.
func (r *ringSink[E]) leaveLane(n *node) {
	if ln := r.lnp.Load(); ln != nil && r.node == n {
		ln.leave(r)
	}
}

// endBound ends a bound queue (subCore.end). A member of a lane raises
// the lane's ending count first, so that the Emit after an observed end
// takes the slow path and moves it out instead of delivering to it; no
// lock. Before the queue joined a lane, n.emu (under which attach joins)
// orders the end against the join.
func (r *ringSink[E]) endBound(err error) bool {
	if ln := r.lnp.Load(); ln != nil {
		ln.ending.Add(1)
		ln.dirty()
		ok := r.endHeld(err)
		if !ok {
			ln.ending.Add(-1) // it had ended before
		}
		return ok
	}
	r.node.emu.Lock()
	if ln := r.lnp.Load(); ln != nil { // joined meanwhile
		r.node.emu.Unlock()
		return r.endBound(err)
	}
	ok := r.endHeld(err)
	r.node.emu.Unlock()
	return ok
}

func (r *ringSink[E]) init() {
	r.limit = uint64(max(r.settings.bufSize, 1))
	size := uint64(1)
	for size < r.limit {
		size <<= 1
	}
	r.size, r.mask = size, size-1
	r.plock = &r.pmu
	r.wake = make(chan struct{}, 1)
	r.space = make(chan struct{}, 1)
	r.gone = make(chan struct{})
	r.drained = make(chan struct{})
	if r.settings.sequenced && r.convert == nil {
		if f, ok := any(boxSequenced).(func(any, uint64) (E, bool)); ok {
			r.convert = f
		}
	}
}

// ensureSlots allocates the private ring. Called with *plock held; the
// reader sees the slots through pub.
func (r *ringSink[E]) ensureSlots() {
	if r.slots == nil {
		r.slots = make([]E, r.size)
	}
}

// push queues v in the private ring, applying the policy when it is full,
// and reports whether it woke the parked reader. Called with n's read lock
// and r.plock held, on the emitter's goroutine. Under Block it releases
// plock while it waits for room or for the subscription to end (so that the
// type's other emitters can reach their other subscribers), then re-checks
// that the subscription lives.
//
// A lane calls it for its private members with emu held, never for a full
// Block queue: it waits for room beforehand.
func (r *ringSink[E]) push(n *node, v E, kill *kills) bool {
	if r.ended.Load() {
		r.abandoned.Add(1)
		return false
	}
	for r.tail-r.head.Load() >= r.limit {
		if r.settings.policy != Block {
			r.overflowHeld(n, r.plock, kill, nil)
			return false
		}
		r.writersWait.Add(1)
		if r.tail-r.head.Load() < r.limit { // the reader made room meanwhile
			r.writersWait.Add(-1)
			break
		}
		r.plock.Unlock()
		select {
		case <-r.space:
		case <-r.done:
		}
		r.plock.Lock()
		r.writersWait.Add(-1)
		if r.ended.Load() {
			r.abandoned.Add(1)
			return false
		}
	}
	r.ensureSlots()
	r.slots[r.tail&r.mask] = v
	r.tail++
	r.pub.Store(r.tail)
	if r.writersWait.Load() > 0 && r.tail-r.head.Load() < r.limit {
		r.signalSpace() // pass the wake-up on to the next parked producer
	}
	if r.wakeAt > 0 {
		if !r.quietType(n) {
			r.loud.Store(r.tail)
		} else if r.tail-r.head.Load() < r.wakeAt {
			return false // queued; the reader takes it with the next wake-up
		}
	}
	if r.readerWaits.Load() && r.readerWaits.CompareAndSwap(true, false) {
		select {
		case r.wake <- struct{}{}:
		default:
		}
		return true
	}
	return false
}

// setQuiet turns on the Quiet option's types (settings.quiet) and their
// wake-up limit (QuietLimit, else half the buffer). Called by subscribe
// after init, before anything can deliver.
func (r *ringSink[E]) setQuiet() {
	r.wakeAt = max(r.limit/2, 1)
	if n := r.settings.quietLimit; n > 0 {
		r.wakeAt = uint64(n)
	}
}

// quietType reports whether n's events are among the Quiet types.
func (r *ringSink[E]) quietType(n *node) bool {
	for _, t := range r.settings.quiet {
		if t == n.typ {
			return true
		}
	}
	return false
}

func (r *ringSink[E]) toElem(ev any, seq uint64) (E, bool) {
	if r.convert != nil {
		return r.convert(ev, seq)
	}
	v, ok := ev.(E)
	return v, ok
}

// pushLocking is push for a caller holding only n's read lock.
func (r *ringSink[E]) pushLocking(n *node, v E, kill *kills) {
	r.plock.Lock()
	r.push(n, v, kill)
	r.plock.Unlock()
}

func (r *ringSink[E]) deliverAny(n *node, ev any, seq uint64) *subCore {
	var k kills
	if v, ok := r.toElem(ev, seq); ok {
		r.pushLocking(n, v, &k)
	}
	return k.first
}

// tryDeliverAny queues ev without blocking (a stateful replay at attach).
// A bound queue is attached with n.emu held: it replays into its private
// ring through the lane.
func (r *ringSink[E]) tryDeliverAny(n *node, ev any, seq uint64) bool {
	v, ok := r.toElem(ev, seq)
	if !ok {
		return true
	}
	if ln := r.lnp.Load(); ln != nil && r.node == n {
		return ln.replay(r, v)
	}
	r.plock.Lock()
	defer r.plock.Unlock()
	if r.tail-r.head.Load() >= r.limit {
		return false
	}
	r.ensureSlots()
	r.slots[r.tail&r.mask] = v
	r.tail++
	r.pub.Store(r.tail)
	return true
}

// closeChan marks the queue gone: detach has removed it from every node
// (and a bound queue from its lane), so no producer pushes again; the
// reader takes what is queued, then ends.
func (r *ringSink[E]) closeChan() {
	r.isGone.Store(true)
	close(r.gone)
	select { // a reader parked without a context waits on wake alone
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *ringSink[E]) queued() int {
	if ln := r.lnp.Load(); ln != nil && r.shared.Load() {
		h := r.lhead.Load()
		if p := ln.pub(); p > h {
			return int(p - h)
		}
		return 0
	}
	h := r.head.Load()
	return int(r.pub.Load() - h)
}

// batchDropped is the queue's drop count: those counted one by one, and
// those it dropped while its lane set it aside as full, derived from the
// lane's position (lane.saturate). It takes no lock.
func (r *ringSink[E]) batchDropped() uint64 {
	if r.node == nil {
		return r.dropped.Load()
	}
	return r.node.satRead(func(p uint64) uint64 {
		d := r.dropped.Load()
		if s := r.satFrom.Load(); s != 0 {
			d += p - (s - 1)
		}
		return d
	})
}

// wakeful reports whether a reader about to park has something to take
// at once: anything queued, or with Quiet types an event of another type
// or wakeAt events.
func (r *ringSink[E]) wakeful(ln *lane[E]) bool {
	if r.wakeAt == 0 {
		return r.hasData(ln)
	}
	h := r.head.Load()
	return r.loud.Load() > h || r.pub.Load()-h >= r.wakeAt
}

// hasData reports whether the reader has something to take.
func (r *ringSink[E]) hasData(ln *lane[E]) bool {
	if ln != nil && r.shared.Load() && ln.pub() != r.lhead.Load() {
		return true
	}
	return r.pub.Load() != r.head.Load()
}

// nextShared copies up to len(buf) events from the lane, if r reads from
// it and something is there.
func (r *ringSink[E]) nextShared(ln *lane[E], buf []E) ([]E, bool) {
	r.cmu.Lock()
	if !r.shared.Load() {
		r.cmu.Unlock()
		return nil, false
	}
	h, t := r.lhead.Load(), ln.pub()
	if h == t {
		r.cmu.Unlock()
		return nil, false
	}
	b := ln.buf.Load()
	n := min(t-h, uint64(len(buf)))
	// Positions [h, h+n) stay in place until lhead moves past them: the
	// emitter writes a position only while every member has room for it.
	for i := uint64(0); i < n; {
		from := (h + i) & b.mask
		i += uint64(copy(buf[i:n], b.slots[from:min(from+(n-i), uint64(len(b.slots)))]))
	}
	r.lhead.Store(h + n)
	r.cmu.Unlock()
	if r.writersWait.Load() > 0 {
		r.signalSpace()
	}
	return buf[:n], true
}

// next fills buf with up to len(buf) queued events, waiting for at least one.
func (r *ringSink[E]) next(ctx context.Context, buf []E) ([]E, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	ln := r.lnp.Load()
	for {
		if out, done, err := r.take(ln, buf); done {
			return out, err
		}
		r.readerWaits.Store(true)
		if ln != nil {
			ln.addWaiter(r)
		}
		if r.wakeful(ln) || r.isGone.Load() { // re-check after announcing
			r.readerWaits.Store(false)
			continue
		}
		if done := ctx.Done(); done == nil {
			// One channel: closeChan leaves a token on wake too, and a
			// receive parks and wakes for less than a select over wake
			// and gone.
			<-r.wake
		} else {
			select {
			case <-r.wake:
			case <-r.gone:
			case <-done:
				r.readerWaits.Store(false)
				return buf[:0], ctx.Err()
			}
		}
		r.readerWaits.Store(false)
	}
}

// tryNext is next without waiting: nothing queued on a live queue is an
// empty batch and no error.
func (r *ringSink[E]) tryNext(buf []E) ([]E, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	if out, done, err := r.take(r.lnp.Load(), buf); done {
		return out, err
	}
	return buf[:0], nil
}

// take moves up to len(buf) queued events into buf; done is false when
// nothing is queued and the queue lives (the reader would wait). Once the
// queue ended and is empty it returns the end error, with done. Called
// with readMu held.
func (r *ringSink[E]) take(ln *lane[E], buf []E) (out []E, done bool, err error) {
	for {
		// The lane's lock (cmu) only when the lane has something for r:
		// a reader about to park looks without it.
		if ln != nil && r.shared.Load() && ln.pub() != r.lhead.Load() {
			if out, ok := r.nextShared(ln, buf); ok {
				return out, true, nil
			}
		}
		h := r.head.Load()
		t := r.pub.Load()
		if h == t {
			if !r.isGone.Load() {
				return nil, false, nil
			}
			if r.pub.Load() != h { // a last push landed before the queue went
				continue
			}
			r.markDrained()
			return buf[:0], true, r.endErr()
		}
		n := min(t-h, uint64(len(buf)))
		// Slots [h, h+n) are the reader's until head moves past them.
		for i := uint64(0); i < n; {
			from := (h + i) & r.mask
			k := copy(buf[i:n], r.slots[from:min(from+(n-i), uint64(len(r.slots)))])
			clear(r.slots[from : from+uint64(k)]) // release what the events reference
			i += uint64(k)
		}
		r.head.Store(h + n)
		if r.writersWait.Load() > 0 {
			r.signalSpace()
		}
		if ln != nil && r.satFrom.Load() != 0 {
			// Set aside as full (lane.saturate): it has room now; the
			// next Emit takes it back.
			ln.rejoin.Store(true)
			ln.dirty()
		}
		if r.pub.Load() == h+n {
			if r.isGone.Load() {
				r.markDrained()
			} else if ln != nil {
				ln.rejoin.Store(true) // drained: the next Emit moves it back into the lane
				ln.dirty()
			}
		}
		return buf[:n], true, nil
	}
}

// ready arms the reader's wake-up without parking and returns the channel
// to wait on: closedChan when something is queued or the queue ended.
// A token left on wake by a wake-up nobody waited for is taken first, so
// that the channel returned does not fire for it; the re-check after
// arming sees what that wake-up announced.
func (r *ringSink[E]) ready() <-chan struct{} {
	ln := r.lnp.Load()
	if !r.readerWaits.Load() {
		select {
		case <-r.wake:
		default:
		}
		r.readerWaits.Store(true)
		if ln != nil {
			ln.addWaiter(r)
		}
	}
	if r.wakeful(ln) || r.isGone.Load() {
		return closedChan
	}
	return r.wake
}

// closedChan is a closed channel: a receive from it never waits.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// signalSpace wakes one parked producer (a token already waiting will do).
func (r *ringSink[E]) signalSpace() {
	select {
	case r.space <- struct{}{}:
	default:
	}
}

func (r *ringSink[E]) markDrained() { r.drainedOnce.Do(func() { close(r.drained) }) }

// endErr is what next returns once the queue ended and is empty.
func (r *ringSink[E]) endErr() error {
	if err := r.Err(); err != nil {
		return err
	}
	return ErrSubscriptionClosed
}

// BatchSubscription is a subscription whose events wait in a bounded queue
// of its own and are taken a batch at a time, with Next or by a handler on
// the subscription's own goroutine (SubscribeBatchFunc). Next to a channel
// subscription it costs the emitter no channel operation per event (a typed
// emitter takes one lock for all batch subscribers of its type), and the
// reader one wake-up per batch rather than per event.
//
// It has the same policies (Block, Drop, Kill, Notify, set with the same
// options), ordering (events of one emitter arrive in emission order),
// sequence numbers (SubscribeBatchSequenced), metrics and introspection as a
// channel subscription. BufSize is the queue's capacity in events (0 means
// 1). Events are copied into the queue once per subscriber, as into a
// channel; for large events, emit a pointer type (*EvtX) so that every
// subscriber shares one value, which then must not be mutated.
type BatchSubscription[E any] struct {
	r *ringSink[E]
}

// SubscribeBatch subscribes to events of type T in batch mode. When T is an
// interface type it receives every event type implementing it;
// SubscribeBatch[any] receives everything, as a wildcard subscription.
// Subscriptions of exactly one concrete type share their type's ring (see
// BatchSubscription); the others have a ring of their own.
func SubscribeBatch[T any](b *Bus, opts ...SubscriptionOpt) (*BatchSubscription[T], error) {
	return subscribeBatch[T, T](b, nil, opts)
}

// SubscribeBatchSequenced is SubscribeBatch with each event wrapped in a
// Sequenced carrying its bus-wide sequence number.
func SubscribeBatchSequenced[T any](b *Bus, opts ...SubscriptionOpt) (*BatchSubscription[Sequenced[T]], error) {
	opts = append(opts[:len(opts):len(opts)], WithSequence())
	return subscribeBatch[T](b, sequencer[T](), opts)
}

// SubscribeBatchFunc subscribes to events of type T in batch mode and calls
// fn with each batch, in order, on one goroutine of the subscription's own
// (never concurrently). A batch holds up to BufSize events; fn must not keep
// the slice after it returns (it is reused). The goroutine ends once the
// subscription ended and fn was given everything that was queued; Done is
// closed then. fn may call Close, but not CloseAfterDrain (it would wait for
// itself). Next must not be called on a handler's subscription.
func SubscribeBatchFunc[T any](b *Bus, fn func([]T), opts ...SubscriptionOpt) (*BatchSubscription[T], error) {
	if fn == nil {
		return nil, fmt.Errorf("subscribe batch %v: %w: nil handler", reflect.TypeFor[T](), ErrBadOption)
	}
	s, err := subscribeBatch[T, T](b, nil, opts)
	if err != nil {
		return nil, err
	}
	s.r.handlerDone = make(chan struct{})
	go func() {
		defer close(s.r.handlerDone)
		buf := make([]T, min(s.r.limit, 4096))
		for {
			batch, err := s.r.next(context.Background(), buf)
			if err != nil {
				return
			}
			fn(batch)
		}
	}()
	return s, nil
}

func subscribeBatch[T, E any](b *Bus, convert func(any, uint64) (E, bool), opts []SubscriptionOpt) (*BatchSubscription[E], error) {
	r := &ringSink[E]{convert: convert}
	typ := reflect.TypeFor[T]()
	if err := b.subscribe(r, 2, []reflect.Type{typ}, false, opts); err != nil {
		return nil, fmt.Errorf("subscribe batch %v: %w", typ, err)
	}
	return &BatchSubscription[E]{r: r}, nil
}

// SubscribeBatch is Subscribe's batch form: it takes the same eventType
// (new(EvtX), a non-empty slice of such pointers, or Wildcard) and
// options, and queues the events, as they were emitted (values, not
// pointers), in one BatchSubscription for all the types. Events of one
// emitter arrive in emission order. An empty type list is ErrNoTypes, a
// type not given as a pointer ErrNotPointer.
func (b *Bus) SubscribeBatch(eventType any, opts ...SubscriptionOpt) (*BatchSubscription[any], error) {
	types, wildcard, err := eventTypes(eventType)
	if err != nil {
		return nil, fmt.Errorf("subscribe batch: %w", err)
	}
	r := &ringSink[any]{}
	if err := b.subscribe(r, 1, types, wildcard, opts); err != nil {
		return nil, fmt.Errorf("subscribe batch %v: %w", types, err)
	}
	return &BatchSubscription[any]{r: r}, nil
}

// Next waits until at least one event is queued, then moves up to len(buf)
// of them (cap(buf) when len(buf) is 0) into buf, oldest first, and returns
// buf[:n]. One call is one wake-up however many events it returns. After
// the subscription ended, Next keeps returning what was queued; then it
// returns an empty slice and Err() (ErrKilled, ErrClosed, ...) or
// ErrSubscriptionClosed after Close. When ctx is done first it returns
// ctx.Err(). Calls are serialised: one reader at a time.
func (s *BatchSubscription[E]) Next(ctx context.Context, buf []E) ([]E, error) {
	if len(buf) == 0 {
		buf = buf[:cap(buf)]
	}
	if len(buf) == 0 {
		return buf, fmt.Errorf("%w: Next needs a buffer of at least one event", ErrBadOption)
	}
	return s.r.next(ctx, buf)
}

// TryNext is Next without waiting: it moves up to len(buf) queued events
// (cap(buf) when len(buf) is 0) into buf and returns buf[:n], which is
// empty when nothing is queued. Once the subscription ended and its queue
// is empty it returns an empty slice and the same error as Next. With
// Ready it lets a reader that also waits on other channels take its
// events a batch at a time. Calls are serialised with Next's.
func (s *BatchSubscription[E]) TryNext(buf []E) ([]E, error) {
	if len(buf) == 0 {
		buf = buf[:cap(buf)]
	}
	if len(buf) == 0 {
		return buf, fmt.Errorf("%w: TryNext needs a buffer of at least one event", ErrBadOption)
	}
	return s.r.tryNext(buf)
}

// Ready returns a channel to receive from in a select beside other
// channels: a receive from it proceeds once TryNext has something to
// return (an event is queued, or the subscription ended), and may proceed
// spuriously, when TryNext finds nothing (then call Ready again). No event
// queued after Ready was called is missed. Call Ready before each select,
// not once: the channel it returns is only good for one wait. One reader
// at a time, as for Next; not for a handler's subscription.
func (s *BatchSubscription[E]) Ready() <-chan struct{} { return s.r.ready() }

// Close ends the subscription: emitters stop delivering to it (one blocked
// on it under Block gives up at once) and it is detached from the bus. What
// was queued stays readable through Next, which then reports
// ErrSubscriptionClosed; a handler is given the rest and returns. Close
// returns once no emitter can push to the queue; it starts no goroutine and
// waits for none that competes with emitters. Closing twice is harmless.
func (s *BatchSubscription[E]) Close() error {
	s.r.end(nil)
	s.r.bus.detach(&s.r.subCore)
	return nil
}

// CloseAfterDrain stops new deliveries (as Close), then waits until the
// reader (Next's caller or the handler) has taken everything that was
// queued, or ctx is done (its error is returned; what is still queued stays
// readable). With a handler it also waits for the handler's last call to
// return.
func (s *BatchSubscription[E]) CloseAfterDrain(ctx context.Context) error {
	_ = s.Close()
	if s.r.handlerDone != nil {
		select {
		case <-s.r.handlerDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.r.queued() == 0 {
		s.r.markDrained()
		return nil
	}
	select {
	case <-s.r.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed once the subscription ended and its reader took everything
// queued: for a handler subscription, when the handler goroutine returned;
// otherwise when Next found the ended queue empty (or CloseAfterDrain saw
// it empty).
func (s *BatchSubscription[E]) Done() <-chan struct{} {
	if s.r.handlerDone != nil {
		return s.r.handlerDone
	}
	return s.r.drained
}

// Err reports why the subscription ended: nil while it lives or after
// Close, ErrKilled, ErrClosed, or an ErrNoEmitter wrapping the missing type.
func (s *BatchSubscription[E]) Err() error { return s.r.Err() }

// Name returns the subscription's name.
func (s *BatchSubscription[E]) Name() string { return s.r.settings.name }

// ID returns the subscription's id: its SubscriptionInfo.ID in
// Bus.Subscriptions, unique among the bus's subscriptions (names need not
// be).
func (s *BatchSubscription[E]) ID() uint64 { return s.r.id }

// Dropped returns how many events the subscription has dropped.
func (s *BatchSubscription[E]) Dropped() uint64 { return s.r.batchDropped() }

// Queued returns how many events wait in the queue.
func (s *BatchSubscription[E]) Queued() int { return s.r.queued() }
