package eventbus

import (
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
)

// sink is one subscription's delivery end. The typed sinks are reached
// directly (no boxing) by typed emitters of their type; everything else goes
// through deliverAny.
type sink interface {
	core() *subCore
	// deliverAny delivers one event under its node's lock, applying the
	// subscription's policy.
	// It returns the subscription when the delivery killed it (the
	// caller detaches it once it released n's lock, see overflow).
	deliverAny(n *node, ev any, seq uint64) (killed *subCore)
	// tryDeliverAny delivers without blocking, under n's lock, reporting
	// success.
	tryDeliverAny(n *node, ev any, seq uint64) bool
	// init makes the channel once the settings are known, before the sink
	// is attached anywhere.
	init()
	closeChan()
	queued() int
}

// attachment is one node a subscription is attached to.
type attachment struct {
	n        *node
	baseline uint64 // n.emitted when attached
}

// subCore is the type-independent state of a subscription.
type subCore struct {
	bus      *Bus
	self     sink
	id       uint64
	settings subSettings
	types    []reflect.Type // as subscribed; interface types match by implementation
	wildcard bool

	done  chan struct{} // closed when the subscription ends
	ended atomic.Bool   // set once, before done is closed: no more deliveries
	err   error         // why it ended; written before done is closed

	dropped atomic.Uint64
	// abandoned counts events offered after the subscription ended but
	// before it was detached, and Block sends given up because it ended.
	abandoned atomic.Uint64

	detachOnce sync.Once

	// bound, when set (a batch queue bound to a node's lane), ends the
	// subscription under the lane's word, so that an Emit after an
	// observed end sees it; set before the subscription is attached.
	bound interface{ endBound(err error) bool }

	mu          sync.Mutex // guards the fields below
	attachments []attachment
	offered     uint64 // events offered by nodes already detached
	// detaching is set once detach took its snapshot of attachments: no
	// node may attach the subscription after that, since detach would
	// never remove it and its channel is about to close.
	detaching bool
}

func (c *subCore) core() *subCore { return c }

// end marks the subscription ended with err; only the first call wins.
func (c *subCore) end(err error) bool {
	if c.bound != nil {
		return c.bound.endBound(err)
	}
	return c.endHeld(err)
}

// endHeld is end for a caller that holds what bound needs. It raises the
// bus's ending count before the subscription is seen ended (and Bus.detach
// lowers it once the subscription left every node), so that an Emit that
// finds the count at zero may skip the ended checks (see Bus.ending).
func (c *subCore) endHeld(err error) bool {
	c.bus.ending.Add(1)
	if !c.ended.CompareAndSwap(false, true) {
		c.bus.ending.Add(-1)
		return false
	}
	c.err = err
	close(c.done)
	return true
}

// Err returns why the subscription ended (nil while live and after a plain
// Close). It is safe to call once the Out channel is closed.
func (c *subCore) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// overflow applies the policy when the channel is full. Called under n's
// lock, on the emitter's goroutine. A subscription it kills must be
// detached, which needs n's lock for writing: overflow leaves that to its
// caller by adding the subscription to kill (an Emit detaches what it
// killed once it released n's lock, see Bus.detachKilled).
//
// fast is the emitter's slot when the Emit runs on the fast path (no read
// lock of n to release if a notifier calls runtime.Goexit; the slot is
// left instead), nil otherwise.
func (c *subCore) overflow(n *node, kill *kills, fast *emitSlot) {
	c.overflowHeld(n, nil, kill, fast)
}

// overflowHeld is overflow for a caller that also holds held (a batch
// queue's producer lock), which a notifier's runtime.Goexit must release.
func (c *subCore) overflowHeld(n *node, held *sync.Mutex, kill *kills, fast *emitSlot) {
	switch c.settings.policy {
	case Drop:
		c.dropped.Add(1)
		n.dropped.Add(1)
	case Notify:
		d := c.dropped.Add(1)
		n.dropped.Add(1)
		c.notify(n, d, held, fast)
	case Kill:
		c.abandoned.Add(1) // the event that did not fit is not delivered
		if c.end(ErrKilled) {
			n.killed.Add(1)
			kill.add(c)
		}
	}
}

