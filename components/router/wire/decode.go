package wire

import (
	"fmt"
	"slices"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// DecodeRPC decodes one RPC payload (without its length prefix). The result
// does not alias frame, and the caller owns it.
//
// It decodes exactly as proto.Unmarshal does (the same RPC, the same
// errors; FuzzDecodeRPC compares the two), with fewer allocations for
// the messages (the publish field): a message whose fields are all known
// (from, data, seqno, topic, signature, key; each at most once) is decoded
// by hand into two allocations, the message with its topic, and one buffer
// holding every bytes field of that message and nothing else (so a
// message is garbage on its own, whatever the other messages of its RPC
// become). Its bytes fields are capacity-clipped slices of that buffer, so
// an append to one of them copies; nothing may write into them, as into
// any received message. Any other message, and every other field of the
// RPC, goes through proto.Unmarshal.
func DecodeRPC(frame []byte) (*pb.RPC, error) {
	rpc := new(pb.RPC)
	if err := decodeRPC(frame, rpc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return rpc, nil
}

// publishField is the RPC's publish field number.
const publishField = 2

// mergeAll unmarshals into a message without clearing it first: the same
// as proto.Unmarshal into a new message, and what merging the rest of a
// frame into the fields read before it needs (see Reader.readFields).
var mergeAll = proto.UnmarshalOptions{Merge: true}

// decodeRPC decodes frame into rpc, merging it into the fields rpc already
// holds.
func decodeRPC(frame []byte, rpc *pb.RPC) error {
	// First pass: the frame must be well formed at the top level, and
	// count the messages.
	n := 0
	for b := frame; len(b) > 0; {
		num, typ, l := protowire.ConsumeField(b)
		if l < 0 {
			return mergeAll.Unmarshal(frame, rpc) // its error
		}
		if num == publishField && typ == protowire.BytesType {
			n++
		}
		b = b[l:]
	}
	if n == 0 {
		return mergeAll.Unmarshal(frame, rpc)
	}
	rpc.Publish = slices.Grow(rpc.Publish, n)
	rest := -1 // start of the run of other fields not merged yet
	for off := 0; off < len(frame); {
		num, typ, tl := protowire.ConsumeTag(frame[off:])
		l := protowire.ConsumeFieldValue(num, typ, frame[off+tl:])
		if num != publishField || typ != protowire.BytesType {
			if rest < 0 {
				rest = off
			}
			off += tl + l
			continue
		}
		if rest >= 0 {
			if err := mergeAll.Unmarshal(frame[rest:off], rpc); err != nil {
				return err
			}
			rest = -1
		}
		v, _ := protowire.ConsumeBytes(frame[off+tl:])
		m := decodeMessage(v)
		if m == nil {
			m = new(pb.Message)
			if err := proto.Unmarshal(v, m); err != nil {
				return err
			}
		}
		rpc.Publish = append(rpc.Publish, m)
		off += tl + l
	}
	if rest >= 0 {
		return mergeAll.Unmarshal(frame[rest:], rpc)
	}
	return nil
}

// DecodeMessage decodes one Message encoding (a publish entry's payload,
// or the bytes reassembled from gossipsub v1.4 fragments) as DecodeRPC
// decodes each message of an RPC: the same result and errors as
// proto.Unmarshal (wrapped in ErrDecode), and a result that does not alias
// b.
func DecodeMessage(b []byte) (*pb.Message, error) {
	if m := decodeMessage(b); m != nil {
		return m, nil
	}
	m := new(pb.Message)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return m, nil
}

// DecodeMessageOwned is DecodeMessage for a buffer handed over to the
// message: when every field is a known one (the common case) the
// message's bytes fields are slices of b itself, not of a copy, so the
// caller must neither use nor modify b afterwards. Otherwise it decodes
// as DecodeMessage.
func DecodeMessageOwned(b []byte) (*pb.Message, error) {
	if m := decodeMessageIn(b, true); m != nil {
		return m, nil
	}
	return DecodeMessage(b)
}

// decodedMessage is a hand-decoded message with the string its Topic
// points to, in one allocation.
type decodedMessage struct {
	msg   pb.Message
	topic string
}

// decodeMessage decodes b, a Message's encoding, when every field is a
// known one present at most once with the bytes wire type; nil otherwise
// (the caller then uses proto.Unmarshal, which keeps unknown fields and
// applies proto's rules for repeated and mistyped fields). A present
// field is non-nil even when empty, as proto.Unmarshal decodes it.
func decodeMessage(b []byte) *pb.Message { return decodeMessageIn(b, false) }

// decodeMessageIn is decodeMessage; with own set, b is a buffer the message
// may keep (nothing else refers to it, and nothing writes it again): its
// fields are then slices of b itself, not of a copy.
func decodeMessageIn(b []byte, own bool) *pb.Message {
	var (
		vals  [7][]byte // by field number
		seen  uint8
		total int
	)
	for len(b) > 0 {
		num, typ, tl := protowire.ConsumeTag(b)
		if tl < 0 || typ != protowire.BytesType || num < 1 || num > 6 || seen&(1<<num) != 0 {
			return nil
		}
		v, vl := protowire.ConsumeBytes(b[tl:])
		if vl < 0 {
			return nil
		}
		seen |= 1 << num
		vals[num] = v
		total += len(v)
		b = b[tl+vl:]
	}
	var buf []byte
	if !own {
		buf = make([]byte, total) // non-nil even when total is 0
	}
	off := 0
	field := func(num int) []byte {
		if seen&(1<<num) == 0 {
			return nil
		}
		v := vals[num]
		if own {
			return v[:len(v):len(v)]
		}
		s := buf[off : off+len(v) : off+len(v)]
		copy(s, v)
		off += len(v)
		return s
	}
	dm := new(decodedMessage)
	m := &dm.msg
	m.From = field(1)
	m.Data = field(2)
	m.Seqno = field(3)
	if t := field(4); t != nil {
		// buf is never written again: the string may share it.
		dm.topic = unsafe.String(unsafe.SliceData(t), len(t))
		m.Topic = &dm.topic
	}
	m.Signature = field(5)
	m.Key = field(6)
	return m
}
