package eventbus

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// lane is a node's shared ring: the one queue of every batch subscription
// of exactly the node's type T (not sequenced, one type; "bound" queues).
// An Emit writes the event into one slot and publishes it with one atomic
// store of pub; each subscription reads from its own cursor (lhead), so at
// fan-out the emitter copies the event once, not once per subscriber, and
// does no work per subscriber while every subscriber has room.
//
// Locking, in this order: the node's mu, the node's emu, the word.
//   - The word is bit 0 of seq, whose bits from 2 up are the published
//     tail (pub); bit 1 is the dirty bit (see singleCache). It guards tail,
//     roomUntil, changed, the length of private and the slots. The fast path of an Emit takes the word and nothing else,
//     with one compare-and-swap, and releases it with the store that
//     publishes the new tail: one write of the event and two atomic
//     operations in all. It runs when the node's fanout holds nothing but
//     the lane, nobody is private, ending or asking to rejoin, every
//     member has room, the word is free and nobody waits for the node's
//     mu for writing (node.writers) or for the word (want).
//   - Otherwise the Emit takes the slow path: the node's mu for reading,
//     emu, then the word (waiting for a fast-path holder, which holds it
//     for a few instructions); it decides under all three, publishes, and
//     hands the event to the private members under mu and emu alone.
//   - emu guards the membership lists and the private rings. Attach and
//     detach take mu for writing, emu and the word, so that a fast path
//     never runs between a new member's baseline and the new fanout.
//   - A member's end takes no lock: it raises ending before it marks the
//     subscription ended, which sends every Emit to the slow path until
//     one has seen the end (see ending).
//   - A single-producer emitter (SingleProducer, the type's only emitter)
//     has a fast path of its own that does not take the word: it writes
//     the slot and publishes with one compare-and-swap of seq from the
//     value it last left there (in Emitter.Emit; trySingleMany for
//     EmitMany). Every other holder of the word
//     releases it with the dirty bit set, so that compare-and-swap fails
//     after anything changed, and the emitter takes the slow path, which
//     refreshes what it caches (singleCache).
//
// Per-subscriber policies: a subscription "has room" while
// tail-lhead < limit (its BufSize). The ring holds at least the largest
// limit of its members, so an Emit never overwrites a slot a member still
// has to read. roomUntil caches the smallest lhead+limit over the members,
// so the emitter looks at the cursors only once that many events have
// passed (the fast paths then re-read them themselves, membersRoom), or when
// the membership changed. A member without room:
//   - Block: the emitter yields once (on the fast path, holding nothing:
//     a reader readied on its processor runs and makes room), then waits
//     for it in the slow path (releasing emu and the word, keeping the
//     node's read lock) or for its end;
//   - Drop, Notify, Kill: it is moved out of the lane (evict): what it has
//     not read is copied into its private ring, and from then on it gets
//     events one copy each, like an unbound queue, where the policy
//     applies as usual. A member that ended is moved out the same way, so
//     that what it had queued stays readable and no longer pins the ring.
//     A private Drop member whose ring is full is then set aside
//     (saturate): Emits do nothing for it and may take the fast path
//     again; its drops are derived from the lane's position when read,
//     until its reader makes room and asks to be taken back.
//
// A private member whose reader took everything asks to rejoin (rejoin);
// the next Emit moves it back into the lane at the current tail.
//
// Readers park after announcing it (readerWaits and the waiters list, whose
// length nwait the emitter loads after publishing; both sides use
// sequentially consistent atomics, so one of them sees the other): a lost
// wake-up is impossible, and the emitter does nothing for readers that are
// not parked.
type lane[T any] struct {
	n   *node
	buf atomic.Pointer[laneBuf[T]] // replaced whole when a larger member joins

	tail      uint64 // the next position to write; seq>>2 is its published value (synced from seq when the word is taken)
	roomUntil uint64 // Emits need no look at the members while tail < roomUntil
	changed   bool   // membership or a member's state changed: recompute
	// nprivBlock counts live private Block members: while any exists,
	// every Emit checks their room before it writes (they never wait
	// inside the private loop).
	nprivBlock int
	// yieldAt is 1 + the position at which a fast path last found only
	// Block members without room (fastFull): its Emit yielded once
	// already, so the slow path's wait for that position parks at once
	// instead of yielding again (waitRoom).
	yieldAt uint64
	shared  []*ringSink[T] // members reading from the lane
	private []*ringSink[T] // members moved out (full, ended, replayed)
	// saturated are private Drop members whose ring is full, set aside:
	// an Emit does nothing for them (each drops every event, counted at
	// read time from the lane's position, see saturate), so a stalled
	// Drop subscriber costs the emitters nothing per event and does not
	// keep them off the fast path.
	saturated []*ringSink[T]
	// satNotify are the Notify members among saturated, with what their
	// Notifier calls need; replaced whole (never changed in place) under
	// the word, so an Emit's snapshot taken under the word stays valid
	// after it released it: every Emit calls their Notifiers once per
	// event it published, outside the word (notifySat).
	satNotify []satNote[T]

	_ [64]byte
	// seq is the word (bit 0: held), the dirty bit (bit 1: the word was
	// released by somebody other than a single-producer emitter's own
	// Emit, see singleCache) and the published tail (seq>>2), which also
	// counts the node's Emits since the lane exists.
	seq    atomic.Uint64
	_      [56]byte
	nwait  atomic.Int32 // len(waiters)
	rejoin atomic.Bool  // some private member drained its queue
	// ending counts members whose end an Emit has not handled yet:
	// subCore.end adds one before it marks the subscription ended, and
	// prepare (or leave) takes it back once it saw the end. While it is
	// not zero every Emit takes the slow path, so the Emit after an
	// observed end never delivers to the ended member, and end takes no
	// lock (a Close must not queue behind emitters in a loop).
	ending atomic.Int32
	// want is set by a holder of emu waiting for the word: fast-path
	// Emits leave the word to it (they take the slow path, which waits on
	// emu) instead of racing it, so that attach, detach and the slow path
	// are not starved by emitters in a loop.
	want atomic.Bool
	_    [56]byte

	wmu     sync.Mutex     // guards waiters
	waiters []*ringSink[T] // readers that announced they park
}

