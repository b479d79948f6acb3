package wire

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// recordingWriter keeps everything written and the size of each Write.
type recordingWriter struct {
	buf    bytes.Buffer
	writes []int
	failAt int // the Write (1-based) that fails; 0: none
}

var errWriteFailed = errors.New("write failed")

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	if w.failAt > 0 && len(w.writes) == w.failAt {
		return 0, errWriteFailed
	}
	return w.buf.Write(p)
}

// randomStreamRPC builds an RPC with n messages of random sizes and field
// presence, subscriptions and control, seeded.
func randomStreamRPC(rng *rand.Rand, n int) *pb.RPC {
	bytesOf := func(max int) []byte {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	rpc := &pb.RPC{
		Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String("t")}},
		Control:       &pb.ControlMessage{Idontwant: []*pb.ControlIDontWant{{MessageIDs: [][]byte{bytesOf(40)}}}},
	}
	if rng.IntN(2) == 0 {
		rpc.Subscriptions, rpc.Control = nil, nil
	}
	sizes := []int{0, 100, 1024, 2048, 2049, 5000, 64 << 10}
	for range n {
		m := &pb.Message{}
		if rng.IntN(4) > 0 {
			m.From = bytesOf(38)
		}
		if rng.IntN(4) > 0 {
			m.Seqno = bytesOf(8)
		}
		if rng.IntN(4) > 0 {
			m.Topic = proto.String(string(bytesOf(20)))
		}
		if rng.IntN(4) > 0 {
			m.Signature = bytesOf(64)
		}
		if rng.IntN(4) == 0 {
			m.Key = bytesOf(300)
		}
		if rng.IntN(8) > 0 {
			m.Data = make([]byte, sizes[rng.IntN(len(sizes))])
			for i := range m.Data {
				m.Data[i] = byte(i)
			}
		}
		rpc.Publish = append(rpc.Publish, m)
	}
	return rpc
}

// TestWriteStreamedRoundTrip writes random RPCs larger than one chunk and
// reads them back with both decoders: the same RPC, a frame of the size
// the prefix announces, and no Write larger than the chunk except a
// message's data written in place.
func TestWriteStreamedRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	streamed := 0
	for i := range 300 {
		rpc := randomStreamRPC(rng, 1+rng.IntN(12))
		var rw recordingWriter
		if err := NewWriter(&rw, 4<<20).WriteRPC(rpc); err != nil {
			t.Fatalf("rpc %d: WriteRPC: %v", i, err)
		}
		frame := rw.buf.Bytes()
		size, n := protowire.ConsumeVarint(frame)
		if n < 0 || int(size) != len(frame)-n || int(size) != proto.Size(rpc) {
			t.Fatalf("rpc %d: prefix %d, payload %d bytes, proto.Size %d", i, size, len(frame)-n, proto.Size(rpc))
		}
		if len(rw.writes) > 1 {
			streamed++
		}
		dataLens := map[int]bool{}
		for _, m := range rpc.Publish {
			dataLens[len(m.Data)] = true
		}
		for _, w := range rw.writes {
			if w > writeChunk && !dataLens[w] {
				t.Fatalf("rpc %d: a write of %d bytes, more than the %d chunk and no message's data", i, w, writeChunk)
			}
		}
		got, err := DecodeRPC(frame[n:])
		if err != nil {
			t.Fatalf("rpc %d: DecodeRPC: %v", i, err)
		}
		if !proto.Equal(got, rpc) {
			t.Fatalf("rpc %d: DecodeRPC differs", i)
		}
		var viaProto pb.RPC
		if err := proto.Unmarshal(frame[n:], &viaProto); err != nil || !proto.Equal(&viaProto, rpc) {
			t.Fatalf("rpc %d: proto.Unmarshal: %v, equal %v", i, err, proto.Equal(&viaProto, rpc))
		}
	}
	if streamed < 100 {
		t.Fatalf("only %d of 300 RPCs were written in pieces", streamed)
	}
}

// TestWriteStreamedHead: a large message's frame carries its from, seqno
// and topic before its data, so PeekMessageHead finds them in the head.
func TestWriteStreamedHead(t *testing.T) {
	m := &pb.Message{
		From:      []byte("FROM-FROM"),
		Seqno:     []byte{0, 0, 0, 0, 0, 0, 0, 9},
		Topic:     proto.String("blocks"),
		Signature: bytes.Repeat([]byte{7}, 64),
		Data:      bytes.Repeat([]byte{1}, 32<<10),
	}
	var rw recordingWriter
	if err := NewWriter(&rw, 0).WriteRPC(&pb.RPC{Publish: []*pb.Message{m}}); err != nil {
		t.Fatal(err)
	}
	frame := rw.buf.Bytes()
	_, n := protowire.ConsumeVarint(frame)
	h, ok := PeekMessageHead(frame[n : n+512])
	if !ok {
		t.Fatal("PeekMessageHead: no head")
	}
	if string(h.From) != "FROM-FROM" || !bytes.Equal(h.Seqno, m.Seqno) || !h.HasTopic || h.Topic != "blocks" || h.DataLen != len(m.Data) {
		t.Fatalf("head %+v", h)
	}
	if got := DefaultMsgID(&pb.Message{From: h.From, Seqno: h.Seqno}); got != DefaultMsgID(m) {
		t.Fatalf("id from the head %q, want %q", got, DefaultMsgID(m))
	}
}

