package automaton

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	pb "github.com/libp2p/go-libp2p/core/peer/pb"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/events"
)

// Reasons a peer record is rejected, as carried in
// events.EvtPeerRecordRejected.Reason and the rejected-records metric.
const (
	RejectUnsigned           = "unsigned"            // no signed peer record
	RejectOversized          = "oversized"           // envelope over MaxRecordSize
	RejectBadEnvelope        = "bad_envelope"        // unparseable envelope or bad signature
	RejectNotPeerRecord      = "not_peer_record"     // the envelope carries another record type
	RejectPeerIDMismatch     = "peer_id_mismatch"    // signer or record id differs from the claimed id
	RejectUnparseableAddress = "unparseable_address" // an address in the record does not parse
	RejectNoAddresses        = "no_addresses"        // no address to dial
	RejectSelf               = "self"                // the record is our own
)

// RejectReasons returns every reason a record is rejected with, so metrics
// can be pre-resolved.
func RejectReasons() []string { return slices.Clone(rejectReasons) }

var rejectReasons = []string{
	RejectUnsigned, RejectOversized, RejectBadEnvelope, RejectNotPeerRecord,
	RejectPeerIDMismatch, RejectUnparseableAddress, RejectNoAddresses, RejectSelf,
}

// MaxRecordSize bounds a signed peer-record envelope; larger ones are
// rejected before any parsing.
const MaxRecordSize = 64 << 10

// verifiedRecord is a peer exchange record that passed verification.
type verifiedRecord struct {
	ID    peer.ID
	Addrs []ma.Multiaddr
}

// verifyExchangeRecord checks one peer exchange record: the envelope must
// parse and its signature verify in the peer-record domain, its signer and
// the record's peer id must both equal the claimed id, every address must
// parse, and at least one must remain. It returns the reason on rejection
// ("" on success). It never panics on any input.
func verifyExchangeRecord(rec events.PeerExchangeRecord, self peer.ID) (verifiedRecord, string) {
	if len(rec.SignedPeerRecord) == 0 {
		return verifiedRecord{}, RejectUnsigned
	}
	if len(rec.SignedPeerRecord) > MaxRecordSize {
		return verifiedRecord{}, RejectOversized
	}
	env, r, err := record.ConsumeEnvelope(rec.SignedPeerRecord, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		return verifiedRecord{}, RejectBadEnvelope
	}
	pr, ok := r.(*peer.PeerRecord)
	if !ok {
		return verifiedRecord{}, RejectNotPeerRecord
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil || signer != rec.Peer || pr.PeerID != rec.Peer {
		return verifiedRecord{}, RejectPeerIDMismatch
	}
	// PeerRecord's decoder silently skips addresses that do not parse; a
	// signed record carrying garbage is refused instead, and counted.
	var raw pb.PeerRecord
	if err := proto.Unmarshal(env.RawPayload, &raw); err != nil {
		return verifiedRecord{}, RejectBadEnvelope
	}
	for _, a := range raw.Addresses {
		if m, err := ma.NewMultiaddrBytes(a.GetMultiaddr()); err != nil || len(m) == 0 {
			return verifiedRecord{}, RejectUnparseableAddress
		}
	}
	if rec.Peer == self {
		return verifiedRecord{}, RejectSelf
	}
	if len(pr.Addrs) == 0 {
		return verifiedRecord{}, RejectNoAddresses
	}
	return verifiedRecord{ID: rec.Peer, Addrs: pr.Addrs}, ""
}
