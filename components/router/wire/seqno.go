package wire

import (
	"encoding/binary"
	"sync/atomic"
)

// SeqnoLen is the length of a message sequence number: a 64-bit big-endian
// integer.
const SeqnoLen = 8

// Seqno hands out the sequence numbers of the messages one publisher
// authors: unique and increasing (modulo 2^64) for the life of the value.
// Start it from the current time in nanoseconds (or a random value) so that a
// restarted node does not reuse the numbers of its previous run. It is safe
// for concurrent use.
type Seqno struct{ n atomic.Uint64 }

// NewSeqno returns a Seqno whose first number is start.
func NewSeqno(start uint64) *Seqno {
	s := new(Seqno)
	s.n.Store(start - 1)
	return s
}

// Next returns the next sequence number as 8 big-endian bytes (a new slice).
func (s *Seqno) Next() []byte {
	b := make([]byte, SeqnoLen)
	binary.BigEndian.PutUint64(b, s.n.Add(1))
	return b
}

// Put writes the next sequence number into b (at least SeqnoLen bytes)
// and returns b[:SeqnoLen]: Next without the allocation.
func (s *Seqno) Put(b []byte) []byte {
	b = b[:SeqnoLen]
	binary.BigEndian.PutUint64(b, s.n.Add(1))
	return b
}

// SeqnoValue decodes an 8-byte big-endian sequence number; ok is false when b
// is not 8 bytes long.
func SeqnoValue(b []byte) (v uint64, ok bool) {
	if len(b) != SeqnoLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
