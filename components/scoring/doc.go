// Package scoring is meshbus's GossipSub v1.1 peer scorer: it computes every
// peer's score from events on the bus and publishes the scores back on the bus
// for the router and the peer manager to act on. It imports no other
// component.
//
// The score of a peer p follows the gossipsub v1.1 specification:
//
//	Score(p) = TopicCap(Σ tᵢ·(w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄)) + w₅P₅ + w₆P₆ + w₇P₇
//
// with P₁ time in mesh, P₂ first message deliveries, P₃ mesh message delivery
// deficit², P₃b mesh failure penalty, P₄ invalid messages², P₅ the
// application-specific score, P₆ IP colocation surplus² and P₇ behaviour
// penalty². The counters behind P₂, P₃, P₃b, P₄ and P₇ decay every
// DecayInterval and snap to zero below DecayToZero. Topics without
// parameters contribute nothing.
//
// Inputs (InputEvents lists them): the router's EvtPeerGrafted,
// EvtPeerPruned, EvtMessageDelivered (P₂, P₃), EvtMessageDuplicated (near-first
// deliveries, forwarders of invalid messages), EvtMessageRejected (P₄ when
// RejectReason.Invalid), EvtMessagePublished, EvtPeerPenalized (P₇),
// EvtRouterPeerAdded/Removed, EvtPeerUnsubscribed and EvtTopicLeft; the
// host's EvtConnOpened/Closed (RemoteIP, for P₆) and
// EvtPeerConnectednessChanged; and EvtPeerAppScoreSet (P₅) from anyone.
//
// Outputs: EvtPeerScoreThresholdCrossed, then the EvtPeerScoresUpdated
// snapshot that shows the crossing; and a snapshot at every decay interval.
//
// The package has two layers:
//
//   - Scorer, the pure core: a deterministic state machine fed one fact at a
//     time (Observe, or the typed methods such as Grafted and Delivered) and
//     refreshed with Refresh. It has no goroutines, no I/O and no clock; time
//     is an argument. Simulations plug it in directly (bench/attack does).
//   - Component, the driver: one goroutine that subscribes to the input
//     events on an eventbus.Bus, feeds the Scorer, refreshes it on a clock
//     ticker and emits the outputs. Module wires it with fx.
package scoring
