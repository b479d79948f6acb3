package router

import (
	"testing"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/eventbus"
)

// TestEveryFactHasAnEmitter: every automaton fact type is bound to exactly
// one bus emitter (the third of the three edits that add an event).
func TestEveryFactHasAnEmitter(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	seen := map[automaton.FactKind]bool{}
	for _, mk := range factEmitters {
		fe, err := mk(bus)
		if err != nil {
			t.Fatal(err)
		}
		if seen[fe.kind()] {
			t.Errorf("fact kind %d bound twice", fe.kind())
		}
		seen[fe.kind()] = true
		_ = fe.close()
	}
	for k := 1; k <= automaton.FactKinds(); k++ {
		if !seen[automaton.FactKind(k)] {
			t.Errorf("fact kind %d has no emitter", k)
		}
	}
}
