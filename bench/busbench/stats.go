package busbench

import (
	"slices"
	"time"
)

// Percentile returns the p-th percentile (nearest rank) of sorted, which
// must be sorted ascending and non-empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// ClockOverhead estimates the cost of one time.Now/time.Since pair, which
// every stall latency sample includes: the median of many empty samples.
func ClockOverhead() time.Duration {
	const n = 10001
	lat := make([]time.Duration, n)
	for i := range lat {
		t0 := time.Now()
		lat[i] = time.Since(t0)
	}
	slices.Sort(lat)
	return lat[n/2]
}
