package automaton

import (
	"math"
	"time"
)

// Schedule is the exponential dial backoff: after n failed dials (1 <= n <
// MaxFailures) a peer waits Initial * Factor^(n-1); after MaxFailures it is
// not dialed again. With the defaults the waits are 120 s, 480 s, 1920 s and
// 7680 s.
type Schedule struct {
	// Initial is the wait after the first failure.
	Initial time.Duration
	// Factor multiplies the wait after each further failure.
	Factor float64
	// MaxFailures is the failure count at which dialing stops.
	MaxFailures int
}

// Backoff returns the wait after the n-th consecutive failure, and false when
// n has reached MaxFailures (the peer is given up on). Backoff(0) is 0.
func (s Schedule) Backoff(n int) (time.Duration, bool) {
	if n <= 0 {
		return 0, true
	}
	if n >= s.MaxFailures {
		return 0, false
	}
	d, ok := s.step(n)
	return d, ok
}

// step computes Initial * Factor^(n-1), reporting false on overflow.
func (s Schedule) step(n int) (time.Duration, bool) {
	f := float64(s.Initial) * math.Pow(s.Factor, float64(n-1))
	if math.IsNaN(f) || f >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(f), true
}

// largest returns the longest wait the schedule produces (after
// MaxFailures-1 failures), or false if it overflows.
func (s Schedule) largest() (time.Duration, bool) {
	if s.MaxFailures <= 1 {
		return 0, true
	}
	return s.step(s.MaxFailures - 1)
}

// Next returns when a peer that has just failed for the n-th time may be
// dialed again, and false if it must never be dialed again.
func (s Schedule) Next(n int, now time.Time) (time.Time, bool) {
	d, ok := s.Backoff(n)
	if !ok {
		return time.Time{}, false
	}
	return now.Add(d), true
}
