package wire

import (
	"crypto/sha256"
	"strings"

	"github.com/meshbus/meshbus/components/router/pb"
)

// MsgIDFunc computes a message's id, which gossip (IHAVE, IWANT, IDONTWANT)
// and duplicate detection use. Every node of a topic must use the same
// function. It must not modify m and must be safe for concurrent use.
type MsgIDFunc func(m *pb.Message) string

// DefaultMsgID is the spec's default id: the raw bytes of from followed by
// the raw bytes of seqno. It suits the signing policies with authors; under
// StrictNoSign every message would get the same id, so use a content-based
// function such as ContentMsgID.
func DefaultMsgID(m *pb.Message) string {
	// One allocation: string(a)+string(b) converts each operand through
	// a 32-byte stack buffer, and a peer id's bytes are longer, so the
	// expression allocated twice.
	var b strings.Builder
	b.Grow(len(m.From) + len(m.Seqno))
	b.Write(m.From)
	b.Write(m.Seqno)
	return b.String()
}

// ContentMsgID is a content-based id: the SHA-256 of the topic, a zero byte,
// and the data. Two messages with the same topic and data are duplicates.
func ContentMsgID(m *pb.Message) string {
	h := sha256.New()
	h.Write([]byte(m.GetTopic()))
	h.Write([]byte{0})
	h.Write(m.Data)
	var sum [sha256.Size]byte
	return string(h.Sum(sum[:0]))
}

// IDHash is the 64-bit FNV-1a hash of a message id, held as a string or as
// bytes (as IDONTWANT carries it): the router's compact key for sets of
// ids. Equal ids hash equal; two ids with the same hash are possible, so a
// set keyed by it may only ever withhold a copy from the peer whose ids
// filled it.
func IDHash[ID ~string | ~[]byte](id ID) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	return h
}
