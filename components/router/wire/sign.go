package wire

import (
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	voied "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/meshbus/meshbus/components/router/pb"
)

// SignPrefix is prepended to the marshalled message before signing, as the
// pubsub spec requires.
const SignPrefix = "libp2p-pubsub:"

// Signature and message-shape errors. Verify and CheckPolicy wrap them.
var (
	// ErrMissingSignature: the policy requires a signature and there is none.
	ErrMissingSignature = errors.New("wire: message is not signed")
	// ErrInvalidSignature: the signature does not verify, or the key field
	// does not match the from field.
	ErrInvalidSignature = errors.New("wire: invalid message signature")
	// ErrUnexpectedSignature: the policy forbids from, seqno, signature and
	// key, and the message carries one of them.
	ErrUnexpectedSignature = errors.New("wire: message carries signing fields under a no-sign policy")
	// ErrMalformedMessage: the from field is not a peer id, the seqno is not
	// 8 bytes, or the topic is missing.
	ErrMalformedMessage = errors.New("wire: malformed message")
)

// SignPolicy says whether the local node signs the messages it publishes and
// what it requires of the messages it receives.
type SignPolicy uint8

// The signature policies.
const (
	// StrictSign (the default): sign every published message (with from and
	// seqno), and accept only messages with a valid signature.
	StrictSign SignPolicy = iota
	// StrictNoSign: publish without from, seqno, signature or key, and reject
	// messages that carry any of them. Requires a content-based message id.
	StrictNoSign
	// LaxSign: sign published messages; accept unsigned messages, but verify
	// signed ones.
	LaxSign
	// LaxNoSign: publish with from and seqno but unsigned; accept unsigned
	// messages, but verify signed ones.
	LaxNoSign
)

// String returns the policy's name.
func (p SignPolicy) String() string {
	switch p {
	case StrictSign:
		return "strict_sign"
	case StrictNoSign:
		return "strict_no_sign"
	case LaxSign:
		return "lax_sign"
	case LaxNoSign:
		return "lax_no_sign"
	}
	return "unknown"
}

// Valid reports whether p is one of the defined policies.
func (p SignPolicy) Valid() bool { return p <= LaxNoSign }

// Signs reports whether messages published under p are signed.
func (p SignPolicy) Signs() bool { return p == StrictSign || p == LaxSign }

// HasAuthor reports whether messages published under p carry from and seqno.
func (p SignPolicy) HasAuthor() bool { return p != StrictNoSign }

// signedBytes returns SignPrefix || marshal(m without signature and key)
// in a buffer from signPool; the caller returns it with putSignBuf once the
// signature is made or checked. The fields are written in number order, as
// a deterministic protobuf encoder writes them (and every implementation
// signs): from (1), data (2), seqno (3), topic (4), each when present, then
// m's unknown fields (a newer sender signed over them).
func signedBytes(m *pb.Message) *[]byte {
	bp := signPool.Get().(*[]byte)
	b := append((*bp)[:0], SignPrefix...)
	if m.From != nil {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, m.From)
	}
	if m.Data != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Data)
	}
	if m.Seqno != nil {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Seqno)
	}
	if m.Topic != nil {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, *m.Topic)
	}
	b = append(b, m.ProtoReflect().GetUnknown()...)
	*bp = b
	return bp
}

// signPool holds the buffers signedBytes encodes into.
var signPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func putSignBuf(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		signPool.Put(bp)
	}
}

// Sign signs m with key: it sets m.From to key's peer id if it is empty
// (and fails if it names another peer), fills m.Signature, and sets m.Key to
// the marshalled public key only when the peer id does not embed it (RSA
// ids; ed25519 and secp256k1 ids do embed it). A publisher signing many
// messages with one key uses a Signer, which derives all that once.
func Sign(m *pb.Message, key crypto.PrivKey) error {
	s, err := NewSigner(key)
	if err != nil {
		return err
	}
	return s.Sign(m)
}

