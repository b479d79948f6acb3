package eventbus

import (
	"runtime"
	"sync/atomic"
)

// This file is the single-producer emitter's view of its lane
// (SingleProducer): what it caches to emit without taking the lane's
// word, how its slow path refreshes that cache, and EmitMany's fast path.
// Emit's fast path is written out in Emitter.Emit (typed.go).

// singleCache is what a single-producer emitter (SingleProducer) knows of
// its type's lane, to emit without taking the word (the fast paths in
// Emitter.Emit and trySingleMany). It is the emitter's own: only its
// Emits read and write it, one at a time (the caller's promise). seq is
// the value of the lane's seq that the emitter left there last, from its
// slow path (refresh, under the word, with everything below read then) or
// from its fast path. Every other holder of
// the word releases it with the dirty bit set, and only the emitter itself
// publishes events, so while the lane's seq still equals seq nothing that
// the cache describes has changed: no member joined, left, was moved out
// or grew the ring, and the fanout is the same.
type singleCache[T any] struct {
	ln   *lane[T]
	seq  uint64 // the lane's seq as this emitter left it
	room uint64 // roomUntil then
	// slots and mask are the ring's then (replaced whole when it grows).
	slots []T
	mask  uint64
	// ok: the fast path may run (the fanout is the lane alone, nobody is
	// private, nothing changed, the emitter is not stateful).
	ok bool
	// sn is the lane's satNotify then: the fast path calls their
	// Notifiers (lane.notifySat).
	sn []satNote[T]
	// members are the lane's members then (a copy of its shared list):
	// once room is used up, the fast path reads their cursors itself
	// (moreRoom). Their number, limits and policies cannot change while
	// seq is unchanged.
	members []*ringSink[T]
	// yieldAt is 1 + the position for which moreRoom yielded without
	// finding room; the slow path passes it on to the lane (lane.yieldAt),
	// so that its wait parks at once.
	yieldAt  uint64
	stateful bool // a stateful emitter never takes the fast path
	// closed and busClosed are the emitter's and the bus's closed flags:
	// the fast path does not load them (Close clears ok; Bus.Close sets
	// the lanes' dirty bits), refresh does.
	closed, busClosed *atomic.Bool
	// calls is written, without synchronisation, by every Emit, EmitMany
	// and Close: concurrent calls on a single-producer emitter, the
	// misuse it forbids, are a data race the race detector reports.
	calls uint64
}

// refresh releases the word after a single-producer emitter's slow-path
// Emit, without the dirty bit, and records in c what its fast path needs.
// Called with n.emu and the word held.
func (ln *lane[T]) refresh(c *singleCache[T]) {
	f := ln.n.fanp.Load()
	c.ln = ln
	c.ok = !c.stateful && f.laneOnly && f.lane == laneOps(ln) && !ln.changed && len(ln.private) == 0
	c.room = ln.roomUntil
	b := ln.buf.Load()
	c.slots, c.mask = b.slots, b.mask
	c.sn = ln.satNotify
	clear(c.members)
	c.members = append(c.members[:0], ln.shared...)
	c.seq = ln.tail << 2
	ln.seq.Store(c.seq)
	// A flag raised while the word was held had its dirty bit
	// overwritten by the store above; raised after, it set the bit again.
	// (The flags are raised before the bit is set, and these loads come
	// after the store in the atomics' single order.)
	if ln.want.Load() || ln.n.writers.Load() != 0 || ln.ending.Load() != 0 || ln.rejoin.Load() || c.closed.Load() || c.busClosed.Load() {
		c.ok = false
	}
}

// moreRoom is called by the single-producer fast path (Emitter.Emit) when
// position t is at the room it cached: it reads the members' cursors
// (membersRoom) and reports whether t has room now, caching the new room.
// When only Block members lack it, it yields once first, holding nothing
// (a reader readied on this processor runs and makes room; see
// lane.tryFast), and looks again if the lane's seq is still the emitter's.
// false sends the Emit to the slow path.
func (c *singleCache[T]) moreRoom(t uint64) bool {
	room, blockOnly := membersRoom(c.members, t)
	if room <= t && blockOnly {
		c.yieldAt = t + 1
		runtime.Gosched()
		if c.ln.seq.Load() != c.seq {
			return false
		}
		room, _ = membersRoom(c.members, t)
	}
	if room <= t {
		return false
	}
	c.room, c.yieldAt = room, 0
	return true
}

// trySingleMany is the fast path of a single-producer emitter's EmitMany
// (c.ok; Emitter.Emit has the one-event path written out): it writes as
// many of vs as every member has room for, as the emitter last saw them
// (at least one when n > 0), and publishes them with one compare-and-swap
// of seq from the value the emitter left there, the one locked
// instruction of the path. It succeeds only while nothing changed since
// (see singleCache; nobody waits for the word or the node, no member
// ended or asks to rejoin: each of these sets the dirty bit, see dirty).
// One that fails (an attach or detach took the word since the emitter's
// last call, or meanwhile) leaves slots written but unpublished, and the
// write harmed nothing whatever changed: nobody reads a slot at or past
// the published tail, only this emitter writes slots or moves the tail,
// a ring that grew keeps the old one's slots below the tail (the write
// went to the old one, which nobody reuses), and the room the emitter
// cached holds for the members it counted (their cursors only advance)
// and for any that joined since (at the tail). So seq is not loaded
// before the write: a goroutine paused between such a load and the write
// would meet every one of these cases anyway, and the load, of the word
// the last call's compare-and-swap wrote, waits for it. n is 0 when the
// caller must take the slow path; woke and owe are as wakeAll's.
func (ln *lane[T]) trySingleMany(c *singleCache[T], vs []T) (n int, woke bool, owe *subCore) {
	s := c.seq // not loaded: the compare-and-swap checks it (Emitter.Emit)
	t := s >> 2
	if t >= c.room {
		return 0, false, nil
	}
	k := min(uint64(len(vs)), c.room-t)
	from := t & c.mask
	w := uint64(copy(c.slots[from:], vs[:k]))
	copy(c.slots, vs[w:k])
	ns := (t + k) << 2
	if !ln.seq.CompareAndSwap(s, ns) {
		return 0, false, nil
	}
	c.seq = ns
	if ln.nwait.Load() > 0 {
		woke, owe = ln.wakeAll()
	}
	if c.sn != nil {
		ln.notifySat(c.sn, t, k, nil)
	}
	return int(k), woke, owe
}
