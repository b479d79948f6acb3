package wire

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

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

// signedBytes returns SignPrefix || marshal(m without signature and key).
func signedBytes(m *pb.Message) ([]byte, error) {
	c := &pb.Message{From: m.From, Data: m.Data, Seqno: m.Seqno, Topic: m.Topic}
	// Carry unknown fields too: a newer sender signed over them.
	c.ProtoReflect().SetUnknown(m.ProtoReflect().GetUnknown())
	buf := make([]byte, len(SignPrefix), len(SignPrefix)+proto.Size(c))
	copy(buf, SignPrefix)
	// Deterministic: fields in number order, as every implementation emits.
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(buf, c)
}

// Sign signs m with key: it sets m.From to key's peer id if it is empty
// (and fails if it names another peer), fills m.Signature, and sets m.Key to
// the marshalled public key only when the peer id does not embed it (RSA
// ids; ed25519 and secp256k1 ids do embed it).
func Sign(m *pb.Message, key crypto.PrivKey) error {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("wire: sign: %w", err)
	}
	if len(m.From) == 0 {
		m.From = []byte(id)
	} else if peer.ID(m.From) != id {
		return fmt.Errorf("wire: sign: from %s is not the key's peer %s", peer.ID(m.From), id)
	}
	m.Signature, m.Key = nil, nil
	b, err := signedBytes(m)
	if err != nil {
		return fmt.Errorf("wire: sign: %w", err)
	}
	sig, err := key.Sign(b)
	if err != nil {
		return fmt.Errorf("wire: sign: %w", err)
	}
	m.Signature = sig
	if _, err := id.ExtractPublicKey(); err != nil {
		pk, err := crypto.MarshalPublicKey(key.GetPublic())
		if err != nil {
			return fmt.Errorf("wire: sign: %w", err)
		}
		m.Key = pk
	}
	return nil
}

// Verify checks m's signature: m.From must be a peer id, the public key comes
// from the id when it embeds one (a key field, if present, must then be the
// same key) or else from the key field, whose peer id must equal m.From; the
// signature must verify over SignPrefix || marshal(m without signature and
// key). It returns nil, or ErrMissingSignature, ErrMalformedMessage or
// ErrInvalidSignature, wrapped.
func Verify(m *pb.Message) error {
	if len(m.Signature) == 0 {
		return ErrMissingSignature
	}
	from, err := peer.IDFromBytes(m.From)
	if err != nil {
		return fmt.Errorf("%w: from: %v", ErrMalformedMessage, err)
	}
	pk, err := publicKey(from, m.Key)
	if err != nil {
		return err
	}
	b, err := signedBytes(m)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	ok, err := pk.Verify(b, m.Signature)
	if err != nil || !ok {
		return ErrInvalidSignature
	}
	return nil
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
func CheckPolicy(m *pb.Message, policy SignPolicy) error {
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
	if len(m.From) > 0 {
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
	return Verify(m)
}
