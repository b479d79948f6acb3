package wire

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

func genKey(t testing.TB, typ int, seed int64) crypto.PrivKey {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	bits := -1
	if typ == crypto.RSA {
		bits = 2048
	}
	k, _, err := crypto.GenerateKeyPairWithReader(typ, bits, r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newMsg(data string) *pb.Message {
	return &pb.Message{Data: []byte(data), Seqno: NewSeqno(42).Next(), Topic: proto.String("blocks")}
}

func TestSignVerifyKeyTypes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		typ     int
		wantKey bool
	}{
		{"ed25519", crypto.Ed25519, false},
		{"secp256k1", crypto.Secp256k1, false},
		{"rsa", crypto.RSA, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := genKey(t, tt.typ, 1)
			m := newMsg("hello")
			if err := Sign(m, key); err != nil {
				t.Fatal(err)
			}
			if (m.Key != nil) != tt.wantKey {
				t.Fatalf("key field set = %v, want %v", m.Key != nil, tt.wantKey)
			}
			id, _ := peer.IDFromPrivateKey(key)
			if peer.ID(m.From) != id {
				t.Fatal("from is not the signer")
			}
			if err := Verify(m); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := CheckPolicy(m, StrictSign); err != nil {
				t.Fatalf("policy: %v", err)
			}
			tampered := proto.Clone(m).(*pb.Message)
			tampered.Data = []byte("hellO")
			if err := Verify(tampered); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("tampered data: %v", err)
			}
			tampered = proto.Clone(m).(*pb.Message)
			tampered.Topic = proto.String("other")
			if err := Verify(tampered); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("tampered topic: %v", err)
			}
		})
	}
}

// The signature covers "libp2p-pubsub:" followed by the message fields 1-4
// in field order, built here byte by byte rather than through Sign's code.
func TestSignatureFormatMatchesSpec(t *testing.T) {
	key := genKey(t, crypto.Ed25519, 2)
	m := newMsg("payload")
	if err := Sign(m, key); err != nil {
		t.Fatal(err)
	}
	b := []byte("libp2p-pubsub:")
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, m.From)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("payload"))
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, m.Seqno)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("blocks"))
	ok, err := key.GetPublic().Verify(b, m.Signature)
	if err != nil || !ok {
		t.Fatalf("signature is not over the spec bytes: %v", err)
	}
	// And a signature made independently over those bytes verifies.
	sig, err := key.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = sig
	if err := Verify(m); err != nil {
		t.Fatalf("independent signature: %v", err)
	}
}

func TestVerifyKeyFieldConsistency(t *testing.T) {
	rsaKey := genKey(t, crypto.RSA, 3)
	edKey := genKey(t, crypto.Ed25519, 4)
	other := genKey(t, crypto.Ed25519, 5)

	// RSA: no key field, no way to verify.
	m := newMsg("x")
	if err := Sign(m, rsaKey); err != nil {
		t.Fatal(err)
	}
	noKey := proto.Clone(m).(*pb.Message)
	noKey.Key = nil
	if err := Verify(noKey); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("rsa without key: %v", err)
	}
	// RSA: key of another peer.
	wrong := proto.Clone(m).(*pb.Message)
	wrong.Key, _ = crypto.MarshalPublicKey(other.GetPublic())
	if err := Verify(wrong); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("rsa with foreign key: %v", err)
	}
	// Garbage key field.
	wrong.Key = []byte{1, 2, 3}
	if err := Verify(wrong); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("rsa with garbage key: %v", err)
	}

	// Ed25519: a redundant key field must match the embedded key.
	m = newMsg("y")
	if err := Sign(m, edKey); err != nil {
		t.Fatal(err)
	}
	same := proto.Clone(m).(*pb.Message)
	same.Key, _ = crypto.MarshalPublicKey(edKey.GetPublic())
	if err := Verify(same); err != nil {
		t.Fatalf("matching redundant key: %v", err)
	}
	same.Key, _ = crypto.MarshalPublicKey(other.GetPublic())
	if err := Verify(same); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("mismatched redundant key: %v", err)
	}

	// A message signed by one key and claiming another author.
	forged := newMsg("z")
	otherID, _ := peer.IDFromPrivateKey(other)
	forged.From = []byte(otherID)
	if err := Sign(forged, edKey); err == nil {
		t.Fatal("Sign accepted a from that is not the key's peer")
	}
	forged.From = nil
	_ = Sign(forged, edKey)
	forged.From = []byte(otherID)
	if err := Verify(forged); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("forged author: %v", err)
	}
}

