package wire

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
	voied "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// The modes of an ed25519 differential case (see ed25519Case).
const (
	edSigned    = 1 << iota // sign with the seed's scalar (else pub and sig are raw)
	edAddL                  // signed: add the group order L to S (S >= L)
	edFlipData              // signed: change the data after signing
	edSmallR                // signed: R is the identity (nonce 0); raw: R := [S]B
	edTorsionA              // signed: the key is [a]B plus a point of order 8
	edNoReduceS             // raw with edSmallR: use S as given (no reduction)
)

// groupOrder is L, the order of the ed25519 base point, little-endian.
var groupOrder = [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}

// torsionPoints are the canonical encodings of the eight points of small
// order (TestEd25519TorsionFixtures checks them).
var torsionPoints = [8]string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// nonCanonicalY returns the encoding of y = p + i (0 <= i <= 18), a
// non-canonical encoding of y = i, with the sign bit set if neg.
func nonCanonicalY(i byte, neg bool) []byte {
	b := make([]byte, 32)
	for j := range b {
		b[j] = 0xff
	}
	b[0] = 0xed + i
	b[31] = 0x7f
	if neg {
		b[31] |= 0x80
	}
	return b
}

func addL(s []byte) []byte {
	out := make([]byte, 32)
	carry := 0
	for i := range 32 {
		v := int(s[i]) + int(groupOrder[i]) + carry
		out[i], carry = byte(v), v>>8
	}
	return out
}

func xorInto(dst, mask []byte) {
	if len(mask) != len(dst) {
		return
	}
	for i := range dst {
		dst[i] ^= mask[i]
	}
}

func mustScalar(b []byte, wide bool) *scalar.Scalar {
	var s scalar.Scalar
	var err error
	if wide {
		_, err = s.SetBytesModOrderWide(b)
	} else {
		_, err = s.SetBytesModOrder(b)
	}
	if err != nil {
		panic(err)
	}
	return &s
}

func encodePoint(p *curve.EdwardsPoint) []byte {
	var c curve.CompressedEdwardsY
	c.SetEdwardsPoint(p)
	return c[:]
}

func scalarBytes(s *scalar.Scalar) []byte {
	out := make([]byte, 32)
	if err := s.ToBytes(out); err != nil {
		panic(err)
	}
	return out
}

// edMessage returns a StrictSign message from the peer id embedding the
// 32-byte ed25519 key pub, with data.
func edMessage(pub, data []byte) *pb.Message {
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		panic(err)
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		panic(err)
	}
	return &pb.Message{From: []byte(id), Data: data, Seqno: NewSeqno(7).Next(), Topic: proto.String("t")}
}

