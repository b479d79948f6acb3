package events

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// This file holds the router's events about gossipsub v1.3 extensions and the
// partial-messages extension. The router (components/router) emits all of
// them from its driver goroutine.

// EvtPeerExtensionsReceived is emitted by the router once per inbound pubsub
// stream of a peer, when its first RPC arrives: it carries the extensions the
// peer advertised in its gossipsub v1.3 Extensions control message (all false
// when the first RPC had none, or the stream is older than /meshsub/1.3.0;
// /meshsub/1.4.0 streams carry it as 1.3 ones do).
// Unknown extensions are not reported. It is emitted before any event caused
// by the same RPC.
type EvtPeerExtensionsReceived struct {
	// Peer is the peer whose inbound stream's first RPC carried the extensions.
	Peer peer.ID
	// Protocol is the protocol of the stream the RPC arrived on.
	Protocol protocol.ID
	// PartialMessages: the peer supports the partial-messages extension.
	PartialMessages bool
	// LargeMessages: the peer advertised gossipsub v1.4 large-message
	// handling (the largeMessageHandling extension: message fragments,
	// PREAMBLE, IMRECEIVING). It reports what the peer said, whether or not
	// the local router has large-message handling on; the router treats
	// the peer as a v1.4 peer only when both are.
	LargeMessages bool
	// At is when the router handled that RPC, on its clock.
	At time.Time
}

// EvtPartialMessageReceived is emitted by the router for each accepted
// partial-messages RPC (parts and/or parts metadata of one group), after the
// application's merge of the parts, so Extended tells whether it added parts.
type EvtPartialMessageReceived struct {
	// Peer is the peer that sent the RPC.
	Peer peer.ID
	// Topic is the RPC's topic.
	Topic string
	// GroupID is the group's identifier (application-defined bytes, as a string).
	GroupID string
	// PartBytes and MetadataBytes are the sizes of the encoded partial
	// message and parts metadata (0 when absent).
	PartBytes     int
	MetadataBytes int
	// Extended: the parts added at least one part the local node lacked.
	Extended bool
	// At is when the router took the application's merge, on its clock.
	At time.Time
}

// EvtPartialGroupCompleted is emitted by the router once per group, when the
// application reports that the local node holds every part of it (on
// PublishPartial of a complete message, or after a merge of received parts).
// It follows the EvtPartialMessageReceived of the RPC that completed it.
type EvtPartialGroupCompleted struct {
	// Topic is the group's topic.
	Topic string
	// GroupID is the completed group's id.
	GroupID string
	// From is the peer whose parts completed the group; "" when the local
	// application published it complete.
	From peer.ID
	// At is when the router learnt the group is complete (a merge or
	// PublishPartial), on its clock.
	At time.Time
}

// PartialRejectReason names why the router refused a partial-messages RPC.
type PartialRejectReason uint8

// The reasons a partial-messages RPC is rejected. Each rejection is counted
// by reason and costs the sender a PenaltyBadPartial, except
// PartialRejectNotEnabled for a topic we just left (see its comment).
const (
	// PartialRejectNoExtension: the peer did not advertise the extension (or
	// we did not) and sent a partial RPC anyway.
	PartialRejectNoExtension PartialRejectReason = iota + 1
	// PartialRejectNotEnabled: partial messages are not enabled locally for
	// the topic (not joined with partial options).
	PartialRejectNotEnabled
	// PartialRejectMalformed: empty or over-long topic or group id, or neither
	// parts nor metadata.
	PartialRejectMalformed
	// PartialRejectMetadataTooLarge: parts metadata over the configured limit.
	PartialRejectMetadataTooLarge
	// PartialRejectPartsTooLarge: encoded parts over the configured limit.
	PartialRejectPartsTooLarge
	// PartialRejectUnrequested: parts sent on a topic where we did not
	// request partial messages.
	PartialRejectUnrequested
	// PartialRejectTooManyGroups: the RPC names an unknown group and the
	// peer (or all peers) already opened the maximum of groups in the topic.
	PartialRejectTooManyGroups
	// PartialRejectInvalid: the application refused the parts or metadata.
	PartialRejectInvalid
)

// String returns the reason's name.
func (r PartialRejectReason) String() string {
	switch r {
	case PartialRejectNoExtension:
		return "no_extension"
	case PartialRejectNotEnabled:
		return "not_enabled"
	case PartialRejectMalformed:
		return "malformed"
	case PartialRejectMetadataTooLarge:
		return "metadata_too_large"
	case PartialRejectPartsTooLarge:
		return "parts_too_large"
	case PartialRejectUnrequested:
		return "unrequested"
	case PartialRejectTooManyGroups:
		return "too_many_groups"
	case PartialRejectInvalid:
		return "invalid"
	}
	return "unknown"
}

// MaxPartialRejectReason is the largest PartialRejectReason, for tables
// indexed by reason.
const MaxPartialRejectReason = PartialRejectInvalid

