package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// orderedSet is a set with deterministic iteration order (insertion order,
// perturbed only by deterministic swap-removals), so that no output of the
// automaton depends on Go's randomised map iteration.
//
// Most sets are small (a topic's mesh and subscribers, a peer's topics), so
// a set of at most indexFrom items has no index and has/remove scan items;
// the index is built when a set grows past that and dropped when it empties
// (clear keeps it). Add, remove and has are O(1) with the index, O(n) for
// n <= indexFrom without.
type orderedSet[K comparable] struct {
	idx   map[K]int // nil while the set has never held more than indexFrom items since it last emptied
	items []K
}

// indexFrom is the size above which an orderedSet keeps an index: a scan
// of 16 items (a mesh is 6-12 peers) costs less than a map lookup of a
// string key, and an index costs about 250 bytes or more even for one item.
const indexFrom = 16

func (s *orderedSet[K]) find(k K) int {
	if s.idx != nil {
		if i, ok := s.idx[k]; ok {
			return i
		}
		return -1
	}
	for i, x := range s.items {
		if x == k {
			return i
		}
	}
	return -1
}

func (s *orderedSet[K]) has(k K) bool { return s.find(k) >= 0 }

func (s *orderedSet[K]) len() int { return len(s.items) }

// add inserts k and reports whether it was absent.
func (s *orderedSet[K]) add(k K) bool {
	if s.find(k) >= 0 {
		return false
	}
	if s.idx == nil && len(s.items) >= indexFrom {
		s.idx = make(map[K]int, len(s.items)+1)
		for i, x := range s.items {
			s.idx[x] = i
		}
	}
	if s.idx != nil {
		s.idx[k] = len(s.items)
	}
	s.items = append(s.items, k)
	return true
}

// remove deletes k and reports whether it was present.
func (s *orderedSet[K]) remove(k K) bool {
	i := s.find(k)
	if i < 0 {
		return false
	}
	last := len(s.items) - 1
	if i != last {
		s.items[i] = s.items[last]
		if s.idx != nil {
			s.idx[s.items[i]] = i
		}
	}
	var zero K
	s.items[last] = zero
	s.items = s.items[:last]
	if s.idx != nil {
		delete(s.idx, k)
		if last == 0 {
			s.idx = nil // a set that grew large once and emptied starts small again
		}
	}
	return true
}

func (s *orderedSet[K]) clear() {
	clear(s.items)
	s.items = s.items[:0]
	clear(s.idx)
}

// fifo is a queue backed by a slice that is compacted when half consumed.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

func (q *fifo[T]) len() int { return len(q.items) - q.head }

func (q *fifo[T]) peek() (T, bool) {
	if q.head >= len(q.items) {
		var zero T
		return zero, false
	}
	return q.items[q.head], true
}

func (q *fifo[T]) pop() {
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	} else if q.head > 64 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}

// seenCache remembers message ids until an expiry time, each with the
// fingerprint of the copy that was accepted under it (the first copy that
// passed the signature check, or the local node's own message). It is the
// router's one seen-cache: the driver keeps no copy of it. Entries are
// queued in insertion order; since now never goes backwards in a
// well-behaved driver, the queue is in expiry order. If now does go
// backwards, entries merely live a little longer: the bound on the count
// still holds.
type seenCache struct {
	m map[string]seenVal
	q fifo[seenEntry]
	// base is the first expiry added: expiries are kept as nanoseconds
	// after it (8 bytes, where a time.Time takes 24, in every entry and
	// queue slot), computed with Time.Sub, so they compare as the times
	// do.
	base time.Time
}

type seenVal struct {
	expires int64 // after base
	fp      wire.Fingerprint
}

type seenEntry struct {
	id      string
	expires int64 // after base
}

func (c *seenCache) init() { c.m = make(map[string]seenVal) }

func (c *seenCache) has(id string) bool { _, ok := c.m[id]; return ok }

// get returns id's entry, if seen.
func (c *seenCache) get(id string) (seenVal, bool) { v, ok := c.m[id]; return v, ok }

