package automaton

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	p := DefaultParams()
	p.Topics["blocks"] = DefaultTopicParams()
	if err := p.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	// A zero TopicParams is valid too: every term is off.
	p.Topics["quiet"] = TopicParams{}
	if err := p.Validate(); err != nil {
		t.Fatalf("zero topic params: %v", err)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*Params)
	}{
		{"Thresholds.Gossip", func(p *Params) { p.Thresholds.Gossip = 1 }},
		{"Thresholds.Publish", func(p *Params) { p.Thresholds.Publish = p.Thresholds.Gossip + 1 }},
		{"Thresholds.Graylist", func(p *Params) { p.Thresholds.Graylist = p.Thresholds.Publish + 1 }},
		{"Thresholds.AcceptPX", func(p *Params) { p.Thresholds.AcceptPX = -1 }},
		{"Thresholds.OpportunisticGraft", func(p *Params) { p.Thresholds.OpportunisticGraft = -0.5 }},
		{"Thresholds.Gossip", func(p *Params) { p.Thresholds.Gossip = math.NaN() }},
		{"TopicScoreCap", func(p *Params) { p.TopicScoreCap = -1 }},
		{"AppSpecificWeight", func(p *Params) { p.AppSpecificWeight = -1 }},
		{"AppSpecificWeight", func(p *Params) { p.AppSpecificWeight = math.Inf(1) }},
		{"IPColocationFactorWeight", func(p *Params) { p.IPColocationFactorWeight = 1 }},
		{"IPColocationFactorThreshold", func(p *Params) { p.IPColocationFactorThreshold = 0.5 }},
		{"IPColocationFactorWhitelist[1]", func(p *Params) {
			p.IPColocationFactorWhitelist = append(p.IPColocationFactorWhitelist[:1], netip.Prefix{})
		}},
		{"BehaviourPenaltyWeight", func(p *Params) { p.BehaviourPenaltyWeight = 2 }},
		{"BehaviourPenaltyDecay", func(p *Params) { p.BehaviourPenaltyDecay = 1 }},
		{"DecayInterval", func(p *Params) { p.DecayInterval = 0 }},
		{"DecayToZero", func(p *Params) { p.DecayToZero = 0 }},
		{"RetainScore", func(p *Params) { p.RetainScore = -time.Second }},
		{"DeliveryRecordTTL", func(p *Params) { p.DeliveryRecordTTL = -1 }},
		{"MaxDeliveryRecords", func(p *Params) { p.MaxDeliveryRecords = -1 }},
		{`Topics[""]`, func(p *Params) { p.Topics[""] = DefaultTopicParams() }},
	}
	topicCases := []struct {
		field string
		edit  func(*TopicParams)
	}{
		{"TopicWeight", func(tp *TopicParams) { tp.TopicWeight = -1 }},
		{"TimeInMeshWeight", func(tp *TopicParams) { tp.TimeInMeshWeight = -0.1 }},
		{"TimeInMeshQuantum", func(tp *TopicParams) { tp.TimeInMeshQuantum = 0 }},
		{"TimeInMeshCap", func(tp *TopicParams) { tp.TimeInMeshCap = 0 }},
		{"FirstMessageDeliveriesWeight", func(tp *TopicParams) { tp.FirstMessageDeliveriesWeight = -1 }},
		{"FirstMessageDeliveriesDecay", func(tp *TopicParams) { tp.FirstMessageDeliveriesDecay = 0 }},
		{"FirstMessageDeliveriesCap", func(tp *TopicParams) { tp.FirstMessageDeliveriesCap = 0 }},
		{"MeshMessageDeliveriesWeight", func(tp *TopicParams) { tp.MeshMessageDeliveriesWeight = 1 }},
		{"MeshMessageDeliveriesDecay", func(tp *TopicParams) { tp.MeshMessageDeliveriesDecay = 1.5 }},
		{"MeshMessageDeliveriesThreshold", func(tp *TopicParams) { tp.MeshMessageDeliveriesThreshold = 0 }},
		{"MeshMessageDeliveriesCap", func(tp *TopicParams) { tp.MeshMessageDeliveriesCap = tp.MeshMessageDeliveriesThreshold - 1 }},
		{"MeshMessageDeliveriesActivation", func(tp *TopicParams) { tp.MeshMessageDeliveriesActivation = 999 * time.Millisecond }},
		{"MeshMessageDeliveriesWindow", func(tp *TopicParams) { tp.MeshMessageDeliveriesWindow = -1 }},
		{"MeshFailurePenaltyWeight", func(tp *TopicParams) { tp.MeshFailurePenaltyWeight = 1 }},
		{"MeshFailurePenaltyDecay", func(tp *TopicParams) { tp.MeshFailurePenaltyDecay = 0 }},
		{"InvalidMessageDeliveriesWeight", func(tp *TopicParams) { tp.InvalidMessageDeliveriesWeight = 1 }},
		{"InvalidMessageDeliveriesDecay", func(tp *TopicParams) { tp.InvalidMessageDeliveriesDecay = -0.5 }},
		{"FirstMessageDeliveriesCap", func(tp *TopicParams) { tp.FirstMessageDeliveriesCap = math.NaN() }},
		// P₃b alone still needs P₃'s counter parameters.
		{"MeshMessageDeliveriesThreshold", func(tp *TopicParams) {
			tp.MeshMessageDeliveriesWeight = 0
			tp.MeshMessageDeliveriesThreshold = 0
		}},
	}
	for _, tc := range topicCases {
		cases = append(cases, struct {
			field string
			edit  func(*Params)
		}{`Topics["blocks"].` + tc.field, func(p *Params) {
			tp := p.Topics["blocks"]
			tc.edit(&tp)
			p.Topics["blocks"] = tp
		}})
	}
	for _, tc := range cases {
		p := DefaultParams()
		p.Topics["blocks"] = DefaultTopicParams()
		tc.edit(&p)
		err := p.Validate()
		if !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: err = %v, want ErrInvalidParams", tc.field, err)
			continue
		}
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != tc.field {
			t.Errorf("%s: error names %q (%v)", tc.field, pe.Field, err)
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: message %q does not name the field", tc.field, err)
		}
		// The constructor refuses the same params.
		if _, err := New(p, t0); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: NewScorer err = %v", tc.field, err)
		}
	}
}

func TestOffTermsAreNotChecked(t *testing.T) {
	// With a term's weight at 0, its other fields may be anything: the
	// counter is never touched, so a bad decay cannot blow up.
	p := baseParams()
	p.Topics[topic] = TopicParams{TopicWeight: 1, FirstMessageDeliveriesDecay: 7, InvalidMessageDeliveriesDecay: -3}
	p.BehaviourPenaltyDecay = 9
	s := newScorer(t, p)
	connect(s, pA, "", t0)
	deliver(s, "m", pA, t0)
	reject(s, "x", pA, 1, t0)
	s.HandleEvent(t0, struct{}{}, nil)
	for i := range 100 {
		s.HandleTick(sec(float64(i)), nil)
	}
	wantScore(t, s, pA, 0)
}