// TestWriteStreamedError: a failing Write ends WriteRPC with its error.
func TestWriteStreamedError(t *testing.T) {
	rpc := randomStreamRPC(rand.New(rand.NewPCG(3, 4)), 0)
	for range 6 {
		rpc.Publish = append(rpc.Publish, &pb.Message{Data: make([]byte, 5000)})
	}
	for fail := 1; fail <= 4; fail++ {
		rw := recordingWriter{failAt: fail}
		if err := NewWriter(&rw, 0).WriteRPC(rpc); !errors.Is(err, errWriteFailed) {
			t.Fatalf("failing write %d: %v", fail, err)
		}
		if len(rw.writes) != fail {
			t.Fatalf("failing write %d: %d writes, want none after the failure", fail, len(rw.writes))
		}
	}
}

func BenchmarkWriteRPCLarge(b *testing.B) {
	rpc := &pb.RPC{Publish: []*pb.Message{{
		From:      bytes.Repeat([]byte{1}, 38),
		Seqno:     make([]byte, 8),
		Topic:     proto.String("blocks"),
		Signature: make([]byte, 64),
		Data:      make([]byte, 64<<10),
	}}}
	w := NewWriter(discard{}, 0)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteRPC(rpc); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// largeFrame pads payload past the read buffer with a leading
// subscription field, so that ReadRPC decodes it field by field.
func largeFrame(payload []byte) (frame, padded []byte) {
	pad := protowire.AppendTag(nil, 1, protowire.BytesType)
	sub := protowire.AppendTag(nil, 2, protowire.BytesType)
	sub = protowire.AppendString(sub, strings.Repeat("p", readBufSize))
	pad = protowire.AppendBytes(pad, sub)
	padded = append(pad, payload...)
	return append(protowire.AppendVarint(nil, uint64(len(padded))), padded...), padded
}

// FuzzReadFields: a frame larger than the read buffer, read field by field
// (from a stream that yields all at once or one byte per Read), decodes to
// what DecodeRPC gives for the whole payload: the same RPC, or an error
// of a known kind both times; the stream stays in sync after a decode
// error (the next frame reads).
func FuzzReadFields(f *testing.F) {
	_, spec := specFrame()
	f.Add(spec)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 4 {
		var buf bytes.Buffer
		if err := NewWriter(&buf, 4<<20).WriteRPC(randomStreamRPC(rng, 3)); err != nil {
			f.Fatal(err)
		}
		_, n := protowire.ConsumeVarint(buf.Bytes())
		f.Add(buf.Bytes()[n:])
	}
	f.Add([]byte{0x12, 0x05, 0x0a, 0x01})                          // a message cut short
	f.Add([]byte{0x1b, 0x1c})                                      // a group
	f.Add([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f})              // a length past the frame
	f.Add(append([]byte{0x12, 0x80, 0x40}, make([]byte, 8192)...)) // a message larger than the buffer
	f.Fuzz(func(t *testing.T, payload []byte) {
		frame, padded := largeFrame(payload)
		want, wantErr := DecodeRPC(padded)
		next, err := AppendFrame(nil, &pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Topicid: proto.String("next")}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		stream := append(frame, next...)
		for _, src := range []io.Reader{bytes.NewReader(stream), iotest.OneByteReader(bytes.NewReader(stream))} {
			r := NewReader(src, 1<<20)
			got, err := r.ReadRPC()
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("ReadRPC error %v, DecodeRPC error %v", err, wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrDecode) {
					t.Fatalf("ReadRPC: %v, want ErrDecode", err)
				}
			} else if !proto.Equal(got, want) {
				t.Fatal("ReadRPC and DecodeRPC differ")
			}
			after, err := r.ReadRPC()
			if err != nil || after.GetSubscriptions()[0].GetTopicid() != "next" {
				t.Fatalf("the next frame: %v, %v", after, err)
			}
		}
	})
}

// TestReadFieldsTruncated: a large frame cut anywhere ends in
// io.ErrUnexpectedEOF.
func TestReadFieldsTruncated(t *testing.T) {
	var buf bytes.Buffer
	if err := NewWriter(&buf, 4<<20).WriteRPC(randomStreamRPC(rand.New(rand.NewPCG(7, 8)), 10)); err != nil {
		t.Fatal(err)
	}
	frame, _ := largeFrame(buf.Bytes()[2:]) // any payload: it is cut anyway
	for cut := 1; cut < len(frame); cut += 997 {
		_, err := NewReader(bytes.NewReader(frame[:cut]), 1<<20).ReadRPC()
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrDecode) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}

// BenchmarkReadRPCLarge reads frames of one 64 KiB message.
func BenchmarkReadRPCLarge(b *testing.B) {
	var buf bytes.Buffer
	m := &pb.Message{From: make([]byte, 38), Seqno: make([]byte, 8), Topic: proto.String("t"), Signature: make([]byte, 64), Data: make([]byte, 64<<10)}
	if err := NewWriter(&buf, 0).WriteRPC(&pb.RPC{Publish: []*pb.Message{m}}); err != nil {
		b.Fatal(err)
	}
	frame := buf.Bytes()
	src := bytes.NewReader(frame)
	r := NewReader(src, 0)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(frame)
		if _, err := r.ReadRPC(); err != nil {
			b.Fatal(err)
		}
	}
}