// satNote is a saturated Notify member: it drops every event from lane
// position from on, and had dropped base events before.
type satNote[T any] struct {
	r          *ringSink[T]
	from, base uint64
}

// notifySat calls the Notifiers of the saturated Notify members of sn (a
// snapshot of satNotify taken under the word) for the k events an Emit
// published from position t, with their running drop counts. held is the
// lock the caller holds (emu on the slow path, with the node's read lock;
// nil on a fast path, which holds none).
func (ln *lane[T]) notifySat(sn []satNote[T], t, k uint64, held *sync.Mutex) {
	for _, e := range sn {
		for p := t; p < t+k; p++ {
			d := e.base + p - e.from + 1
			if held != nil {
				e.r.notify(ln.n, d, held, nil)
			} else {
				e.r.notifyUnlocked(ln.n, d)
			}
		}
	}
}

// laneBuf is a lane's slots: a power-of-two ring indexed by position.
type laneBuf[T any] struct {
	slots []T
	mask  uint64
}

// laneOps is the type-independent view of a lane, for the node and for
// emitters that do not know T.
type laneOps interface {
	// emitAny emits ev (of the lane's type) into the lane. Called with
	// the node's read lock and n.emu held. woke and owe are as wakeAll's.
	// It returns the private members it killed (nil when none; see
	// subCore.overflow).
	// closed is the emitting emitter's closed flag (see emit).
	emitAny(ev any, closed *atomic.Bool) (woke bool, owe *subCore, killed *kills)
	// count is the lane's seq: seq>>2 is the number of Emits it took.
	count() *atomic.Uint64
	// lockWord and unlockWord take and release the word (emu held).
	lockWord()
	unlockWord()
}

func newLane[T any](n *node, size uint64) *lane[T] {
	ln := &lane[T]{n: n, roomUntil: math.MaxUint64}
	ln.buf.Store(&laneBuf[T]{slots: make([]T, size), mask: size - 1})
	return ln
}

func (ln *lane[T]) count() *atomic.Uint64 { return &ln.seq }

// pub is the published tail: positions below it may be read.
func (ln *lane[T]) pub() uint64 { return ln.seq.Load() >> 2 }

