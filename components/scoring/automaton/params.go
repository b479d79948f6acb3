package automaton

import (
	"net/netip"
	"time"

	"github.com/meshbus/meshbus/events"
)

// Thresholds are the score thresholds: the same type travels in every
// EvtPeerScoresUpdated so that every consumer applies the same values.
type Thresholds = events.ScoreThresholds

// Params configures a Scorer. Build one from DefaultParams and adjust it; a
// Params is validated by NewScorer and New, which name the first bad field.
// The Scorer keeps its own copy: changing a Params (or its maps and slices)
// after construction has no effect.
type Params struct {
	// Topics holds the per-topic parameters, keyed by topic. A topic absent
	// from the map contributes nothing to any score (as the spec requires).
	Topics map[string]TopicParams

	// TopicScoreCap caps the sum of the topic contributions when it is
	// positive; 0 means no cap. Only a positive sum is capped: penalties from
	// topics always count in full. >= 0.
	TopicScoreCap float64

	// AppSpecificWeight is w₅, the weight of the application score P₅ set
	// with EvtPeerAppScoreSet. >= 0.
	AppSpecificWeight float64

	// IPColocationFactorWeight is w₆, the weight of P₆. <= 0.
	IPColocationFactorWeight float64
	// IPColocationFactorThreshold is how many peers may share one IP before
	// P₆ counts the surplus. >= 1 when the weight is not 0.
	IPColocationFactorThreshold float64
	// IPColocationFactorWhitelist lists networks whose addresses P₆ ignores.
	IPColocationFactorWhitelist []netip.Prefix

	// BehaviourPenaltyWeight is w₇, the weight of P₇ (the router's
	// EvtPeerPenalized counter, squared). <= 0.
	BehaviourPenaltyWeight float64
	// BehaviourPenaltyDecay is the decay factor of the P₇ counter, in (0,1)
	// when the weight is not 0.
	BehaviourPenaltyDecay float64

	// DecayInterval is how often counters decay and scores are refreshed
	// and published. > 0.
	DecayInterval time.Duration
	// DecayToZero: a decayed counter below it becomes 0. In (0,1).
	DecayToZero float64
	// RetainScore is how long a disconnected peer's score is kept; a peer
	// that reconnects within it gets its old counters (and penalties) back.
	// >= 0.
	RetainScore time.Duration

	// Thresholds are the score thresholds published with every snapshot.
	Thresholds Thresholds

	// DeliveryRecordTTL is how long the per-message delivery record (used
	// for near-first deliveries and for penalising forwarders of invalid
	// messages) is kept. 0 selects 2 minutes. >= 0.
	DeliveryRecordTTL time.Duration
	// MaxDeliveryRecords bounds the delivery records kept; the oldest go
	// first. 0 selects 131072. >= 0.
	MaxDeliveryRecords int
}

// TopicParams are the parameters of one topic's terms P₁ to P₄. A term whose
// weight is 0 is off and its other fields are not checked, except that P₃b
// needs P₃'s counter fields (threshold, decay, activation, window) because its
// penalty is P₃'s deficit at prune time.
type TopicParams struct {
	// TopicWeight tᵢ multiplies the topic's whole contribution. >= 0.
	TopicWeight float64

	// TimeInMeshWeight is w₁. >= 0.
	TimeInMeshWeight float64
	// TimeInMeshQuantum: P₁ is whole quanta spent in the mesh. > 0.
	TimeInMeshQuantum time.Duration
	// TimeInMeshCap caps P₁. > 0.
	TimeInMeshCap float64

	// FirstMessageDeliveriesWeight is w₂. >= 0.
	FirstMessageDeliveriesWeight float64
	// FirstMessageDeliveriesDecay is P₂'s decay factor, in (0,1).
	FirstMessageDeliveriesDecay float64
	// FirstMessageDeliveriesCap caps the P₂ counter at increment. > 0.
	FirstMessageDeliveriesCap float64

	// MeshMessageDeliveriesWeight is w₃. <= 0.
	MeshMessageDeliveriesWeight float64
	// MeshMessageDeliveriesDecay is the P₃ counter's decay factor, in (0,1).
	MeshMessageDeliveriesDecay float64
	// MeshMessageDeliveriesThreshold: a mesh peer whose counter is below it
	// has a deficit; P₃ is the deficit squared. > 0.
	MeshMessageDeliveriesThreshold float64
	// MeshMessageDeliveriesCap caps the P₃ counter at increment.
	// >= MeshMessageDeliveriesThreshold.
	MeshMessageDeliveriesCap float64
	// MeshMessageDeliveriesActivation is how long a peer must have been in
	// the mesh before P₃ (and P₃b) apply. >= 1s.
	MeshMessageDeliveriesActivation time.Duration
	// MeshMessageDeliveriesWindow: a duplicate received within this time of
	// the first delivery's validation counts as a near-first delivery for P₃.
	// Keep it small (a few ms). >= 0.
	MeshMessageDeliveriesWindow time.Duration

	// MeshFailurePenaltyWeight is w₃b. <= 0.
	MeshFailurePenaltyWeight float64
	// MeshFailurePenaltyDecay is P₃b's decay factor, in (0,1).
	MeshFailurePenaltyDecay float64

	// InvalidMessageDeliveriesWeight is w₄. <= 0.
	InvalidMessageDeliveriesWeight float64
	// InvalidMessageDeliveriesDecay is the P₄ counter's decay factor, in (0,1).
	InvalidMessageDeliveriesDecay float64
}