// EvtPartialMessageRejected is emitted by the router when it refuses a
// partial-messages RPC; an EvtPeerPenalized (PenaltyBadPartial) follows it
// when the reason is penalised.
type EvtPartialMessageRejected struct {
	// Peer is the peer that sent the RPC.
	Peer peer.ID
	// Topic is the RPC's topic, cut to the maximum topic length ("" when
	// absent).
	Topic string
	// GroupID is the RPC's group id, cut to the maximum group id length (""
	// when absent).
	GroupID string
	// Reason is why the RPC was refused.
	Reason PartialRejectReason
	// At is when the router refused the RPC, on its clock: on receipt, or
	// after the application's merge (PartialRejectInvalid).
	At time.Time
}

// FragmentRejectReason names why the router refused a gossipsub v1.4
// message fragment (LargeMessageFragment) or the message reassembled from
// fragments.
type FragmentRejectReason uint8

// The reasons a fragment (or a reassembly) is rejected. Each rejection is
// counted by reason (meshbus_router_fragments_rejected_total) and costs the
// sender a PenaltyBadFragment, except FragmentRejectBudget (the global
// reassembly budget is full: other peers' fragments may have filled it).
const (
	// FragmentRejectNotNegotiated: fragments from a peer that did not
	// advertise large-message handling on its current stream, or sent to a
	// router that has it off (WithoutLargeMessages).
	FragmentRejectNotNegotiated FragmentRejectReason = iota + 1
	// FragmentRejectMalformed: an empty or over-long message id or topic, no
	// data, a zero total, or an index not below the total.
	FragmentRejectMalformed
	// FragmentRejectTooManyFragments: a total above the bound (the maximum
	// message size over the minimum fragment size, and a hard cap).
	FragmentRejectTooManyFragments
	// FragmentRejectInconsistent: a total or topic that differs from the
	// earlier fragments of the same message (the reassembly is discarded).
	FragmentRejectInconsistent
	// FragmentRejectTooLarge: the fragments of one message add up to more
	// than the maximum message size (the reassembly is discarded).
	FragmentRejectTooLarge
	// FragmentRejectTooManyPending: the peer already has the maximum of
	// messages in reassembly (LargeMessageConfig.MaxPendingPerPeer).
	FragmentRejectTooManyPending
	// FragmentRejectBudget: the global reassembly budget
	// (LargeMessageConfig.MaxReassemblyBytes) would be exceeded; the
	// message's reassembly is discarded. Not penalised.
	FragmentRejectBudget
	// FragmentRejectTimedOut: the message's fragments did not all arrive
	// within LargeMessageConfig.FragmentTimeout (the reassembly is
	// discarded).
	FragmentRejectTimedOut
	// FragmentRejectUndecodable: the reassembled bytes are not an encoded
	// message.
	FragmentRejectUndecodable
	// FragmentRejectIDMismatch: the reassembled message's id (the topic's
	// message id function) is not the fragments' message id.
	FragmentRejectIDMismatch
	// FragmentRejectTopicMismatch: the reassembled message's topic is not
	// the fragments' topic.
	FragmentRejectTopicMismatch
)

// String returns the reason's name.
func (r FragmentRejectReason) String() string {
	switch r {
	case FragmentRejectNotNegotiated:
		return "not_negotiated"
	case FragmentRejectMalformed:
		return "malformed"
	case FragmentRejectTooManyFragments:
		return "too_many_fragments"
	case FragmentRejectInconsistent:
		return "inconsistent"
	case FragmentRejectTooLarge:
		return "too_large"
	case FragmentRejectTooManyPending:
		return "too_many_pending"
	case FragmentRejectBudget:
		return "budget"
	case FragmentRejectTimedOut:
		return "timed_out"
	case FragmentRejectUndecodable:
		return "undecodable"
	case FragmentRejectIDMismatch:
		return "id_mismatch"
	case FragmentRejectTopicMismatch:
		return "topic_mismatch"
	}
	return "unknown"
}

// Penalized reports whether the reason costs the sender a
// PenaltyBadFragment (every reason but FragmentRejectBudget).
func (r FragmentRejectReason) Penalized() bool { return r != 0 && r != FragmentRejectBudget }

// MaxFragmentRejectReason is the largest FragmentRejectReason, for tables
// indexed by reason.
const MaxFragmentRejectReason = FragmentRejectTopicMismatch

// EvtFragmentRejected is emitted by the router when it refuses a gossipsub
// v1.4 message fragment or a reassembled message (before the message's
// own checks: a reassembled message that decodes, under the fragments' id
// and topic, then takes the path of any received message, and is reported
// as EvtMessageRejected if it fails there). An EvtPeerPenalized
// (PenaltyBadFragment) follows it when the reason is penalised.
type EvtFragmentRejected struct {
	// Peer is the peer that sent the fragments.
	Peer peer.ID
	// Topic is the topic the fragments carried (may be empty or anything the
	// peer sent).
	Topic string
	// ID is the fragments' message id (as a string; may be empty or
	// anything the peer sent).
	ID string
	// Reason is why the fragment or reassembly was refused.
	Reason FragmentRejectReason
	// At is when the router refused it, on its clock: on receipt, or at the
	// heartbeat that found the reassembly timed out.
	At time.Time
}
