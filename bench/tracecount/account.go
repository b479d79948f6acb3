package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/exp/trace"

	"github.com/meshbus/meshbus/bench/internal/tracemark"
)

// ErrNoMessages is returned for a trace with no message that has both its
// publish and its median delivery marked.
var ErrNoMessages = errors.New("no message with both a publish and a median mark")

// Kind is what one kind of goroutine did before the median deliveries,
// averaged over the messages.
type Kind struct {
	// Name is where the goroutines of this kind block: their first two
	// frames outside the standard library, innermost first.
	Name string
	// Running is the time they were running, per message, in ns.
	Running float64
	// Runs is how many times they started running, per message.
	Runs float64
}

// Report is the account of a trace.
type Report struct {
	// Messages is the number of messages accounted for.
	Messages int
	// Wall is the mean time from a publish to its median delivery, in ns.
	Wall float64
	// Running is the mean goroutine running time in that window, in ns
	// (over 1 when goroutines ran in parallel).
	Running float64
	// Kinds are the goroutine kinds, most running time first.
	Kinds []Kind
}

// span is one stretch of a goroutine running.
type span struct {
	start, end trace.Time
	g          trace.GoID
}

// Account reads a runtime execution trace and accounts for the goroutines
// that ran between each marked publish and its median delivery.
func Account(r io.Reader) (*Report, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading the trace: %w", err)
	}
	var (
		runs    []span
		running = map[trace.GoID]trace.Time{}
		kindOf  = map[trace.GoID]string{}
		publish = map[int]trace.Time{}
		median  = map[int]trace.Time{}
	)
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the trace: %w", err)
		}
		switch ev.Kind() {
		case trace.EventLog:
			l := ev.Log()
			if l.Category != tracemark.Category {
				continue
			}
			switch mark, i, ok := tracemark.Parse(l.Message); {
			case ok && mark == tracemark.Publish:
				publish[i] = ev.Time()
			case ok && mark == tracemark.Median:
				median[i] = ev.Time()
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			g := st.Resource.Goroutine()
			from, to := st.Goroutine()
			switch {
			case to == trace.GoRunning:
				running[g] = ev.Time()
			case from == trace.GoRunning:
				if start, ok := running[g]; ok {
					runs = append(runs, span{start: start, end: ev.Time(), g: g})
					delete(running, g)
				}
				if k := kindName(ev.Stack()); k != "" {
					kindOf[g] = k
				}
			}
		}
	}
	slices.SortFunc(runs, func(a, b span) int { return int(a.start - b.start) })

	rep := &Report{}
	total := map[string]*Kind{}
	for i, p := range publish {
		m, ok := median[i]
		if !ok || m <= p {
			continue
		}
		rep.Messages++
		rep.Wall += float64(m - p)
		// Runs starting after m cannot overlap; runs are sorted by start.
		end, _ := slices.BinarySearchFunc(runs, m, func(r span, t trace.Time) int { return int(r.start - t) })
		for _, r := range runs[:end] {
			lo, hi := max(r.start, p), min(r.end, m)
			if hi <= lo {
				continue
			}
			name := kindOf[r.g]
			if name == "" {
				name = "(runtime)"
			}
			k := total[name]
			if k == nil {
				k = &Kind{Name: name}
				total[name] = k
			}
			k.Running += float64(hi - lo)
			k.Runs++
			rep.Running += float64(hi - lo)
		}
	}
	if rep.Messages == 0 {
		return nil, ErrNoMessages
	}
	n := float64(rep.Messages)
	rep.Wall /= n
	rep.Running /= n
	for _, k := range total {
		k.Running /= n
		k.Runs /= n
		rep.Kinds = append(rep.Kinds, *k)
	}
	slices.SortFunc(rep.Kinds, func(a, b Kind) int {
		if a.Running != b.Running {
			if a.Running > b.Running {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return rep, nil
}

// kindName names a goroutine by the stack it stopped running with: its
// first two frames outside the standard library (a package path whose
// first element has a dot, or package main), innermost first, each without
// its package path; "" when there is none.
func kindName(st trace.Stack) string {
	var parts []string
	for f := range st.Frames() {
		if !outsideStd(f.Func) {
			continue
		}
		parts = append(parts, f.Func[strings.LastIndex(f.Func, "/")+1:])
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " < ")
}

// outsideStd reports whether the function fn (a full name, such as
// "github.com/x/y.(*T).M" or "main.run") is outside the standard library.
func outsideStd(fn string) bool {
	if strings.HasPrefix(fn, "main.") {
		return true
	}
	first, _, found := strings.Cut(fn, "/")
	return found && strings.Contains(first, ".")
}
