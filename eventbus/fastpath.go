package eventbus

import (
	"runtime"
	"sync/atomic"
)

// The channel fast path.
//
// A typed or event.Bus Emit whose node delivers to plain channel
// subscriptions only (no batch lane, no sequenced, interface-typed or
// converting subscriber, not a stateful emitter) does not take the node's
// read lock. It announces itself on its emitter's slot instead: in is
// raised on entry and out on exit, two locked instructions on a cache line
// of the emitter's own, where the read lock and unlock and the type's
// emitted counter were three, on lines every emitter of the type shares.
// out doubles as the emitter's count of fast-path Emits, so the emitted
// counter needs no update of its own.
//
// Attach and detach (node.lockWrite) raise node.writers, take the node's
// lock for writing (which keeps out the slow path) and then wait until no
// slot has an Emit in flight (in == out). An Emit raises in and only then
// loads writers, and a writer raises writers and only then loads the
// slots (all sequentially consistent atomics): so either the Emit sees
// the writer and backs out (it lowers in again and takes the slow path,
// which queues on the node's lock behind the writer, as the read lock
// did), or the writer sees the Emit and waits for it. No channel is closed
// while a fast-path Emit may send on it, and the emitted count a writer
// reads under its lock is exact.
//
// The writer's wait does not make emitters spin against it: it checks the
// slots a few times (an Emit in flight takes about 100 ns), then parks on
// fastCond; an Emit leaving while writers is raised wakes it and yields its
// processor once (the writer was made runnable there, behind an emitter
// that may never block).

// emitSlot is one emitter's fast-path state, on a cache line of its own.
type emitSlot struct {
	_ [64]byte
	// in counts the Emits that entered the fast path (minus those that
	// backed out); out those that left it. in == out when none is in
	// flight; out is the emitter's fast-path Emit count.
	in, out atomic.Uint64
	// closed is the emitter's closed flag: an Emit checks it after
	// raising in, so that a slot pruned as closed (node.pruneSlots) never
	// has an Emit in flight that no writer waits for.
	closed *atomic.Bool
	_      [64 - 24]byte
}

// slotSet is a node's emitter slots, replaced whole (under node.slotMu).
type slotSet struct {
	list []*emitSlot
	// retired is the out count of the slots pruned from list (their
	// emitters closed, no Emit in flight); it never changes in a set.
	retired uint64
}

// fastEmitted counts the node's fast-path Emits: retired slots' and the
// live slots'. Reading one set makes it exact across a prune.
func (n *node) fastEmitted() uint64 {
	set := n.slots.Load()
	if set == nil {
		return 0
	}
	e := set.retired
	for _, s := range set.list {
		e += s.out.Load()
	}
	return e
}

// addSlot registers an emitter's slot with the node (before its first
// Emit).
func (n *node) addSlot(closed *atomic.Bool) *emitSlot {
	s := &emitSlot{closed: closed}
	n.slotMu.Lock()
	defer n.slotMu.Unlock()
	next := &slotSet{}
	if old := n.slots.Load(); old != nil {
		next.retired = old.retired
		next.list = append(next.list, old.list...)
	}
	next.list = append(next.list, s)
	n.slots.Store(next)
	return s
}

// pruneSlots drops the slots of closed emitters from the node's set,
// moving their counts into retired. Called by a writer after waitFast
// (no Emit in flight, and a closed emitter's Emits back out from now on).
func (n *node) pruneSlots() {
	old := n.slots.Load()
	if old == nil {
		return
	}
	closed := 0
	for _, s := range old.list {
		if s.closed.Load() {
			closed++
		}
	}
	if closed == 0 {
		return
	}
	n.slotMu.Lock()
	defer n.slotMu.Unlock()
	old = n.slots.Load()
	next := &slotSet{retired: old.retired, list: make([]*emitSlot, 0, len(old.list))}
	for _, s := range old.list {
		if s.closed.Load() && s.in.Load() == s.out.Load() {
			next.retired += s.out.Load()
			continue
		}
		next.list = append(next.list, s)
	}
	n.slots.Store(next)
}

// backOut undoes a slot's entry in beginEmit (the Emit did nothing on the
// fast path and counts nothing there).
func (s *emitSlot) backOut(n *node) {
	s.in.Add(^uint64(0))
	if n.writers.Load() != 0 {
		n.fastLeft()
	}
}

// leave ends a fast-path Emit, counting it.
func (s *emitSlot) leave(n *node) {
	s.out.Add(1)
	if n.writers.Load() != 0 {
		n.fastLeft()
	}
}

// fastLeft wakes a writer waiting in waitFast, and yields: the writer was
// made runnable on this processor.
func (n *node) fastLeft() {
	n.fastMu.Lock()
	n.fastCond.Broadcast()
	n.fastMu.Unlock()
	runtime.Gosched()
}

// waitFast waits until no fast-path Emit is in flight on the node. Called
// by a writer with writers raised and the node's lock held for writing.
func (n *node) waitFast() {
	set := n.slots.Load()
	if set == nil {
		return
	}
	for _, s := range set.list {
		if s.in.Load() == s.out.Load() {
			continue
		}
		for spin := 0; spin < 64 && s.in.Load() != s.out.Load(); spin++ {
		}
		if s.in.Load() == s.out.Load() {
			continue
		}
		n.fastMu.Lock()
		for s.in.Load() != s.out.Load() {
			n.fastCond.Wait()
		}
		n.fastMu.Unlock()
	}
}

// beginEmit starts an Emit on n by an emitter with slot s: on the fast
// path when the emitter is not stateful and the node's fanout allows it
// for the emitter's API (typedFast, or boxedFast when boxed) both before
// and after the slot's entry, otherwise under the node's read lock
// (Subscribe and Close, which take it for writing, and it prefers
// writers, then do not queue behind emitters in a loop). It returns the
// fanout the Emit delivers to and the slot it entered (nil on the slow
// path). The caller ends the Emit with fast.leave or n.mu.RUnlock
// (written out at the two call sites: as a function of its own the exit
// is not inlined, and the call cost the Emit 3%, BenchmarkPushFloor).
//
// The entry raises in and only then loads writers and the emitter's closed
// flag (see above); an Emit that sees either, or a fanout that changed
// since its first look (a writer ran in between), backs out.
func (n *node) beginEmit(s *emitSlot, stateful, boxed bool) (*fanout, *emitSlot) {
	if !stateful && n.fanp.Load().fast(boxed) {
		s.in.Add(1)
		if n.writers.Load() == 0 && !s.closed.Load() {
			if f := n.fanp.Load(); f.fast(boxed) {
				return f, s
			}
		}
		s.backOut(n)
	}
	n.mu.RLock()
	return n.fanp.Load(), nil
}

// fast reports whether an Emit through the typed API (boxed false) or the
// event.Bus API (boxed true) may take the fast path to f.
func (f *fanout) fast(boxed bool) bool {
	if boxed {
		return f.boxedFast
	}
	return f.typedFast
}
