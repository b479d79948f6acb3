package events

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Router events. Owner: components/router (the GossipSub router). All of them
// are emitted by the router's single driver goroutine, so events about one
// peer and topic reach a subscriber in the order the router decided them,
// within each event type; a subscription on several of these types receives
// them in decision order.

// EvtRouterPeerAdded is emitted when a connected peer is found to speak a
// pubsub protocol (after identify or on its first pubsub stream).
type EvtRouterPeerAdded struct {
	// Peer is the connected peer found to speak pubsub.
	Peer peer.ID
	// Protocol is the negotiated protocol (/meshsub/1.4.0, /meshsub/1.3.0,
	// /meshsub/1.2.0, /meshsub/1.1.0, /meshsub/1.0.0 or /floodsub/1.0.0).
	Protocol protocol.ID
	// Direct is true for a direct peer (the router's WithDirectPeers):
	// it gets every message of the topics it subscribes to and is never in
	// a mesh or a fanout set.
	Direct bool
	// At is when the router added the peer, on its clock.
	At time.Time
}

// EvtRouterPeerRemoved is emitted when the router forgets a peer (its last
// connection closed or its stream failed for good). Every mesh the peer was
// in produces an EvtPeerPruned with PruneReasonPeerRemoved before this event.
type EvtRouterPeerRemoved struct {
	// Peer is the peer the router forgot.
	Peer peer.ID
	// At is when the router removed the peer, on its clock.
	At time.Time
}

// EvtTopicJoined is emitted when the local node joins a topic.
type EvtTopicJoined struct {
	// Topic is the topic joined.
	Topic string
	// At is when the router handled the join, on its clock.
	At time.Time
}

// EvtTopicLeft is emitted when the local node leaves a topic; the prunes it
// sends to its mesh peers are emitted before it.
type EvtTopicLeft struct {
	// Topic is the topic left.
	Topic string
	// At is when the router handled the leave, on its clock.
	At time.Time
}

// EvtPeerSubscribed is emitted when a remote peer announces a subscription.
type EvtPeerSubscribed struct {
	// Peer is the peer that sent the SUBSCRIBE.
	Peer peer.ID
	// Topic is the topic it subscribed to.
	Topic string
	// At is when the router handled the RPC carrying the SUBSCRIBE, on its
	// clock.
	At time.Time
}

// EvtPeerUnsubscribed is emitted when a remote peer withdraws a subscription
// or is removed while subscribed.
type EvtPeerUnsubscribed struct {
	// Peer is the peer that unsubscribed or was removed.
	Peer peer.ID
	// Topic is the topic it no longer subscribes to.
	Topic string
	// At is when the router handled the UNSUBSCRIBE or removed the peer, on
	// its clock.
	At time.Time
}

// EvtPeerGrafted is emitted when a peer enters the local mesh of a topic.
type EvtPeerGrafted struct {
	// Peer is the peer that entered the mesh.
	Peer peer.ID
	// Topic is the mesh's topic.
	Topic string
	// Outbound is true when the local node sent the GRAFT, false when it
	// accepted the peer's GRAFT.
	Outbound bool
	// At is when the router grafted the peer (sent or accepted the GRAFT), on
	// its clock.
	At time.Time
}

// EvtPeerChoked is emitted when a mesh peer's choke state changes in
// meshbus's choke extension (router.WithChoking): we choked it (ByUs) or
// it choked us, or the choke was lifted (Choked false). A choked mesh
// peer sends IHAVE instead of the messages it forwards; leaving the mesh
// (EvtPeerPruned) ends both states without an event of its own.
type EvtPeerChoked struct {
	// Peer is the mesh peer whose choke state changed.
	Peer peer.ID
	// Topic is the mesh's topic.
	Topic string
	// ByUs is true when the local node decided (it chose its eager
	// peers), false when the peer told us.
	ByUs bool
	// Choked is the new state: true when the choke starts, false when it
	// is lifted.
	Choked bool
	// At is when the router decided the change (ByUs) or handled the peer's
	// choke RPC, on its clock.
	At time.Time
}