// ed25519Case builds the key, message and signature of one differential
// case. In signed mode the seed (padded to 32 bytes) gives the secret
// scalar a as ed25519 derives it, the signature is S = r + k*a over the
// message's signed bytes (r from the seed and data, or 0 under
// edSmallR), then pubMask and sigMask (when 32 and 64 bytes) are xored
// into the key and the signature. In raw mode pub and sig are pubMask and
// sigMask as given; edSmallR then replaces R with [S]B (S reduced unless
// edNoReduceS), which verifies for the identity as key, in any encoding.
// The message is nil when pub is not 32 bytes (no peer id embeds it);
// payload is then data.
func ed25519Case(seed, pubMask, data, sigMask []byte, mode uint8) (pub []byte, m *pb.Message, payload, sig []byte) {
	if mode&edSigned == 0 {
		pub = append([]byte(nil), pubMask...)
		sig = append([]byte(nil), sigMask...)
		if mode&edSmallR != 0 && len(sig) == 64 {
			s := mustScalar(sig[32:], false)
			if mode&edNoReduceS == 0 {
				copy(sig[32:], scalarBytes(s))
			}
			var R curve.EdwardsPoint
			R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, s)
			copy(sig[:32], encodePoint(&R))
		}
		if len(pub) != 32 {
			return pub, nil, data, sig
		}
		m = edMessage(pub, data)
		bp := signedBytes(m)
		payload = append([]byte(nil), *bp...)
		putSignBuf(bp)
		return pub, m, payload, sig
	}
	var sd [32]byte
	copy(sd[:], seed)
	digest := sha512.Sum512(sd[:])
	digest[0] &= 248
	digest[31] &= 127
	digest[31] |= 64
	var a scalar.Scalar
	if _, err := a.SetBits(digest[:32]); err != nil {
		panic(err)
	}
	var A curve.EdwardsPoint
	A.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &a)
	if mode&edTorsionA != 0 {
		var T curve.EdwardsPoint
		c, _ := curve.NewCompressedEdwardsYFromBytes(unhex(torsionPoints[4+int(sd[0]%4)]))
		if _, err := T.SetCompressedY(c); err != nil {
			panic(err)
		}
		A.Add(&A, &T)
	}
	pub = encodePoint(&A)
	m = edMessage(pub, append([]byte(nil), data...))
	bp := signedBytes(m)
	payload = append([]byte(nil), *bp...)
	putSignBuf(bp)
	r := scalar.New()
	if mode&edSmallR == 0 {
		h := sha512.New()
		h.Write(digest[32:])
		h.Write(payload)
		r = mustScalar(h.Sum(nil), true)
	}
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, r)
	sig = encodePoint(&R)
	h := sha512.New()
	h.Write(sig)
	h.Write(pub)
	h.Write(payload)
	k := mustScalar(h.Sum(nil), true)
	var S scalar.Scalar
	S.Mul(k, &a)
	S.Add(&S, r)
	sBytes := scalarBytes(&S)
	if mode&edAddL != 0 {
		sBytes = addL(sBytes)
	}
	sig = append(sig, sBytes...)
	xorInto(sig, sigMask)
	if len(pubMask) == 32 && pubMask[0]|pubMask[31]|pubMask[15] != 0 {
		xorInto(pub, pubMask)
		m = edMessage(pub, m.Data)
	}
	if mode&edFlipData != 0 {
		m.Data = append(m.Data, 0x5a)
	}
	bp = signedBytes(m)
	payload = append(payload[:0], *bp...)
	putSignBuf(bp)
	return pub, m, payload, sig
}

// stdlibVerdict is crypto/ed25519.Verify's verdict as go-libp2p reports it
// (a key of the wrong length panics there, which go-libp2p turns into
// false).
func stdlibVerdict(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(pub, msg, sig)
}

// checkEd25519MatchesStdlib asserts that every path of ours gives
// crypto/ed25519's verdict on the case, and returns that verdict.
func checkEd25519MatchesStdlib(t *testing.T, seed, pubMask, data, sigMask []byte, mode uint8) bool {
	t.Helper()
	pub, m, payload, sig := ed25519Case(seed, pubMask, data, sigMask, mode)
	want := stdlibVerdict(pub, payload, sig)
	if got := verifyEd25519(pub, payload, sig); got != want {
		t.Fatalf("curve25519-voi says %v, crypto/ed25519 %v (pub %x sig %x)", got, want, pub, sig)
	}
	if len(pub) != 32 {
		return want
	}
	if exp, err := voied.NewExpandedPublicKey(voied.PublicKey(pub)); err != nil {
		if want {
			t.Fatalf("voi cannot expand key %x that crypto/ed25519 accepts a signature for", pub)
		}
	} else if got := voied.VerifyExpandedWithOptions(exp, payload, sig, ed25519Options); got != want {
		t.Fatalf("curve25519-voi expanded says %v, crypto/ed25519 %v (pub %x sig %x)", got, want, pub, sig)
	}
	m.Signature = sig
	if err := Verify(m); (err == nil) != want {
		t.Fatalf("Verify says %v, crypto/ed25519 %v (pub %x sig %x)", err, want, pub, sig)
	}
	v := NewVerifier()
	for i := range 3 { // cold, then expanding, then expanded
		if err := v.CheckPolicy(m, StrictSign); (err == nil) != want {
			t.Fatalf("Verifier (message %d) says %v, crypto/ed25519 %v (pub %x sig %x)", i+1, err, want, pub, sig)
		}
	}
	return want
}

type ed25519EdgeCase struct {
	name                         string
	seed, pubMask, data, sigMask []byte
	mode                         uint8
	accept                       bool // crypto/ed25519 accepts it (the fixture is what it claims)
}

