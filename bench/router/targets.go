package main

import (
	"fmt"
	"io"
	"time"
)

// Issue 15's targets for the router against go-libp2p-pubsub, checked on
// the median pair ratios of one -compare.
const (
	// maxCPURatio: CPU per delivered message, at most this many times
	// go-libp2p-pubsub's.
	maxCPURatio = 0.5
	// maxLatencyRatio: p50 and p99 at a rate both sustain, at most this
	// many times go-libp2p-pubsub's.
	maxLatencyRatio = 0.5
	// maxFastP99Ratio: p99 at fastSpacing or closer, at most
	// go-libp2p-pubsub's.
	maxFastP99Ratio = 1.0
	// maxRSSRatio: peak RSS at most go-libp2p-pubsub's.
	maxRSSRatio = 1.0
	// fastSpacing is the spacing at and under which the latency targets
	// are the p99 one: the "1 ms spacing", a rate go-libp2p-pubsub
	// does not sustain without queueing (and there p50 is queueing).
	fastSpacing = time.Millisecond
)

// target is one checked target of a comparison.
type target struct {
	name     string
	measured string
	pass     bool
}

// targets checks a comparison's runs against issue 15's targets: CPU per
// delivered message and peak RSS always, p50 and p99 at a sustained rate
// (spacing above fastSpacing), the p99 at fastSpacing or closer, and
// meshbus delivering every message in every run. A ratio that cannot be
// taken (a side measured 0) fails its target.
func targets(cfg Config, mesh, gs []*Result) []target {
	ratio := func(name string, limit float64, f func(*Result) float64) target {
		r, ok := pairRatioValue(mesh, gs, f)
		t := target{name: fmt.Sprintf("%s <= %.2fx go-libp2p-pubsub's", name, limit), measured: "no ratio (a side measured 0)"}
		if ok {
			t.measured, t.pass = fmt.Sprintf("%.2fx", r), r <= limit
		}
		return t
	}
	cpu := func(r *Result) float64 { return float64(r.cpuPerDelivered()) }
	p50 := func(r *Result) float64 { return float64(r.P50) }
	p99 := func(r *Result) float64 { return float64(r.P99) }
	rss := func(r *Result) float64 { return float64(r.PeakRSS) }

	out := []target{ratio("CPU per delivered message", maxCPURatio, cpu)}
	if cfg.Interval <= fastSpacing {
		out = append(out, ratio(fmt.Sprintf("latency p99 at %s spacing", cfg.Interval), maxFastP99Ratio, p99))
	} else {
		out = append(out, ratio("latency p50", maxLatencyRatio, p50), ratio("latency p99", maxLatencyRatio, p99))
	}
	out = append(out, ratio("peak RSS", maxRSSRatio, rss))

	least := 1.0
	for _, r := range mesh {
		least = min(least, r.deliveryRatio())
	}
	out = append(out, target{
		name:     "meshbus delivers every message in every run",
		measured: fmt.Sprintf("least delivery ratio %.4f over %d runs", least, len(mesh)),
		pass:     len(mesh) > 0 && least == 1,
	})
	return out
}

// printTargets writes the verdicts of targets, a line each, after a
// comparison's table.
func printTargets(w io.Writer, ts []target) {
	fmt.Fprintln(w, "targets (issue 15; one -compare is one sample: the machine's phase moves single ratios)")
	for _, t := range ts {
		verdict := "MISS"
		if t.pass {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", verdict, t.name, t.measured)
	}
}
