package wire

import (
	"bytes"

	"github.com/libp2p/go-libp2p/core/crypto"
	voied "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// ed25519Options makes curve25519-voi accept exactly what crypto/ed25519
// accepts (and so go-libp2p's Ed25519PublicKey.Verify and every
// go-libp2p-pubsub node): S must be canonical (below the group order),
// A may be a small-order point or a non-canonical encoding of one, R is
// compared byte for byte with the canonical encoding of [S]B - [k]A
// (cofactorless), so a non-canonical R never verifies and a small-order R
// verifies when the equation holds. FuzzEd25519MatchesStdlib and
// TestEd25519EdgeCasesMatchStdlib check that the verdicts are stdlib's.
var ed25519Options = &voied.Options{Verify: voied.VerifyOptionsStdLib}

// verifyEd25519 reports whether sig is a valid ed25519 signature of msg by
// the raw 32-byte key pub, with crypto/ed25519.Verify's verdict. A key of
// another length is refused (where crypto/ed25519 panics).
func verifyEd25519(pub, msg, sig []byte) bool {
	if len(pub) != voied.PublicKeySize {
		return false
	}
	return voied.VerifyWithOptions(voied.PublicKey(pub), msg, sig, ed25519Options)
}

// rawEd25519 returns pk's raw 32-byte key if pk is an ed25519 key, or nil.
func rawEd25519(pk crypto.PubKey) []byte {
	if _, ok := pk.(*crypto.Ed25519PublicKey); !ok {
		return nil
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != voied.PublicKeySize {
		return nil
	}
	return raw
}

// rawEd25519Private returns sk's raw 64-byte private key (seed || public
// key) if sk is an ed25519 key whose public half is the one its seed
// derives, or nil. Signing with it through curve25519-voi gives the
// signature crypto/ed25519 gives (ed25519 signatures are deterministic,
// RFC 8032), in about two thirds of the time; curve25519-voi, derived
// from curve25519-dalek, does the secret scalar's arithmetic in constant
// time (its README warns only about the wasm target).
func rawEd25519Private(sk crypto.PrivKey) voied.PrivateKey {
	if _, ok := sk.(*crypto.Ed25519PrivateKey); !ok {
		return nil
	}
	raw, err := sk.Raw()
	if err != nil || len(raw) != voied.PrivateKeySize {
		return nil
	}
	k := voied.PrivateKey(raw)
	if !bytes.Equal(voied.NewKeyFromSeed(k.Seed())[voied.SeedSize:], raw[voied.SeedSize:]) {
		return nil // a key whose halves disagree: libp2p's own Sign decides
	}
	return k
}

// verifyKey checks sig over msg with pk: ed25519 keys with curve25519-voi
// (crypto/ed25519's verdicts, faster), every other key type with libp2p's
// own Verify.
func verifyKey(pk crypto.PubKey, msg, sig []byte) bool {
	if raw := rawEd25519(pk); raw != nil {
		return verifyEd25519(raw, msg, sig)
	}
	ok, err := pk.Verify(msg, sig)
	return err == nil && ok
}

// verifierKey is what a Verifier caches for one from field.
type verifierKey struct {
	// pk is the key the from field's peer id embeds, used for key types
	// other than ed25519.
	pk crypto.PubKey
	// ed is the raw ed25519 key, nil for other key types.
	ed []byte
	// exp is ed in curve25519-voi's expanded form (about 1.5 KiB of heap),
	// made at the author's second message and dropped when the Verifier's
	// expanded keys reach verifierExpanded; nil before, or when ed is not
	// a curve point (then no signature verifies, as with crypto/ed25519).
	exp *voied.ExpandedPublicKey
	// seen: a message from this author was verified already.
	seen bool
	// bad: ed is not a point on the curve; every signature fails.
	bad bool
}

// check verifies sig over msg with the cached key, expanding an ed25519 key
// at its second use when v has room.
func (k *verifierKey) check(v *Verifier, msg, sig []byte) bool {
	if k.ed == nil {
		ok, err := k.pk.Verify(msg, sig)
		return err == nil && ok
	}
	if k.exp == nil && k.seen && !k.bad {
		v.expand(k)
	}
	k.seen = true
	switch {
	case k.bad:
		return false
	case k.exp != nil:
		return voied.VerifyExpandedWithOptions(k.exp, msg, sig, ed25519Options)
	}
	return verifyEd25519(k.ed, msg, sig)
}

// expand gives k its expanded key, first dropping every expanded key when
// v holds verifierExpanded of them (recent authors expand again at their
// next message).
func (v *Verifier) expand(k *verifierKey) {
	if v.expanded >= verifierExpanded {
		for _, o := range v.keys {
			o.exp = nil
		}
		v.expanded = 0
	}
	exp, err := voied.NewExpandedPublicKey(voied.PublicKey(k.ed))
	if err != nil {
		k.bad = true // not a curve point: crypto/ed25519 refuses the key too
		return
	}
	k.exp = exp
	v.expanded++
}
