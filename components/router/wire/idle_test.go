package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// A Reader holds its read buffer only while bytes are buffered: none
// before the first frame and none after a frame that left nothing unread,
// however the stream splits its bytes (one at a time, or with the error in
// the same call as the last bytes), and small and pooled-size frames
// decode the same way.
func TestReaderHoldsNoBufferWhenIdle(t *testing.T) {
	var frames bytes.Buffer
	w := NewWriter(&frames, 0)
	sizes := []int{1, 100, readBufSize + 500, 3, 2 * readBufSize}
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte(i)}, n)
		if err := w.WriteRPC(&pb.RPC{Publish: []*pb.Message{{Data: data, Topic: proto.String("t")}}}); err != nil {
			t.Fatal(err)
		}
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"data-err": iotest.DataErrReader,
		"half":     iotest.HalfReader,
	} {
		t.Run(name, func(t *testing.T) {
			r := NewReader(wrap(bytes.NewReader(frames.Bytes())), 0)
			if r.r != nil {
				t.Fatal("a new Reader holds a buffer")
			}
			for i, n := range sizes {
				rpc, err := r.ReadRPC()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if d := rpc.Publish[0].Data; len(d) != n || d[0] != byte(i) {
					t.Fatalf("frame %d: %d bytes of %d", i, len(d), d[0])
				}
				if r.r != nil && r.r.Buffered() == 0 {
					t.Fatalf("frame %d: a buffer with nothing unread is held", i)
				}
			}
			if _, err := r.ReadRPC(); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
			if r.r != nil {
				t.Fatal("buffer held at the end of the stream")
			}
		})
	}
}

// A stream that ends inside a frame, or after a partial length prefix, is
// io.ErrUnexpectedEOF; an error before any byte is returned as it is.
func TestReaderTruncatedAndFailingStreams(t *testing.T) {
	var frame bytes.Buffer
	if err := NewWriter(&frame, 0).WriteRPC(&pb.RPC{Publish: []*pb.Message{{Data: make([]byte, 300)}}}); err != nil {
		t.Fatal(err)
	}
	b := frame.Bytes()
	for _, cut := range []int{1, 2, 10, len(b) - 1} {
		_, err := NewReader(bytes.NewReader(b[:cut]), 0).ReadRPC()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	boom := errors.New("reset")
	if _, err := NewReader(iotest.ErrReader(boom), 0).ReadRPC(); !errors.Is(err, boom) {
		t.Errorf("failing stream: %v", err)
	}
}
