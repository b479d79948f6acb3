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
	fmt.Fprintf(stdout, "%d nodes, %d topics, %d messages of %d B every %s over %s, flood publish %s; %d runs each, alternating, one process per run\n",
		cfg.Nodes, cfg.Topics, cfg.Messages, cfg.Size, cfg.Interval, cfg.Transport, onOff(cfg.FloodPublish), runs)
	mesh, gs, err := collect(cfg, runs, stderr)
	if err != nil {
		return err
	}
	printComparison(stdout, mesh, gs)
	printTargets(stdout, targets(cfg, mesh, gs))
	return nil
}

// scaleShapes are the (nodes, topics) pairs -scale measures.
var scaleShapes = [][2]int{{10, 1}, {20, 1}, {50, 1}, {20, 10}, {20, 100}}

// scale runs -compare for each (nodes, topics) shape and prints how CPU per
// delivered message and peak RSS grow with nodes and topics.
func scale(cfg Config, runs int, shapes [][2]int, stdout, stderr io.Writer) error {
	if runs < 1 {
		return fmt.Errorf("-runs %d: need at least 1", runs)
	}
	fmt.Fprintf(stdout, "%d messages of %d B every %s over %s, flood publish %s; %d runs each, alternating, one process per run; medians\n",
		cfg.Messages, cfg.Size, cfg.Interval, cfg.Transport, onOff(cfg.FloodPublish), runs)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes\ttopics\tdelivery m/g\tCPU/msg meshbus\tCPU/msg go\tratio\tRSS meshbus\tRSS go\tratio\t")
	for _, shape := range shapes {
		c := cfg
		c.Nodes, c.Topics = shape[0], shape[1]
		mesh, gs, err := collect(c, runs, stderr)
		if err != nil {
			return fmt.Errorf("%d nodes, %d topics: %w", c.Nodes, c.Topics, err)
		}
		cpu := func(r *Result) float64 { return float64(r.cpuPerDelivered()) }
		rss := func(r *Result) float64 { return float64(r.PeakRSS) }
		dur := func(v float64) string { return time.Duration(v).Round(time.Microsecond).String() }
		fmt.Fprintf(tw, "%d\t%d\t%.4f/%.4f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Nodes, c.Topics,
			median(values(mesh, (*Result).deliveryRatio)), median(values(gs, (*Result).deliveryRatio)),
			dur(median(values(mesh, cpu))), dur(median(values(gs, cpu))), pairRatio(mesh, gs, cpu),
			mib(median(values(mesh, rss))), mib(median(values(gs, rss))), pairRatio(mesh, gs, rss))
	}
	return tw.Flush() // once, so that every row shares the columns' widths
}

