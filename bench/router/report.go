package main

import (
	"fmt"
	"io"
	"time"
)

// quantile returns the q-quantile of sorted latencies.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// Print writes the run's report.
func (r *Result) Print(w io.Writer, cfg Config) {
	ratio := float64(r.Received) / float64(r.Expected)
	per := func(x float64) float64 {
		if r.Received == 0 {
			return 0
		}
		return x / float64(r.Received)
	}
	fmt.Fprintf(w, "router over loopback %s: %d nodes, %d messages of %d B published from random nodes every %s\n", cfg.Transport,
		cfg.Nodes, cfg.Messages, cfg.Size, cfg.Interval)
	fmt.Fprintf(w, "mesh sizes at start      %v\n", r.MeshSizes)
	fmt.Fprintf(w, "delivery ratio           %.4f (%d of %d)\n", ratio, r.Received, r.Expected)
	fmt.Fprintf(w, "duplicates per delivered %.2f\n", per(r.Duplicates))
	fmt.Fprintf(w, "RPCs per delivered       %.2f (RPCs sent by all nodes)\n", per(r.RPCsOut))
	fmt.Fprintf(w, "cancelled per delivered  %.2f (queued copies dropped unsent)\n", per(r.Cancelled))
	if r.UDP != nil {
		fmt.Fprintf(w, "UDP datagrams per deliv. %.2f in / %.2f out (machine-wide counters)\n", r.udpPerDelivered(true), r.udpPerDelivered(false))
	}
	fmt.Fprintf(w, "CPU per delivered        %s (process CPU, all %d nodes, over %s wall)\n",
		time.Duration(per(float64(r.CPU))).Round(100*time.Nanosecond), cfg.Nodes, r.Wall.Round(time.Millisecond))
	if r.IdleWall > 0 {
		fmt.Fprintf(w, "idle CPU                 %s per node-second (%s over %s wall, nothing published)\n",
			r.idleCPUPerNodeSecond().Round(time.Microsecond), r.IdleCPU.Round(time.Millisecond), r.IdleWall.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "to median delivery       %s CPU, %.2f cores busy (per message, publish to its %d-th delivery; median)\n",
		time.Duration(r.cpuToMedian()).Round(10*time.Microsecond), r.coresToMedian(), cfg.Nodes/2)
	fmt.Fprintf(w, "latency p50 / p99 / max  %s / %s / %s\n",
		quantile(r.Latencies, 0.50).Round(10*time.Microsecond), quantile(r.Latencies, 0.99).Round(10*time.Microsecond),
		quantile(r.Latencies, 1).Round(10*time.Microsecond))
	if len(r.Stages) > 0 {
		fmt.Fprintf(w, "first copies' hops       %.2f on average; per hop, p50 / p90:\n", r.StageHops)
		for _, s := range r.Stages {
			fmt.Fprintf(w, "  %-32s %s / %s (%d)\n", s.Name, s.P50.Round(time.Microsecond), s.P90.Round(time.Microsecond), s.N)
		}
	}
	if t := r.StageTail; t != nil {
		us := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
		fmt.Fprintf(w, "slowest %g%% of first copies (%d): %s from the origin over %.2f hops, summed over them: held %s, queued -> writing %s, writing -> written %s, written -> received %s, not stamped %s\n",
			100*TailShare, t.N, us(t.Total), t.Hops, us(t.Held), us(t.Wake), us(t.Write), us(t.Wire), us(t.Other))
	}
}