// lockWord takes the word; the caller holds emu. The only other holders
// are fast-path Emits, which hold it for a few instructions and, once want
// is set, do not take it again: spin (yielding if a holder was descheduled).
// It sets tail from the published position (a single-producer emitter's
// fast path publishes without writing tail).
func (ln *lane[T]) lockWord() {
	if s := ln.seq.Load(); s&1 == 0 && ln.seq.CompareAndSwap(s, s|1) {
		ln.tail = s >> 2
		return
	}
	ln.want.Store(true)
	ln.dirty()
	for i := 0; ; i++ {
		if s := ln.seq.Load(); s&1 == 0 && ln.seq.CompareAndSwap(s, s|1) {
			ln.tail = s >> 2
			ln.want.Store(false)
			return
		}
		if i >= 64 {
			runtime.Gosched()
		}
	}
}

// unlockWord releases the word, publishing tail, with the dirty bit set:
// a single-producer emitter's fast path must not run on what it cached
// before (see singleCache). Every release of the word but that emitter's
// own sets it (the fast paths of other emitters too).
func (ln *lane[T]) unlockWord() { ln.seq.Store(ln.tail<<2 | 2) }

// tryFast is the fast path of an Emit of v by an emitter that saw fanout f
// holding nothing but the lane: it takes the word alone and, if nothing
// needs a decision (f is still the node's fanout, nobody is private or
// asks to rejoin, every member has room, the emitter is not closed: see
// emit), writes v, publishes it and wakes parked readers (woke and owe are
// as wakeAll's). Once the cached room is used up it looks at the members'
// cursors itself (membersRoom) rather than leaving that to the slow path. It
// returns fastOK when it emitted v, fastFull when only Block members
// without room keep it from doing so (the caller yields once and tries
// again before it takes the slow path, which parks: see Emitter.Emit),
// and fastSlow when the caller must take the slow path.
func (ln *lane[T]) tryFast(f *fanout, v T, closed *atomic.Bool) (st fastStatus, woke bool, owe *subCore) {
	s := ln.seq.Load()
	if s&1 != 0 || ln.want.Load() || ln.n.writers.Load() != 0 || !ln.seq.CompareAndSwap(s, s|1) {
		return fastSlow, false, nil // busy: the slow path waits its turn on emu
	}
	t := s >> 2
	if ln.changed || len(ln.private) > 0 || ln.ending.Load() != 0 || ln.rejoin.Load() || ln.n.fanp.Load() != f || closed.Load() {
		ln.seq.Store(s | 2)
		return fastSlow, false, nil
	}
	if t >= ln.roomUntil {
		room, blockOnly := membersRoom(ln.shared, t)
		if room <= t {
			st = fastSlow
			if blockOnly {
				st = fastFull
				ln.yieldAt = t + 1 // see waitRoom
			}
			ln.seq.Store(s | 2)
			return st, false, nil
		}
		ln.roomUntil = room
	}
	if len(ln.shared) > 0 {
		b := ln.buf.Load()
		b.slots[t&b.mask] = v
	}
	sn := ln.satNotify
	ln.tail = t + 1
	ln.seq.Store(ln.tail<<2 | 2)
	if ln.nwait.Load() > 0 {
		woke, owe = ln.wakeAll()
	}
	if sn != nil {
		ln.notifySat(sn, t, 1, nil)
	}
	return fastOK, woke, owe
}

// fastStatus is what a lane fast path did (tryFast).
type fastStatus uint8

const (
	// fastOK: the event is emitted.
	fastOK fastStatus = iota
	// fastSlow: the caller must take the slow path.
	fastSlow
	// fastFull: nothing was emitted because Block members have no room
	// (and no member of another policy lacks it); the caller yields once
	// and tries again, then takes the slow path, which waits.
	fastFull
)

// membersRoom returns the smallest lhead+limit over the members ms (a
// lane's members reading from it: roomUntil's value now; MaxUint64 without
// members) and whether every member without room at position t is a
// Block member (false when a Drop, Notify or Kill member lacks it: only
// the slow path can move it out). The lane fast paths call it with the
// word held, on a lane with no private or ended member; the
// single-producer emitter with its cached copy of the members while the
// lane's seq is its own. The cursors only grow meanwhile, so the room it
// returns stays valid.
func membersRoom[T any](ms []*ringSink[T], t uint64) (room uint64, blockOnly bool) {
	room, blockOnly = math.MaxUint64, true
	for _, r := range ms {
		h := r.lhead.Load()
		if t-h >= r.limit && r.settings.policy != Block {
			blockOnly = false
		}
		room = min(room, h+r.limit)
	}
	return room, blockOnly
}