// PruneReason names why a peer left a mesh.
type PruneReason uint8

// The reasons a peer leaves a mesh.
const (
	// PruneReasonRemote: the peer sent PRUNE.
	PruneReasonRemote PruneReason = iota + 1
	// PruneReasonOversubscribed: heartbeat trimmed the mesh above Dhi.
	PruneReasonOversubscribed
	// PruneReasonNegativeScore: heartbeat removed a peer with a negative score.
	PruneReasonNegativeScore
	// PruneReasonLeave: the local node left the topic.
	PruneReasonLeave
	// PruneReasonPeerRemoved: the peer disconnected or stopped speaking pubsub.
	PruneReasonPeerRemoved
	// PruneReasonUnsubscribed: the peer unsubscribed from the topic.
	PruneReasonUnsubscribed
	// PruneReasonGraftRejected: the peer's GRAFT was refused (backoff, mesh
	// full, score, direct peer); the peer was never in the mesh, the event
	// records the PRUNE sent in answer.
	PruneReasonGraftRejected
	// PruneReasonLatencySwap: latency-aware mesh selection replaced the
	// peer with a clearly faster one (router.WithLatencyAwareMesh); the
	// PRUNE carries the usual backoff.
	PruneReasonLatencySwap
)

// String returns the reason's name.
func (r PruneReason) String() string {
	switch r {
	case PruneReasonRemote:
		return "remote"
	case PruneReasonOversubscribed:
		return "oversubscribed"
	case PruneReasonNegativeScore:
		return "negative_score"
	case PruneReasonLeave:
		return "leave"
	case PruneReasonPeerRemoved:
		return "peer_removed"
	case PruneReasonUnsubscribed:
		return "unsubscribed"
	case PruneReasonGraftRejected:
		return "graft_rejected"
	case PruneReasonLatencySwap:
		return "latency_swap"
	}
	return "unknown"
}

// EvtPeerPruned is emitted when a peer leaves the local mesh of a topic, or
// when a GRAFT is answered with PRUNE (Reason PruneReasonGraftRejected).
// Guarantee: for one peer and topic it follows the matching EvtPeerGrafted
// (except for PruneReasonGraftRejected) and is never dropped by the router.
type EvtPeerPruned struct {
	// Peer is the peer that left the mesh, or whose GRAFT was refused.
	Peer peer.ID
	// Topic is the mesh's topic.
	Topic string
	// Reason is why the peer left the mesh (or PruneReasonGraftRejected).
	Reason PruneReason
	// Backoff is how long neither side may re-graft; zero when no PRUNE
	// was exchanged (the peer left: disconnected or unsubscribed).
	Backoff time.Duration
	// At is when the router removed the peer (or refused its GRAFT), on its
	// clock.
	At time.Time
}

// FanoutReason names why a peer left a topic's fanout set.
type FanoutReason uint8

// The reasons a peer leaves a fanout set.
const (
	// FanoutReasonExpired: FanoutTTL passed without a publish to the topic;
	// the whole set is dropped.
	FanoutReasonExpired FanoutReason = iota + 1
	// FanoutReasonJoined: the local node joined the topic; its mesh (built
	// from the fanout peers first) replaces the set.
	FanoutReasonJoined
	// FanoutReasonPeerLeft: the peer unsubscribed from the topic, or
	// disconnected.
	FanoutReasonPeerLeft
	// FanoutReasonBelowPublish: the heartbeat found the peer's score below
	// the publish threshold.
	FanoutReasonBelowPublish
)

// String returns the reason's name.
func (r FanoutReason) String() string {
	switch r {
	case FanoutReasonExpired:
		return "expired"
	case FanoutReasonJoined:
		return "joined"
	case FanoutReasonPeerLeft:
		return "peer_left"
	case FanoutReasonBelowPublish:
		return "below_publish"
	}
	return "unknown"
}

