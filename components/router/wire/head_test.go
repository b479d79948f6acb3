package wire

import (
	"bytes"
	"io"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

func headRPC(data []byte, subs int) *pb.RPC {
	rpc := &pb.RPC{Publish: []*pb.Message{{From: []byte("author"), Data: data, Seqno: []byte{1, 2, 3}, Topic: proto.String("t")}}}
	for range subs {
		rpc.Subscriptions = append(rpc.Subscriptions, &pb.RPC_SubOpts{Subscribe: proto.Bool(true), Topicid: proto.String("t")})
	}
	return rpc
}

func TestPeekMessageHead(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 5000)
	copy(data, "id-bytes")
	for _, subs := range []int{0, 2} {
		frame, err := proto.Marshal(headRPC(data, subs))
		if err != nil {
			t.Fatal(err)
		}
		h, ok := PeekMessageHead(frame[:100])
		if !ok || h.DataLen != len(data) || !bytes.HasPrefix(data, h.DataPrefix) || len(h.DataPrefix) < 8 || h.HasTopic {
			t.Fatalf("subs %d: head = %+v, %v", subs, h, ok)
		}
		// Cut before the data field: nothing to tell.
		if h, ok := PeekMessageHead(frame[:4]); ok {
			t.Fatalf("subs %d: head of 4 bytes = %+v", subs, h)
		}
	}
	// A sender that puts the topic first: the topic is known.
	var b []byte
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, "early-topic")
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, data)
	var f []byte
	f = protowire.AppendTag(f, 2, protowire.BytesType)
	f = protowire.AppendBytes(f, b)
	h, ok := PeekMessageHead(f[:64])
	if !ok || !h.HasTopic || h.Topic != "early-topic" || h.DataLen != len(data) {
		t.Fatalf("topic first: head = %+v, %v", h, ok)
	}
	// Control first, or not protobuf: nothing.
	ctrl, _ := proto.Marshal(&pb.RPC{Control: &pb.ControlMessage{Idontwant: []*pb.ControlIDontWant{{MessageIDs: [][]byte{[]byte("x")}}}}})
	for _, bad := range [][]byte{ctrl, {0xff, 0xff}, {0x12, 0xff}, nil} {
		if h, ok := PeekMessageHead(bad); ok {
			t.Fatalf("PeekMessageHead(%x) = %+v", bad, h)
		}
	}
}

// TestReadRPCHead: a large frame's head is shown to peek before the rest
// is read; a small frame's is not; both decode as ReadRPC decodes them.
func TestReadRPCHead(t *testing.T) {
	big := bytes.Repeat([]byte{1}, 20000)
	var stream bytes.Buffer
	w := NewWriter(&stream, 0)
	for _, rpc := range []*pb.RPC{headRPC(big, 1), headRPC([]byte("small"), 0)} {
		if err := w.WriteRPC(rpc); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&stream, 0)
	var heads []MessageHead
	peek := func(head []byte) {
		if len(head) != 512 {
			t.Errorf("head of %d bytes, want 512", len(head))
		}
		h, ok := PeekMessageHead(head)
		if !ok {
			t.Error("head not understood")
		}
		heads = append(heads, h)
	}
	for i, want := range [][]byte{big, []byte("small")} {
		rpc, err := r.ReadRPCHead(16<<10, 512, peek)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got := rpc.GetPublish()[0].GetData(); !bytes.Equal(got, want) {
			t.Fatalf("frame %d: data of %d bytes, want %d", i, len(got), len(want))
		}
	}
	if len(heads) != 1 || heads[0].DataLen != len(big) {
		t.Fatalf("heads = %+v, want one of the large frame", heads)
	}
	if _, err := r.ReadRPCHead(16<<10, 512, peek); err != io.EOF {
		t.Fatalf("at the end: %v, want EOF", err)
	}
}