// tryFastMany is tryFast for several events: it takes the word once and
// writes and publishes, with one store, as many of vs as every member has
// room for (at least one when it returns n > 0). n is 0 when the caller
// must take the slow path for vs[0]. woke and owe are as wakeAll's.
func (ln *lane[T]) tryFastMany(f *fanout, vs []T, closed *atomic.Bool) (n int, woke bool, owe *subCore) {
	s := ln.seq.Load()
	if s&1 != 0 || ln.want.Load() || ln.n.writers.Load() != 0 || !ln.seq.CompareAndSwap(s, s|1) {
		return 0, false, nil
	}
	ln.tail = s >> 2
	if ln.changed || len(ln.private) > 0 || ln.ending.Load() != 0 || ln.rejoin.Load() || ln.n.fanp.Load() != f || closed.Load() {
		ln.seq.Store(s | 2)
		return 0, false, nil
	}
	if ln.tail >= ln.roomUntil {
		if room, _ := membersRoom(ln.shared, ln.tail); room > ln.tail {
			ln.roomUntil = room
		} else {
			ln.seq.Store(s | 2)
			return 0, false, nil // Emit of the first event yields or waits
		}
	}
	// Positions below roomUntil are free in every member's view, and the
	// ring holds at least every member's limit: nothing unread is
	// overwritten.
	k := min(uint64(len(vs)), ln.roomUntil-ln.tail)
	if len(ln.shared) > 0 {
		b := ln.buf.Load()
		from := ln.tail & b.mask
		c := uint64(copy(b.slots[from:], vs[:k]))
		copy(b.slots, vs[c:k])
	}
	t := ln.tail
	sn := ln.satNotify
	ln.tail += k
	ln.seq.Store(ln.tail<<2 | 2)
	if ln.nwait.Load() > 0 {
		woke, owe = ln.wakeAll()
	}
	if sn != nil {
		ln.notifySat(sn, t, k, nil)
	}
	return int(k), woke, owe
}

func (ln *lane[T]) emitAny(ev any, closed *atomic.Bool) (bool, *subCore, *kills) {
	v, _ := ev.(T)
	var k kills
	woke, owe := ln.emit(v, &k, nil, closed)
	if k.first == nil {
		return woke, owe, nil
	}
	kp := new(kills) // a kill: rare, allocating is fine
	*kp = k
	return woke, owe, kp
}

// emit is the slow path: it writes v into the lane and hands it to the
// private members. Called with the node's read lock and n.emu held (emu is
// released and re-taken while a Block member makes the Emit wait);
// reports what it readied: woke for a private member's reader or a Block
// member's (owe as wakeAll's). kill collects the private
// members the Kill policy ends (see subCore.overflow). c is the cache of
// the single-producer emitter making this Emit (nil for others): it is
// refreshed before the word is released (see singleCache). closed is the
// emitting emitter's closed flag: once the type has a single-producer
// emitter, whose fast path writes a slot before it takes the word, an Emit
// of an emitter closed meanwhile (an Emit racing its own emitter's Close,
// the only way two producers can meet then) writes nothing.
func (ln *lane[T]) emit(v T, kill *kills, c *singleCache[T], closed *atomic.Bool) (woke bool, owe *subCore) {
	ln.lockWord()
	if c != nil && c.yieldAt != 0 {
		ln.yieldAt, c.yieldAt = c.yieldAt, 0 // its fast path yielded (moreRoom)
	}
	if c == nil && closed != nil && closed.Load() && ln.n.single.Load() {
		ln.unlockWord()
		return false, nil
	}
	for ln.changed || ln.tail >= ln.roomUntil || ln.nprivBlock > 0 || ln.ending.Load() != 0 || ln.rejoin.Load() {
		if ln.prepare() {
			break
		}
	}
	// Full Drop and Notify members are set aside (under the word: the
	// fast path reads the length of private).
	for i := 0; i < len(ln.private); {
		r := ln.private[i]
		if (r.settings.policy == Drop || r.settings.policy == Notify) && !r.ended.Load() && r.tail-r.head.Load() >= r.limit && ln.saturate(r) {
			ln.private = deleteAt(ln.private, i)
			continue
		}
		i++
	}
	if len(ln.shared) > 0 {
		b := ln.buf.Load()
		b.slots[ln.tail&b.mask] = v
	}
	sn, at := ln.satNotify, ln.tail
	ln.tail++
	if c != nil {
		ln.refresh(c) // publishes v
	} else {
		ln.unlockWord() // publishes v
	}
	for _, r := range ln.private {
		if r.ended.Load() {
			if r.gaveUp > 0 {
				r.gaveUp-- // counted when the emitter gave up waiting on it
			} else {
				r.abandoned.Add(1)
			}
			continue
		}
		woke = r.push(ln.n, v, kill) || woke
	}
	if ln.nwait.Load() > 0 {
		var w bool
		w, owe = ln.wakeAll()
		woke = w || woke
	}
	if sn != nil {
		ln.notifySat(sn, at, 1, &ln.n.emu)
	}
	return woke, owe
}