// EvtFanoutPeerAdded is emitted when a peer enters the fanout set of a
// topic the local node publishes to without having joined it: the set is
// made (up to D peers) by the first publish, and the heartbeat refills it
// to D. Guarantee: for one peer and topic, Added and EvtFanoutPeerRemoved
// alternate, Added first; the router never drops either.
type EvtFanoutPeerAdded struct {
	// Peer is the peer added to the fanout set.
	Peer peer.ID
	// Topic is the fanout set's topic.
	Topic string
	// At is when the router added the peer (at a publish or a heartbeat), on
	// its clock.
	At time.Time
}

// EvtFanoutPeerRemoved is emitted when a peer leaves a topic's fanout set,
// with the reason. When the peer leaves because it disconnected, it comes
// before the peer's EvtPeerUnsubscribed and EvtRouterPeerRemoved; when the
// local node joins the topic, before the EvtPeerGrafted of the new mesh.
type EvtFanoutPeerRemoved struct {
	// Peer is the peer that left the fanout set.
	Peer peer.ID
	// Topic is the fanout set's topic.
	Topic string
	// Reason is why the peer left the set.
	Reason FanoutReason
	// At is when the router removed the peer, on its clock.
	At time.Time
}

// PeerExchangeRecord is one peer offered in a PRUNE's peer exchange list.
type PeerExchangeRecord struct {
	// Peer is the offered peer's id, decoded from the PX entry (entries whose
	// id does not decode, or that name the local node, are left out).
	Peer peer.ID
	// SignedPeerRecord is the marshalled, signed peer-record envelope as
	// received, or nil when the sender gave only the id. It is unverified.
	SignedPeerRecord []byte
}

// EvtPeerExchangeReceived is emitted when a PRUNE carrying peer exchange
// records is accepted (PX enabled and the sender's score at or above the
// accept-PX threshold). The records are unverified: consumers check the
// signatures.
type EvtPeerExchangeReceived struct {
	// From is the peer that sent the PRUNE.
	From peer.ID
	// Topic is the PRUNE's topic.
	Topic string
	// Records are the PRUNE's peer records, as received (owned by the
	// event: read-only).
	Records []PeerExchangeRecord
	// At is when the router handled the PRUNE, on its clock.
	At time.Time
}

// EvtMessagePublished is emitted when the local node publishes a message.
type EvtMessagePublished struct {
	// Topic is the message's topic.
	Topic string
	// ID is the message id (default from || seqno).
	ID string
	// Size is the published message's encoded size, as sent to peers.
	Size int
	// Peers is how many peers the message was sent to.
	Peers int
	// At is when the router handled the publish, on its clock.
	At time.Time
}

// EvtMessageDelivered is emitted when a message is seen for the first time,
// validated, and delivered to local subscribers and forwarded.
type EvtMessageDelivered struct {
	// Topic is the message's topic.
	Topic string
	// ID is the message's id.
	ID string
	// From is the peer that sent it to us first (the propagation source).
	From peer.ID
	// Author is the message's from field.
	Author peer.ID
	// Size is the encoded size of the copy From sent.
	Size int
	// At is when the router accepted the message (the end of its
	// validation), on its clock.
	At time.Time
}

// EvtMessageDuplicated is emitted when a message already seen arrives again
// (a byte-identical copy, or a different copy that passed the signature
// check under a seen id); it is neither delivered nor forwarded.
type EvtMessageDuplicated struct {
	// Topic is the copy's topic.
	Topic string
	// ID is the copy's id, one the router has already seen.
	ID string
	// From is the peer that sent the copy.
	From peer.ID
	// At is when the router handled the RPC carrying the copy, on its clock.
	At time.Time
}

// EvtChokedPeerAnnounced is emitted when a mesh peer we choked (meshbus's
// choke extension, router.WithChoking), or asked to skip the messages'
// author (author skip), announces with IHAVE messages of Topic we already
// have: otherwise it would have forwarded them to us, so the scorer counts
// each as a mesh delivery (P₃), as the gossipsub choke draft asks,
// whatever the delivery window. IDs are those message ids; the
// event owns the slice.
type EvtChokedPeerAnnounced struct {
	// Topic is the IHAVE's topic.
	Topic string
	// From is the mesh peer that sent the IHAVE.
	From peer.ID
	// IDs are the announced ids of messages we already have.
	IDs []string
	// At is when the router handled the IHAVE, on its clock.
	At time.Time
}

