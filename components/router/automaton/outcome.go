package automaton

// Outcome names what one handler call did. The set is closed: every handler
// returns one of the constants below (its doc comment lists which), so tests
// and drivers switch on values, never on strings.
type Outcome uint8

// The outcomes, grouped by the handler that returns them.
const (
	// OutcomeUnknownPeer: the peer was never added (or was removed); the input is dropped.
	OutcomeUnknownPeer Outcome = iota + 1
	// OutcomeGraylisted: the peer's score is below the graylist threshold; its RPC is ignored.
	OutcomeGraylisted
	// OutcomeUnsupportedByProtocol: the peer's protocol does not have this
	// control message (floodsub control, IDONTWANT before /meshsub/1.2.0); ignored.
	OutcomeUnsupportedByProtocol
	// OutcomeInvalidInput: an empty or over-long topic or message id, or a nil message.
	OutcomeInvalidInput

	// OutcomePeerAdded: AddPeer registered the peer.
	OutcomePeerAdded
	// OutcomePeerAlreadyAdded: AddPeer for a known peer; nothing changed.
	OutcomePeerAlreadyAdded
	// OutcomeUnsupportedProtocol: AddPeer with a protocol the automaton does not speak.
	OutcomeUnsupportedProtocol
	// OutcomeTooManyPeers: AddPeer with Config.MaxPeers peers already tracked.
	OutcomeTooManyPeers
	// OutcomePeerRemoved: RemovePeer forgot the peer.
	OutcomePeerRemoved
	// OutcomeRecordUpdated: UpdatePeerRecord stored the peer's signed record.
	OutcomeRecordUpdated

	// OutcomeSubscribed: the peer's SUBSCRIBE was recorded.
	OutcomeSubscribed
	// OutcomeAlreadySubscribed: SUBSCRIBE for a topic the peer is already in.
	OutcomeAlreadySubscribed
	// OutcomeUnsubscribed: the peer's UNSUBSCRIBE was recorded.
	OutcomeUnsubscribed
	// OutcomeNotSubscribed: UNSUBSCRIBE, or GRAFT, for a topic the peer has
	// not announced; nothing changed.
	OutcomeNotSubscribed
	// OutcomeTooManyTopics: the peer is at Config.MaxTopicsPerPeer, or the
	// local node at Config.MaxTopics (Join, fanout).
	OutcomeTooManyTopics

	// OutcomeJoined: Join subscribed the local node and built the mesh.
	OutcomeJoined
	// OutcomeAlreadyJoined: Join for a joined topic.
	OutcomeAlreadyJoined
	// OutcomeLeft: Leave pruned the mesh and unsubscribed.
	OutcomeLeft
	// OutcomeTopicNotJoined: the local node is not in the topic (GRAFT, IHAVE,
	// message, Leave).
	OutcomeTopicNotJoined

	// OutcomeGraftAccepted: the peer entered the mesh.
	OutcomeGraftAccepted
	// OutcomeAlreadyInMesh: GRAFT from a mesh peer; nothing changed.
	OutcomeAlreadyInMesh
	// OutcomeGraftBackoff: GRAFT during backoff: refused with PRUNE, PenaltyGraftBackoff.
	OutcomeGraftBackoff
	// OutcomeGraftFlood: GRAFT within GraftFloodThreshold of our PRUNE:
	// refused, PenaltyGraftBackoff and PenaltyGraftFlood.
	OutcomeGraftFlood
	// OutcomeGraftDirectPeer: GRAFT from a direct peer: refused with a PRUNE, no penalty.
	OutcomeGraftDirectPeer
	// OutcomeGraftNegativeScore: GRAFT from a peer with a negative score: refused with PRUNE.
	OutcomeGraftNegativeScore
	// OutcomeMeshFull: GRAFT from an inbound peer while the mesh has Dhi peers: refused with PRUNE.
	OutcomeMeshFull

	// OutcomePruned: PRUNE removed the peer from the mesh; backoff recorded.
	OutcomePruned
	// OutcomeNotInMesh: PRUNE from a peer not in the mesh; backoff recorded.
	OutcomeNotInMesh
	// OutcomePXAccepted: the PRUNE was applied and its peer exchange reported.
	OutcomePXAccepted
	// OutcomePXIgnored: the PRUNE was applied but its peer exchange dropped
	// (PX disabled, or sender below the accept-PX threshold).
	OutcomePXIgnored

	// OutcomeIWantSent: IHAVE answered with an IWANT.
	OutcomeIWantSent
	// OutcomeNothingWanted: IHAVE listed only messages already seen.
	OutcomeNothingWanted
	// OutcomeIHaveBudgetExceeded: the peer sent more than MaxIHaveMessages
	// IHAVEs, or advertised more than MaxIHaveLength ids, this heartbeat; ignored.
	OutcomeIHaveBudgetExceeded
	// OutcomeBelowGossipThreshold: the peer's score is below the gossip threshold; gossip ignored.
	OutcomeBelowGossipThreshold

	// OutcomeIWantServed: at least one requested message was sent.
	OutcomeIWantServed
	// OutcomeIWantNothingServed: no requested id was advertised to the peer
	// and still cached (or all were over GossipRetransmission, or IDONTWANT'd).
	OutcomeIWantNothingServed
	// OutcomeIWantBudgetExceeded: the peer asked for more than MaxIHaveLength
	// ids this heartbeat, or for one id more than GossipRetransmission times;
	// PenaltyIWantSpam reported, the excess ignored.
	OutcomeIWantBudgetExceeded

	// OutcomeIDontWantRecorded: the ids were remembered (queued copies cancelled).
	OutcomeIDontWantRecorded
	// OutcomeIDontWantBudgetExceeded: the peer is at MaxIDontWant ids or sent
	// more than MaxIDontWantMessages IDONTWANTs this heartbeat; the excess is ignored.
	OutcomeIDontWantBudgetExceeded

	// OutcomeNeedsValidation: a new message; the driver must validate it and call Validated.
	OutcomeNeedsValidation
	// OutcomeNeedsSignatureCheck: a message that is not a byte-identical copy
	// of one already accepted; the driver must apply the signature policy
	// to it and call HandleMessage again with checked true, or Reject.
	OutcomeNeedsSignatureCheck
	// OutcomeAlreadySeen: a duplicate (also for a duplicate Publish).
	OutcomeAlreadySeen
	// OutcomeSelfOrigin: a message authored by the local node came back.
	OutcomeSelfOrigin
	// OutcomeValidationQueueFull: MaxPendingValidation messages await validation; dropped.
	OutcomeValidationQueueFull
	// OutcomeDelivered: Validated(accept): delivered locally and forwarded.
	OutcomeDelivered
	// OutcomeRejected: Validated(reject) or Reject: not delivered, senders reported.
	OutcomeRejected
	// OutcomeIgnored: Validated(ignore or throttled): not delivered, not forwarded.
	OutcomeIgnored
	// OutcomeUnknownMessage: Validated for an id not awaiting validation.
	OutcomeUnknownMessage

	// OutcomePublished: Publish sent the message to at least one peer.
	OutcomePublished
	// OutcomeNoPeers: Publish recorded the message but had no peer to send it to.
	OutcomeNoPeers

	// OutcomeScoresUpdated: UpdateScores installed the snapshot.
	OutcomeScoresUpdated
	// OutcomeHeartbeatDone: Heartbeat ran.
	OutcomeHeartbeatDone

	// OutcomeEarlyIDontWantSent: HandleMessageHead sent IDONTWANT for a
	// message still arriving.
	OutcomeEarlyIDontWantSent
	// OutcomeEarlyIDontWantSkipped: HandleMessageHead sent nothing (data
	// under IDontWantThreshold, IDONTWANT already sent, no mesh peer to tell).
	OutcomeEarlyIDontWantSkipped

	// OutcomeRTTRecorded: HandlePeerRTT stored the peer's round-trip time.
	OutcomeRTTRecorded

	// OutcomeLazyFlushed: FlushLazy output at least one batched IHAVE.
	OutcomeLazyFlushed
	// OutcomeNothingToFlush: FlushLazy found no queued lazy ids to send.
	OutcomeNothingToFlush

	// OutcomeCopyDone: HandleCopyDone freed the slot of a staggered copy
	// in flight (and released the next waiting copy, if any).
	OutcomeCopyDone
	// OutcomeCopyNotTracked: HandleCopyDone for a copy no longer in flight
	// (done by MaxWait, the peer's IDONTWANT or copy, or nothing is left
	// to release for its message).
	OutcomeCopyNotTracked
	// OutcomeCopiesReleased: ReleaseDue found staggered copies in flight
	// for MaxWait and released the next ones.
	OutcomeCopiesReleased
	// OutcomeNothingDue: ReleaseDue found no copy in flight past MaxWait.
	OutcomeNothingDue

	// OutcomePeerFeaturesSet: SetPeerLargeMessages recorded whether the
	// peer supports gossipsub v1.4 large-message handling, or
	// SetPeerPartsFrom the topics on which it sends partial messages.
	OutcomePeerFeaturesSet

	// OutcomeLargeMessagesUnsupported: a PREAMBLE or IMRECEIVING from a
	// peer that did not advertise gossipsub v1.4 large-message handling
	// (to it the field does not exist); ignored.
	OutcomeLargeMessagesUnsupported
	// OutcomePreambleSourceChosen: the PREAMBLE's sender is the message's
	// source; IMRECEIVING went to the other v1.4 mesh peers.
	OutcomePreambleSourceChosen
	// OutcomePreambleHave: PREAMBLE for a message we have; IDONTWANT sent back.
	OutcomePreambleHave
	// OutcomePreambleOtherSource: PREAMBLE for a message already arriving
	// or awaited from another peer; IMRECEIVING sent back.
	OutcomePreambleOtherSource
	// OutcomePreambleRepeated: PREAMBLE again from a peer that announced
	// the message already; nothing changed.
	OutcomePreambleRepeated
	// OutcomePreambleSourceDemoted: the PREAMBLE's sender missed a source
	// deadline recently: recorded as an announcer, not chosen.
	OutcomePreambleSourceDemoted
	// OutcomePreambleIgnored: PREAMBLE for a message we do not have while
	// choosing sources is off (PreambleConfig.MinData 0).
	OutcomePreambleIgnored
	// OutcomePreambleTableFull: PreambleConfig.MaxIncoming messages are
	// awaited already; the PREAMBLE is ignored (the copy still comes).
	OutcomePreambleTableFull
	// OutcomePreambleFlood: the peer is over MaxIncomingPerPeer awaited
	// messages or MaxPerHeartbeat PREAMBLEs; ignored, PenaltyPreambleAbuse.
	OutcomePreambleFlood
	// OutcomePreambleOversized: PREAMBLE announcing a message over
	// MaxMessageSize; ignored, PenaltyPreambleAbuse.
	OutcomePreambleOversized
	// OutcomePreamblesExpired: ExpirePreambles found at least one awaited
	// message past its source's deadline.
	OutcomePreamblesExpired
	// OutcomeImReceivingRecorded: IMRECEIVING recorded (waiting copies
	// dropped, queued copies cancelled).
	OutcomeImReceivingRecorded
	// OutcomeImReceivingBudgetExceeded: the peer is at MaxIDontWant ids or
	// sent more than MaxIDontWantMessages IMRECEIVINGs this heartbeat.
	OutcomeImReceivingBudgetExceeded
	// OutcomeChokeRecorded: a choke extension RPC applied (HandleChoke).
	OutcomeChokeRecorded
	// OutcomeChokeNotNegotiated: a choke extension RPC from a peer that did
	// not advertise the extension, or with ours off; ignored.
	OutcomeChokeNotNegotiated
	// OutcomeChokeFlood: the peer sent more than MaxPerHeartbeat choke and
	// unchoke entries for one topic this heartbeat (or for topics where it
	// is not in our mesh); the rest ignored, PenaltyChokeFlood.
	OutcomeChokeFlood
	// OutcomeAuthorSkipRecorded: a peer's author skip entries applied
	// (HandleAuthorSkip).
	OutcomeAuthorSkipRecorded
	// OutcomeHeadDistrusted: HandleMessageHead did nothing: more of the
	// peer's recent heads than PreambleConfig.MissAllowance were followed
	// by a message on a topic we have not joined (brokenHead).
	OutcomeHeadDistrusted

	outcomeEnd // sentinel: number of outcomes + 1
)

