// Command tracecount accounts for the goroutines that ran between each
// message's publish and its median delivery in a runtime execution trace
// written by bench/router -trace: per kind of goroutine, its running time
// and its runs per message, averaged over the messages, for both
// implementations alike. A kind is where the goroutines block (the first
// two frames outside the standard library). The account means what it
// says when messages do not overlap, as at 100 ms spacing
// (docs/benchmarks.md, "Where the time goes").
//
//	go run ./bench/router -impl meshbus -transport tcp -interval 100ms -messages 30 -size 65536 -trace /tmp/m.trace
//	go run ./bench/tracecount /tmp/m.trace
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main with its arguments and outputs injected; it returns the exit
// code (0, 1 for an unreadable trace, 2 for bad arguments).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tracecount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	top := fs.Int("top", 16, "kinds to print, most running time first")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: tracecount [-top N] TRACE-FILE") }
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || *top < 1 {
		fs.Usage()
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "tracecount:", err)
		return 1
	}
	defer f.Close()
	rep, err := Account(f)
	if err != nil {
		fmt.Fprintln(stderr, "tracecount:", err)
		return 1
	}
	rep.Print(stdout, *top)
	return 0
}

// Print writes the report's summary and its top kinds.
func (r *Report) Print(w io.Writer, top int) {
	fmt.Fprintf(w, "%d messages; from a publish to its median delivery: %.2f ms wall, %.2f ms of goroutines running\n",
		r.Messages, r.Wall/1e6, r.Running/1e6)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms/message\truns/message\tµs/run\t  kind (where it blocks)")
	for i, k := range r.Kinds {
		if i == top {
			break
		}
		per := 0.0
		if k.Runs > 0 {
			per = k.Running / k.Runs / 1e3
		}
		fmt.Fprintf(tw, "%.3f\t%.1f\t%.1f\t  %s\n", k.Running/1e6, k.Runs, per, k.Name)
	}
	tw.Flush()
}
