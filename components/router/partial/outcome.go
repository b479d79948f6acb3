package partial

// Outcome names what one call of the core did. Every method documents which
// outcomes it returns.
type Outcome uint8

// The outcomes.
const (
	// OutcomeUnknownPeer: the peer was never added, or was removed; ignored.
	OutcomeUnknownPeer Outcome = iota + 1
	// OutcomePeerAdded: AddPeer started tracking the peer.
	OutcomePeerAdded
	// OutcomePeerAlreadyAdded: AddPeer for a tracked peer; nothing changed.
	OutcomePeerAlreadyAdded
	// OutcomePeerRemoved: RemovePeer forgot the peer and its per-group state.
	OutcomePeerRemoved

	// OutcomeExtensionsRecorded: the first RPC of a stream carried the
	// Extensions control message; the peer's extensions are recorded.
	OutcomeExtensionsRecorded
	// OutcomeExtensionsAbsent: the first RPC of a stream had no Extensions
	// control message: the peer supports no extension on this stream.
	OutcomeExtensionsAbsent
	// OutcomeExtensionsRepeated: an Extensions control message after the
	// first RPC of the stream (a second one, or a late one); ignored and
	// penalised (PenaltyExtensionsMisuse).
	OutcomeExtensionsRepeated
	// OutcomeExtensionsUnchanged: a later RPC without Extensions; nothing to do.
	OutcomeExtensionsUnchanged

	// OutcomeSubOptsRecorded: a peer's SUBSCRIBE partial options were stored.
	OutcomeSubOptsRecorded
	// OutcomeSubOptsCleared: an UNSUBSCRIBE or a SUBSCRIBE without partial
	// options cleared the peer's options for the topic.
	OutcomeSubOptsCleared
	// OutcomeTooManyTopics: the peer is at Config.MaxTopicsPerPeer topics
	// with partial options; the new ones are not kept.
	OutcomeTooManyTopics

	// OutcomeTopicEnabled: EnableTopic set the local partial options.
	OutcomeTopicEnabled
	// OutcomeTopicDisabled: DisableTopic dropped the topic and its groups.
	OutcomeTopicDisabled
	// OutcomeNotEnabled: the topic has no local partial options.
	OutcomeNotEnabled
	// OutcomeInvalidInput: an empty or over-long topic or group id, or
	// neither option set in EnableTopic.
	OutcomeInvalidInput

	// OutcomePartialAccepted: a partial RPC for a known group was accepted;
	// a Delivery is in the Output.
	OutcomePartialAccepted
	// OutcomePartialGroupOpened: a partial RPC for an unknown group was
	// accepted and opened the group (peer-initiated); a Delivery is in the Output.
	OutcomePartialGroupOpened
	// OutcomePartialRejected: the partial RPC was refused; the reason is in
	// Output.Rejected and, if penalised, Output.Penalized.
	OutcomePartialRejected

	// OutcomeMerged: Merged recorded the application's merge; replies and
	// pushes are in the Output.
	OutcomeMerged
	// OutcomeMergedCompleted: as OutcomeMerged, and the group became complete.
	OutcomeMergedCompleted
	// OutcomeGroupGone: the group was evicted (or the topic disabled) in the
	// meantime; nothing done.
	OutcomeGroupGone

	// OutcomePublished: Publish refreshed the group and queued Sends.
	OutcomePublished
	// OutcomeTooManyGroups: Publish would open a group beyond
	// Config.MaxLocalGroupsPerTopic.
	OutcomeTooManyGroups

	// OutcomeSent: Sent recorded what was written to a peer.
	OutcomeSent
	// OutcomeGossiped: Gossip queued metadata sends (possibly none).
	OutcomeGossiped
	// OutcomeHeartbeat: Heartbeat aged the groups and evicted expired ones.
	OutcomeHeartbeat
)

var outcomeNames = [...]string{
	OutcomeUnknownPeer:         "unknown_peer",
	OutcomePeerAdded:           "peer_added",
	OutcomePeerAlreadyAdded:    "peer_already_added",
	OutcomePeerRemoved:         "peer_removed",
	OutcomeExtensionsRecorded:  "extensions_recorded",
	OutcomeExtensionsAbsent:    "extensions_absent",
	OutcomeExtensionsRepeated:  "extensions_repeated",
	OutcomeExtensionsUnchanged: "extensions_unchanged",
	OutcomeSubOptsRecorded:     "subopts_recorded",
	OutcomeSubOptsCleared:      "subopts_cleared",
	OutcomeTooManyTopics:       "too_many_topics",
	OutcomeTopicEnabled:        "topic_enabled",
	OutcomeTopicDisabled:       "topic_disabled",
	OutcomeNotEnabled:          "not_enabled",
	OutcomeInvalidInput:        "invalid_input",
	OutcomePartialAccepted:     "partial_accepted",
	OutcomePartialGroupOpened:  "partial_group_opened",
	OutcomePartialRejected:     "partial_rejected",
	OutcomeMerged:              "merged",
	OutcomeMergedCompleted:     "merged_completed",
	OutcomeGroupGone:           "group_gone",
	OutcomePublished:           "published",
	OutcomeTooManyGroups:       "too_many_groups",
	OutcomeSent:                "sent",
	OutcomeGossiped:            "gossiped",
	OutcomeHeartbeat:           "heartbeat",
}

// String returns the outcome's name (snake_case, stable for metrics labels).
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && outcomeNames[o] != "" {
		return outcomeNames[o]
	}
	return "unknown"
}

// Outcomes returns every outcome, in declaration order.
func Outcomes() []Outcome {
	out := make([]Outcome, 0, len(outcomeNames)-1)
	for o := OutcomeUnknownPeer; int(o) < len(outcomeNames); o++ {
		out = append(out, o)
	}
	return out
}