// notify calls the subscription's Notifier for one drop. It runs inside an
// Emit, with n's read lock and held (a batch queue's producer lock, when
// not nil) held and no defer in Emit (the hot path stays
// defer-free), so it must leave that lock in order however the callback
// ends:
//   - a panic is recovered, counted (Bus.NotifierPanics) and logged at drop
//     counts 1, 2, 4, 8, ... of the bus's panic total, so a notifier that
//     always panics costs O(log n) log lines; the Emit goes on;
//   - runtime.Goexit (t.FailNow in a test) cannot be stopped: the deferred
//     function releases n's lock itself before the goroutine ends, so
//     the type's attaches and detaches are not locked out forever. The
//     event is not offered to the subscriptions after this one.
func (c *subCore) notify(n *node, dropped uint64, held *sync.Mutex, fast *emitSlot) {
	nf := c.settings.notifier
	if nf == nil {
		return
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			c.notifierPanicked(r)
			return
		}
		// Neither returned nor panicked: runtime.Goexit. Emit will not
		// unlock; do it here.
		if held != nil {
			held.Unlock()
		}
		if fast != nil {
			fast.leave(n) // a fast-path Emit: no read lock, its slot
			return
		}
		n.mu.RUnlock()
	}()
	nf(DropNotice{Subscriber: c.settings.name, Type: n.typ, Dropped: dropped})
	returned = true
}

// notifyUnlocked is notify for an Emit that holds no lock (a lane's fast
// path calling the Notifier of a member set aside as full, see
// lane.notifySat): a panic is recovered and counted as in notify, and a
// runtime.Goexit has nothing to release.
func (c *subCore) notifyUnlocked(n *node, dropped uint64) {
	nf := c.settings.notifier
	if nf == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.notifierPanicked(r)
		}
	}()
	nf(DropNotice{Subscriber: c.settings.name, Type: n.typ, Dropped: dropped})
}

// notifierPanicked counts a Notifier's panic and logs it at panic counts
// 1, 2, 4, 8, ... of the bus's total.
func (c *subCore) notifierPanicked(r any) {
	if p := c.bus.notifierPanics.Add(1); p&(p-1) == 0 {
		c.bus.log.Error("eventbus: notifier panicked (logged at panic counts 1, 2, 4, ...)",
			"subscriber", c.settings.name, "panic", r, "panics", p)
	}
}

// attached records an attachment to n, unless detach already began; it
// reports whether n may attach the subscription. Called under n's write lock.
func (c *subCore) attached(n *node, emitted uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.detaching {
		return false
	}
	c.attachments = append(c.attachments, attachment{n: n, baseline: emitted})
	return true
}

func (c *subCore) detached(n *node, emitted uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, a := range c.attachments {
		if a.n == n {
			c.offered += emitted - a.baseline
			c.attachments = append(c.attachments[:i], c.attachments[i+1:]...)
			return
		}
	}
}

// beginDetach stops further attachments and returns the nodes the
// subscription is attached to.
func (c *subCore) beginDetach() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.detaching = true
	ns := make([]*node, len(c.attachments))
	for i, a := range c.attachments {
		ns[i] = a.n
	}
	return ns
}

// droppedTotal is the subscription's drop count, including what a batch
// queue dropped while its lane set it aside as full (derived, not
// counted per event; see lane.saturate).
func (c *subCore) droppedTotal() uint64 {
	if r, ok := c.self.(interface{ batchDropped() uint64 }); ok {
		return r.batchDropped()
	}
	return c.dropped.Load()
}

// delivered is the number of events offered to the subscription minus those
// it dropped or abandoned while ending. It costs Emit nothing: it is derived
// from the per-type emitted counters.
func (c *subCore) delivered() uint64 {
	c.mu.Lock()
	total := c.offered
	for _, a := range c.attachments {
		total += a.n.emittedTotal() - a.baseline
	}
	c.mu.Unlock()
	if d := c.droppedTotal() + c.abandoned.Load(); d < total {
		return total - d
	}
	return 0
}

