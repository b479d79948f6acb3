package automaton

import (
	"fmt"
	"testing"
)

// BenchmarkOpenClose: one open and one close through the pure core (first
// and last connection of a peer, so both connectedness events too).
func BenchmarkOpenClose(b *testing.B) {
	a := newA(b, DefaultMaxParked)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
	}
	out := NewOutput()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := ci(ids[i%len(ids)], "A")
		a.HandleConnOpened(t0, c, out)
		a.HandleConnClosed(t0, c.ID, out)
		out.Reset()
	}
}
