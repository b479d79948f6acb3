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
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// Quantile returns the q-quantile (0 <= q <= 1) of xs, interpolating
// linearly between the two nearest values, or 0 for none. xs is not
// modified.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
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
