package automaton

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// recordStatus is what the scorer knows of a message's validity.
type recordStatus uint8

const (
	// statusPending: duplicates arrived before the router's verdict (the
	// message is being validated).
	statusPending recordStatus = iota
	// statusValid: delivered (or published by us) at record.validated.
	statusValid
	// statusInvalid: rejected with a reason that counts for P₄.
	statusInvalid
	// statusIgnored: rejected without penalty (ignored, throttled).
	statusIgnored
)

// deliveryRecord is what the scorer remembers of one message id: who
// delivered it, and when it was validated, so that near-first deliveries
// count for P₃ and forwarders of an invalid message pay P₄ once each.
type deliveryRecord struct {
	id        string
	status    recordStatus
	created   time.Time
	validated time.Time
	peers     []peer.ID // everyone who delivered it, first sender included
}

// has reports whether p already delivered the message.
func (r *deliveryRecord) has(p peer.ID) bool { return slices.Contains(r.peers, p) }

// deliveryCache is a bounded map of delivery records, expired in creation
// order by TTL and by count. Records are recycled so that a steady stream
// of messages allocates nothing once the cache is warm.
type deliveryCache struct {
	byID    map[string]*deliveryRecord
	fifo    []*deliveryRecord // creation order; fifo[head:] are live
	head    int
	free    []*deliveryRecord
	ttl     time.Duration
	max     int
	evicted uint64 // records dropped by the count bound before their TTL
}

func newDeliveryCache(ttl time.Duration, max int) deliveryCache {
	return deliveryCache{byID: make(map[string]*deliveryRecord), ttl: ttl, max: max}
}

func (c *deliveryCache) len() int { return len(c.fifo) - c.head }

// get returns the record of id, or nil.
func (c *deliveryCache) get(id string) *deliveryRecord { return c.byID[id] }

// add creates the record of id (which must not exist) at t, first making
// room by dropping expired records and, if still full, the oldest one.
func (c *deliveryCache) add(id string, t time.Time) *deliveryRecord {
	c.expire(t)
	if c.len() >= c.max {
		c.popOldest()
		c.evicted++
	}
	var r *deliveryRecord
	if n := len(c.free); n > 0 {
		r = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
	} else {
		r = &deliveryRecord{}
	}
	r.id, r.status, r.created, r.validated = id, statusPending, t, time.Time{}
	r.peers = r.peers[:0]
	c.byID[id] = r
	if c.head > 0 && c.head >= len(c.fifo)/2 {
		// Slide the live tail down instead of growing forever.
		n := copy(c.fifo, c.fifo[c.head:])
		clear(c.fifo[n:])
		c.fifo = c.fifo[:n]
		c.head = 0
	}
	c.fifo = append(c.fifo, r)
	return r
}

// expire drops the records created at or before now - TTL.
func (c *deliveryCache) expire(now time.Time) {
	cutoff := now.Add(-c.ttl)
	for c.len() > 0 && !c.fifo[c.head].created.After(cutoff) {
		c.popOldest()
	}
}

func (c *deliveryCache) popOldest() {
	r := c.fifo[c.head]
	c.fifo[c.head] = nil
	c.head++
	delete(c.byID, r.id) // ids are unique in the cache: add requires a new one
	clear(r.peers)       // drop peer ids so the recycled record pins no strings
	r.peers = r.peers[:0]
	r.id = ""
	// A burst followed by quiet would leave a big free list: keep it
	// bounded and let the garbage collector have the rest.
	if len(c.free) < maxFreeRecords {
		c.free = append(c.free, r)
	}
}

// maxFreeRecords bounds the recycled delivery records kept for reuse.
const maxFreeRecords = 1024
