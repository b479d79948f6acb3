package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

func TestSeqnoBigEndianAndIncreasing(t *testing.T) {
	s := NewSeqno(0x0102030405060708)
	if got := s.Next(); !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("first seqno %x", got)
	}
	if v, ok := SeqnoValue(s.Next()); !ok || v != 0x0102030405060709 {
		t.Fatalf("second seqno %x %v", v, ok)
	}
	if _, ok := SeqnoValue([]byte{1}); ok {
		t.Fatal("short seqno accepted")
	}
	wrap := NewSeqno(^uint64(0))
	wrap.Next()
	if v, _ := SeqnoValue(wrap.Next()); v != 0 {
		t.Fatalf("seqno after max is %d, want 0", v)
	}
}

func TestDefaultMsgIDIsFromThenSeqno(t *testing.T) {
	m := &pb.Message{From: []byte{0x00, 0x25, 0xff}, Seqno: []byte{0, 0, 0, 0, 0, 0, 0, 9}, Data: []byte("d")}
	want := string([]byte{0x00, 0x25, 0xff, 0, 0, 0, 0, 0, 0, 0, 9})
	if got := DefaultMsgID(m); got != want {
		t.Fatalf("id %x, want %x", got, want)
	}
	a := ContentMsgID(&pb.Message{Data: []byte("d"), Topic: proto.String("t")})
	b := ContentMsgID(&pb.Message{Data: []byte("d"), Topic: proto.String("u")})
	c := ContentMsgID(&pb.Message{Data: []byte("d"), Topic: proto.String("t"), From: []byte("x")})
	if a == b || a != c || len(a) != 32 {
		t.Fatal("ContentMsgID must depend on topic and data only")
	}
}
