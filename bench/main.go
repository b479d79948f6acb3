// Command bench compares meshbus's event bus (typed API and go-libp2p's
// event.Bus API) with go-libp2p's bus and with plain channels (chan T, and
// chan any for the event.Bus API: the floors), and prints tables of ns per
// event, events/s, allocations and ratios end to end and for the emitter
// alone, the emitter's latency with one stalled subscriber under each
// policy, and PASS/MISS for the targets of issue 2.
//
//	go run ./bench                 # the full table, well under a minute on 2 cores
//	go run ./bench -quick          # a rough table in a fraction of the time
//	go run ./bench -rows 'subs=1/' # only rows whose name matches
//
// The same scenarios run as benchmarks: go test -bench . -benchmem ./bench/...
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/meshbus/meshbus/bench/busbench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main with its arguments and outputs injected. It returns the exit
// code: 0; 1 when a run failed (lost events, a timeout) or, under -strict,
// a target was missed; 2 for bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		quick       = fs.Bool("quick", false, "3 rounds and a fifth of the events: a rough table, fast")
		rounds      = fs.Int("rounds", 0, "interleaved rounds per row (default 9, -quick 3)")
		rows        = fs.String("rows", "", "regexp selecting rows by name, e.g. 'throughput/.*subs=1/', 'emitter/', 'stall/' or 'churn/'")
		subs        = fs.String("subs", "1,4,16,64", "subscriber counts, comma-separated")
		bufs        = fs.String("bufs", "16,1024", "subscription buffers, comma-separated")
		budget      = fs.Int("budget", 0, "deliveries (events x subscribers) per throughput run (default 200000)")
		minEvents   = fs.Int("min-events", 0, "least events per throughput run (default 5000)")
		stallEvents = fs.Int("stall-events", 0, "events per stall run under drop/kill/notify (default 100000)")
		slowEvents  = fs.Int("slow-events", 0, "events per stall run under block and on go-libp2p (default 5000)")
		slowPeriod  = fs.Duration("slow-period", 0, "slow reader's time per event in blocking stall rows (default 20µs)")
		churnIters  = fs.Int("churn-iterations", 0, "subscribe/close iterations per churn run (default 2000, -quick 500)")
		churnRounds = fs.Int("churn-rounds", 0, "rounds of the churn rows (default 3, -quick 1)")
		verbose     = fs.Bool("v", false, "print each run to stderr as it finishes")
		strict      = fs.Bool("strict", false, "exit 1 when a target is missed")
		cpuprofile  = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := busbench.Options{
		Rounds:      *rounds,
		Budget:      *budget,
		MinEvents:   *minEvents,
		StallEvents: *stallEvents,
		SlowEvents:  *slowEvents,
		SlowPeriod:  *slowPeriod,

		ChurnIterations: *churnIters,
		ChurnRounds:     *churnRounds,
	}
	if *quick {
		opts.Rounds = cmpOr(opts.Rounds, 3)
		opts.Budget = cmpOr(opts.Budget, 40_000)
		opts.MinEvents = cmpOr(opts.MinEvents, 1000)
		opts.StallEvents = cmpOr(opts.StallEvents, 20_000)
		opts.SlowEvents = cmpOr(opts.SlowEvents, 1000)
		opts.ChurnIterations = cmpOr(opts.ChurnIterations, 500)
		opts.ChurnRounds = cmpOr(opts.ChurnRounds, 1)
	}
	var err error
	if opts.Subs, err = ints(*subs); err != nil {
		fmt.Fprintf(stderr, "bench: -subs: %v\n", err)
		return 2
	}
	if opts.Bufs, err = ints(*bufs); err != nil {
		fmt.Fprintf(stderr, "bench: -bufs: %v\n", err)
		return 2
	}
	if *rows != "" {
		if opts.Rows, err = regexp.Compile(*rows); err != nil {
			fmt.Fprintf(stderr, "bench: -rows: %v\n", err)
			return 2
		}
	}
	if *verbose {
		opts.Progress = stderr
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	rep, err := busbench.Run(opts)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "command: go run ./bench %s\n", strings.Join(args, " "))
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if err := rep.Err(); err != nil {
		fmt.Fprintf(stderr, "bench: some runs failed:\n%v\n", err)
		return 1
	}
	if *strict {
		for _, t := range rep.Targets() {
			if t.Ran && !t.Pass {
				return 1
			}
		}
	}
	return 0
}

// cmpOr returns x, or def when x is 0.
func cmpOr(x, def int) int {
	if x == 0 {
		return def
	}
	return x
}

// ints parses a comma-separated list of integers.
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list %q", s)
	}
	return out, nil
}
