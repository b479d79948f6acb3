package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// specFrame builds, field by field with protowire, a frame holding an RPC
// that uses every field of the spec's RPC, Message and ControlMessage, so the
// test proves that pb's field numbers and the framing match the spec and not
// merely themselves.
func specFrame() (prefix, payload []byte) {
	bytesField := func(b []byte, num protowire.Number, v []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	varintField := func(b []byte, num protowire.Number, v uint64) []byte {
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	var sub []byte
	sub = varintField(sub, 1, 1) // subscribe = true
	sub = bytesField(sub, 2, []byte("blocks"))

	var msg []byte
	msg = bytesField(msg, 1, []byte("FROM"))
	msg = bytesField(msg, 2, []byte("hello"))
	msg = bytesField(msg, 3, []byte{0, 0, 0, 0, 0, 0, 0, 7})
	msg = bytesField(msg, 4, []byte("blocks"))
	msg = bytesField(msg, 5, []byte("SIG"))
	msg = bytesField(msg, 6, []byte("KEY"))

	var ihave []byte
	ihave = bytesField(ihave, 1, []byte("blocks"))
	ihave = bytesField(ihave, 2, []byte("id1"))
	ihave = bytesField(ihave, 2, []byte("id2"))
	var iwant []byte
	iwant = bytesField(iwant, 1, []byte("id3"))
	var graft []byte
	graft = bytesField(graft, 1, []byte("blocks"))
	var pinfo []byte
	pinfo = bytesField(pinfo, 1, []byte("PEER"))
	pinfo = bytesField(pinfo, 2, []byte("RECORD"))
	var prune []byte
	prune = bytesField(prune, 1, []byte("txs"))
	prune = bytesField(prune, 2, pinfo)
	prune = varintField(prune, 3, 60)
	var idw []byte
	idw = bytesField(idw, 1, []byte("id4"))
	var ctrl []byte
	ctrl = bytesField(ctrl, 1, ihave)
	ctrl = bytesField(ctrl, 2, iwant)
	ctrl = bytesField(ctrl, 3, graft)
	ctrl = bytesField(ctrl, 4, prune)
	ctrl = bytesField(ctrl, 5, idw)

	var rpc []byte
	rpc = bytesField(rpc, 1, sub)
	rpc = bytesField(rpc, 2, msg)
	rpc = bytesField(rpc, 3, ctrl)
	return protowire.AppendVarint(nil, uint64(len(rpc))), rpc
}

func TestSpecFrameDecodes(t *testing.T) {
	prefix, payload := specFrame()
	frame := append(prefix, payload...)
	rpc, err := NewReader(bytes.NewReader(frame), 0).ReadRPC()
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.RPC{
		Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String("blocks")}},
		Publish: []*pb.Message{{
			From: []byte("FROM"), Data: []byte("hello"), Seqno: []byte{0, 0, 0, 0, 0, 0, 0, 7},
			Topic: proto.String("blocks"), Signature: []byte("SIG"), Key: []byte("KEY"),
		}},
		Control: &pb.ControlMessage{
			Ihave:     []*pb.ControlIHave{{TopicID: proto.String("blocks"), MessageIDs: [][]byte{[]byte("id1"), []byte("id2")}}},
			Iwant:     []*pb.ControlIWant{{MessageIDs: [][]byte{[]byte("id3")}}},
			Graft:     []*pb.ControlGraft{{TopicID: proto.String("blocks")}},
			Prune:     []*pb.ControlPrune{{TopicID: proto.String("txs"), Peers: []*pb.PeerInfo{{PeerID: []byte("PEER"), SignedPeerRecord: []byte("RECORD")}}, Backoff: proto.Uint64(60)}},
			Idontwant: []*pb.ControlIDontWant{{MessageIDs: [][]byte{[]byte("id4")}}},
		},
	}
	if !proto.Equal(rpc, want) {
		t.Fatalf("decoded\n%v\nwant\n%v", rpc, want)
	}
	if len(rpc.ProtoReflect().GetUnknown()) != 0 {
		t.Fatal("spec fields decoded as unknown fields")
	}

	// The writer produces the very same bytes (fields in number order).
	var out bytes.Buffer
	if err := NewWriter(&out, 0).WriteRPC(want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), frame) {
		t.Fatalf("encoded\n%x\nwant\n%x", out.Bytes(), frame)
	}
}

func TestDecodeDoesNotAliasBuffer(t *testing.T) {
	prefix, payload := specFrame()
	r := NewReader(bytes.NewReader(append(prefix, payload...)), 0)
	rpc, err := r.ReadRPC()
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.buf {
		r.buf[i] = 0
	}
	if string(rpc.Publish[0].Data) != "hello" {
		t.Fatal("decoded message aliases the reader buffer")
	}
}