func TestCheckPolicy(t *testing.T) {
	key := genKey(t, crypto.Ed25519, 6)
	signed := newMsg("s")
	if err := Sign(signed, key); err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	unsigned := newMsg("u")
	unsigned.From = []byte(id)
	bare := &pb.Message{Data: []byte("b"), Topic: proto.String("blocks")}
	badSig := proto.Clone(signed).(*pb.Message)
	badSig.Signature[0] ^= 1
	noTopic := proto.Clone(signed).(*pb.Message)
	noTopic.Topic = nil
	shortSeq := proto.Clone(unsigned).(*pb.Message)
	shortSeq.Seqno = []byte{1}
	noSeq := newMsg("n")
	noSeq.Seqno = nil
	if err := Sign(noSeq, key); err != nil {
		t.Fatal(err)
	}
	badFrom := proto.Clone(unsigned).(*pb.Message)
	badFrom.From = []byte("not a peer id")

	cases := []struct {
		name   string
		m      *pb.Message
		policy SignPolicy
		want   error
	}{
		{"strict sign accepts signed", signed, StrictSign, nil},
		{"strict sign rejects unsigned", unsigned, StrictSign, ErrMissingSignature},
		{"strict sign rejects bad signature", badSig, StrictSign, ErrInvalidSignature},
		{"strict sign rejects missing topic", noTopic, StrictSign, ErrMalformedMessage},
		{"strict sign rejects missing seqno", noSeq, StrictSign, ErrMalformedMessage},
		{"lax sign accepts missing seqno", noSeq, LaxSign, nil},
		{"strict no sign accepts bare", bare, StrictNoSign, nil},
		{"strict no sign rejects signed", signed, StrictNoSign, ErrUnexpectedSignature},
		{"strict no sign rejects author", unsigned, StrictNoSign, ErrUnexpectedSignature},
		{"lax sign accepts unsigned", unsigned, LaxSign, nil},
		{"lax sign verifies signed", badSig, LaxSign, ErrInvalidSignature},
		{"lax no sign accepts signed", signed, LaxNoSign, nil},
		{"lax rejects short seqno", shortSeq, LaxNoSign, ErrMalformedMessage},
		{"lax rejects bad from", badFrom, LaxNoSign, ErrMalformedMessage},
	}
	// A Verifier gives the same verdicts, with its cache cold and warm (the
	// second round, after every author's key was cached).
	v := NewVerifier()
	for round := range 3 {
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				err := CheckPolicy(tt.m, tt.policy)
				if round > 0 {
					err = v.CheckPolicy(tt.m, tt.policy)
				}
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("round %d: want %v, got %v", round, tt.want, err)
				}
			})
		}
	}
}

func TestSignPolicyNames(t *testing.T) {
	for p, want := range map[SignPolicy]string{StrictSign: "strict_sign", StrictNoSign: "strict_no_sign", LaxSign: "lax_sign", LaxNoSign: "lax_no_sign", 9: "unknown"} {
		if p.String() != want || p.Valid() != (want != "unknown") {
			t.Fatalf("%d: %s valid=%v", p, p.String(), p.Valid())
		}
	}
	if !StrictSign.Signs() || StrictNoSign.Signs() || LaxNoSign.Signs() || !LaxSign.Signs() {
		t.Fatal("Signs is wrong")
	}
	if StrictNoSign.HasAuthor() || !LaxNoSign.HasAuthor() {
		t.Fatal("HasAuthor is wrong")
	}
}

