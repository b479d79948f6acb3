package netrun

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

// Share is one implementation's part of a composition.
type Share struct {
	// Impl is the implementation's name, the key of Config.Bins.
	Impl string
	// Percent is its share of the nodes, 0 to 100; Assign rounds it down
	// and hands the remainder out in composition order.
	Percent int
}

// ParseComposition parses "go=50,meshbus=50" (percentages summing to 100).
func ParseComposition(s string) ([]Share, error) {
	var out []Share
	sum := 0
	for _, part := range strings.Split(s, ",") {
		name, pct, ok := strings.Cut(strings.TrimSpace(part), "=")
		p, err := strconv.Atoi(pct)
		if !ok || name == "" || err != nil || p < 0 || p > 100 {
			return nil, fmt.Errorf("%w: composition %q: want impl=percent pairs separated by commas", ErrBadConfig, s)
		}
		out = append(out, Share{name, p})
		sum += p
	}
	if sum != 100 {
		return nil, fmt.Errorf("%w: composition %q sums to %d%%, not 100%%", ErrBadConfig, s, sum)
	}
	return out, nil
}

// Assign gives each of n nodes an implementation: each share gets
// n*percent/100 nodes, the remainder going to the first shares, and the
// nodes are shuffled with seed so that the mix is spread over the topology.
func Assign(shares []Share, n int, seed uint64) []string {
	var impls []string
	left := n
	for _, s := range shares {
		k := n * s.Percent / 100
		impls = append(impls, repeat(s.Impl, k)...)
		left -= k
	}
	for i := 0; left > 0; i = (i + 1) % len(shares) {
		if shares[i].Percent > 0 {
			impls = append(impls, shares[i].Impl)
			left--
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x61737369676e))
	rng.Shuffle(len(impls), func(i, j int) { impls[i], impls[j] = impls[j], impls[i] })
	return impls
}

func repeat(s string, k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = s
	}
	return out
}

// scriptEnd returns the largest waitUntil of the script.
func scriptEnd(p script.ExperimentParams) time.Duration {
	var end int
	var walk func(in script.Instruction)
	walk = func(in script.Instruction) {
		switch v := in.(type) {
		case script.WaitUntil:
			end = max(end, v.ElapsedSeconds)
		case script.IfNodeIDEquals:
			walk(v.Instruction)
		}
	}
	for _, in := range p.Script {
		walk(in)
	}
	return time.Duration(end) * time.Second
}

// Links returns n links with one-way latencies drawn uniformly from
// [lo, hi] (seeded) and the given rate.
func Links(n int, lo, hi time.Duration, rateMbit int, seed uint64) []LinkSpec {
	rng := rand.New(rand.NewPCG(seed, 0x6c696e6b))
	out := make([]LinkSpec, n)
	for i := range out {
		lat := lo
		if hi > lo {
			lat += time.Duration(rng.Int64N(int64(hi - lo + 1)))
		}
		out[i] = LinkSpec{Latency: lat.Round(100 * time.Microsecond), RateMbit: rateMbit}
	}
	return out
}

// ImplNames returns the implementations of a composition, sorted.
func ImplNames(shares []Share) []string {
	var out []string
	for _, s := range shares {
		out = append(out, s.Impl)
	}
	sort.Strings(out)
	return out
}

// LinkSpec is one node's link to the hub.
type LinkSpec struct {
	// Latency is the link's one-way delay; a packet from node a to node b
	// takes Latency(a) + Latency(b).
	Latency time.Duration
	// RateMbit shapes the link in both directions (tc tbf), 0 = unshaped.
	RateMbit int
}