func flip(n, bit int) []byte {
	b := make([]byte, n)
	b[bit/8] ^= 1 << (bit % 8)
	return b
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// ed25519EdgeCases are the seed corpus of FuzzEd25519MatchesStdlib and the
// table of TestEd25519EdgeCasesMatchStdlib.
func ed25519EdgeCases() []ed25519EdgeCase {
	seed := []byte("meshbus ed25519 differential key")
	data := []byte("hello mesh")
	sigOf := func(mode uint8) []byte { _, _, _, s := ed25519Case(seed, nil, data, nil, mode); return s }
	cs := []ed25519EdgeCase{
		{name: "valid", seed: seed, data: data, mode: edSigned, accept: true},
		{name: "valid empty data", seed: []byte{1}, mode: edSigned, accept: true},
		{name: "valid 1 KiB", seed: []byte{2}, data: repeat(7, 1024), mode: edSigned, accept: true},
		{name: "flipped data", seed: seed, data: data, mode: edSigned | edFlipData},
		{name: "flipped R bit 0", seed: seed, data: data, sigMask: flip(64, 0), mode: edSigned},
		{name: "flipped R sign bit", seed: seed, data: data, sigMask: flip(64, 255), mode: edSigned},
		{name: "flipped S bit 0", seed: seed, data: data, sigMask: flip(64, 256), mode: edSigned},
		{name: "flipped S top bit", seed: seed, data: data, sigMask: flip(64, 511), mode: edSigned},
		{name: "flipped S bit 253", seed: seed, data: data, sigMask: flip(64, 509), mode: edSigned},
		{name: "flipped A bit 0", seed: seed, data: data, pubMask: flip(32, 0), mode: edSigned},
		{name: "flipped A sign bit", seed: seed, data: data, pubMask: flip(32, 255), mode: edSigned},
		{name: "flipped A bit 128", seed: seed, data: data, pubMask: flip(32, 128), mode: edSigned},
		{name: "S plus L", seed: seed, data: data, mode: edSigned | edAddL},
		{name: "small-order R (identity), valid", seed: seed, data: data, mode: edSigned | edSmallR, accept: true},
		{name: "small-order R plus L", seed: seed, data: data, mode: edSigned | edSmallR | edAddL},
		{name: "all-zero key and sig", pubMask: make([]byte, 32), data: data, sigMask: make([]byte, 64)},
		{name: "all-0xff key and sig", pubMask: repeat(0xff, 32), data: data, sigMask: repeat(0xff, 64)},
		{name: "zero sig", seed: seed, data: data, sigMask: sigOf(edSigned), mode: edSigned},
		{name: "short sig", pubMask: make([]byte, 32), data: data, sigMask: make([]byte, 63)},
		{name: "long sig", pubMask: make([]byte, 32), data: data, sigMask: make([]byte, 65)},
		{name: "empty sig", pubMask: make([]byte, 32), data: data},
		{name: "short key", pubMask: make([]byte, 31), data: data, sigMask: make([]byte, 64)},
		{name: "long key", pubMask: make([]byte, 33), data: data, sigMask: make([]byte, 64)},
	}
	// A valid signature made raw, for the raw cases to start from.
	validPub, _, _, valid := ed25519Case(seed, nil, data, nil, edSigned)
	for i := range 4 { // mixed-order keys: cofactorless verdicts hold or not with k mod 8
		cs = append(cs, ed25519EdgeCase{name: "torsion in A", seed: append([]byte{byte(i)}, seed[1:]...), data: []byte{byte(i)}, mode: edSigned | edTorsionA})
	}
	sBig := append(make([]byte, 32), repeat(0x11, 31)...)
	sBig = append(sBig, 0x0f) // S < 2^253 but above L
	for i, tp := range torsionPoints {
		p := unhex(tp)
		name := "torsion point " + string(rune('0'+i))
		cs = append(cs,
			ed25519EdgeCase{name: name + " as A, R=[S]B", pubMask: p, data: data, sigMask: append(make([]byte, 32), valid[32:]...), mode: edSmallR, accept: i == 0},
			ed25519EdgeCase{name: name + " as A, zero sig", pubMask: p, data: data, sigMask: make([]byte, 64)},
			ed25519EdgeCase{name: name + " as A, R=[S]B, S>=L", pubMask: p, data: data, sigMask: sBig, mode: edSmallR | edNoReduceS},
			ed25519EdgeCase{name: name + " as R", pubMask: unhex(torsionPoints[0]), data: data, sigMask: append(append([]byte(nil), p...), make([]byte, 32)...), accept: i == 0},
			ed25519EdgeCase{name: name + " as R, real key", seed: seed, data: data, sigMask: xorBytes(p, sigOf(edSigned|edSmallR)), mode: edSigned | edSmallR, accept: i == 0},
		)
	}
	for i := range byte(19) {
		for _, neg := range []bool{false, true} {
			enc := nonCanonicalY(i, neg)
			name := "non-canonical y=p+" + string(rune('a'+i))
			if neg {
				name += " negative"
			}
			cs = append(cs,
				ed25519EdgeCase{name: name + " as A, R=[S]B", pubMask: enc, data: data, sigMask: append(make([]byte, 32), valid[32:]...), mode: edSmallR, accept: i == 1},
				ed25519EdgeCase{name: name + " as R", pubMask: unhex(torsionPoints[0]), data: data, sigMask: append(enc, make([]byte, 32)...)},
			)
		}
	}
	// The identity with the sign bit set: a non-canonical encoding of the
	// identity that both decoders accept.
	negID := unhex(torsionPoints[0])
	negID[31] |= 0x80
	cs = append(cs,
		ed25519EdgeCase{name: "identity with sign bit as A, R=[S]B", pubMask: negID, data: data, sigMask: append(make([]byte, 32), valid[32:]...), mode: edSmallR, accept: true},
		ed25519EdgeCase{name: "identity with sign bit as R", pubMask: unhex(torsionPoints[0]), data: data, sigMask: append(negID, make([]byte, 32)...)},
		ed25519EdgeCase{name: "raw valid", pubMask: validPub, data: data, sigMask: valid, accept: true},
	)
	return cs
}

// xorBytes returns the 64-byte mask that turns the signature sig's R into p
// (S unchanged).
func xorBytes(p, sig []byte) []byte {
	mask := make([]byte, 64)
	for i := range 32 {
		mask[i] = p[i] ^ sig[i]
	}
	return mask
}

// TestEd25519EdgeCasesMatchStdlib: on every edge case (valid signatures,
// flipped bits in R, S, A and the message, S >= L, small-order and
// non-canonical A and R, all-zero and all-0xff inputs, wrong lengths) our
// verification gives crypto/ed25519's verdict, through the raw function,
// the expanded key, Verify and a Verifier (cold, expanding, expanded); and
// the fixtures that should verify do.
func TestEd25519EdgeCasesMatchStdlib(t *testing.T) {
	accepted := 0
	for _, c := range ed25519EdgeCases() {
		t.Run(c.name, func(t *testing.T) {
			got := checkEd25519MatchesStdlib(t, c.seed, c.pubMask, c.data, c.sigMask, c.mode)
			if c.accept && !got {
				t.Fatal("crypto/ed25519 rejects a fixture built to verify")
			}
			if got {
				accepted++
			}
		})
	}
	t.Logf("%d of %d edge cases verify", accepted, len(ed25519EdgeCases()))
	if accepted < 10 {
		t.Fatalf("only %d edge cases verify; the table lost its accepting cases", accepted)
	}
}

// TestEd25519TorsionFixtures: the eight encodings are distinct points of
// small order, and the non-canonical y encodings decode where the curve
// has such a y.
func TestEd25519TorsionFixtures(t *testing.T) {
	for i, tp := range torsionPoints {
		c, err := curve.NewCompressedEdwardsYFromBytes(unhex(tp))
		if err != nil {
			t.Fatal(err)
		}
		var p curve.EdwardsPoint
		if _, err := p.SetCompressedY(c); err != nil {
			t.Fatalf("torsion point %d does not decode: %v", i, err)
		}
		if !p.IsSmallOrder() || !c.IsCanonicalVartime() {
			t.Fatalf("torsion point %d: small order %v, canonical %v", i, p.IsSmallOrder(), c.IsCanonicalVartime())
		}
		for j := range i {
			var q curve.EdwardsPoint
			cj, _ := curve.NewCompressedEdwardsYFromBytes(unhex(torsionPoints[j]))
			q.SetCompressedY(cj)
			if p.Equal(&q) == 1 {
				t.Fatalf("torsion points %d and %d are equal", i, j)
			}
		}
	}
	c, _ := curve.NewCompressedEdwardsYFromBytes(nonCanonicalY(1, false))
	if c.IsCanonicalVartime() {
		t.Fatal("y = p+1 counts as canonical")
	}
}

// TestVerifierRefusesInvalidPoint: an author whose peer id embeds 32 bytes
// that are not a curve point (voi cannot expand them) gets
// ErrInvalidSignature on every message, cold and cached, never a panic.
func TestVerifierRefusesInvalidPoint(t *testing.T) {
	// y = 2 is not the y of a curve point.
	pub := make([]byte, 32)
	pub[0] = 2
	if _, err := voied.NewExpandedPublicKey(voied.PublicKey(pub)); err == nil {
		t.Fatal("fixture: voi expands y = 2")
	}
	m := edMessage(pub, []byte("x"))
	m.Signature = make([]byte, 64)
	v := NewVerifier()
	for i := range 4 {
		if err := v.CheckPolicy(m, StrictSign); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	if err := Verify(m); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("Verify: %v", err)
	}
}

// TestVerifierExpandedBound: a Verifier expands at most verifierExpanded
// keys, dropping them all when the bound is reached, and verdicts stay
// right across the drop.
func TestVerifierExpandedBound(t *testing.T) {
	v := NewVerifier()
	const authors = verifierExpanded + 10
	msgs := make([]*pb.Message, authors)
	for i := range msgs {
		var seed [32]byte
		seed[0], seed[1] = byte(i), byte(i>>8)
		key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = newMsg("bound")
		if err := Sign(msgs[i], key); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		for i, m := range msgs {
			if err := v.CheckPolicy(m, StrictSign); err != nil {
				t.Fatalf("round %d author %d: %v", round, i, err)
			}
			if v.expanded > verifierExpanded {
				t.Fatalf("%d expanded keys", v.expanded)
			}
		}
	}
	n := 0
	for _, k := range v.keys {
		if k.exp != nil {
			n++
		}
	}
	if n != v.expanded || n == 0 {
		t.Fatalf("%d keys expanded, count says %d", n, v.expanded)
	}
}

// FuzzEd25519MatchesStdlib: for any key (a seed to sign with, or raw
// bytes), data, signature and mutation, our ed25519 verification gives
// crypto/ed25519's verdict on every path (the raw function, the expanded
// key, Verify, a Verifier cold and warm). A signature one implementation
// accepts and another rejects would split a mesh.
func FuzzEd25519MatchesStdlib(f *testing.F) {
	for _, c := range ed25519EdgeCases() {
		f.Add(c.seed, c.pubMask, c.data, c.sigMask, c.mode)
	}
	f.Fuzz(func(t *testing.T, seed, pubMask, data, sigMask []byte, mode uint8) {
		checkEd25519MatchesStdlib(t, seed, pubMask, data, sigMask, mode)
	})
}

// BenchmarkVerifier: checking a 1 KiB StrictSign message from a known
// ed25519 author, as before curve25519-voi (the message encoded, then
// libp2p's Verify, i.e. crypto/ed25519, with the author's key at hand) and
// with a Verifier (the cached, expanded voi key).
func BenchmarkVerifier(b *testing.B) {
	key := genKey(b, crypto.Ed25519, 9)
	m := newMsg(string(make([]byte, 1024)))
	if err := Sign(m, key); err != nil {
		b.Fatal(err)
	}
	b.Run("libp2p", func(b *testing.B) {
		pk := key.GetPublic()
		b.ReportAllocs()
		for b.Loop() {
			bp := signedBytes(m)
			ok, err := pk.Verify(*bp, m.Signature)
			putSignBuf(bp)
			if err != nil || !ok {
				b.Fatal("libp2p refused a valid signature")
			}
		}
	})
	b.Run("voi", func(b *testing.B) {
		v := NewVerifier()
		for range 2 { // cache and expand the key
			if err := v.CheckPolicy(m, StrictSign); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := v.CheckPolicy(m, StrictSign); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEd25519Expand: what a Verifier pays, in time and heap, to expand
// an author's key (at the author's second message); the B/op is the heap
// an expanded key holds (1504 bytes in 2 allocations with the pinned
// curve25519-voi).
func BenchmarkEd25519Expand(b *testing.B) {
	var seed [32]byte
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := voied.NewExpandedPublicKey(voied.PublicKey(pub)); err != nil {
			b.Fatal(err)
		}
	}
}