// dirty sets seq's dirty bit without taking the word, after raising one of
// the flags a single-producer emitter's fast path must not miss (want,
// ending, rejoin, the node's writers): its compare-and-swap from the clean
// value it left then fails, and it takes the slow path, which handles the
// flag. (Other emitters load the flags themselves.)
func (ln *lane[T]) dirty() { ln.seq.Or(2) }

// prepare (emu and the word held) makes room in the lane for one more
// event: it moves drained
// private members back in, ended members and full Drop/Notify/Kill members
// out, and recomputes roomUntil. When a Block member (in the lane or
// private) is full it waits, with emu released, until that member has room
// or ends, and returns false: the caller calls it again.
func (ln *lane[T]) prepare() bool {
	ln.changed = false
	for i := 0; i < len(ln.saturated); {
		r := ln.saturated[i]
		if r.ended.Load() || r.tail-r.head.Load() < r.limit {
			ln.unsaturate(i) // back to private: it has room, or it ended
			continue
		}
		i++
	}
	if ln.rejoin.Load() {
		ln.rejoin.Store(false)
		for i := 0; i < len(ln.private); {
			r := ln.private[i]
			if !r.ended.Load() && r.pub.Load() == r.head.Load() {
				ln.private = deleteAt(ln.private, i)
				ln.join(r)
				continue
			}
			i++
		}
	}
	room := uint64(math.MaxUint64)
	for i := 0; i < len(ln.shared); {
		r := ln.shared[i]
		if r.ended.Load() {
			ln.sawEnd(r)
			ln.evict(i)
			continue
		}
		h := r.lhead.Load()
		if ln.tail-h >= r.limit {
			if r.settings.policy != Block {
				ln.evict(i) // the private ring applies the policy
				continue
			}
			if !ln.waitRoom(r, func() bool { return ln.tail-r.lhead.Load() < r.limit }) {
				return false
			}
			h = r.lhead.Load()
		}
		if r.writersWait.Load() > 0 && ln.tail+1-h < r.limit {
			r.signalSpace() // pass the wake-up on to the next parked emitter
		}
		room = min(room, h+r.limit)
		i++
	}
	nb := 0
	for _, r := range ln.private {
		if r.ended.Load() {
			ln.sawEnd(r)
			continue
		}
		if r.settings.policy != Block {
			continue
		}
		if r.tail-r.head.Load() >= r.limit {
			if !ln.waitRoom(r, func() bool { return r.tail-r.head.Load() < r.limit }) {
				return false
			}
		}
		nb++
	}
	ln.nprivBlock = nb
	ln.roomUntil = room
	return true
}

// waitRoom parks the emitter until r has room (hasRoom) or ends. It returns
// true at once when r has room after announcing the wait; otherwise it
// waits with emu released and returns false (the lane may have changed
// meanwhile). An emitter that gives up because r ended counts the event as
// abandoned once (gaveUp keeps the private loop from counting it again).
func (ln *lane[T]) waitRoom(r *ringSink[T], hasRoom func() bool) bool {
	r.writersWait.Add(1)
	if hasRoom() { // the reader made room meanwhile
		r.writersWait.Add(-1)
		return true
	}
	n := ln.n
	// Every other wait yields instead of parking, to let a reader that
	// shares this processor run first: a reader that keeps up makes room
	// with its next batch, and a yield is cheaper than a park and a wake.
	// An Emit whose fast path already yielded for this position
	// (fastFull) parks.
	yield := !r.spun
	if ln.yieldAt == ln.tail+1 {
		yield, ln.yieldAt = false, 0
	}
	r.spun = yield
	ln.unlockWord()
	n.emu.Unlock()
	if yield {
		runtime.Gosched()
	} else {
		select {
		case <-r.space:
		case <-r.done:
		}
	}
	n.emu.Lock()
	ln.lockWord()
	r.writersWait.Add(-1)
	if r.ended.Load() {
		r.abandoned.Add(1)
		r.gaveUp++
	}
	ln.changed = true
	return false
}

