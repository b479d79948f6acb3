package wire

import (
	"crypto/sha256"

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
	return string(m.From) + string(m.Seqno)
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
