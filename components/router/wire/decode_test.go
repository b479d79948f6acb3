package wire

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// decodeSeeds are RPC encodings that reach every branch of DecodeRPC:
// messages decoded by hand and by proto (unknown, repeated or mistyped
// fields), empty fields, other fields between messages, groups, and
// malformed input at either level.
func decodeSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	topic, empty := "t", ""
	full := &pb.Message{From: []byte("author-id"), Data: bytes.Repeat([]byte{7}, 100), Seqno: []byte{0, 0, 0, 0, 0, 0, 0, 1},
		Topic: &topic, Signature: bytes.Repeat([]byte{9}, 64), Key: []byte("key")}
	var seeds [][]byte
	for _, r := range []*pb.RPC{
		{},
		{Publish: []*pb.Message{full}},
		{Publish: []*pb.Message{{}, {Data: []byte{}, Topic: &empty, From: []byte{}}}},
		{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: &topic}}, Publish: []*pb.Message{full, full},
			Control: &pb.ControlMessage{Idontwant: []*pb.ControlIDontWant{{MessageIDs: [][]byte{[]byte("x")}}}}},
		{Control: &pb.ControlMessage{Ihave: []*pb.ControlIHave{{TopicID: &topic, MessageIDs: [][]byte{[]byte("a")}}}}},
		// gossipsub v1.4: fragments (field 12) alone, and around messages.
		{LargeMessageFragments: []*pb.LargeMessageFragment{
			{MessageID: []byte("id"), FragmentIndex: proto.Uint32(0), TotalFragments: proto.Uint32(2), FragmentData: []byte("half"), TopicID: &topic},
			{MessageID: []byte("id"), FragmentIndex: proto.Uint32(1), TotalFragments: proto.Uint32(2), FragmentData: []byte("rest"), TopicID: &topic},
		}},
		{Publish: []*pb.Message{full}, LargeMessageFragments: []*pb.LargeMessageFragment{{MessageID: []byte{}, FragmentData: []byte{}}},
			Control: &pb.ControlMessage{Extensions: &pb.ControlExtensions{LargeMessageHandling: proto.Bool(true)}}},
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	msg := func(fields ...[]byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), bytes.Join(fields, nil))
	}
	bytesField := func(num protowire.Number, v string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	seeds = append(seeds,
		msg(bytesField(2, "a"), bytesField(2, "b")),                                                           // repeated data: the last wins
		msg(bytesField(2, "a"), bytesField(9, "unknown")),                                                     // unknown field kept
		msg(bytesField(2, "a"), protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 5)), // mistyped seqno
		append(msg(bytesField(4, "t")), bytesField(77, "top-level unknown")...),
		append(append(bytesField(1, "\x10\x01"), msg(bytesField(2, "d"))...), bytesField(1, "\x12\x01t")...), // subscriptions around a message
		append(msg(bytesField(2, "d")), protowire.AppendTag(nil, 5, protowire.StartGroupType)...),            // unterminated group
		append(msg(bytesField(2, "d")), protowire.AppendTag(protowire.AppendTag(nil, 5, protowire.StartGroupType), 5, protowire.EndGroupType)...),
		msg([]byte{0x12, 5, 'a'}),                                                                // truncated data inside a message
		[]byte{0x12, 3, 0x12, 1},                                                                 // truncated message
		append(msg(bytesField(2, "d")), 0x1a, 2, 0xff, 0xff),                                     // undecodable control after a message
		append(msg(bytesField(2, "d")), 0x62, 3, 0x10, 0xff, 0xff),                               // truncated fragment index after a message
		append(bytesField(12, "\x0a\x01i\x10\x00\x18\x01\x22\x01d"), msg(bytesField(2, "d"))...), // a fragment, then a message
	)
	return seeds
}