// Default implementation knobs (see Params.DeliveryRecordTTL and
// Params.MaxDeliveryRecords).
const (
	DefaultDeliveryRecordTTL  = 2 * time.Minute
	DefaultMaxDeliveryRecords = 1 << 17
)

// DefaultThresholds returns the default thresholds:
//
//	Gossip -10, Publish -50, Graylist -80, AcceptPX 100, OpportunisticGraft 3.
//
// With DefaultParams and DefaultTopicParams, a peer falls below the gossip
// threshold after two invalid messages (-40) or four behaviour penalties
// (-16), and below the graylist after three invalid messages (-90) or nine
// penalties (-81). PX is accepted only from peers the application scores
// highly (topic contributions are capped at 50
// by DefaultParams, so only P₅ reaches 100: the spec's advice for
// bootstrappers). OpportunisticGraft 3 is small next to the +20 a steady first
// deliverer earns in a DefaultTopicParams topic.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Gossip:             -10,
		Publish:            -50,
		Graylist:           -80,
		AcceptPX:           100,
		OpportunisticGraft: 3,
	}
}

// DefaultParams returns a complete, valid parameter set with no topics: add
// topics with DefaultTopicParams or your own values, since topics without
// parameters contribute nothing. Values:
//
//   - DecayInterval 1s, DecayToZero 0.01, RetainScore 10m.
//   - TopicScoreCap 50.
//   - AppSpecificWeight 1 (P₅ counts as set).
//   - IPColocationFactorWeight -5, threshold 10, loopback (127.0.0.0/8,
//     ::1/128) whitelisted so local test networks are not penalised: 11
//     peers on one address cost each of them -5, 15 put each at -5·5² = -125,
//     below the graylist threshold.
//   - BehaviourPenaltyWeight -1, decay 0.98 (half-life about 34s): four
//     penalties go below the gossip threshold, nine reach the graylist.
//   - Thresholds: DefaultThresholds.
//   - DeliveryRecordTTL 2m, MaxDeliveryRecords 131072.
func DefaultParams() Params {
	return Params{
		Topics:                      map[string]TopicParams{},
		TopicScoreCap:               50,
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -5,
		IPColocationFactorThreshold: 10,
		IPColocationFactorWhitelist: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		},
		BehaviourPenaltyWeight: -1,
		BehaviourPenaltyDecay:  0.98,
		DecayInterval:          time.Second,
		DecayToZero:            0.01,
		RetainScore:            10 * time.Minute,
		Thresholds:             DefaultThresholds(),
		DeliveryRecordTTL:      DefaultDeliveryRecordTTL,
		MaxDeliveryRecords:     DefaultMaxDeliveryRecords,
	}
}

// DefaultTopicParams returns parameters for a topic carrying about one
// message per second or more, with a 1s DecayInterval (the decay factors are
// per interval). Values and their effect:
//
//   - TopicWeight 1.
//   - P₁: weight 0.01, quantum 1s, cap 600: up to +6 after ten minutes in
//     the mesh.
//   - P₂: weight 1, decay 0.9, cap 20: up to +20 for a fast forwarder.
//   - P₃: weight -4, decay 0.97, threshold 2, cap 20, activation 30s, window
//     5ms: a mesh peer must deliver about one message in 16s (first or within
//     5ms of the first) or pay up to -4·2² = -16. For quieter topics lower the
//     threshold or set the weight to 0.
//   - P₃b: weight -4, decay 0.97: a peer pruned with a deficit carries it.
//   - P₄: weight -10, decay 0.99: one invalid message costs -10, three -90.
func DefaultTopicParams() TopicParams {
	return TopicParams{
		TopicWeight:                     1,
		TimeInMeshWeight:                0.01,
		TimeInMeshQuantum:               time.Second,
		TimeInMeshCap:                   600,
		FirstMessageDeliveriesWeight:    1,
		FirstMessageDeliveriesDecay:     0.9,
		FirstMessageDeliveriesCap:       20,
		MeshMessageDeliveriesWeight:     -4,
		MeshMessageDeliveriesDecay:      0.97,
		MeshMessageDeliveriesThreshold:  2,
		MeshMessageDeliveriesCap:        20,
		MeshMessageDeliveriesActivation: 30 * time.Second,
		MeshMessageDeliveriesWindow:     5 * time.Millisecond,
		MeshFailurePenaltyWeight:        -4,
		MeshFailurePenaltyDecay:         0.97,
		InvalidMessageDeliveriesWeight:  -10,
		InvalidMessageDeliveriesDecay:   0.99,
	}
}

// clone returns a deep copy of p, so the Scorer never shares maps or slices
// with its caller.
func (p Params) clone() Params {
	c := p
	c.Topics = make(map[string]TopicParams, len(p.Topics))
	for k, v := range p.Topics {
		c.Topics[k] = v
	}
	c.IPColocationFactorWhitelist = append([]netip.Prefix(nil), p.IPColocationFactorWhitelist...)
	return c
}
