package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	"github.com/meshbus/meshbus/components/router/pb"
)

// Fingerprint is the SHA-256 of every field of a message: from, seqno,
// topic, data, signature, key and any unknown fields, each prefixed with its
// presence and length so that no two different messages share an encoding. Two messages with the
// same fingerprint carry the same bytes, so CheckPolicy gives them the same
// verdict: a copy whose fingerprint matches a copy that passed the check
// needs no check of its own.
type Fingerprint [sha256.Size]byte

// FingerprintOf returns m's fingerprint. It does not modify m.
func FingerprintOf(m *pb.Message) Fingerprint {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	// 0 for an absent field, 1+len for a present one: CheckPolicy tells
	// an empty field from a missing one.
	field := func(b []byte, present bool) {
		l := uint64(0)
		if present {
			l = 1 + uint64(len(b))
		}
		h.Write(n[:binary.PutUvarint(n[:], l)])
		h.Write(b)
	}
	if m == nil {
		m = &pb.Message{}
	}
	field(m.From, m.From != nil)
	field(m.Seqno, m.Seqno != nil)
	field([]byte(m.GetTopic()), m.Topic != nil)
	field(m.Data, m.Data != nil)
	field(m.Signature, m.Signature != nil)
	field(m.Key, m.Key != nil)
	field(m.ProtoReflect().GetUnknown(), true)
	var d Fingerprint
	h.Sum(d[:0])
	return d
}

// SameMessage reports whether a and b carry the same bytes in every field
// FingerprintOf covers, telling an empty field from a missing one: it is
// FingerprintOf(a) == FingerprintOf(b) without hashing. A nil message is
// the same as no message only.
func SameMessage(a, b *pb.Message) bool {
	if a == nil || b == nil {
		return a == b
	}
	same := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	return same(a.Data, b.Data) && same(a.Signature, b.Signature) && same(a.Seqno, b.Seqno) &&
		same(a.From, b.From) && same(a.Key, b.Key) &&
		(a.Topic == nil) == (b.Topic == nil) && a.GetTopic() == b.GetTopic() &&
		bytes.Equal(a.ProtoReflect().GetUnknown(), b.ProtoReflect().GetUnknown())
}
