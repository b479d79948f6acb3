package eventbus

import (
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
)

// node is the per-type hub: the sinks of one event type and its counters.
//
// Locking: mu is read-locked by an emitter for one whole Emit (except on
// the channel fast path, where the Emit announces itself on its emitter's
// slot instead: see fastpath.go) and write-locked to attach or detach a
// sink, which then also waits for the fast-path Emits in flight, so a
// sink's channel is never closed while an emitter may send on it. It is writer-preferring: once a
// Subscribe or Close waits for it, new Emits wait behind it, so churn is not
// starved by busy emitters. emu is the producer lock of the batch queues
// bound to the node, which share the node's lane: the lane's slow path
// takes it once for all of them, inside mu; its fast path takes only the
// lane's word (see lane). Attach and detach take mu, then emu. Emit works on
// one fanout snapshot (fanp), replaced whole on attach and detach. The
// counters are atomics so that metrics and introspection read them without
// taking mu.
type node struct {
	typ reflect.Type

	mu    sync.RWMutex
	sinks []sink // every attached sink, in attach order; guarded by mu
	// fanp is the emit path's view of sinks, replaced whole under mu and
	// emu: an Emit reads it under either.
	fanp atomic.Pointer[fanout]
	// writers counts attaches and detaches waiting for or holding mu for
	// writing. A lane's fast path, which does not take mu, steps aside
	// while it is not zero: the Emit takes mu for reading and so waits
	// behind the writer, which mu prefers, instead of running on.
	writers atomic.Int32
	emu     sync.Mutex
	// slots are the emitters' fast-path slots (see fastpath.go), replaced
	// whole under slotMu; fastMu and fastCond park a writer waiting for
	// fast-path Emits in flight.
	slots    atomic.Pointer[slotSet]
	slotMu   sync.Mutex
	fastMu   sync.Mutex
	fastCond sync.Cond
	// lane is the shared ring of the bound batch queues (a *lane[T] for the
	// node's type T), created with the first and kept for the node's life;
	// guarded by mu and emu. lanePub is its seq, whose value >> 2 counts
	// the Emits made since it exists (they do not touch emitted).
	lane    laneOps
	lanePub atomic.Pointer[atomic.Uint64]

	// satGen, satN and satBase describe the lane's members set aside as
	// full (lane.saturate), whose drops are not counted one by one: satN
	// members, the sum of their first dropped positions satBase; together
	// they have dropped satN*pub - satBase events not yet in dropped.
	// Written under emu; satGen is odd while they change.
	satGen, satN, satBase atomic.Uint64

	emitted atomic.Uint64 // slow-path Emit calls of a node without a lane, incremented under mu (fast-path ones: slots)
	dropped atomic.Uint64 // events dropped by any sink of this type
	killed  atomic.Uint64 // subscriptions killed while receiving this type

	emitters int // live emitters; guarded by Bus.mu
	// single: one of them is a single-producer emitter (then the only
	// one); written under Bus.mu.
	single atomic.Bool

	lastMu  sync.Mutex // guards last and hasLast
	last    any
	hasLast bool
}

// remember stores ev as the type's last event for stateful replay.
func (n *node) remember(ev any) {
	n.lastMu.Lock()
	n.last, n.hasLast = ev, true
	n.lastMu.Unlock()
}

// attach adds s to the node unless it already ended or is already attached,
// recording the emitted count as the baseline for its delivered count, and
// replays the last event of a stateful type into it (without blocking: a
// replay that does not fit is counted as dropped).
func (n *node) attach(s sink) {
	c := s.core()
	n.lockWrite()
	defer n.unlockWrite()
	n.emu.Lock()
	defer n.emu.Unlock()
	// The word too: fast-path Emits must not run between the baseline
	// below and the new fanout. (A lane created below is returned held.)
	held := n.lane
	if held != nil {
		held.lockWord()
	}
	defer func() {
		if held != nil {
			held.unlockWord()
		}
	}()
	if c.ended.Load() {
		return
	}
	for _, x := range n.sinks {
		if x == s {
			return
		}
	}
	// Recording the attachment first makes it visible to a concurrent
	// detach, which then waits for this lock before closing the channel
	// the replay below sends on; a detach that already began refuses it.
	if !c.attached(n, n.emittedTotal()) {
		return
	}
	n.sinks = append(n.sinks, s)
	if j, ok := s.(laneMember); ok && j.joinLane(n) && held == nil {
		held = n.lane
	}
	n.split()

	n.lastMu.Lock()
	last, ok := n.last, n.hasLast
	n.lastMu.Unlock()
	if ok && !s.tryDeliverAny(n, last, 0) {
		c.dropped.Add(1)
		n.dropped.Add(1)
	}
}

