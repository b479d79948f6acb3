package wire

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/meshbus/meshbus/components/router/pb"
)

// MessageHead is what the first bytes of a frame tell about the first
// message it carries, before the rest of the frame has arrived: the length
// of the message's data, the data's first bytes, and the topic, from and
// seqno when the sender encoded them before the data (encoders in field
// order put topic and seqno after it; Writer puts them before).
type MessageHead struct {
	// DataLen is the length of the message's data field.
	DataLen int
	// DataPrefix is the start of the data present in the head (at most
	// DataLen bytes). It aliases the head given to PeekMessageHead.
	DataPrefix []byte
	// Topic is the message's topic, when HasTopic.
	Topic string
	// HasTopic reports that the topic field came before the data (Topic
	// may still be empty); false says nothing about the message's topic.
	HasTopic bool
	// From and Seqno are the message's from and seqno fields when they
	// came before its data (nil otherwise; present and empty is non-nil).
	// They alias the head given to PeekMessageHead.
	From, Seqno []byte
}

// PeekMessageHead reads, from the first bytes of an RPC frame's payload
// (head, possibly cut anywhere), the head of the RPC's first message: it
// skips subscriptions that lie wholly in head, then reads the first
// publish entry's fields up to its data field. It reports false when head
// does not reach the data field, when the RPC's first entries are something
// else than subscriptions and a message, or when the bytes are not valid
// protobuf. It never reads past head, and a false result means nothing: the
// full frame is decoded as usual anyway.
func PeekMessageHead(head []byte) (MessageHead, bool) {
	var h MessageHead
	b := head
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return h, false
		}
		b = b[n:]
		l, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return h, false
		}
		b = b[n:]
		switch num {
		case 1: // subscriptions: skip when whole
			if l > uint64(len(b)) {
				return h, false
			}
			b = b[l:]
		case 2: // publish: the first message
			if l < uint64(len(b)) {
				b = b[:l]
			}
			return peekMessage(b, l)
		default:
			return h, false
		}
	}
	return h, false
}

// peekMessage reads a Message's fields from b (its start; msgLen is its
// full encoded length) until the data field.
func peekMessage(b []byte, msgLen uint64) (MessageHead, bool) {
	var h MessageHead
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return h, false
		}
		b = b[n:]
		l, n := protowire.ConsumeVarint(b)
		if n < 0 || l > msgLen {
			return h, false
		}
		b = b[n:]
		switch num {
		case 2: // data
			h.DataLen = int(l)
			h.DataPrefix = b[:min(uint64(len(b)), l)]
			return h, true
		case 4: // topic, when the sender put it first
			if l > uint64(len(b)) {
				return h, false
			}
			h.Topic, h.HasTopic = string(b[:l]), true
			b = b[l:]
		default: // from, seqno, signature, key: skip when whole
			if l > uint64(len(b)) {
				return h, false
			}
			switch num {
			case 1:
				h.From = b[:l:l]
			case 3:
				h.Seqno = b[:l:l]
			}
			b = b[l:]
		}
	}
	return h, false
}

// ReadRPCHead is ReadRPC with a look at the frame's first bytes: when the
// frame is at least minFrame bytes long, it reads the first headLen bytes of
// the payload (waiting for them), calls peek with them, then reads the rest
// and decodes the whole frame. peek runs on the caller's goroutine, before
// the rest of the frame has arrived, and must not keep head. Errors are
// those of ReadRPC.
func (r *Reader) ReadRPCHead(minFrame, headLen int, peek func(head []byte)) (*pb.RPC, error) {
	if err := r.acquire(); err != nil {
		return nil, err
	}
	defer r.release()
	n, err := readUvarint(r.r)
	if err != nil {
		return nil, err
	}
	if n > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, r.max)
	}
	if int(n) < minFrame && int(n) <= r.r.Size() {
		return r.decodeBuffered(int(n))
	}
	if int(n) >= minFrame && headLen > 0 {
		head, err := r.r.Peek(min(headLen, int(n), r.r.Size()))
		if err != nil {
			return nil, unexpected(err)
		}
		peek(head)
	}
	if int(n) <= r.r.Size() {
		return r.decodeBuffered(int(n))
	}
	return r.readFields(int(n))
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// FragmentHead is what the first bytes of a frame tell about the first
// gossipsub v1.4 fragment it carries: its message id, index and total,
// the length of its data, and its topic when the sender encoded it before
// the data (encoders in field order put it after).
type FragmentHead struct {
	// ID is the fragment's message id; it aliases the head given to
	// PeekFragmentHead.
	ID []byte
	// Index is the fragment's index as sent (not range-checked); 0 when
	// the field is absent or comes after the data.
	Index uint64
	// Total is the message's fragment count as sent (not range-checked);
	// 0 when the field is absent or comes after the data.
	Total uint64
	// DataLen is the length of the fragment's data field.
	DataLen int
	// Topic is the fragment's topic, when HasTopic.
	Topic string
	// HasTopic reports that the topic field came before the data (Topic
	// may still be empty).
	HasTopic bool
}

// rpcFragmentsField is the RPC's largeMessageFragments field number.
const rpcFragmentsField = 12

// PeekFragmentHead reads, from the first bytes of an RPC frame's payload
// (head, possibly cut anywhere), the head of the RPC's first fragment when
// the frame starts with one: its fields up to its data field. It reports
// false when head does not reach the data field, when the RPC does not
// start with a fragment, when the fragment's id comes after its data or
// is missing, or when the bytes are not valid protobuf. It never reads
// past head, and a false result means nothing: the full frame is decoded
// as usual anyway.
func PeekFragmentHead(head []byte) (FragmentHead, bool) {
	var h FragmentHead
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != rpcFragmentsField || typ != protowire.BytesType {
		return h, false
	}
	b := head[n:]
	l, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return h, false
	}
	b = b[n:]
	if l < uint64(len(b)) {
		b = b[:l]
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return h, false
		}
		b = b[n:]
		switch {
		case (num == 2 || num == 3) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return h, false
			}
			if num == 2 {
				h.Index = v
			} else {
				h.Total = v
			}
			b = b[n:]
		case (num == 1 || num == 4 || num == 5) && typ == protowire.BytesType:
			fl, n := protowire.ConsumeVarint(b)
			if n < 0 || fl > l {
				return h, false
			}
			b = b[n:]
			if num == 4 { // data
				h.DataLen = int(fl)
				return h, h.ID != nil
			}
			if fl > uint64(len(b)) {
				return h, false
			}
			if num == 1 {
				h.ID = b[:fl:fl]
			} else {
				h.Topic, h.HasTopic = string(b[:fl]), true
			}
			b = b[fl:]
		default:
			return h, false
		}
	}
	return h, false
}
