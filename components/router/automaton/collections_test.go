package automaton

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// An orderedSet behaves the same with and without its index: against a
// model (a slice with the same swap-removal), through growth past
// indexFrom, shrinking to empty and growing again.
func TestOrderedSetMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var s orderedSet[int]
	var model []int
	var indexed, emptied bool
	for step := 0; step < 20000; step++ {
		k := rng.IntN(3 * indexFrom)
		at := slices.Index(model, k)
		addPct := [...]int{50, 80, 10}[(step/2000)%3] // phases that grow past indexFrom and shrink to empty
		if rng.IntN(100) < addPct {
			if got := s.add(k); got != (at < 0) {
				t.Fatalf("step %d: add(%d) = %v with model %v", step, k, got, model)
			}
			if at < 0 {
				model = append(model, k)
			}
		} else {
			if got := s.remove(k); got != (at >= 0) {
				t.Fatalf("step %d: remove(%d) = %v with model %v", step, k, got, model)
			}
			if at >= 0 {
				last := len(model) - 1
				model[at] = model[last]
				model = model[:last]
			}
		}
		if !slices.Equal(s.items, model) {
			t.Fatalf("step %d: items %v, model %v", step, s.items, model)
		}
		if (s.idx != nil) && len(s.idx) != len(model) {
			t.Fatalf("step %d: index holds %d of %d", step, len(s.idx), len(model))
		}
		for _, x := range model {
			if !s.has(x) {
				t.Fatalf("step %d: has(%d) false", step, x)
			}
		}
		indexed = indexed || s.idx != nil
		emptied = emptied || indexed && len(model) == 0
		if len(model) == 0 && s.idx != nil {
			t.Fatalf("step %d: an empty set kept its index", step)
		}
		if len(model) <= indexFrom && s.idx != nil && len(s.idx) == 0 {
			t.Fatalf("step %d: empty index kept", step)
		}
	}
	if !indexed || !emptied {
		t.Fatalf("the walk never built an index (%v) or never emptied an indexed set (%v)", indexed, emptied)
	}
	s.add(1)
	s.clear()
	if s.len() != 0 || s.has(1) {
		t.Fatal("clear left items")
	}
}

// Small sets keep no index; a set past indexFrom has one.
func TestOrderedSetIndexOnlyWhenLarge(t *testing.T) {
	var s orderedSet[int]
	for i := range indexFrom {
		s.add(i)
	}
	if s.idx != nil {
		t.Fatalf("%d items built an index", indexFrom)
	}
	s.add(indexFrom)
	if s.idx == nil || len(s.idx) != indexFrom+1 {
		t.Fatalf("index after %d items: %v", indexFrom+1, s.idx)
	}
	for i := range indexFrom + 1 {
		if s.idx[s.items[i]] != i {
			t.Fatalf("index of %d wrong", s.items[i])
		}
	}
}
