package events

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Scoring events. Owner: components/scoring, except EvtPeerAppScoreSet, which
// any component or add-on emits to feed the application-specific term P5.

// ScoreThresholds are the GossipSub v1.1 score thresholds in force. They
// travel with every snapshot so that every consumer applies the same ones.
type ScoreThresholds struct {
	// Gossip: below it, no gossip to or from the peer. <= 0.
	Gossip float64
	// Publish: below it, no self-published messages to the peer. <= Gossip.
	Publish float64
	// Graylist: below it, the peer's RPCs are ignored. <= Publish.
	Graylist float64
	// AcceptPX: a PRUNE's peer exchange is accepted from peers at or above it. >= 0.
	AcceptPX float64
	// OpportunisticGraft: median mesh score below it triggers opportunistic
	// grafting. >= 0.
	OpportunisticGraft float64
}

// PeerScore is one peer's score in a snapshot.
type PeerScore struct {
	// Peer is the scored peer.
	Peer peer.ID
	// Score is the peer's score (the weighted sum of P1 to P7) as the
	// scorer last computed it.
	Score float64
}

// EvtPeerScoresUpdated is a snapshot of every scored peer, emitted by scoring
// at each decay interval and right after any peer crosses a threshold. A
// subscriber may drop snapshots and lose nothing: each one is complete. The
// Scores slice is shared and read-only. It includes disconnected peers whose
// score is still retained; a peer absent from it scores 0.
type EvtPeerScoresUpdated struct {
	// Scores holds one entry per scored peer, in no particular order.
	Scores []PeerScore
	// Thresholds are the scorer's thresholds, for consumers that
	// compare scores with them.
	Thresholds ScoreThresholds
	// At is when the scorer computed the snapshot, on its clock: the decay
	// tick's time, or when it published the crossings the snapshot shows.
	At time.Time
}

// Threshold names one of the score thresholds.
type Threshold uint8

// The score thresholds.
const (
	ThresholdGossip Threshold = iota + 1
	ThresholdPublish
	ThresholdGraylist
	ThresholdAcceptPX
	ThresholdOpportunisticGraft
)

// String returns the threshold's name.
func (t Threshold) String() string {
	switch t {
	case ThresholdGossip:
		return "gossip"
	case ThresholdPublish:
		return "publish"
	case ThresholdGraylist:
		return "graylist"
	case ThresholdAcceptPX:
		return "accept_px"
	case ThresholdOpportunisticGraft:
		return "opportunistic_graft"
	}
	return "unknown"
}

// EvtPeerScoreThresholdCrossed is emitted by scoring when a peer's score moves
// across a threshold, before the EvtPeerScoresUpdated snapshot that shows it.
// When one change crosses several thresholds, they come in the order the
// score met them (highest first when falling, lowest first when rising). A
// newly scored peer starts from the position of score 0; a forgotten one
// crosses nothing.
type EvtPeerScoreThresholdCrossed struct {
	// Peer is the peer whose score crossed the threshold.
	Peer peer.ID
	// Threshold is the threshold crossed.
	Threshold Threshold
	// Below is true when the score fell below the threshold, false when it
	// rose to or above it.
	Below bool
	// Score is the score after the change.
	Score float64
	// At is the time of the fact that moved the score: the input event's At
	// when set, else the scorer's clock when it took the input or the tick.
	At time.Time
}

// EvtPeerAppScoreSet sets a peer's application-specific score (term P5). Any
// component or add-on may emit it; the latest value per peer wins.
type EvtPeerAppScoreSet struct {
	// Peer is the peer whose application score is set.
	Peer peer.ID
	// Score is the application's value for the peer; the scorer
	// multiplies it by its P5 weight.
	Score float64
}
