package automaton

import (
	"strings"
	"testing"
)

func TestOutcomeString(t *testing.T) {
	seen := map[string]bool{}
	for o := OutcomeScored; o <= OutcomeTicked; o++ {
		s := o.String()
		if s == "" || seen[s] || strings.HasPrefix(s, "Outcome(") {
			t.Fatalf("outcome %d has name %q", o, s)
		}
		seen[s] = true
	}
	if got := Outcome(200).String(); got != "Outcome(200)" {
		t.Fatalf("unknown outcome: %q", got)
	}
}