// Signer signs messages with one key; it is Sign with the key's peer id and
// public-key field derived once. It is safe for concurrent use.
type Signer struct {
	key crypto.PrivKey
	id  peer.ID
	pub []byte // the Key field, or nil when the id embeds the key
	// ed is an ed25519 key's raw private key (seed || public key), signed
	// with curve25519-voi, or nil for other key types.
	ed voied.PrivateKey
}

// NewSigner returns a Signer for key.
func NewSigner(key crypto.PrivKey) (*Signer, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("wire: sign: %w", err)
	}
	s := &Signer{key: key, id: id, ed: rawEd25519Private(key)}
	if _, err := id.ExtractPublicKey(); err != nil {
		if s.pub, err = crypto.MarshalPublicKey(key.GetPublic()); err != nil {
			return nil, fmt.Errorf("wire: sign: %w", err)
		}
	}
	return s, nil
}

// ID returns the signing key's peer id.
func (s *Signer) ID() peer.ID { return s.id }

// Sign is the package's Sign with the Signer's key. m.Key, when set, is
// shared by every message the Signer signs: treat it as read-only.
func (s *Signer) Sign(m *pb.Message) error {
	if len(m.From) == 0 {
		m.From = []byte(s.id)
	} else if peer.ID(m.From) != s.id {
		return fmt.Errorf("wire: sign: from %s is not the key's peer %s", peer.ID(m.From), s.id)
	}
	m.Signature, m.Key = nil, nil
	bp := signedBytes(m)
	var sig []byte
	var err error
	if s.ed != nil {
		sig = voied.Sign(s.ed, *bp)
	} else {
		sig, err = s.key.Sign(*bp)
	}
	putSignBuf(bp)
	if err != nil {
		return fmt.Errorf("wire: sign: %w", err)
	}
	m.Signature = sig
	m.Key = s.pub
	return nil
}

// Verify checks m's signature: m.From must be a peer id, the public key comes
// from the id when it embeds one (a key field, if present, must then be the
// same key) or else from the key field, whose peer id must equal m.From; the
// signature must verify over SignPrefix || marshal(m without signature and
// key). ed25519 signatures are checked with curve25519-voi, whose verdicts
// are crypto/ed25519's (see ed25519Options); other key types with
// go-libp2p's own Verify. It returns nil, or ErrMissingSignature,
// ErrMalformedMessage or ErrInvalidSignature, wrapped.
func Verify(m *pb.Message) error { return verify(m, nil) }

