package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// FuzzReadRPC feeds arbitrary streams to a Reader: it must never panic, never
// buffer more than the maximum size, and end every stream with an error
// (io.EOF for a clean end).
func FuzzReadRPC(f *testing.F) {
	prefix, payload := specFrame()
	f.Add(append(prefix, payload...))
	f.Add(protowire.AppendVarint(nil, 1<<40))
	f.Add(bytes.Repeat([]byte{0xff}, 12))
	f.Add([]byte{3, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{5, 1, 2})
	// gossipsub v1.3 and partial messages: Extensions, a partial RPC, a
	// SubOpts with the partial options, and an unknown extension field.
	for _, r := range []*pb.RPC{
		{Control: &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}},
		{Partial: &pb.PartialMessagesExtension{TopicID: proto.String("t"), GroupID: []byte("g"), PartialMessage: []byte{0, 1, 'x'}, PartsMetadata: []byte{1}}},
		{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String("t"), RequestsPartial: proto.Bool(true), SupportsSendingPartial: proto.Bool(true)}}},
		// gossipsub v1.4: the large-message extension and a fragment.
		{Control: &pb.ControlMessage{Extensions: &pb.ControlExtensions{LargeMessageHandling: proto.Bool(true)}},
			LargeMessageFragments: []*pb.LargeMessageFragment{{MessageID: []byte("id"), FragmentIndex: proto.Uint32(1), TotalFragments: proto.Uint32(2), FragmentData: []byte("d"), TopicID: proto.String("t")}}},
		// gossipsub v1.4 control: PREAMBLE and IMRECEIVING.
		{Control: &pb.ControlMessage{Preamble: []*pb.ControlPreamble{{MessageID: []byte("m"), MessageSize: proto.Uint64(1 << 16), TopicID: proto.String("t")}},
			Imreceiving: []*pb.ControlImReceiving{{MessageID: []byte("m")}}}},
	} {
		fr, err := AppendFrame(nil, r, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fr)
	}
	f.Add([]byte{7, 0x1a, 5, 0x32, 3, 0x90, 0x89, 0x9f}) // truncated unknown extension
	const max = 4096
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream), max)
		for i := 0; ; i++ {
			if i > len(stream) {
				t.Fatal("reader made more frames than there are bytes")
			}
			rpc, err := r.ReadRPC()
			if cap(r.buf) > max {
				t.Fatalf("reader buffered %d > %d bytes", cap(r.buf), max)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrFrameTooLarge) &&
					!errors.Is(err, ErrBadLengthPrefix) && !errors.Is(err, ErrDecode) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			// What decodes re-encodes within the limit (unknown fields are
			// kept, so the size never grows).
			if n := proto.Size(rpc); n > max {
				t.Fatalf("decoded RPC re-encodes to %d > %d bytes", n, max)
			}
		}
	})
}

// FuzzVerify feeds arbitrary message fields to CheckPolicy and Verify: they
// must never panic, and a message that verifies must stop verifying when its
// data changes.
func FuzzVerify(f *testing.F) {
	for i, typ := range []int{crypto.Ed25519, crypto.Secp256k1, crypto.RSA} {
		key := genKey(f, typ, int64(100+i))
		m := newMsg("seed")
		if err := Sign(m, key); err != nil {
			f.Fatal(err)
		}
		f.Add(m.From, m.Data, m.Seqno, m.GetTopic(), m.Signature, m.Key)
	}
	f.Add([]byte("garbage"), []byte{}, []byte{1}, "", []byte{1}, []byte{8, 1, 18, 0})
	f.Add([]byte{}, []byte{}, []byte{}, "t", []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, from, data, seqno []byte, topic string, sig, key []byte) {
		m := &pb.Message{From: from, Data: data, Seqno: seqno, Topic: proto.String(topic), Signature: sig, Key: key}
		v := NewVerifier()
		for _, p := range []SignPolicy{StrictSign, StrictNoSign, LaxSign, LaxNoSign} {
			want := CheckPolicy(m, p)
			for range 2 { // cold, then warm
				got := v.CheckPolicy(m, p)
				same := (got == nil) == (want == nil)
				for _, e := range []error{ErrMissingSignature, ErrInvalidSignature, ErrUnexpectedSignature, ErrMalformedMessage} {
					same = same && errors.Is(got, e) == errors.Is(want, e)
				}
				if !same {
					t.Fatalf("%s: Verifier says %v, CheckPolicy %v", p, got, want)
				}
			}
		}
		if Verify(m) == nil {
			m.Data = append(append([]byte(nil), data...), 0x5a)
			if err := Verify(m); err == nil {
				t.Fatal("signature still verifies after the data changed")
			}
		}
	})
}

func BenchmarkReadRPC(b *testing.B) {
	var buf bytes.Buffer
	rpc := &pb.RPC{Publish: []*pb.Message{{Data: make([]byte, 1024), From: make([]byte, 38), Seqno: make([]byte, 8), Topic: proto.String("t"), Signature: make([]byte, 64)}}}
	frame, _ := AppendFrame(nil, rpc, 0)
	for range 1000 {
		buf.Write(frame)
	}
	data := buf.Bytes()
	src := bytes.NewReader(data)
	r := NewReader(src, 0)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadRPC(); err != nil {
			src.Reset(data)
			r = NewReader(src, 0)
		}
	}
}

func BenchmarkWriteRPC(b *testing.B) {
	rpc := &pb.RPC{Publish: []*pb.Message{{Data: make([]byte, 1024), From: make([]byte, 38), Seqno: make([]byte, 8), Topic: proto.String("t"), Signature: make([]byte, 64)}}}
	w := NewWriter(io.Discard, 0)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteRPC(rpc); err != nil {
			b.Fatal(err)
		}
	}
}