// RejectReason names why a received message was not delivered.
type RejectReason uint8

// The reasons a message is rejected.
const (
	RejectValidationFailed    RejectReason = iota + 1 // a validator said reject
	RejectValidationIgnored                           // a validator said ignore
	RejectValidationThrottled                         // the validation queue was full
	RejectInvalidSignature                            // signature does not verify
	RejectMissingSignature                            // strict signing and no signature
	RejectUnexpectedSignature                         // signing off but signed fields present
	RejectSelfOrigin                                  // a message authored by us came back
	RejectTopicNotJoined                              // not subscribed and no relay
	RejectTooLarge                                    // over the maximum message size
	RejectMalformed                                   // missing topic, bad from or seqno
	RejectGraylisted                                  // sender is below the graylist threshold
)

// String returns the reason's name.
func (r RejectReason) String() string {
	switch r {
	case RejectValidationFailed:
		return "validation_failed"
	case RejectValidationIgnored:
		return "validation_ignored"
	case RejectValidationThrottled:
		return "validation_throttled"
	case RejectInvalidSignature:
		return "invalid_signature"
	case RejectMissingSignature:
		return "missing_signature"
	case RejectUnexpectedSignature:
		return "unexpected_signature"
	case RejectSelfOrigin:
		return "self_origin"
	case RejectTopicNotJoined:
		return "topic_not_joined"
	case RejectTooLarge:
		return "too_large"
	case RejectMalformed:
		return "malformed"
	case RejectGraylisted:
		return "graylisted"
	}
	return "unknown"
}

// Invalid reports whether the reason counts against the sender as an invalid
// message delivery (score term P4): everything but ignore, throttling,
// unjoined topics and graylisting.
func (r RejectReason) Invalid() bool {
	switch r {
	case RejectValidationIgnored, RejectValidationThrottled, RejectTopicNotJoined, RejectGraylisted:
		return false
	}
	return r != 0
}

// EvtMessageRejected is emitted when a received message is not delivered.
type EvtMessageRejected struct {
	// Topic is the message's topic as received (with RejectMalformed it may
	// be empty or invalid).
	Topic string
	// ID is the message id, or "" when it could not be computed.
	ID string
	// From is the peer that sent the message (with RejectValidationFailed,
	// also each peer that sent a copy during validation, one event each).
	From peer.ID
	// Reason is why the message was not delivered: one of the router's checks
	// or the validator's verdict.
	Reason RejectReason
	// At is when the router refused the message, on its clock: on receipt, or
	// when it handled the validation result.
	At time.Time
}

// PenaltyReason names a misbehaviour that costs a peer behaviour penalty
// (score term P7).
type PenaltyReason uint8