func verify(m *pb.Message, v *Verifier) error {
	if len(m.Signature) == 0 {
		return ErrMissingSignature
	}
	var k *verifierKey
	cacheable := v != nil && len(m.Key) == 0 // the key comes from the id alone
	if cacheable {
		k = v.keys[string(m.From)]
	}
	var pk crypto.PubKey
	if k == nil {
		from, err := peer.IDFromBytes(m.From)
		if err != nil {
			return fmt.Errorf("%w: from: %v", ErrMalformedMessage, err)
		}
		if pk, err = publicKey(from, m.Key); err != nil {
			return err
		}
		if cacheable {
			k = v.add(string(m.From), pk)
		}
	}
	bp := signedBytes(m)
	var ok bool
	if k != nil {
		ok = k.check(v, *bp, m.Signature)
	} else {
		ok = verifyKey(pk, *bp, m.Signature)
	}
	putSignBuf(bp)
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

// Verifier is CheckPolicy with a bounded cache of the public keys embedded
// in recent authors' peer ids, so that a message from a known author is
// not charged the id's parsing and the key's decoding again. The cache
// holds only what the from field alone determines, so verdicts are those
// of CheckPolicy. An ed25519 author's key is also expanded (precomputed
// for curve25519-voi) at the author's second message, which makes each
// further verification cheaper; at most verifierExpanded keys are expanded
// at a time (about 1.5 KiB each). Keys from a message's key field (RSA
// authors) are not cached. A Verifier is not safe for concurrent use.
type Verifier struct {
	keys     map[string]*verifierKey // from field -> the key its id embeds
	expanded int                     // entries of keys with an expanded key
}

// verifierKeys bounds a Verifier's cache; it is emptied when full.
const verifierKeys = 4096

// verifierExpanded bounds a Verifier's expanded ed25519 keys (about 1.5 KiB
// of heap each, so at most about 1.5 MiB); when it is reached every
// expanded key is dropped, and authors expand again at their next message.
const verifierExpanded = 1024

// NewVerifier returns a Verifier with an empty cache.
func NewVerifier() *Verifier { return &Verifier{keys: make(map[string]*verifierKey)} }

func (v *Verifier) add(from string, pk crypto.PubKey) *verifierKey {
	if len(v.keys) >= verifierKeys {
		clear(v.keys)
		v.expanded = 0
	}
	k := &verifierKey{pk: pk, ed: rawEd25519(pk)}
	v.keys[from] = k
	return k
}

// CheckPolicy is the package's CheckPolicy, using and filling the cache.
func (v *Verifier) CheckPolicy(m *pb.Message, policy SignPolicy) error {
	return checkPolicy(m, policy, v)
}

// publicKey returns the key that must have signed a message from id.
func publicKey(id peer.ID, keyField []byte) (crypto.PubKey, error) {
	embedded, err := id.ExtractPublicKey()
	if err == nil {
		if len(keyField) > 0 {
			pk, err := crypto.UnmarshalPublicKey(keyField)
			if err != nil || !pk.Equals(embedded) {
				return nil, fmt.Errorf("%w: key field does not match from", ErrInvalidSignature)
			}
		}
		return embedded, nil
	}
	if !errors.Is(err, peer.ErrNoPublicKey) {
		return nil, fmt.Errorf("%w: from: %v", ErrMalformedMessage, err)
	}
	if len(keyField) == 0 {
		return nil, fmt.Errorf("%w: no key field and the peer id embeds none", ErrInvalidSignature)
	}
	pk, err := crypto.UnmarshalPublicKey(keyField)
	if err != nil {
		return nil, fmt.Errorf("%w: key field: %v", ErrInvalidSignature, err)
	}
	kid, err := peer.IDFromPublicKey(pk)
	if err != nil || kid != id {
		return nil, fmt.Errorf("%w: key field does not match from", ErrInvalidSignature)
	}
	return pk, nil
}

// CheckPolicy checks a received message against policy: its shape (topic
// present; under the policies with authors, from must be a peer id and seqno
// 8 bytes, required under StrictSign and checked when present otherwise) and
// its signature. It returns nil or one of
// ErrMalformedMessage, ErrMissingSignature, ErrInvalidSignature,
// ErrUnexpectedSignature, wrapped.
func CheckPolicy(m *pb.Message, policy SignPolicy) error { return checkPolicy(m, policy, nil) }

func checkPolicy(m *pb.Message, policy SignPolicy, v *Verifier) error {
	if m.Topic == nil {
		return fmt.Errorf("%w: no topic", ErrMalformedMessage)
	}
	switch policy {
	case StrictNoSign:
		if m.From != nil || m.Seqno != nil || m.Signature != nil || m.Key != nil {
			return ErrUnexpectedSignature
		}
		return nil
	case StrictSign:
		if len(m.Signature) == 0 {
			return ErrMissingSignature
		}
		// The default id is from || seqno: a signed message must have both.
		if len(m.Seqno) != SeqnoLen {
			return fmt.Errorf("%w: seqno of %d bytes", ErrMalformedMessage, len(m.Seqno))
		}
	}
	if len(m.From) > 0 && (v == nil || v.keys[string(m.From)] == nil) { // a cached from is a valid id
		if _, err := peer.IDFromBytes(m.From); err != nil {
			return fmt.Errorf("%w: from: %v", ErrMalformedMessage, err)
		}
	}
	if m.Seqno != nil && len(m.Seqno) != SeqnoLen {
		return fmt.Errorf("%w: seqno of %d bytes", ErrMalformedMessage, len(m.Seqno))
	}
	if len(m.Signature) == 0 {
		return nil // lax policies accept unsigned messages
	}
	return verify(m, v)
}
