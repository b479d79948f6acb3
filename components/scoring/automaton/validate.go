package automaton

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// ErrInvalidParams is wrapped by every parameter validation error; match it
// with errors.Is and read the field with errors.As on *ParamError.
var ErrInvalidParams = errors.New("scoring: invalid params")

// ParamError names the first invalid parameter found by Validate.
type ParamError struct {
	// Field is the parameter's path, e.g. `Thresholds.Gossip` or
	// `Topics["blocks"].MeshMessageDeliveriesCap`.
	Field string
	// Reason says which constraint the value breaks.
	Reason string
}

// Error returns "scoring: invalid params: <Field> <Reason>".
func (e *ParamError) Error() string {
	return fmt.Sprintf("%v: %s %s", ErrInvalidParams, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidParams.
func (e *ParamError) Unwrap() error { return ErrInvalidParams }

func invalid(field, format string, args ...any) error {
	return &ParamError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks p against the constraints of the gossipsub v1.1 spec and
// returns a *ParamError (wrapping ErrInvalidParams) for the first bad field,
// checking topics in name order so the result is deterministic.
func (p Params) Validate() error {
	if err := validateThresholds(p.Thresholds); err != nil {
		return err
	}
	checks := []struct {
		field string
		v     float64
	}{
		{"TopicScoreCap", p.TopicScoreCap},
		{"AppSpecificWeight", p.AppSpecificWeight},
		{"IPColocationFactorWeight", p.IPColocationFactorWeight},
		{"IPColocationFactorThreshold", p.IPColocationFactorThreshold},
		{"BehaviourPenaltyWeight", p.BehaviourPenaltyWeight},
		{"BehaviourPenaltyDecay", p.BehaviourPenaltyDecay},
		{"DecayToZero", p.DecayToZero},
	}
	for _, c := range checks {
		if err := finite(c.field, c.v); err != nil {
			return err
		}
	}
	switch {
	case p.TopicScoreCap < 0:
		return invalid("TopicScoreCap", "%v must be >= 0 (0 = no cap)", p.TopicScoreCap)
	case p.AppSpecificWeight < 0:
		return invalid("AppSpecificWeight", "%v must be >= 0", p.AppSpecificWeight)
	case p.IPColocationFactorWeight > 0:
		return invalid("IPColocationFactorWeight", "%v must be <= 0", p.IPColocationFactorWeight)
	case p.IPColocationFactorWeight != 0 && p.IPColocationFactorThreshold < 1:
		return invalid("IPColocationFactorThreshold", "%v must be >= 1", p.IPColocationFactorThreshold)
	case p.BehaviourPenaltyWeight > 0:
		return invalid("BehaviourPenaltyWeight", "%v must be <= 0", p.BehaviourPenaltyWeight)
	case p.BehaviourPenaltyWeight != 0 && !unitOpen(p.BehaviourPenaltyDecay):
		return invalid("BehaviourPenaltyDecay", "%v must be in (0,1)", p.BehaviourPenaltyDecay)
	case p.DecayInterval <= 0:
		return invalid("DecayInterval", "%v must be > 0", p.DecayInterval)
	case !unitOpen(p.DecayToZero):
		return invalid("DecayToZero", "%v must be in (0,1)", p.DecayToZero)
	case p.RetainScore < 0:
		return invalid("RetainScore", "%v must be >= 0", p.RetainScore)
	case p.DeliveryRecordTTL < 0:
		return invalid("DeliveryRecordTTL", "%v must be >= 0 (0 = default)", p.DeliveryRecordTTL)
	case p.MaxDeliveryRecords < 0:
		return invalid("MaxDeliveryRecords", "%d must be >= 0 (0 = default)", p.MaxDeliveryRecords)
	}
	for i, pfx := range p.IPColocationFactorWhitelist {
		if !pfx.IsValid() {
			return invalid(fmt.Sprintf("IPColocationFactorWhitelist[%d]", i), "is not a valid prefix")
		}
	}
	names := make([]string, 0, len(p.Topics))
	for t := range p.Topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if t == "" {
			return invalid(`Topics[""]`, "topic name must not be empty")
		}
		if err := p.Topics[t].validate(fmt.Sprintf("Topics[%q].", t)); err != nil {
			return err
		}
	}
	return nil
}

// validateThresholds checks the thresholds' order: graylist <= publish <= gossip <= 0
// <= accept-PX, opportunistic-graft.
func validateThresholds(t Thresholds) error {
	checks := []struct {
		field string
		v     float64
	}{
		{"Thresholds.Gossip", t.Gossip},
		{"Thresholds.Publish", t.Publish},
		{"Thresholds.Graylist", t.Graylist},
		{"Thresholds.AcceptPX", t.AcceptPX},
		{"Thresholds.OpportunisticGraft", t.OpportunisticGraft},
	}
	for _, c := range checks {
		if err := finite(c.field, c.v); err != nil {
			return err
		}
	}
	switch {
	case t.Gossip > 0:
		return invalid("Thresholds.Gossip", "%v must be <= 0", t.Gossip)
	case t.Publish > t.Gossip:
		return invalid("Thresholds.Publish", "%v must be <= Thresholds.Gossip (%v)", t.Publish, t.Gossip)
	case t.Graylist > t.Publish:
		return invalid("Thresholds.Graylist", "%v must be <= Thresholds.Publish (%v)", t.Graylist, t.Publish)
	case t.AcceptPX < 0:
		return invalid("Thresholds.AcceptPX", "%v must be >= 0", t.AcceptPX)
	case t.OpportunisticGraft < 0:
		return invalid("Thresholds.OpportunisticGraft", "%v must be >= 0", t.OpportunisticGraft)
	}
	return nil
}

// validate checks one topic's parameters; prefix names the topic in errors.
func (tp TopicParams) validate(prefix string) error {
	checks := []struct {
		field string
		v     float64
	}{
		{"TopicWeight", tp.TopicWeight},
		{"TimeInMeshWeight", tp.TimeInMeshWeight},
		{"TimeInMeshCap", tp.TimeInMeshCap},
		{"FirstMessageDeliveriesWeight", tp.FirstMessageDeliveriesWeight},
		{"FirstMessageDeliveriesDecay", tp.FirstMessageDeliveriesDecay},
		{"FirstMessageDeliveriesCap", tp.FirstMessageDeliveriesCap},
		{"MeshMessageDeliveriesWeight", tp.MeshMessageDeliveriesWeight},
		{"MeshMessageDeliveriesDecay", tp.MeshMessageDeliveriesDecay},
		{"MeshMessageDeliveriesThreshold", tp.MeshMessageDeliveriesThreshold},
		{"MeshMessageDeliveriesCap", tp.MeshMessageDeliveriesCap},
		{"MeshFailurePenaltyWeight", tp.MeshFailurePenaltyWeight},
		{"MeshFailurePenaltyDecay", tp.MeshFailurePenaltyDecay},
		{"InvalidMessageDeliveriesWeight", tp.InvalidMessageDeliveriesWeight},
		{"InvalidMessageDeliveriesDecay", tp.InvalidMessageDeliveriesDecay},
	}
	for _, c := range checks {
		if err := finite(prefix+c.field, c.v); err != nil {
			return err
		}
	}
	if tp.TopicWeight < 0 {
		return invalid(prefix+"TopicWeight", "%v must be >= 0", tp.TopicWeight)
	}

	// P₁
	if tp.TimeInMeshWeight < 0 {
		return invalid(prefix+"TimeInMeshWeight", "%v must be >= 0", tp.TimeInMeshWeight)
	}
	if tp.TimeInMeshWeight != 0 {
		if tp.TimeInMeshQuantum <= 0 {
			return invalid(prefix+"TimeInMeshQuantum", "%v must be > 0", tp.TimeInMeshQuantum)
		}
		if tp.TimeInMeshCap <= 0 {
			return invalid(prefix+"TimeInMeshCap", "%v must be > 0", tp.TimeInMeshCap)
		}
	}

	// P₂
	if tp.FirstMessageDeliveriesWeight < 0 {
		return invalid(prefix+"FirstMessageDeliveriesWeight", "%v must be >= 0", tp.FirstMessageDeliveriesWeight)
	}
	if tp.FirstMessageDeliveriesWeight != 0 {
		if !unitOpen(tp.FirstMessageDeliveriesDecay) {
			return invalid(prefix+"FirstMessageDeliveriesDecay", "%v must be in (0,1)", tp.FirstMessageDeliveriesDecay)
		}
		if tp.FirstMessageDeliveriesCap <= 0 {
			return invalid(prefix+"FirstMessageDeliveriesCap", "%v must be > 0", tp.FirstMessageDeliveriesCap)
		}
	}

	// P₃ and P₃b share the mesh delivery counter.
	if tp.MeshMessageDeliveriesWeight > 0 {
		return invalid(prefix+"MeshMessageDeliveriesWeight", "%v must be <= 0", tp.MeshMessageDeliveriesWeight)
	}
	if tp.MeshFailurePenaltyWeight > 0 {
		return invalid(prefix+"MeshFailurePenaltyWeight", "%v must be <= 0", tp.MeshFailurePenaltyWeight)
	}
	if tp.MeshMessageDeliveriesWeight != 0 || tp.MeshFailurePenaltyWeight != 0 {
		switch {
		case !unitOpen(tp.MeshMessageDeliveriesDecay):
			return invalid(prefix+"MeshMessageDeliveriesDecay", "%v must be in (0,1)", tp.MeshMessageDeliveriesDecay)
		case tp.MeshMessageDeliveriesThreshold <= 0:
			return invalid(prefix+"MeshMessageDeliveriesThreshold", "%v must be > 0", tp.MeshMessageDeliveriesThreshold)
		case tp.MeshMessageDeliveriesCap < tp.MeshMessageDeliveriesThreshold:
			return invalid(prefix+"MeshMessageDeliveriesCap", "%v must be >= MeshMessageDeliveriesThreshold (%v)",
				tp.MeshMessageDeliveriesCap, tp.MeshMessageDeliveriesThreshold)
		case tp.MeshMessageDeliveriesActivation < time.Second:
			return invalid(prefix+"MeshMessageDeliveriesActivation", "%v must be >= 1s", tp.MeshMessageDeliveriesActivation)
		case tp.MeshMessageDeliveriesWindow < 0:
			return invalid(prefix+"MeshMessageDeliveriesWindow", "%v must be >= 0", tp.MeshMessageDeliveriesWindow)
		}
	}
	if tp.MeshFailurePenaltyWeight != 0 && !unitOpen(tp.MeshFailurePenaltyDecay) {
		return invalid(prefix+"MeshFailurePenaltyDecay", "%v must be in (0,1)", tp.MeshFailurePenaltyDecay)
	}

	// P₄
	if tp.InvalidMessageDeliveriesWeight > 0 {
		return invalid(prefix+"InvalidMessageDeliveriesWeight", "%v must be <= 0", tp.InvalidMessageDeliveriesWeight)
	}
	if tp.InvalidMessageDeliveriesWeight != 0 && !unitOpen(tp.InvalidMessageDeliveriesDecay) {
		return invalid(prefix+"InvalidMessageDeliveriesDecay", "%v must be in (0,1)", tp.InvalidMessageDeliveriesDecay)
	}
	return nil
}

func finite(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalid(field, "%v must be a finite number", v)
	}
	return nil
}

// unitOpen reports v in (0,1), the range of a decay factor.
func unitOpen(v float64) bool { return v > 0 && v < 1 }