// BenchmarkSign signs a 1 KiB message with a Signer (curve25519-voi for
// ed25519 keys) and, as the baseline, with go-libp2p's own key.Sign over
// the same bytes (crypto/ed25519): compare with benchstat -col /impl.
func BenchmarkSign(b *testing.B) {
	key := genKey(b, crypto.Ed25519, 7)
	s, err := NewSigner(key)
	if err != nil {
		b.Fatal(err)
	}
	m := newMsg(string(make([]byte, 1024)))
	b.Run("impl=signer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Sign(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=libp2p", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bp := signedBytes(m)
			if _, err := key.Sign(*bp); err != nil {
				b.Fatal(err)
			}
			putSignBuf(bp)
		}
	})
}

// TestSignerMatchesLibp2p: a Signer's ed25519 signatures (curve25519-voi)
// are byte for byte go-libp2p's (crypto/ed25519) over the same bytes, for
// many keys and message sizes; other key types go through libp2p's Sign.
func TestSignerMatchesLibp2p(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for i := range 40 {
		key := genKey(t, crypto.Ed25519, int64(100+i))
		s, err := NewSigner(key)
		if err != nil {
			t.Fatal(err)
		}
		if s.ed == nil {
			t.Fatal("an ed25519 key is not signed with curve25519-voi")
		}
		data := make([]byte, r.Intn(3000))
		r.Read(data)
		m := newMsg(string(data))
		if err := s.Sign(m); err != nil {
			t.Fatal(err)
		}
		bp := signedBytes(m)
		want, err := key.Sign(*bp)
		putSignBuf(bp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Signature, want) {
			t.Fatalf("key %d, %d bytes: signature %x, libp2p's %x", i, len(data), m.Signature, want)
		}
		if err := Verify(m); err != nil {
			t.Fatalf("key %d: own signature does not verify: %v", i, err)
		}
	}
	for _, typ := range []int{crypto.Secp256k1, crypto.ECDSA} {
		s, err := NewSigner(genKey(t, typ, 9))
		if err != nil {
			t.Fatal(err)
		}
		if s.ed != nil {
			t.Fatalf("key type %d took the ed25519 path", typ)
		}
		m := newMsg("x")
		if err := s.Sign(m); err != nil {
			t.Fatal(err)
		}
		if err := Verify(m); err != nil {
			t.Fatalf("key type %d: %v", typ, err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	key := genKey(b, crypto.Ed25519, 8)
	m := newMsg(string(make([]byte, 1024)))
	if err := Sign(m, key); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignedBytesIsDeterministicMarshal: the hand-written encoding signed
// over is byte for byte what a deterministic protobuf encoder gives for the
// message without signature and key, for every mix of present, empty and
// absent fields, with and without unknown fields.
func TestSignedBytesIsDeterministicMarshal(t *testing.T) {
	opt := func(i int, v []byte) []byte {
		switch i % 3 {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		return v
	}
	for i := range 81 * 2 {
		m := &pb.Message{
			From:      opt(i, []byte("from")),
			Data:      opt(i/3, bytes.Repeat([]byte{1}, 300)),
			Seqno:     opt(i/9, []byte("12345678")),
			Signature: []byte("sig"),
			Key:       []byte("key"),
		}
		switch (i / 27) % 3 {
		case 1:
			m.Topic = proto.String("")
		case 2:
			m.Topic = proto.String("topic")
		}
		if i >= 81 {
			m.ProtoReflect().SetUnknown([]byte{0xf8, 0x01, 0x01})
		}
		c := &pb.Message{From: m.From, Data: m.Data, Seqno: m.Seqno, Topic: m.Topic}
		c.ProtoReflect().SetUnknown(m.ProtoReflect().GetUnknown())
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]byte(SignPrefix), want...)
		bp := signedBytes(m)
		if !bytes.Equal(*bp, want) {
			t.Fatalf("case %d: signed bytes\n%x\nwant\n%x", i, *bp, want)
		}
		putSignBuf(bp)
	}
}
