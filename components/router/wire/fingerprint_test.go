package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// TestFingerprintTellsCopiesApart: equal bytes give equal fingerprints;
// any difference CheckPolicy could see (a field's value, or its presence:
// empty versus absent) gives a different one.
func TestFingerprintTellsCopiesApart(t *testing.T) {
	base := func() *pb.Message {
		return &pb.Message{From: []byte("from"), Seqno: []byte("12345678"), Topic: proto.String("t"), Data: []byte("data"), Signature: []byte("sig")}
	}
	b, err := proto.Marshal(base())
	if err != nil {
		t.Fatal(err)
	}
	decoded := new(pb.Message)
	if err := proto.Unmarshal(b, decoded); err != nil {
		t.Fatal(err)
	}
	if FingerprintOf(base()) != FingerprintOf(decoded) {
		t.Fatal("a decoded copy of the same bytes has another fingerprint")
	}
	variants := map[string]func(m *pb.Message){
		"data":            func(m *pb.Message) { m.Data = []byte("datb") },
		"signature":       func(m *pb.Message) { m.Signature = []byte("sih") },
		"no signature":    func(m *pb.Message) { m.Signature = nil },
		"empty signature": func(m *pb.Message) { m.Signature = []byte{} },
		"key":             func(m *pb.Message) { m.Key = []byte{} },
		"no topic":        func(m *pb.Message) { m.Topic = nil },
		"empty topic":     func(m *pb.Message) { m.Topic = proto.String("") },
		"field moved":     func(m *pb.Message) { m.From, m.Seqno = []byte("from1"), []byte("2345678") },
		"unknown field":   func(m *pb.Message) { m.ProtoReflect().SetUnknown([]byte{0xf8, 0x01, 0x01}) },
	}
	seen := map[Fingerprint]string{FingerprintOf(base()): "base"}
	for name, mut := range variants {
		m := base()
		mut(m)
		fp := FingerprintOf(m)
		if other, ok := seen[fp]; ok {
			t.Errorf("%s has the fingerprint of %s", name, other)
		}
		if SameMessage(base(), m) || SameMessage(m, base()) {
			t.Errorf("SameMessage takes %s for the base message", name)
		}
		if !SameMessage(m, proto.Clone(m).(*pb.Message)) {
			t.Errorf("SameMessage tells %s from its clone", name)
		}
		seen[fp] = name
	}
	_ = FingerprintOf(nil) // no panic
	if !SameMessage(base(), decoded) || SameMessage(base(), nil) || !SameMessage(nil, nil) {
		t.Fatal("SameMessage: a decoded copy differs, or nil matches a message")
	}
}