// detach removes s from the node.
func (n *node) detach(s sink) {
	n.lockWrite()
	defer n.unlockWrite()
	n.emu.Lock()
	defer n.emu.Unlock()
	if n.lane != nil {
		n.lane.lockWord()
		defer n.lane.unlockWord()
	}
	for i, x := range n.sinks {
		if x != s {
			continue
		}
		// Copy rather than shift in place: cheap, and keeps the old array
		// intact for nobody in particular, but makes the removal obvious.
		sinks := make([]sink, 0, len(n.sinks)-1)
		sinks = append(sinks, n.sinks[:i]...)
		n.sinks = append(sinks, n.sinks[i+1:]...)
		if j, ok := s.(laneMember); ok {
			j.leaveLane(n)
		}
		n.split()
		c := s.core()
		c.detached(n, n.emittedTotal())
		return
	}
}

// lockWrite takes mu for writing, announcing it to lane fast paths first.
// Then it waits for the fast-path Emits in flight (see fastpath.go).
func (n *node) lockWrite() {
	n.writers.Add(1)
	if p := n.lanePub.Load(); p != nil {
		p.Or(2) // the lane's dirty bit: see lane.dirty
	}
	n.mu.Lock()
	n.waitFast()
}

func (n *node) unlockWrite() {
	n.pruneSlots()
	n.mu.Unlock()
	n.writers.Add(-1)
}

// laneMember is a batch queue that may be bound to a node's lane.
type laneMember interface {
	// joinLane joins n's lane if the queue is bound to n, reporting
	// whether it did. Called with n.mu, n.emu and the lane's word held
	// (a lane it creates is returned with the word held).
	joinLane(n *node) bool
	// leaveLane leaves n's lane for good. Called with n.mu, n.emu and the
	// lane's word held.
	leaveLane(n *node)
}

// emittedTotal counts the node's Emits: those before its lane existed
// (emitted and the fast path's) and the lane's since.
func (n *node) emittedTotal() uint64 {
	e := n.emitted.Load() + n.fastEmitted()
	if p := n.lanePub.Load(); p != nil {
		e += p.Load() >> 2
	}
	return e
}

// droppedTotal counts the events of the node's type dropped by full
// subscriptions: those counted when they happened, and those of batch
// queues set aside as full in the node's lane, derived from its position
// (see lane.saturate). It takes no lock.
func (n *node) droppedTotal() uint64 {
	return n.satRead(func(p uint64) uint64 {
		return n.dropped.Load() + n.satN.Load()*p - n.satBase.Load()
	})
}

// satRead returns f(the lane's published position) read consistently
// with the counters a saturate or unsaturate changes (satGen is odd while
// one runs, under emu): it retries while one runs or ran meanwhile.
func (n *node) satRead(f func(pub uint64) uint64) uint64 {
	for i := 0; ; i++ {
		g := n.satGen.Load()
		if g&1 == 0 {
			var p uint64
			if lp := n.lanePub.Load(); lp != nil {
				p = lp.Load() >> 2
			}
			v := f(p)
			if n.satGen.Load() == g {
				return v
			}
		}
		if i >= 16 {
			runtime.Gosched()
		}
	}
}

// subscribers returns the number of attached sinks.
func (n *node) subscribers() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sinks)
}

// yieldEvery is how many Emits of a type may pass between two yields of
// one emitter.
const yieldEvery = 256

// yielder is an emitter's yield state (see maybeYield).
type yielder struct {
	// last is the node's Emit count (emittedTotal) when the emitter last
	// yielded.
	last atomic.Uint64
	// owedTo is set when an Emit handed an event to the parked reader of
	// this channel subscription (Drop, Kill or Notify) without yielding:
	// a yield may be owed to it (see maybeYield). owedAt is the node's
	// Emit count after that Emit, owedLen the subscription's queue length
	// right after the hand-off. The three are written one after the other
	// (an Emitter is safe for concurrent use, so two Emits may race here);
	// a mixed-up triple only moves a yield, it breaks nothing.
	owedTo  atomic.Pointer[subCore]
	owedAt  atomic.Uint64
	owedLen atomic.Int64
}