// sawEnd records that an Emit has seen r's end (see ending). Called with
// n.emu and the word held.
func (ln *lane[T]) sawEnd(r *ringSink[T]) {
	if !r.endSeen {
		r.endSeen = true
		ln.ending.Add(-1)
	}
}

// join makes r a lane member reading from the current tail (its private
// ring is empty). Called with n.emu and the word held.
func (ln *lane[T]) join(r *ringSink[T]) {
	if b := ln.buf.Load(); uint64(len(b.slots)) < r.limit {
		ln.grow(r.limit)
	}
	r.cmu.Lock()
	r.lhead.Store(ln.tail)
	r.shared.Store(true)
	r.cmu.Unlock()
	ln.shared = append(ln.shared, r)
	ln.changed = true
}

// grow replaces the ring with one of at least size slots holding the
// positions some member has still to read. Readers still copying from the
// old ring read positions that the old ring holds and nobody writes any
// more.
//
// Only those positions are copied: a single-producer emitter's fast path
// (singleCache) writes its next slots before its compare-and-swap finds
// the word taken, so while grow runs it may be overwriting the slots of
// positions every member has read (its room ends at the smallest
// lhead+limit, and the ring holds at least limit slots). Copying from the
// smallest lhead avoids those slots; nobody reads them again.
func (ln *lane[T]) grow(size uint64) {
	old := ln.buf.Load()
	s := uint64(len(old.slots))
	for s < size {
		s <<= 1
	}
	nb := &laneBuf[T]{slots: make([]T, s), mask: s - 1}
	from := ln.tail
	for _, r := range ln.shared {
		from = min(from, r.lhead.Load())
	}
	for p := from; p < ln.tail; p++ {
		nb.slots[p&nb.mask] = old.slots[p&old.mask]
	}
	ln.buf.Store(nb)
}

// evict moves ln.shared[i] out of the lane: what it has not read is copied
// into its private ring (it has room: at most limit events), and it reads
// from there from now on. Called with n.emu and the word held; waits for a
// copy the reader may be making from the lane (cmu).
func (ln *lane[T]) evict(i int) {
	r := ln.shared[i]
	ln.shared = deleteAt(ln.shared, i)
	ln.private = append(ln.private, r)
	r.cmu.Lock()
	b := ln.buf.Load()
	if r.lhead.Load() < ln.tail {
		r.ensureSlots()
	}
	for p := r.lhead.Load(); p < ln.tail; p++ {
		r.slots[r.tail&r.mask] = b.slots[p&b.mask]
		r.tail++
	}
	r.pub.Store(r.tail)
	r.shared.Store(false)
	r.cmu.Unlock()
	ln.changed = true
}

// saturate sets the private Drop or Notify member r, whose ring is full,
// aside (a Notify member is also listed in satNotify, whose Notifiers every
// Emit calls):
// the event the Emit is about to write (position tail) is its first drop,
// and so is every later one until it has room again. Nothing is counted
// per event: the count is derived from the lane's position when read
// (node.satRead). The reader publishes its head before it loads satFrom,
// and saturate stores satFrom before it re-checks the room, so either the
// reader asks to be taken back (rejoin) or saturate sees the room and
// declines (reporting false: the caller pushes as usual). Called by emit
// with n.emu and the word held, before it writes the event.
func (ln *lane[T]) saturate(r *ringSink[T]) bool {
	n := ln.n
	n.satGen.Add(1) // odd: readers of the derived counts retry
	r.satFrom.Store(ln.tail + 1)
	if r.tail-r.head.Load() < r.limit {
		r.satFrom.Store(0)
		n.satGen.Add(1)
		return false
	}
	n.satN.Add(1)
	n.satBase.Add(ln.tail)
	n.satGen.Add(1)
	ln.saturated = append(ln.saturated, r)
	if r.settings.policy == Notify {
		sn := make([]satNote[T], len(ln.satNotify), len(ln.satNotify)+1)
		copy(sn, ln.satNotify)
		ln.satNotify = append(sn, satNote[T]{r: r, from: ln.tail, base: r.dropped.Load()})
	}
	return true
}