func (c *seenCache) len() int { return len(c.m) }

func (c *seenCache) queueLen() int { return c.q.len() }

// add records id, accepted as the copy with fingerprint fp, until expires,
// evicting the oldest entries beyond limit.
func (c *seenCache) add(id string, fp wire.Fingerprint, expires time.Time, limit int) {
	if c.base.IsZero() {
		c.base = expires
	}
	exp := int64(expires.Sub(c.base))
	for len(c.m) >= limit {
		e, ok := c.q.peek()
		if !ok {
			break
		}
		c.q.pop()
		if v, ok := c.m[e.id]; ok && v.expires == e.expires {
			delete(c.m, e.id)
		}
	}
	c.m[id] = seenVal{expires: exp, fp: fp}
	c.q.push(seenEntry{id: id, expires: exp})
}

// expire forgets entries whose expiry is not after now.
func (c *seenCache) expire(now time.Time) {
	if c.base.IsZero() {
		return // nothing added yet
	}
	n := int64(now.Sub(c.base))
	for {
		e, ok := c.q.peek()
		if !ok || e.expires > n {
			return
		}
		c.q.pop()
		if v, ok := c.m[e.id]; ok && v.expires == e.expires {
			delete(c.m, e.id)
		}
	}
}

// msgCache keeps the messages of the last HistoryLength heartbeat windows,
// window 0 being the current one. Messages are served to IWANT while cached;
// ids of the first HistoryGossip windows are advertised in IHAVE.
type msgCache struct {
	msgs    map[string]*cacheEntry
	windows [][]cacheRef
}

type cacheRef struct {
	id    string
	topic string
}

type cacheEntry struct {
	msg   *pb.Message
	id    string // the map's key, so callers holding the id's bytes need no copy
	topic string
	tick  uint64          // heartbeats run when it was cached
	sent  map[peer.ID]int // IWANT answers sent per peer (lazy)
	// offered lists the peers sent this id in a truncated IHAVE (lazy);
	// untruncated IHAVEs are recorded per topic in gossipMarks instead.
	offered map[peer.ID]struct{}
	// released lists the peers announced this id by PREAMBLE whose held
	// copy already went to their writer: their first IWANT for it (a pull
	// that crossed the copy) is not answered with a second copy.
	released []peer.ID
}

func (c *msgCache) init(history int) {
	c.msgs = make(map[string]*cacheEntry)
	c.windows = make([][]cacheRef, history)
}

func (c *msgCache) put(id, topic string, m *pb.Message, tick uint64) {
	if _, ok := c.msgs[id]; ok {
		return
	}
	c.msgs[id] = &cacheEntry{msg: m, id: id, topic: topic, tick: tick}
	c.windows[0] = append(c.windows[0], cacheRef{id: id, topic: topic})
}

func (c *msgCache) get(id string) *cacheEntry { return c.msgs[id] }

// key returns the cached id equal to id (a string the cache already holds),
// and whether id is cached.
func (c *msgCache) key(id string) (string, bool) {
	if e := c.msgs[id]; e != nil {
		return e.id, true
	}
	return "", false
}

// gossipIDs appends the ids of topic in the first n windows to dst.
func (c *msgCache) gossipIDs(dst []string, topic string, n int) []string {
	for w := 0; w < n && w < len(c.windows); w++ {
		for _, r := range c.windows[w] {
			if r.topic == topic {
				dst = append(dst, r.id)
			}
		}
	}
	return dst
}

// shift starts a new window, forgetting the oldest.
func (c *msgCache) shift() {
	last := len(c.windows) - 1
	for _, r := range c.windows[last] {
		delete(c.msgs, r.id)
	}
	old := c.windows[last][:0]
	clear(c.windows[last])
	copy(c.windows[1:], c.windows[:last])
	c.windows[0] = old
}

func (c *msgCache) windowEntries() int {
	n := 0
	for _, w := range c.windows {
		n += len(w)
	}
	return n
}