// maybeYield is called by an emitter, outside every lock, at the end of an
// Emit that readied another goroutine (it handed an event to a parked
// channel receiver or woke a parked batch reader). The readied goroutine
// waits on the emitter's processor until the emitter blocks or its time
// slice ends; an emitter that never blocks (Drop, Kill, Notify, a fast
// loop) would hold it up for whole slices, 10 ms each, and a Subscribe,
// Close or read in that goroutine with it.
//
// woke asks for a yield now (a hand-off to a Block subscriber's reader, a
// Block batch reader woken, a private batch queue's reader woken): the
// emitter yields unless it yielded fewer than yieldEvery Emits of the type
// ago, so a reader that keeps up and parks after every event costs the
// emitter one yield per yieldEvery events, not one per event.
//
// oweTo is a channel subscription under Drop, Kill or Notify whose parked
// reader this Emit handed an event to, or a batch queue under those
// policies whose parked reader it woke (l: its queue length right after;
// -1 asks maybeYield to read it when it records the debt). Its reader is
// the one that would wait for the time slice, but it needs the yield only
// if it does not run otherwise (another processor takes it, or the emitter
// parks between bursts), and a yield costs the emitter a trip through the
// scheduler (about a microsecond here, the top 1% of its latencies). So
// the hand-off only records a debt, which payDue settles at the start of a
// later Emit. Block subscribers' readers need no debt (their emitter parks
// as soon as the queue is full). The state is the emitter's own because
// the readied goroutine waits on the processor of the goroutine that
// readied it: another emitter's yield would not let it run.
func (y *yielder) maybeYield(n *node, woke bool, oweTo *subCore, l int) {
	e := n.emittedTotal()
	if woke {
		if last := y.last.Load(); e-last >= yieldEvery && y.last.CompareAndSwap(last, e) {
			y.owedTo.Store(nil) // a yield pays any debt
			runtime.Gosched()
			return
		}
	}
	if oweTo != nil && y.owedTo.Load() == nil {
		if l < 0 {
			l = oweTo.self.queued()
		}
		y.owedAt.Store(e)
		y.owedLen.Store(int64(l))
		y.owedTo.Store(oweTo)
	}
}

// payDue is called by an emitter, outside every lock, at the start of an
// Emit while it has a yield debt (see maybeYield). The debt falls due at
// the Emit that would overflow the owed reader's queue had the reader not
// run since the hand-off (cap-l Emits of the type later, at most
// yieldEvery): if the queue is shorter than that (the reader took
// something) or the subscription ended, the debt is void; otherwise the
// emitter yields before it delivers (as soon as maybeYield's rate limit
// allows), so a starved reader runs before it would lose an event to a
// full queue (Drop, Notify) or be killed for it. An emitter that emits in
// bursts and waits for its readers in between thus never yields for them:
// the debt of one burst's hand-off is void at the next burst's first Emit.
// (Checked at the end of the Emit that filled the queue instead, the debt
// was paid in every burst of a queue's length: the stalled-subscriber
// rows' slowest 0.4% of Emits, docs/eventbus.md, "Fifth pass".)
func (y *yielder) payDue(n *node) {
	owed := y.owedTo.Load()
	if owed == nil {
		return
	}
	e := n.emittedTotal()
	since := e - y.owedAt.Load()
	ol := uint64(max(y.owedLen.Load(), 0))
	capacity := uint64(owed.settings.bufSize)
	if grace := min(capacity-min(ol, capacity), yieldEvery); since < grace {
		return
	}
	if owed.ended.Load() || capacity > 0 && uint64(owed.self.queued()) < min(capacity, ol+since) {
		y.owedTo.CompareAndSwap(owed, nil) // its reader ran, or it is gone
		return
	}
	// The reader did not run: it needs the yield.
	if last := y.last.Load(); e-last >= yieldEvery && y.last.CompareAndSwap(last, e) {
		y.owedTo.Store(nil)
		runtime.Gosched()
	}
}
