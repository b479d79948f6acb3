package router

import (
	"sync"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// unwantedCap is how many recent ids a peer's unwanted ring remembers:
// at 250 messages a second through a mesh, about a second's worth.
const unwantedCap = 256

// unwantedBuckets is how many buckets count the ring's hashes (a power of
// two, four per remembered hash): a lookup that misses, the common case,
// finds its bucket empty about four times in five and skips the scan.
const unwantedBuckets = 4 * unwantedCap

// unwanted remembers what one peer has recently shown, by its own RPCs,
// that it does not need: the ids it sent IDONTWANT for and the ids of the
// messages it sent us, as 64-bit hashes, the last unwantedCap of them.
//
// The peer's reader goroutine adds to it as soon as it decodes an RPC; the
// peer's send queue consults it when the driver pushes a message and when
// the writer takes one, so a copy is not written to a peer that meanwhile
// said it has or does not want the message, even while the driver is still
// behind on that peer's RPCs (it learns the same ids from them, in order,
// and the automaton's IDONTWANT records and Cancels stay the protocol's
// state). It is transport state, bounded, and only ever withholds copies
// from the peer that asked; two ids with the same hash only mean that the
// peer is not written one it did not ask to skip (it still gets it by
// gossip or from other peers).
type unwanted struct {
	mu   sync.Mutex
	ring *unwantedRing // 4 KiB, allocated at the first add: an idle peer holds none
	n    int           // hashes added; the next goes to ring.hs[n%unwantedCap]
}

// unwantedRing is the remembered hashes in the order they came, 0 for a
// free or forgotten slot, and per bucket how many of them fall in it.
// Every copy queued for the peer is looked up, twice (pushed, taken), and
// nearly all miss: an empty bucket answers those without scanning hs
// (about 100 ns for a full ring even in cache).
type unwantedRing struct {
	hs     [unwantedCap]uint64
	counts [unwantedBuckets]uint16 // at most unwantedCap in one bucket
}

// unwantedKey is h as the ring holds it: 0 marks a free slot, so a hash of
// 0 is kept as 1 (one more equal hash, see unwanted).
func unwantedKey(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// bucket is the counter of key k (its folded low bits).
func (r *unwantedRing) bucket(k uint64) *uint16 {
	return &r.counts[(k^k>>32)&(unwantedBuckets-1)]
}

// add records hashes.
func (u *unwanted) add(hs ...uint64) {
	if len(hs) == 0 {
		return
	}
	u.mu.Lock()
	if u.ring == nil {
		u.ring = new(unwantedRing)
	}
	r := u.ring
	for _, h := range hs {
		slot := &r.hs[u.n%unwantedCap]
		if *slot != 0 {
			*r.bucket(*slot)--
		}
		k := unwantedKey(h)
		*slot = k
		*r.bucket(k)++
		u.n++
	}
	u.mu.Unlock()
}

// has reports whether h was recorded among the last unwantedCap hashes
// (and not forgotten since).
func (u *unwanted) has(h uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hasLocked(h)
}

func (u *unwanted) hasLocked(h uint64) bool {
	r := u.ring
	if r == nil {
		return false
	}
	k := unwantedKey(h)
	if *r.bucket(k) == 0 {
		return false
	}
	n := min(u.n, unwantedCap)
	for i := 0; i < n; i++ {
		if r.hs[i] == k {
			return true
		}
	}
	return false
}

// noteUnwanted records in u the ids rpc shows its sender does not need:
// its messages' ids (ids, computed by the caller), its IDONTWANT ids, its
// gossipsub v1.4 IMRECEIVING ids and the ids of the messages it starts
// sending as v1.4 fragments (those of its fragments of index 0; an id the
// sender made up only withholds that id from the sender); then it forgets
// the ids the sender asks for with IWANT (a peer whose source failed after
// its IMRECEIVING asks for the message: the automaton decides whether it is
// served, and the answer must not be skipped here). scratch is reused for the hashes
// and returned.
func noteUnwanted(u *unwanted, rpc *pb.RPC, ids []string, scratch []uint64) []uint64 {
	hs := scratch[:0]
	for _, id := range ids {
		hs = append(hs, wire.IDHash(id))
	}
	c := rpc.GetControl()
	for _, e := range c.GetIdontwant() {
		for _, raw := range e.GetMessageIDs() {
			hs = append(hs, wire.IDHash(raw))
		}
	}
	for _, e := range c.GetImreceiving() {
		hs = append(hs, wire.IDHash(e.GetMessageID()))
	}
	for _, f := range rpc.GetLargeMessageFragments() {
		if f.GetFragmentIndex() == 0 {
			hs = append(hs, wire.IDHash(f.GetMessageID()))
		}
	}
	u.add(hs...)
	left := maxForget
	for _, e := range c.GetIwant() {
		for _, raw := range e.GetMessageIDs() {
			if left == 0 {
				return hs
			}
			left--
			u.forget(wire.IDHash(raw))
		}
	}
	return hs
}

// maxForget bounds the IWANT ids of one RPC that noteUnwanted forgets
// (each costs a scan of the ring): a fallback IWANT after a failed source
// asks for one id.
const maxForget = 16

// forget drops h from the ring (every occurrence).
func (u *unwanted) forget(h uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.ring
	if r == nil {
		return
	}
	k := unwantedKey(h)
	b := r.bucket(k)
	n := min(u.n, unwantedCap)
	for i := 0; i < n && *b > 0; i++ {
		if r.hs[i] == k {
			r.hs[i] = 0
			*b--
		}
	}
}