// The misbehaviours the router penalises.
const (
	PenaltyGraftBackoff        PenaltyReason = iota + 1 // GRAFT during a prune backoff
	PenaltyBrokenPromise                                // IHAVE advertised, IWANT never answered
	PenaltyGraftFlood                                   // GRAFT too soon after PRUNE
	PenaltyIWantSpam                                    // IWANT over the per-heartbeat budget
	PenaltyInvalidSignature                             // a message whose signature does not verify
	PenaltyMissingSignature                             // an unsigned message under strict signing
	PenaltyUnexpectedSignature                          // signing fields under a no-sign policy
	PenaltyMalformedMessage                             // a message with no topic, a bad from or seqno, or a bad id
	PenaltyOversizedMessage                             // a message over the maximum message size
	PenaltyUndecodableRPC                               // a frame that does not decode as an RPC, or a bad length prefix
	PenaltyOversizedRPC                                 // a frame over the maximum RPC size
	// PenaltyExtensionsMisuse: a gossipsub v1.3 Extensions control message
	// again, or after the first RPC of the stream.
	PenaltyExtensionsMisuse
	// PenaltyBadPartial: a partial-messages RPC rejected (see PartialRejectReason).
	PenaltyBadPartial
	// PenaltyBadFragment: a gossipsub v1.4 message fragment rejected, or a
	// reassembly that failed (see FragmentRejectReason).
	PenaltyBadFragment
	// PenaltyPreambleAbuse: a gossipsub v1.4 PREAMBLE over the receiver's
	// bounds (too many awaited messages or PREAMBLEs per heartbeat), with
	// an oversized size, or with a malformed id or topic.
	PenaltyPreambleAbuse
	// PenaltyPreambleBroken: a peer chosen as a message's source after its
	// PREAMBLE kept not sending the message in time (beyond the
	// receiver's allowance of misses in a row).
	PenaltyPreambleBroken
	// PenaltyChokeFlood: more choke and unchoke entries of meshbus's
	// choke extension in one heartbeat interval than the receiver allows.
	PenaltyChokeFlood
	// PenaltyBrokenHead: a peer whose frame began with a large message's
	// head (so we told our meshes we are receiving it) then sent that
	// message on a topic we have not joined, beyond the receiver's
	// allowance of such heads in a row.
	PenaltyBrokenHead
)

// String returns the penalty's name.
func (r PenaltyReason) String() string {
	switch r {
	case PenaltyGraftBackoff:
		return "graft_backoff"
	case PenaltyBrokenPromise:
		return "broken_promise"
	case PenaltyGraftFlood:
		return "graft_flood"
	case PenaltyIWantSpam:
		return "iwant_spam"
	case PenaltyInvalidSignature:
		return "invalid_signature"
	case PenaltyMissingSignature:
		return "missing_signature"
	case PenaltyUnexpectedSignature:
		return "unexpected_signature"
	case PenaltyMalformedMessage:
		return "malformed_message"
	case PenaltyOversizedMessage:
		return "oversized_message"
	case PenaltyUndecodableRPC:
		return "undecodable_rpc"
	case PenaltyOversizedRPC:
		return "oversized_rpc"
	case PenaltyExtensionsMisuse:
		return "extensions_misuse"
	case PenaltyBadPartial:
		return "bad_partial"
	case PenaltyBadFragment:
		return "bad_fragment"
	case PenaltyPreambleAbuse:
		return "preamble_abuse"
	case PenaltyPreambleBroken:
		return "preamble_broken"
	case PenaltyChokeFlood:
		return "choke_flood"
	case PenaltyBrokenHead:
		return "broken_head"
	}
	return "unknown"
}

// EvtPeerPenalized is emitted when the router observes a misbehaviour that the
// score function's behaviour penalty (P7) counts: protocol abuse (GRAFT
// during backoff, broken IHAVE promises, IWANT spam) and bad input (messages
// failing the signature policy or malformed, RPC frames that are oversized
// or do not decode). Bad input is penalised whatever the topic's score
// parameters, so that a peer that keeps sending it is graylisted by default;
// a bad message is also reported as EvtMessageRejected.
type EvtPeerPenalized struct {
	// Peer is the misbehaving peer.
	Peer peer.ID
	// Reason is the misbehaviour observed.
	Reason PenaltyReason
	// Count is how many occurrences this event reports (at least 1).
	Count int
	// At is when the router observed it, on its clock: on receipt, or at the
	// heartbeat or deadline that found a promise, PREAMBLE or fragment overdue.
	At time.Time
}

// EvtPeerQueueOverflowed is emitted when the router drops outbound data for a
// peer because its bounded send queue is full (a slow peer). Control messages
// are queued ahead of data and dropped last. It is emitted at most once per
// heartbeat per peer, with the drops counted since the previous one.
type EvtPeerQueueOverflowed struct {
	// Peer is the peer whose send queue is full.
	Peer peer.ID
	// Dropped is how many RPCs were dropped since the last event for the peer.
	Dropped int
	// At is when the router noted the first drop since the previous heartbeat,
	// or the heartbeat that reports later drops, on its clock.
	At time.Time
}