// FuzzPeekMessageHead: never panics, never reads past the head, and what it
// tells of a valid RPC agrees with the RPC's first message.
func FuzzPeekMessageHead(f *testing.F) {
	for _, subs := range []int{0, 1, 3} {
		frame, _ := proto.Marshal(headRPC(bytes.Repeat([]byte{9}, 300), subs))
		f.Add(frame, uint16(40))
		f.Add(frame, uint16(len(frame)))
	}
	f.Add([]byte{0x12, 0x05, 0x12, 0x10, 1, 2, 3}, uint16(7))
	f.Fuzz(func(t *testing.T, frame []byte, cut uint16) {
		head := frame[:min(int(cut), len(frame))]
		h, ok := PeekMessageHead(head)
		if !ok {
			return
		}
		if len(h.DataPrefix) > h.DataLen || len(h.DataPrefix) > len(head) {
			t.Fatalf("prefix %d bytes, data %d, head %d", len(h.DataPrefix), h.DataLen, len(head))
		}
		var rpc pb.RPC
		if proto.Unmarshal(frame, &rpc) != nil || len(rpc.GetPublish()) == 0 {
			return
		}
		m := rpc.GetPublish()[0]
		// A repeated field may be split across entries and merged; compare
		// only when the message has one data field, as encoders write it.
		if enc, _ := proto.Marshal(m); !bytes.Contains(frame, enc) {
			return
		}
		if h.DataLen != len(m.GetData()) || !bytes.HasPrefix(m.GetData(), h.DataPrefix) {
			t.Fatalf("head says %d data bytes starting %x; the message has %d starting %x", h.DataLen, h.DataPrefix, len(m.GetData()), m.GetData()[:min(8, len(m.GetData()))])
		}
		if h.HasTopic && h.Topic != m.GetTopic() {
			t.Fatalf("head topic %q, message topic %q", h.Topic, m.GetTopic())
		}
	})
}

func TestPeekFragmentHead(t *testing.T) {
	topic := "t"
	f := &pb.LargeMessageFragment{MessageID: []byte("mid"), FragmentIndex: proto.Uint32(0), TotalFragments: proto.Uint32(3),
		FragmentData: make([]byte, 5000), TopicID: &topic}
	b, err := proto.Marshal(&pb.RPC{LargeMessageFragments: []*pb.LargeMessageFragment{f}})
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{20, 512, len(b)} {
		h, ok := PeekFragmentHead(b[:cut])
		if !ok || string(h.ID) != "mid" || h.Index != 0 || h.Total != 3 || h.DataLen != 5000 || h.HasTopic {
			t.Fatalf("cut %d: %+v %v", cut, h, ok)
		}
	}
	for _, cut := range []int{0, 1, 3, 6} {
		if h, ok := PeekFragmentHead(b[:cut]); ok {
			t.Fatalf("cut %d: %+v from a head that does not reach the data", cut, h)
		}
	}
	msg, _ := proto.Marshal(&pb.RPC{Publish: []*pb.Message{{Data: []byte("x")}}})
	if _, ok := PeekFragmentHead(msg); ok {
		t.Fatal("a message frame read as a fragment")
	}
	noID, _ := proto.Marshal(&pb.RPC{LargeMessageFragments: []*pb.LargeMessageFragment{{FragmentData: []byte("x")}}})
	if _, ok := PeekFragmentHead(noID); ok {
		t.Fatal("a fragment without id")
	}
}

func FuzzPeekFragmentHead(f *testing.F) {
	topic := "t"
	b, _ := proto.Marshal(&pb.RPC{LargeMessageFragments: []*pb.LargeMessageFragment{{MessageID: []byte("mid"),
		FragmentIndex: proto.Uint32(1), TotalFragments: proto.Uint32(3), FragmentData: []byte("data"), TopicID: &topic}}})
	f.Add(b)
	f.Add([]byte{0x62, 0x80})
	f.Fuzz(func(t *testing.T, head []byte) {
		h, ok := PeekFragmentHead(head)
		if ok && (h.ID == nil || h.DataLen < 0 || len(h.ID) > len(head)) {
			t.Fatalf("%+v", h)
		}
	})
}
