//go:build unix

package cputime

import (
	"testing"
	"time"
)

// Process grows with work done on this goroutine: spinning until it has
// moved by at least a millisecond ends (the deadline only bounds a
// broken counter), and it never goes back.
func TestProcessGrowsWithWork(t *testing.T) {
	start := Process()
	if start <= 0 {
		t.Fatalf("Process() = %v at start; the test binary has used CPU", start)
	}
	deadline := time.Now().Add(10 * time.Second)
	last, x := start, uint64(1)
	for last-start < time.Millisecond {
		for range 100_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		now := Process()
		if now < last {
			t.Fatalf("Process() went back from %v to %v", last, now)
		}
		last = now
		if time.Now().After(deadline) {
			t.Fatalf("Process() moved %v in 10 s of spinning (x %d)", last-start, x)
		}
	}
}
