package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"
)

// compare runs each implementation runs times, each run in a child process
// of this binary, alternating which goes first in each pair, and prints the
// medians and the median of the pairwise ratios.
func compare(cfg Config, runs int, stdout, stderr io.Writer) error {
	if runs < 1 {
		return fmt.Errorf("-runs %d: need at least 1", runs)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d nodes, %d topics, %d messages of %d B every %s; %d runs each, alternating, one process per run\n",
		cfg.Nodes, cfg.Topics, cfg.Messages, cfg.Size, cfg.Interval, runs)
	var mesh, gs []*Result
	for i := 0; i < runs; i++ {
		order := []string{implMeshbus, implGossipSub}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, impl := range order {
			res, err := runChild(exe, cfg, impl, stderr)
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", i+1, impl, err)
			}
			fmt.Fprintf(stderr, "run %d %-9s delivery %.4f  cpu/msg %-9s p50 %-9s p99 %-9s rss %s\n", i+1, impl,
				res.deliveryRatio(), res.cpuPerDelivered().Round(100*time.Nanosecond), res.P50.Round(10*time.Microsecond),
				res.P99.Round(10*time.Microsecond), mib(float64(res.PeakRSS)))
			if impl == implMeshbus {
				mesh = append(mesh, res)
			} else {
				gs = append(gs, res)
			}
		}
	}
	printComparison(stdout, mesh, gs)
	return nil
}

// childEnv is set in a child's environment, so that a test binary standing
// in for this command knows to act as one (see main_test.go).
const childEnv = "MESHBUS_ROUTER_BENCH_CHILD"

// runChild runs one measurement in a fresh process and adds its peak RSS.
func runChild(exe string, cfg Config, impl string, stderr io.Writer) (*Result, error) {
	args := []string{"-json", "-impl", impl,
		"-nodes", strconv.Itoa(cfg.Nodes), "-degree", strconv.Itoa(cfg.Degree),
		"-messages", strconv.Itoa(cfg.Messages), "-size", strconv.Itoa(cfg.Size),
		"-topics", strconv.Itoa(cfg.Topics), "-interval", cfg.Interval.String(),
		"-seed", strconv.FormatUint(cfg.Seed, 10), "-timeout", cfg.Timeout.String(), "-drain", cfg.Drain.String()}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("child output: %w", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	return &res, nil
}

func (r *Result) deliveryRatio() float64 { return float64(r.Received) / float64(r.Expected) }

func (r *Result) cpuPerDelivered() time.Duration {
	if r.Received == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Received)
}

func (r *Result) perDelivered(x float64) float64 {
	if r.Received == 0 {
		return 0
	}
	return x / float64(r.Received)
}

// metric is one row of the comparison table.
type metric struct {
	name   string
	value  func(*Result) float64
	format func(float64) string
}

func printComparison(w io.Writer, mesh, gs []*Result) {
	dur := func(v float64) string { return time.Duration(v).Round(time.Microsecond).String() }
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	metrics := []metric{
		{"delivery ratio", (*Result).deliveryRatio, num},
		{"CPU per delivered msg", func(r *Result) float64 { return float64(r.cpuPerDelivered()) }, dur},
		{"latency p50", func(r *Result) float64 { return float64(r.P50) }, dur},
		{"latency p99", func(r *Result) float64 { return float64(r.P99) }, dur},
		{"latency max", func(r *Result) float64 { return float64(r.Max) }, dur},
		{"duplicates per delivered", func(r *Result) float64 { return r.perDelivered(r.Duplicates) }, num},
		{"RPCs per delivered", func(r *Result) float64 { return r.perDelivered(r.RPCsOut) }, num},
		{"peak RSS", func(r *Result) float64 { return float64(r.PeakRSS) }, mib},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure (median)\tmeshbus\tgo-libp2p-pubsub\tratio\t")
	for _, m := range metrics {
		a, b := values(mesh, m.value), values(gs, m.value)
		ratios := make([]float64, 0, len(a))
		for i := range min(len(a), len(b)) {
			if b[i] != 0 {
				ratios = append(ratios, a[i]/b[i])
			}
		}
		ratio := "-"
		if len(ratios) > 0 {
			ratio = strconv.FormatFloat(median(ratios), 'f', 2, 64) + "x"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", m.name, m.format(median(a)), m.format(median(b)), ratio)
	}
	tw.Flush()
}

func values(rs []*Result, f func(*Result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(v float64) string { return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB" }