// checkDecode compares DecodeRPC with proto.Unmarshal on b.
func checkDecode(t *testing.T, b []byte) {
	got, err := DecodeRPC(b)
	var want pb.RPC
	werr := proto.Unmarshal(b, &want)
	if (err == nil) != (werr == nil) {
		t.Fatalf("DecodeRPC error %v, proto.Unmarshal error %v", err, werr)
	}
	if err != nil {
		return
	}
	if !proto.Equal(got, &want) {
		t.Fatalf("DecodeRPC = %v, proto.Unmarshal = %v", got, &want)
	}
	if len(got.Publish) != len(want.Publish) {
		t.Fatalf("%d messages, want %d", len(got.Publish), len(want.Publish))
	}
	for i, m := range got.Publish {
		if FingerprintOf(m) != FingerprintOf(want.Publish[i]) || !SameMessage(m, want.Publish[i]) {
			t.Fatalf("message %d differs in presence or bytes: %v vs %v", i, m, want.Publish[i])
		}
		// Fields do not share capacity: an append copies.
		if m.From != nil && m.Data != nil {
			data := string(m.Data)
			_ = append(m.From, 0xee)
			if string(m.Data) != data {
				t.Fatal("appending to From overwrote Data")
			}
		}
	}
	// The result does not alias the input.
	for i := range b {
		b[i] ^= 0xff
	}
	if !proto.Equal(got, &want) {
		t.Fatal("DecodeRPC's result changed with its input")
	}
}

// DecodeMessage decodes a message as DecodeRPC decodes a publish entry.
func TestDecodeMessage(t *testing.T) {
	topic := "t"
	m := &pb.Message{From: []byte("a"), Data: []byte("data"), Seqno: []byte{1}, Topic: &topic}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMessage(b)
	if err != nil || !proto.Equal(got, m) {
		t.Fatalf("DecodeMessage = %v, %v", got, err)
	}
	withUnknown := append(bytes.Clone(b), protowire.AppendString(protowire.AppendTag(nil, 9, protowire.BytesType), "x")...)
	if got, err := DecodeMessage(withUnknown); err != nil || len(got.ProtoReflect().GetUnknown()) == 0 {
		t.Fatalf("DecodeMessage with an unknown field = %v, %v", got, err)
	}
	if _, err := DecodeMessage([]byte{0x12, 5, 'a'}); !errors.Is(err, ErrDecode) {
		t.Fatalf("truncated message: %v, want ErrDecode", err)
	}
	for _, in := range [][]byte{b, withUnknown, {0x12, 5, 'a'}} {
		want, werr := DecodeMessage(in)
		got, err := DecodeMessageOwned(bytes.Clone(in))
		if (err == nil) != (werr == nil) || (err == nil && !proto.Equal(got, want)) {
			t.Fatalf("DecodeMessageOwned = %v, %v; DecodeMessage = %v, %v", got, err, want, werr)
		}
	}
}

func TestDecodeRPCMatchesProto(t *testing.T) {
	for _, s := range decodeSeeds(t) {
		checkDecode(t, bytes.Clone(s))
	}
}

// FuzzDecodeRPC: DecodeRPC accepts what proto.Unmarshal accepts, with an
// equal RPC (every field's presence and bytes, unknown fields included),
// and refuses what it refuses.
func FuzzDecodeRPC(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

func TestDecodeRPCAllocations(t *testing.T) {
	topic := "topic"
	m := &pb.Message{From: make([]byte, 38), Data: make([]byte, 1024), Seqno: make([]byte, 8), Topic: &topic, Signature: make([]byte, 64)}
	b, err := proto.Marshal(&pb.RPC{Publish: []*pb.Message{m, m, m}})
	if err != nil {
		t.Fatal(err)
	}
	// The RPC, its publish slice, and two per message.
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeRPC(b) }); n > 2+2*3 {
		t.Fatalf("DecodeRPC of 3 messages: %.0f allocations, want at most 8", n)
	}
}

func BenchmarkDecodeRPC(b *testing.B) {
	topic := "topic"
	m := &pb.Message{From: make([]byte, 38), Data: make([]byte, 1024), Seqno: make([]byte, 8), Topic: &topic, Signature: make([]byte, 64)}
	frame, err := proto.Marshal(&pb.RPC{Publish: []*pb.Message{m}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := DecodeRPC(frame); err != nil {
			b.Fatal(err)
		}
	}
}