var outcomeNames = [...]string{
	OutcomeUnknownPeer:             "unknown_peer",
	OutcomeGraylisted:              "graylisted",
	OutcomeUnsupportedByProtocol:   "unsupported_by_protocol",
	OutcomeInvalidInput:            "invalid_input",
	OutcomePeerAdded:               "peer_added",
	OutcomePeerAlreadyAdded:        "peer_already_added",
	OutcomeUnsupportedProtocol:     "unsupported_protocol",
	OutcomeTooManyPeers:            "too_many_peers",
	OutcomePeerRemoved:             "peer_removed",
	OutcomeRecordUpdated:           "record_updated",
	OutcomeSubscribed:              "subscribed",
	OutcomeAlreadySubscribed:       "already_subscribed",
	OutcomeUnsubscribed:            "unsubscribed",
	OutcomeNotSubscribed:           "not_subscribed",
	OutcomeTooManyTopics:           "too_many_topics",
	OutcomeJoined:                  "joined",
	OutcomeAlreadyJoined:           "already_joined",
	OutcomeLeft:                    "left",
	OutcomeTopicNotJoined:          "topic_not_joined",
	OutcomeGraftAccepted:           "graft_accepted",
	OutcomeAlreadyInMesh:           "already_in_mesh",
	OutcomeGraftBackoff:            "graft_backoff",
	OutcomeGraftFlood:              "graft_flood",
	OutcomeGraftDirectPeer:         "graft_direct_peer",
	OutcomeGraftNegativeScore:      "graft_negative_score",
	OutcomeMeshFull:                "mesh_full",
	OutcomePruned:                  "pruned",
	OutcomeNotInMesh:               "not_in_mesh",
	OutcomePXAccepted:              "px_accepted",
	OutcomePXIgnored:               "px_ignored",
	OutcomeIWantSent:               "iwant_sent",
	OutcomeNothingWanted:           "nothing_wanted",
	OutcomeIHaveBudgetExceeded:     "ihave_budget_exceeded",
	OutcomeBelowGossipThreshold:    "below_gossip_threshold",
	OutcomeIWantServed:             "iwant_served",
	OutcomeIWantNothingServed:      "iwant_nothing_served",
	OutcomeIWantBudgetExceeded:     "iwant_budget_exceeded",
	OutcomeIDontWantRecorded:       "idontwant_recorded",
	OutcomeIDontWantBudgetExceeded: "idontwant_budget_exceeded",
	OutcomeNeedsValidation:         "needs_validation",
	OutcomeNeedsSignatureCheck:     "needs_signature_check",
	OutcomeAlreadySeen:             "already_seen",
	OutcomeSelfOrigin:              "self_origin",
	OutcomeValidationQueueFull:     "validation_queue_full",
	OutcomeDelivered:               "delivered",
	OutcomeRejected:                "rejected",
	OutcomeIgnored:                 "ignored",
	OutcomeUnknownMessage:          "unknown_message",
	OutcomePublished:               "published",
	OutcomeNoPeers:                 "no_peers",
	OutcomeScoresUpdated:           "scores_updated",
	OutcomeHeartbeatDone:           "heartbeat_done",
	OutcomeEarlyIDontWantSent:      "early_idontwant_sent",
	OutcomeEarlyIDontWantSkipped:   "early_idontwant_skipped",
	OutcomeRTTRecorded:             "rtt_recorded",
	OutcomeLazyFlushed:             "lazy_flushed",
	OutcomeNothingToFlush:          "nothing_to_flush",
	OutcomeCopyDone:                "copy_done",
	OutcomeCopyNotTracked:          "copy_not_tracked",
	OutcomeCopiesReleased:          "copies_released",
	OutcomeNothingDue:              "nothing_due",
	OutcomePeerFeaturesSet:         "peer_features_set",

	OutcomeLargeMessagesUnsupported:  "large_messages_unsupported",
	OutcomePreambleSourceChosen:      "preamble_source_chosen",
	OutcomePreambleHave:              "preamble_have",
	OutcomePreambleOtherSource:       "preamble_other_source",
	OutcomePreambleRepeated:          "preamble_repeated",
	OutcomePreambleSourceDemoted:     "preamble_source_demoted",
	OutcomePreambleIgnored:           "preamble_ignored",
	OutcomePreambleTableFull:         "preamble_table_full",
	OutcomePreambleFlood:             "preamble_flood",
	OutcomePreambleOversized:         "preamble_oversized",
	OutcomePreamblesExpired:          "preambles_expired",
	OutcomeImReceivingRecorded:       "imreceiving_recorded",
	OutcomeImReceivingBudgetExceeded: "imreceiving_budget_exceeded",
	OutcomeChokeRecorded:             "choke_recorded",
	OutcomeChokeNotNegotiated:        "choke_not_negotiated",
	OutcomeChokeFlood:                "choke_flood",
	OutcomeAuthorSkipRecorded:        "author_skip_recorded",
	OutcomeHeadDistrusted:            "head_distrusted",
}

// String returns the outcome's snake_case name (stable: usable as a metric label).
func (o Outcome) String() string {
	if o > 0 && o < outcomeEnd {
		return outcomeNames[o]
	}
	return "unknown"
}

// Outcomes returns every outcome, in declaration order (for metrics that
// pre-create one counter per outcome).
func Outcomes() []Outcome {
	out := make([]Outcome, 0, outcomeEnd-1)
	for o := Outcome(1); o < outcomeEnd; o++ {
		out = append(out, o)
	}
	return out
}

// ValidationResult is the driver's verdict on a message, given to Validated.
type ValidationResult uint8

// The validation verdicts (the application validators' accept, reject and
// ignore, plus throttled when the driver's validation queue overflowed).
const (
	ValidationAccept ValidationResult = iota + 1
	ValidationReject
	ValidationIgnore
	ValidationThrottled
)

// String returns the verdict's name.
func (v ValidationResult) String() string {
	switch v {
	case ValidationAccept:
		return "accept"
	case ValidationReject:
		return "reject"
	case ValidationIgnore:
		return "ignore"
	case ValidationThrottled:
		return "throttled"
	}
	return "unknown"
}
