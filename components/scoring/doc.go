// Package scoring is meshbus's GossipSub v1.1 peer scorer: it computes every
// peer's score from events on the bus and publishes the scores back on the bus
// for the router and the peer manager to act on.
//
// The score of a peer p follows the gossipsub v1.1 specification:
//
//	Score(p) = TopicCap(Σ tᵢ·(w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄)) + w₅P₅ + w₆P₆ + w₇P₇
//
// with P₁ time in mesh, P₂ first message deliveries, P₃ mesh message delivery
// deficit², P₃b mesh failure penalty, P₄ invalid messages², P₅ the
// application-specific score, P₆ IP colocation surplus² and P₇ behaviour
// penalty². The counters behind P₂, P₃, P₃b, P₄ and P₇ decay every
// DecayInterval and snap to zero below DecayToZero.
//
// The package has two layers:
//
//   - Scorer, the pure core: a deterministic state machine fed one fact at a
//     time (Observe, or the typed methods such as Grafted and Delivered) and
//     refreshed with Refresh. It has no goroutines, no I/O and no clock; time
//     is an argument. Simulations plug it in directly.
//   - Component, the driver: one goroutine that subscribes to the input
//     events on an eventbus.Bus, feeds the Scorer, refreshes it on a clock
//     ticker and emits EvtPeerScoreThresholdCrossed and EvtPeerScoresUpdated.
//     Module wires it with fx.
package scoring