// chanSink delivers values of type E on a chan E. E is the subscribed type
// T, or Sequenced[T] for sequenced subscriptions; convert turns an event of
// unknown type into an E (nil means a plain type assertion to E).
type chanSink[E any] struct {
	subCore
	ch      chan E
	convert func(ev any, seq uint64) (E, bool)
}

// send applies the policy to one value. Called under n's lock; kill
// collects the subscription if the policy kills it (see overflow).
func (s *chanSink[E]) send(n *node, v E, kill *kills) {
	if s.ended.Load() {
		s.abandoned.Add(1)
		return
	}
	select {
	case s.ch <- v:
	default:
		if s.settings.policy == Block {
			blockSend(s.ch, &s.subCore, v)
			return
		}
		s.overflow(n, kill, nil)
	}
}

func (s *chanSink[E]) toElem(ev any, seq uint64) (E, bool) {
	if s.convert != nil {
		return s.convert(ev, seq)
	}
	v, ok := ev.(E)
	return v, ok
}

func (s *chanSink[E]) deliverAny(n *node, ev any, seq uint64) *subCore {
	var k kills
	if v, ok := s.toElem(ev, seq); ok {
		s.send(n, v, &k)
	}
	return k.first
}

func (s *chanSink[E]) tryDeliverAny(_ *node, ev any, seq uint64) bool {
	v, ok := s.toElem(ev, seq)
	if !ok {
		return true
	}
	select {
	case s.ch <- v:
		return true
	default:
		return false
	}
}

func (s *chanSink[E]) init() {
	s.ch = make(chan E, s.settings.bufSize)
	if s.settings.sequenced && s.convert == nil {
		// An event.Bus-API subscription asked for sequence numbers.
		if f, ok := any(boxSequenced).(func(any, uint64) (E, bool)); ok {
			s.convert = f
		}
	}
}

// blockSend waits until ch has room for v or the subscription ends (then v
// is counted as abandoned): the slow path of a Block subscription whose
// channel is full. Waiting on c.done is what lets Close and Bus.Close end a
// Block subscription without a goroutine to drain it.
//
// It yields once before it parks: a reader readied on the emitter's
// processor (or one about to take a batch) then runs and makes room, and
// the send goes through without the two-channel select, which locks both
// channels to park and again to wake.
func blockSend[E any](ch chan E, c *subCore, v E) {
	runtime.Gosched()
	select {
	case ch <- v:
		return
	default:
	}
	select {
	case ch <- v:
	case <-c.done:
		c.abandoned.Add(1)
	}
}

func (s *chanSink[E]) closeChan()  { close(s.ch) }
func (s *chanSink[E]) queued() int { return len(s.ch) }

// Sequenced is an event with its bus-wide sequence number. Sequence numbers
// increase with every Emit of a type that has at least one sequenced
// subscriber, across all types and emitters, so a subscriber merging several
// channels restores the global emission order by sorting on Seq. A replayed
// stateful event carries Seq 0.
type Sequenced[T any] struct {
	// Seq is the bus-wide sequence number (0 for a replayed stateful
	// event).
	Seq uint64
	// Event is the event as emitted.
	Event T
}

// sequencer returns the converter of a Sequenced[T] sink.
func sequencer[T any]() func(any, uint64) (Sequenced[T], bool) {
	return func(ev any, seq uint64) (Sequenced[T], bool) {
		v, ok := ev.(T)
		return Sequenced[T]{Seq: seq, Event: v}, ok
	}
}

// boxSequenced is the converter of a sequenced event.Bus-API subscription.
func boxSequenced(ev any, seq uint64) (any, bool) {
	return Sequenced[any]{Seq: seq, Event: ev}, true
}

// kills collects the subscriptions one Emit killed, which the emitter
// detaches once it released the node's lock (Bus.detachKilled). The first
// takes no allocation; a second kill in the same Emit is rare.
type kills struct {
	first *subCore
	more  []*subCore
}

func (k *kills) add(c *subCore) {
	if k.first == nil {
		k.first = c
		return
	}
	k.more = append(k.more, c)
}

func (k *kills) addAll(o *kills) {
	k.add(o.first)
	for _, c := range o.more {
		k.add(c)
	}
}
