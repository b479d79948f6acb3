package events

import "testing"

// Every named reason has a distinct, non-"unknown" name, so logs and metric
// labels never collide; the zero value is "unknown".
func TestReasonNamesAreDistinct(t *testing.T) {
	check := func(kind string, names []string, zero string) {
		t.Helper()
		seen := map[string]bool{}
		for _, n := range names {
			if n == "unknown" || seen[n] {
				t.Errorf("%s: name %q is unknown or repeated", kind, n)
			}
			seen[n] = true
		}
		if zero != "unknown" {
			t.Errorf("%s: zero value named %q, want unknown", kind, zero)
		}
	}
	var prune []string
	for r := PruneReasonRemote; r <= PruneReasonLatencySwap; r++ {
		prune = append(prune, r.String())
	}
	check("PruneReason", prune, PruneReason(0).String())
	var reject []string
	for r := RejectValidationFailed; r <= RejectGraylisted; r++ {
		reject = append(reject, r.String())
	}
	check("RejectReason", reject, RejectReason(0).String())
	var penalty []string
	for r := PenaltyGraftBackoff; r <= PenaltyIWantSpam; r++ {
		penalty = append(penalty, r.String())
	}
	check("PenaltyReason", penalty, PenaltyReason(0).String())
	var thresholds []string
	for r := ThresholdGossip; r <= ThresholdOpportunisticGraft; r++ {
		thresholds = append(thresholds, r.String())
	}
	check("Threshold", thresholds, Threshold(0).String())
	var sources []string
	for r := SourceStatic; r <= SourceInbound; r++ {
		sources = append(sources, r.String())
	}
	check("PeerSource", sources, PeerSource(0).String())
	var dials []string
	for r := DialFailTimeout; r <= DialFailCanceled; r++ {
		dials = append(dials, r.String())
	}
	check("DialFailReason", dials, DialFailReason(0).String())
	var evicts []string
	for r := EvictColocation; r <= EvictExcessService; r++ {
		evicts = append(evicts, r.String())
	}
	check("EvictReason", evicts, EvictReason(0).String())
}

// Only misbehaviour counts against a peer's P4 score term.
func TestRejectReasonInvalid(t *testing.T) {
	invalid := map[RejectReason]bool{
		RejectValidationFailed:    true,
		RejectValidationIgnored:   false,
		RejectValidationThrottled: false,
		RejectInvalidSignature:    true,
		RejectMissingSignature:    true,
		RejectUnexpectedSignature: true,
		RejectSelfOrigin:          true,
		RejectTopicNotJoined:      false,
		RejectTooLarge:            true,
		RejectMalformed:           true,
		RejectGraylisted:          false,
		0:                         false,
	}
	for r, want := range invalid {
		if r.Invalid() != want {
			t.Errorf("%v.Invalid() = %v, want %v", r, r.Invalid(), want)
		}
	}
}
