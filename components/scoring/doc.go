// Package scoring is the GossipSub v1.1 peer scoring component: it computes
// every peer's score from events on the bus and publishes the scores back on
// the bus for the router and the peer manager to act on. It imports no other
// component.
//
// Inputs (InputEvents lists them): the router's EvtPeerGrafted,
// EvtPeerPruned, EvtMessageDelivered (P₂, P₃), EvtMessageDuplicated (near-first
// deliveries, forwarders of invalid messages), EvtChokedPeerAnnounced (a
// choked mesh peer's announcements, P₃), EvtMessageRejected (P₄ when
// RejectReason.Invalid), EvtMessagePublished, EvtPeerPenalized (P₇),
// EvtRouterPeerAdded/Removed, EvtPeerUnsubscribed and EvtTopicLeft; the
// connection tracker's EvtConnOpened/Closed (RemoteIP, for P₆) and
// EvtPeerConnectednessChanged; and EvtPeerAppScoreSet (P₅) from anyone.
//
// Outputs: EvtPeerScoreThresholdCrossed, then the EvtPeerScoresUpdated
// snapshot that shows the crossing; and a snapshot at every decay interval.
//
// Shape (the one every component has; docs/architecture.md): the pure core
// is package automaton (the score function, decay, thresholds: facts in,
// crossings and snapshots out through automaton.Output, a named Outcome per
// input); Scorer (scorer.go) is the driver, one goroutine that owns the core,
// the ticker and the emitters; options.go, errors.go and module.go hold the
// options, the sentinel errors and the fx Module.
package scoring
