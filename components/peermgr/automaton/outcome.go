package automaton

// Outcome names what one handler call did. Every handler returns exactly
// one; tests and the driver match on it instead of on strings.
type Outcome uint8

// The outcomes, grouped by input.
const (
	// OutcomeIgnored: the input concerned nothing the automaton tracks (the
	// local peer, an unknown peer, an irrelevant threshold).
	OutcomeIgnored Outcome = iota + 1

	// OutcomePeerAdded: AddPeer or a found peer entered the store.
	OutcomePeerAdded
	// OutcomePeerMerged: AddPeer or a found peer was known; its addresses
	// were merged.
	OutcomePeerMerged
	// OutcomeRejectedInvalidPeer: an empty or malformed peer id.
	OutcomeRejectedInvalidPeer
	// OutcomeRejectedSelf: the local peer.
	OutcomeRejectedSelf
	// OutcomeRejectedNoAddresses: no (or an empty) address.
	OutcomeRejectedNoAddresses
	// OutcomeRejectedSource: an unknown events.PeerSource.
	OutcomeRejectedSource

	// OutcomeConnRecorded: a connection was recorded and the peer kept.
	OutcomeConnRecorded
	// OutcomeColocationEvicted: a connection put its IP over the colocation
	// limit and peers were evicted (possibly not the one that connected).
	OutcomeColocationEvicted
	// OutcomeGraylistedEvicted: a graylisted peer connected and was evicted.
	OutcomeGraylistedEvicted
	// OutcomeConnClosed: a connection was forgotten; the peer is still
	// connected through another.
	OutcomeConnClosed
	// OutcomeDisconnectBackedOff: the peer's last connection ended and it is
	// backed off before any redial.
	OutcomeDisconnectBackedOff

	// OutcomeIdentified: protocols and addresses recorded.
	OutcomeIdentified
	// OutcomeServicePeer: protocols recorded and the peer is a connected
	// service peer (a connectivity pass may trim it).
	OutcomeServicePeer

	// OutcomeExchangeApplied: peer exchange records were verified (some may
	// have been rejected, each with an EvtPeerRecordRejected).
	OutcomeExchangeApplied
	// OutcomeGraylisted: a peer was graylisted, disconnected and backed off.
	OutcomeGraylisted
	// OutcomeUngraylisted: a peer's graylisting was cleared.
	OutcomeUngraylisted
	// OutcomeScoresApplied: a score snapshot was applied.
	OutcomeScoresApplied

	// OutcomeDialSucceeded: a dial connected.
	OutcomeDialSucceeded
	// OutcomeDialFailedBackedOff: a dial failed and the peer is backed off.
	OutcomeDialFailedBackedOff
	// OutcomeDialFailedGivenUp: a dial failed for the MaxFailures-th time;
	// the peer is no longer dialed.
	OutcomeDialFailedGivenUp
	// OutcomeDialCanceled: a dial ended by shutdown or for a peer no longer
	// in the store; nothing counted.
	OutcomeDialCanceled

	// OutcomePassed: a connectivity pass ran; Output.Next says when the
	// next is due.
	OutcomePassed
	// OutcomePruned: capacity pruning ran.
	OutcomePruned

	// OutcomePinned: a service slot was set or cleared.
	OutcomePinned
	// OutcomeRejectedProtocol: an empty or non-UTF-8 protocol id.
	OutcomeRejectedProtocol
	// OutcomeRejectedUnknownPeer: the peer is not in the store.
	OutcomeRejectedUnknownPeer

	// OutcomeMeshChanged: a peer's mesh membership changed its connection
	// manager protection.
	OutcomeMeshChanged
	// OutcomeMeshUnchanged: a mesh change left the protection as it was.
	OutcomeMeshUnchanged

	outcomeEnd
)

var outcomeNames = [...]string{
	OutcomeIgnored:             "ignored",
	OutcomePeerAdded:           "peer_added",
	OutcomePeerMerged:          "peer_merged",
	OutcomeRejectedInvalidPeer: "rejected_invalid_peer",
	OutcomeRejectedSelf:        "rejected_self",
	OutcomeRejectedNoAddresses: "rejected_no_addresses",
	OutcomeRejectedSource:      "rejected_source",
	OutcomeConnRecorded:        "conn_recorded",
	OutcomeColocationEvicted:   "colocation_evicted",
	OutcomeGraylistedEvicted:   "graylisted_evicted",
	OutcomeConnClosed:          "conn_closed",
	OutcomeDisconnectBackedOff: "disconnect_backed_off",
	OutcomeIdentified:          "identified",
	OutcomeServicePeer:         "service_peer",
	OutcomeExchangeApplied:     "exchange_applied",
	OutcomeGraylisted:          "graylisted",
	OutcomeUngraylisted:        "ungraylisted",
	OutcomeScoresApplied:       "scores_applied",
	OutcomeDialSucceeded:       "dial_succeeded",
	OutcomeDialFailedBackedOff: "dial_failed_backed_off",
	OutcomeDialFailedGivenUp:   "dial_failed_given_up",
	OutcomeDialCanceled:        "dial_canceled",
	OutcomePassed:              "passed",
	OutcomePruned:              "pruned",
	OutcomePinned:              "pinned",
	OutcomeRejectedProtocol:    "rejected_protocol",
	OutcomeRejectedUnknownPeer: "rejected_unknown_peer",
	OutcomeMeshChanged:         "mesh_changed",
	OutcomeMeshUnchanged:       "mesh_unchanged",
}

// String returns the outcome's name.
func (o Outcome) String() string {
	if o > 0 && o < outcomeEnd {
		return outcomeNames[o]
	}
	return "unknown"
}

// Outcomes returns every outcome, in declaration order.
func Outcomes() []Outcome {
	out := make([]Outcome, 0, outcomeEnd-1)
	for o := OutcomeIgnored; o < outcomeEnd; o++ {
		out = append(out, o)
	}
	return out
}
