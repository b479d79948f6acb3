package router

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/meshbus/meshbus/components/router/pb"
)

// verifiedCopies remembers, for recently verified messages, a digest of
// every field the signature check reads. Reader goroutines check copies in
// parallel, and the copies of one message from several peers often arrive
// before the driver has accepted the first (knownIDs); a copy whose digest
// matches a verified one skips the check, since its result could only be
// the same. A copy that differs in any signed byte, a forgery reusing a
// valid id and signature included, is still checked. The oldest entries
// are forgotten first; forgetting only costs a redundant check.
type verifiedCopies struct {
	mu   sync.Mutex
	m    map[string][sha256.Size]byte
	ring []string
	next int
}

func newVerifiedCopies(capacity int) *verifiedCopies {
	return &verifiedCopies{m: make(map[string][sha256.Size]byte, capacity), ring: make([]string, capacity)}
}

// copyDigest hashes the fields CheckPolicy reads, each length-prefixed so
// that no two different messages share an encoding.
func copyDigest(m *pb.Message) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, f := range [][]byte{m.GetFrom(), m.GetSeqno(), []byte(m.GetTopic()), m.GetData(), m.GetSignature(), m.GetKey()} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write(f)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// add records that the copy of id with digest d passed the check.
func (v *verifiedCopies) add(id string, d [sha256.Size]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[id]; ok {
		return
	}
	if old := v.ring[v.next]; old != "" {
		delete(v.m, old)
	}
	v.ring[v.next] = id
	v.m[id] = d
	v.next = (v.next + 1) % len(v.ring)
}

// has reports whether a copy of id with digest d passed the check.
func (v *verifiedCopies) has(id string, d [sha256.Size]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.m[id]
	return ok && got == d
}