// collect runs each implementation runs times, alternating which goes first.
func collect(cfg Config, runs int, stderr io.Writer) (mesh, gs []*Result, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < runs; i++ {
		order := []string{implMeshbus, implGossipSub}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, impl := range order {
			res, err := runChild(exe, cfg, impl, stderr)
			if err != nil {
				return nil, nil, fmt.Errorf("run %d, %s: %w", i+1, impl, err)
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
	return mesh, gs, nil
}

// childEnv is set in a child's environment, so that a test binary standing
// in for this command knows to act as one (see main_test.go).
const childEnv = "MESHBUS_ROUTER_BENCH_CHILD"

// childArgs are the flags that make a child process run cfg with impl and
// print its result as JSON.
func childArgs(cfg Config, impl string) []string {
	return []string{"-json", "-impl", impl,
		"-nodes", strconv.Itoa(cfg.Nodes), "-degree", strconv.Itoa(cfg.Degree),
		"-messages", strconv.Itoa(cfg.Messages), "-size", strconv.Itoa(cfg.Size),
		"-topics", strconv.Itoa(cfg.Topics), "-interval", cfg.Interval.String(),
		"-seed", strconv.FormatUint(cfg.Seed, 10), "-transport", cfg.Transport, "-timeout", cfg.Timeout.String(), "-drain", cfg.Drain.String(), "-idle", cfg.Idle.String(),
		"-flood-publish=" + strconv.FormatBool(cfg.FloodPublish), "-stages=" + strconv.FormatBool(cfg.Stages)}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// runChild runs one measurement in a fresh process and adds its peak RSS.
func runChild(exe string, cfg Config, impl string, stderr io.Writer) (*Result, error) {
	cmd := exec.Command(exe, childArgs(cfg, impl)...)
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

// idleCPUPerNodeSecond is the CPU the idle nodes used per node and second
// of wall time (see Config.Idle).
func (r *Result) idleCPUPerNodeSecond() time.Duration {
	if r.IdleWall <= 0 || r.Nodes == 0 {
		return 0
	}
	return time.Duration(float64(r.IdleCPU) / r.IdleWall.Seconds() / float64(r.Nodes))
}

// udpPerDelivered is the UDP datagrams received (in) or sent per delivered
// message; 0 where they were not counted.
func (r *Result) udpPerDelivered(in bool) float64 {
	if r.UDP == nil {
		return 0
	}
	if in {
		return r.perDelivered(float64(r.UDP.In))
	}
	return r.perDelivered(float64(r.UDP.Out))
}

// toMedian is the median over messages of f applied to each message's
// span from publish to its median delivery.
func (r *Result) toMedian(f func(Span) float64) float64 {
	xs := make([]float64, len(r.ToMedian))
	for i, s := range r.ToMedian {
		xs[i] = f(s)
	}
	return median(xs)
}

// cpuToMedian is the median, over messages, of the process CPU used from a
// message's publish to its median delivery.
func (r *Result) cpuToMedian() float64 {
	return r.toMedian(func(s Span) float64 { return float64(s.CPU) })
}

// coresToMedian is the median, over messages, of the cores kept busy from
// a message's publish to its median delivery (CPU over wall time): near
// the machine's core count, that delivery waited on CPU.
func (r *Result) coresToMedian() float64 {
	return r.toMedian(func(s Span) float64 {
		if s.Wall <= 0 {
			return 0
		}
		return float64(s.CPU) / float64(s.Wall)
	})
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
		{"cancelled per delivered", func(r *Result) float64 { return r.perDelivered(r.Cancelled) }, num},
		{"UDP datagrams in per delivered", func(r *Result) float64 { return r.udpPerDelivered(true) }, num},
		{"UDP datagrams out per delivered", func(r *Result) float64 { return r.udpPerDelivered(false) }, num},
		{"CPU to median delivery", (*Result).cpuToMedian, dur},
		{"cores busy to median", (*Result).coresToMedian, num},
		{"peak RSS", func(r *Result) float64 { return float64(r.PeakRSS) }, mib},
	}
	metrics = append(metrics, stageMetrics(mesh, gs)...)
	if len(mesh) > 0 && mesh[0].IdleWall > 0 {
		metrics = append(metrics, metric{"idle CPU per node-second", func(r *Result) float64 { return float64(r.idleCPUPerNodeSecond()) }, dur})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure (median)\tmeshbus\tgo-libp2p-pubsub\tratio\t")
	for _, m := range metrics {
		a, b := values(mesh, m.value), values(gs, m.value)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", m.name, m.format(median(a)), m.format(median(b)), pairRatio(mesh, gs, m.value))
	}
	tw.Flush()
}

// pairRatio is the median of the ratios meshbus/go-libp2p-pubsub of the
// i-th runs of each, so that a drift of the machine's speed cancels out.
func pairRatio(mesh, gs []*Result, f func(*Result) float64) string {
	r, ok := pairRatioValue(mesh, gs, f)
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "x"
}

// pairRatioValue is pairRatio's value; false when no pair has a non-zero
// go-libp2p-pubsub figure.
func pairRatioValue(mesh, gs []*Result, f func(*Result) float64) (float64, bool) {
	a, b := values(mesh, f), values(gs, f)
	ratios := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			ratios = append(ratios, a[i]/b[i])
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios), true
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