// unsaturate moves ln.saturated[i] back to the private members, counting
// the events it dropped while set aside. Called with n.emu and the word
// held (tail is then the published position).
func (ln *lane[T]) unsaturate(i int) {
	r := ln.saturated[i]
	ln.saturated = deleteAt(ln.saturated, i)
	n := ln.n
	from := r.satFrom.Load() - 1
	n.satGen.Add(1)
	r.dropped.Add(ln.tail - from)
	n.dropped.Add(ln.tail - from)
	n.satN.Add(^uint64(0)) // -1
	n.satBase.Add(-from)   // two's complement: subtracts from
	r.satFrom.Store(0)
	n.satGen.Add(1)
	ln.private = append(ln.private, r)
	ln.changed = true
	if r.settings.policy == Notify {
		var sn []satNote[T]
		for _, e := range ln.satNotify {
			if e.r != r {
				sn = append(sn, e)
			}
		}
		ln.satNotify = sn
	}
}

// leave removes r from the lane for good (detach), keeping what it has not
// read in its private ring. Called with n.mu, n.emu and the word held.
func (ln *lane[T]) leave(r *ringSink[T]) {
	for i, x := range ln.saturated {
		if x == r {
			ln.unsaturate(i)
			break
		}
	}
	for i, x := range ln.shared {
		if x == r {
			ln.evict(i)
			break
		}
	}
	for i, x := range ln.private {
		if x == r {
			ln.private = deleteAt(ln.private, i)
			break
		}
	}
	if r.ended.Load() {
		ln.sawEnd(r)
	}
	ln.changed = true
}

// replay puts v into r's queue alone (a stateful emitter's last event, for
// a new member): r moves to its private ring and rejoins the lane once its
// reader took v. It reports false if r had no room. Called with n.emu and
// the word held.
func (ln *lane[T]) replay(r *ringSink[T], v T) bool {
	for i, x := range ln.shared {
		if x == r {
			ln.evict(i)
			break
		}
	}
	if r.tail-r.head.Load() >= r.limit {
		return false
	}
	r.ensureSlots()
	r.slots[r.tail&r.mask] = v
	r.tail++
	r.pub.Store(r.tail)
	return true
}

// addWaiter records that r's reader is about to park. The reader re-checks
// its queue afterwards; the emitter loads nwait after publishing.
func (ln *lane[T]) addWaiter(r *ringSink[T]) {
	ln.wmu.Lock()
	ln.waiters = append(ln.waiters, r)
	ln.nwait.Store(int32(len(ln.waiters)))
	ln.wmu.Unlock()
}

// wakeAll wakes every reader that announced it parks. woke reports that
// it readied a Block member's reader: the emitter should yield now (see
// yielder.maybeYield). owe is a Drop, Kill or Notify member whose reader
// it readied (the first): the emitter records a yield debt to it instead,
// paid only if that reader has not run by the time its queue would be
// full, as for a hand-off to a parked channel reader. A yield right away
// at every wake-up (at most one per yieldEvery Emits) was the top 0.4% of
// the emitter's latencies in the stalled-subscriber rows, about 1-2 µs
// each (docs/eventbus.md, "Fifth pass").
func (ln *lane[T]) wakeAll() (woke bool, owe *subCore) {
	ln.wmu.Lock()
	for i, r := range ln.waiters {
		if r.readerWaits.Load() && r.readerWaits.CompareAndSwap(true, false) {
			select {
			case r.wake <- struct{}{}:
			default:
			}
			if r.settings.policy == Block {
				woke = true
			} else if owe == nil {
				owe = &r.subCore
			}
		}
		ln.waiters[i] = nil
	}
	ln.waiters = ln.waiters[:0]
	ln.nwait.Store(0)
	ln.wmu.Unlock()
	return woke, owe
}

// deleteAt removes s[i], keeping the order of the rest.
func deleteAt[S ~[]E, E any](s S, i int) S {
	copy(s[i:], s[i+1:])
	var zero E
	s[len(s)-1] = zero
	return s[:len(s)-1]
}
