package automaton

import (
	"strconv"
	"testing"
)

// lazyAsked remembers an id with the peer asked, and forgets the oldest
// once maxLazyAsked later asks came.
func TestLazyAskedForgetsOldest(t *testing.T) {
	var r lazyAsked
	a, b := pid(1), pid(2)
	r.add("m0", a)
	if !r.has("m0", a) || r.has("m0", b) || r.has("m1", a) {
		t.Fatalf("after one ask: has(m0, a) %v, has(m0, b) %v, has(m1, a) %v", r.has("m0", a), r.has("m0", b), r.has("m1", a))
	}
	for i := 1; i < maxLazyAsked; i++ {
		r.add("m"+strconv.Itoa(i), b)
	}
	if !r.has("m0", a) {
		t.Fatalf("m0 forgotten after %d asks", maxLazyAsked)
	}
	r.add("last", b)
	if r.has("m0", a) || !r.has("m1", b) || !r.has("last", b) {
		t.Fatalf("after %d asks: has(m0) %v, has(m1) %v, has(last) %v", maxLazyAsked+1, r.has("m0", a), r.has("m1", b), r.has("last", b))
	}
}
