package wire

import (
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// A frame larger than writeChunk is written in pieces (see writeStreamed):
// a writer blocked on a slow stream then holds at most writeChunk bytes of
// encoded frame (plus the messages it writes from, which it holds anyway),
// not a copy of the whole frame.
const (
	// writeChunk is the largest buffer a Writer encodes a frame's pieces
	// into.
	writeChunk = 8 << 10
	// inlineData is the longest message data copied into the chunk; longer
	// data is written straight from the message.
	inlineData = 2 << 10
)

// hasLargeData reports whether a message of rpc has more than inlineData
// bytes of data: only then is its frame written in pieces (one Write of
// a whole frame of small messages costs the transport less than several).
func hasLargeData(rpc *pb.RPC) bool {
	for _, m := range rpc.Publish {
		if len(m.Data) > inlineData {
			return true
		}
	}
	return false
}

// messageSize is the encoded size of m as written by appendMessageHead
// followed by its data field: the size proto.Size reports, as every field
// is encoded once with the same presence rules, in another order.
func messageSize(m *pb.Message) int {
	n := headFieldsSize(m)
	if m.Data != nil {
		n += 1 + protowire.SizeBytes(len(m.Data))
	}
	return n
}

// headFieldsSize is the size of every field of m but data.
func headFieldsSize(m *pb.Message) int {
	n := 0
	if m.From != nil {
		n += 1 + protowire.SizeBytes(len(m.From))
	}
	if m.Seqno != nil {
		n += 1 + protowire.SizeBytes(len(m.Seqno))
	}
	if m.Topic != nil {
		n += 1 + protowire.SizeBytes(len(*m.Topic))
	}
	if m.Signature != nil {
		n += 1 + protowire.SizeBytes(len(m.Signature))
	}
	if m.Key != nil {
		n += 1 + protowire.SizeBytes(len(m.Key))
	}
	return n + len(m.ProtoReflect().GetUnknown())
}

// appendMessageHead appends every field of m but data, in the order from,
// seqno, topic, signature, key, unknown fields, and then the data field's
// tag and length (when m has data): what a receiver needs to know a
// message's default id (from || seqno) and topic comes before its data, so
// a large message's id is known from the first bytes of its frame.
// Protobuf decoders accept fields in any order, and signatures are checked
// over a canonical re-encoding (see signedBytes), not over these bytes.
func appendMessageHead(b []byte, m *pb.Message) []byte {
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	if m.From != nil {
		b = field(b, 1, m.From)
	}
	if m.Seqno != nil {
		b = field(b, 3, m.Seqno)
	}
	if m.Topic != nil {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, *m.Topic)
	}
	if m.Signature != nil {
		b = field(b, 5, m.Signature)
	}
	if m.Key != nil {
		b = field(b, 6, m.Key)
	}
	b = append(b, m.ProtoReflect().GetUnknown()...)
	if m.Data != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(len(m.Data)))
	}
	return b
}

// chunkWriter collects a frame's pieces in one bounded buffer and writes
// it to w whenever the next piece would not fit. The first write error
// sticks.
type chunkWriter struct {
	w   io.Writer
	b   []byte
	err error
}

func (c *chunkWriter) flush() {
	if c.err == nil && len(c.b) > 0 {
		_, c.err = c.w.Write(c.b)
	}
	c.b = c.b[:0]
}

// room makes room for n more bytes, flushing what is buffered if needed;
// it reports false when n bytes would not fit even in an empty buffer.
func (c *chunkWriter) room(n int) bool {
	if len(c.b)+n <= cap(c.b) {
		return true
	}
	c.flush()
	return n <= cap(c.b)
}

// direct writes p past the buffer, after what is buffered.
func (c *chunkWriter) direct(p []byte) {
	c.flush()
	if c.err == nil && len(p) > 0 {
		_, c.err = c.w.Write(p)
	}
}

// streamedSize is the payload size writeStreamed writes for rpc, whose
// fields other than publish encode to restSize bytes.
func streamedSize(rpc *pb.RPC, restSize int) int {
	n := restSize
	for _, m := range rpc.Publish {
		n += 1 + protowire.SizeBytes(messageSize(m))
	}
	return n
}

// writeStreamed writes rpc's frame, of payload size bytes, in pieces
// buffered in one writeChunk buffer: the length prefix and every field
// but the messages (subscriptions, control, the partial-messages field,
// unknown fields; proto's encoding), then each message (its head by
// appendMessageHead, then its data: copied into the buffer when short,
// written straight from the message when longer than inlineData). It
// reports false, having written nothing, when the pieces would not add up
// to size (a field the hand encoding does not know); the caller then
// writes the frame whole.
func (w *Writer) writeStreamed(rpc *pb.RPC, size int) (bool, error) {
	rest := &w.rest
	rest.Subscriptions, rest.Control, rest.Partial = rpc.Subscriptions, rpc.Control, rpc.Partial
	defer func() { rest.Subscriptions, rest.Control, rest.Partial = nil, nil, nil }()
	unknown := rpc.ProtoReflect().GetUnknown()
	restSize := proto.Size(rest) + len(unknown)
	if streamedSize(rpc, restSize) != size {
		return false, nil
	}
	bp := getBuf(writeChunk)
	defer putBuf(bp)
	c := chunkWriter{w: w.w, b: (*bp)[:0]}
	c.b = binary.AppendUvarint(c.b, uint64(size))
	if restSize > 0 {
		if c.room(restSize) {
			var err error
			if c.b, err = (proto.MarshalOptions{}).MarshalAppend(c.b, rest); err != nil {
				return true, fmt.Errorf("wire: encode RPC: %w", err)
			}
			c.b = append(c.b, unknown...)
		} else {
			tp := getBuf(restSize)
			b, err := (proto.MarshalOptions{}).MarshalAppend((*tp)[:0], rest)
			if err != nil {
				putBuf(tp)
				return true, fmt.Errorf("wire: encode RPC: %w", err)
			}
			*tp = append(b, unknown...)
			c.direct(*tp)
			putBuf(tp)
		}
	}
	for _, m := range rpc.Publish {
		head := headFieldsSize(m)
		msize := messageSize(m)
		pieceHead := 1 + protowire.SizeVarint(uint64(msize)) + head
		if m.Data != nil {
			pieceHead += 1 + protowire.SizeVarint(uint64(len(m.Data)))
		}
		inline := len(m.Data) <= inlineData
		n := pieceHead
		if inline {
			n += len(m.Data)
		}
		if !c.room(n) {
			// A head larger than the buffer (huge unknown fields or key):
			// encoded on its own.
			tp := getBuf(n)
			b := protowire.AppendTag((*tp)[:0], publishField, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(msize))
			b = appendMessageHead(b, m)
			if inline {
				b = append(b, m.Data...)
			}
			*tp = b
			c.direct(b)
			putBuf(tp)
		} else {
			c.b = protowire.AppendTag(c.b, publishField, protowire.BytesType)
			c.b = protowire.AppendVarint(c.b, uint64(msize))
			c.b = appendMessageHead(c.b, m)
			if inline {
				c.b = append(c.b, m.Data...)
			}
		}
		if !inline {
			c.direct(m.Data)
		}
		if c.err != nil {
			return true, c.err
		}
	}
	c.flush()
	return true, c.err
}