func TestReadSeveralFramesThenEOF(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	for i := range 3 {
		if err := w.WriteRPC(&pb.RPC{Publish: []*pb.Message{{Data: []byte{byte(i)}, Topic: proto.String("t")}}}); err != nil {
			t.Fatal(err)
		}
	}
	// An empty RPC is a valid zero-length frame.
	if err := w.WriteRPC(&pb.RPC{}); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 0)
	for i := range 3 {
		rpc, err := r.ReadRPC()
		if err != nil {
			t.Fatal(err)
		}
		if got := rpc.Publish[0].Data[0]; got != byte(i) {
			t.Fatalf("frame %d carries %d", i, got)
		}
	}
	if rpc, err := r.ReadRPC(); err != nil || len(rpc.Publish) != 0 {
		t.Fatalf("empty frame: %v %v", rpc, err)
	}
	if _, err := r.ReadRPC(); err != io.EOF {
		t.Fatalf("want io.EOF, got %v", err)
	}
}

func TestOversizedFrameRejectedWithoutAllocation(t *testing.T) {
	// Claims 2^40 bytes and sends none of them.
	frame := protowire.AppendVarint(nil, 1<<40)
	r := NewReader(bytes.NewReader(frame), 1024)
	_, err := r.ReadFrame()
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("want ErrFrameTooLarge, got %v", err)
	}
	if cap(r.buf) != 0 {
		t.Fatalf("reader allocated %d bytes for a rejected frame", cap(r.buf))
	}
	// One byte over the limit is rejected too; exactly the limit is fine.
	over := append(protowire.AppendVarint(nil, 1025), make([]byte, 1025)...)
	if _, err := NewReader(bytes.NewReader(over), 1024).ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("1025 > 1024: got %v", err)
	}
	exact := append(protowire.AppendVarint(nil, 1024), make([]byte, 1024)...)
	if _, err := NewReader(bytes.NewReader(exact), 1024).ReadFrame(); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
}

func TestBadFrames(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"prefix too long", bytes.Repeat([]byte{0xff}, 11), ErrBadLengthPrefix},
		{"prefix overflows", append(bytes.Repeat([]byte{0xff}, 9), 0x02), ErrBadLengthPrefix},
		{"truncated prefix", []byte{0x80}, io.ErrUnexpectedEOF},
		{"truncated payload", []byte{5, 1, 2}, io.ErrUnexpectedEOF},
		{"garbage payload", []byte{3, 0xff, 0xff, 0xff}, ErrDecode},
		{"nested length overruns frame", []byte{3, 0x0a, 0x05, 0x01}, ErrDecode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.frame), 0).ReadRPC()
			if !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func TestWriterRefusesOversizedRPC(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 100)
	err := w.WriteRPC(&pb.RPC{Publish: []*pb.Message{{Data: make([]byte, 200)}}})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("want ErrFrameTooLarge, got %v", err)
	}
	if buf.Len() != 0 {
		t.Fatal("writer wrote part of a refused RPC")
	}
}

func TestProtocols(t *testing.T) {
	if len(Protocols) != 6 || Protocols[0] != "/meshsub/1.4.0" || Protocols[1] != "/meshsub/1.3.0" || Protocols[2] != "/meshsub/1.2.0" || Protocols[5] != "/floodsub/1.0.0" {
		t.Fatalf("unexpected protocol list %v", Protocols)
	}
	if !IsPubsub("/meshsub/1.1.0") || !IsPubsub("/meshsub/1.3.0") || !IsPubsub("/meshsub/1.4.0") || IsPubsub("/meshsub/1.5.0") || !strings.HasPrefix(string(ProtocolMeshsub10), "/meshsub/") {
		t.Fatal("IsPubsub is wrong")
	}
}

// A frame borrows a buffer of the smallest class that holds it, at most
// 12.5% larger than the frame: a small frame after a large one does not
// hold the large one's buffer.
func TestFramePoolClasses(t *testing.T) {
	for c := 0; c < framePoolClasses; c++ {
		if got := capClass(classSize(c)); got != c {
			t.Fatalf("capClass(classSize(%d) = %d) = %d", c, classSize(c), got)
		}
		if c > 0 && classSize(c) <= classSize(c-1) {
			t.Fatalf("class %d (%d bytes) not above class %d", c, classSize(c), c-1)
		}
	}
	if classSize(framePoolClasses-1) != maxPooled {
		t.Fatalf("last class %d bytes, want %d", classSize(framePoolClasses-1), maxPooled)
	}
	for n := 0; n <= maxPooled+1; n += 1 + n/97 {
		bp := getBuf(n)
		c := cap(*bp)
		if c < n || (n > 1<<minPooledShift && n <= maxPooled && c > n+n/8) || (n <= 1<<minPooledShift && c > 1<<minPooledShift) {
			t.Fatalf("getBuf(%d): capacity %d", n, c)
		}
		if len(*bp) != 0 {
			t.Fatalf("getBuf(%d): length %d", n, len(*bp))
		}
		if n >= 1<<minPooledShift && n <= maxPooled {
			if s := classSize(capClass(n)); s > n {
				t.Fatalf("capClass(%d) has %d-byte buffers", n, s)
			}
		}
		*bp = append(*bp, 1)
		putBuf(bp)
	}
	big := getBuf(60 << 10)
	putBuf(big)
	if small := getBuf(1000); cap(*small) > 1<<minPooledShift {
		t.Fatalf("a 1000-byte frame borrowed a %d-byte buffer", cap(*small))
	}
	if b := getBuf(65536 + 200); cap(*b) > 73728 {
		t.Fatalf("a 64 KiB message's frame borrowed a %d-byte buffer", cap(*b))
	}
}
