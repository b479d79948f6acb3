package busbench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meshbus/meshbus/eventbus"
)

// table renders rows of cells with columns padded to their widest cell;
// columns marked right are right-aligned (numbers).
type table struct {
	header []string
	right  []bool
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) error {
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	line := func(r []string) {
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			if t.right[i] {
				b.WriteString(pad + c)
			} else if i < len(r)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		b.WriteString("\n")
	}
	line(t.header)
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTable writes the report as aligned text tables followed by the
// targets section.
func (r *Report) WriteTable(w io.Writer) error {
	o := r.Options
	fmt.Fprintf(w, "meshbus event bus vs go-libp2p's bus vs plain channels\n")
	fmt.Fprintf(w, "%s, %s %s/%s, %d CPU, GOMAXPROCS %d, %d interleaved rounds per row (medians), took %v\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.GoVersion, r.OS, r.Arch, r.NumCPU, r.GOMAXPROCS, o.Rounds, r.Elapsed.Round(time.Second))
	if r.LoadBefore != "" {
		fmt.Fprintf(w, "load average (1 min) %s at the start, %s at the end (above %d: other processes shared the CPUs)\n", r.LoadBefore, r.LoadAfter, r.NumCPU)
	}
	fmt.Fprintln(w)

	if len(r.Throughput) > 0 {
		fmt.Fprintf(w, "Throughput: one emitter, N subscribers each drained by its own goroutine; cost per emitted event, end to end\n")
		fmt.Fprintf(w, "(emit all, wait until every subscriber has all). meshbus subscriptions use Block: nothing is dropped anywhere.\n")
		fmt.Fprintf(w, "x libp2p: vs go-libp2p's bus with the same subscribers, buffer and metrics setting, in the same round (median of\n")
		fmt.Fprintf(w, "the per-round ratios; IQR: their first and third quartiles). x floor: likewise vs plain channels carrying what the\n")
		fmt.Fprintf(w, "row's API carries: chan (a chan Event each) for the typed API, chan-any (a chan any each, the event boxed once per\n")
		fmt.Fprintf(w, "emit, as event.Bus's Emit takes it) for go-libp2p's bus and the event.Bus API. A bus does all its floor does and more,\n")
		fmt.Fprintf(w, "so a ratio below 1.00 to it is noise, and so is any difference smaller than the IQR. cpu ns/ev:\n")
		fmt.Fprintf(w, "CPU time of the whole process per event (all goroutines; unlike ns/event it does not grow while others hold the CPUs).\n")
		fmt.Fprintf(w, "%s: the batch mode with Emitter.EmitMany of %d events per call; its ns/event is per event of such a call,\n", ImplBatchMany, emitManyChunk)
		fmt.Fprintf(w, "not the cost of one Emit (that is %s's row). %s: the batch mode with a single-producer emitter\n", ImplBatch, ImplBatchSingle)
		fmt.Fprintf(w, "(eventbus.SingleProducer: the type's only emitter, never called concurrently; one compare-and-swap per Emit).\n\n")
		if err := writeRows(w, r.Throughput, true); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	if len(r.Emitter) > 0 {
		fmt.Fprintf(w, "Emitter cost: the same contenders with nobody reading while the timer runs. Each subscription has room for a burst\n")
		fmt.Fprintf(w, "of %d events; the emitter emits a burst, then the queues are emptied untimed. This is the bus's own cost plus one\n", EmitterRoom)
		fmt.Fprintf(w, "uncontended send per subscriber: no reader holds a channel's lock and no goroutine is woken, so unlike the table\n")
		fmt.Fprintf(w, "above it is not dominated by the channels and the scheduler, which cost every contender the same.\n")
		fmt.Fprintf(w, "%s: per event of an EmitMany of %d events, not one Emit. %s: a single-producer emitter (one\n", ImplBatchMany, emitManyChunk, ImplBatchSingle)
		fmt.Fprintf(w, "compare-and-swap per Emit); %s: the emitter safe for concurrent use (two locked instructions per Emit).\n\n", ImplBatch)
		if err := writeRows(w, r.Emitter, false); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	if len(r.Stall) > 0 {
		fmt.Fprintf(w, "Stalled subscriber: 1 emitter, %d healthy subscribers and 1 stalled one, buffer %d each, every subscription under the row's policy.\n",
			r.Stall[0].Config.Healthy, r.Stall[0].Config.Buf)
		fmt.Fprintf(w, "Emit latency per event (includes ~%v of clock reads). Only the Emit call is timed: where the API takes an any (event.Bus, chan-any,\n", r.ClockOverhead)
		fmt.Fprintf(w, "libp2p) the caller boxes each event just before the clock starts; convert=timed times the boxing too (the floor as measured before 2026-12-06).\n")
		fmt.Fprintf(w, "Under drop/kill/notify the stalled subscriber never reads; under block\n")
		fmt.Fprintf(w, "and on go-libp2p's bus (which always blocks) it reads one event per %v. The emitter waits for the healthy\n", o.SlowPeriod)
		fmt.Fprintf(w, "subscribers to drain every burst of %d events, so only the bus can make them miss one.\n\n", r.Stall[0].Config.Buf)
		t := &table{
			header: []string{"impl", "policy", "events", "p50", "p99", "max", "x libp2p p99", "x floor p99", "healthy received", "stalled subscriber", "note"},
			right:  []bool{false, false, true, true, true, true, true, true, false, false, false},
		}
		for _, row := range r.Stall {
			note := ""
			if !row.Selected {
				note = "baseline"
			}
			if row.Config.ConvertTimed {
				note = strings.TrimPrefix(note+"; convert=timed: the caller's boxing timed too", "; ")
			}
			if row.Err != nil {
				note = "ERROR: " + row.Err.Error()
			}
			healthy := fmt.Sprintf("all %d", row.HealthyOwed)
			if row.HealthyMissed > 0 {
				healthy = fmt.Sprintf("MISSED %d of %d", row.HealthyMissed, row.HealthyOwed)
			}
			t.add(string(row.Config.Impl), row.Config.PolicyName(), fmt.Sprint(row.Events), dur(row.P50), dur(row.P99), dur(row.Max),
				ratio(row.VsLibp2pP99), ratio(row.VsFloorP99), healthy, stalledFate(row.Last), note)
		}
		if err := t.write(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	if len(r.Churn) > 0 {
		c := r.Churn[0].Config
		fmt.Fprintf(w, "Subscription churn: %d emitters emit in a loop while one goroutine subscribes and closes %d times (buffer %d),\n",
			c.Emitters, c.Iterations, c.Buf)
		fmt.Fprintf(w, "reading one event from every other subscription before closing it. Time for all the iterations; x libp2p: vs\n")
		fmt.Fprintf(w, "go-libp2p's bus in the same round (median of the per-round ratios over %d rounds).\n\n", r.Options.ChurnRounds)
		t := &table{
			header: []string{"impl", "policy", "iterations", "time", "x libp2p", "emitted meanwhile", "note"},
			right:  []bool{false, false, true, true, true, true, false},
		}
		for _, row := range r.Churn {
			note := ""
			if !row.Selected {
				note = "baseline"
			}
			if row.Err != nil {
				note = "ERROR: " + row.Err.Error()
			}
			policy := row.Config.Policy.String()
			if row.Config.Impl == ImplLibp2p {
				policy = "always-block"
			}
			t.add(string(row.Config.Impl), policy, fmt.Sprint(row.Config.Iterations), row.Elapsed.Round(time.Millisecond).String(),
				ratio(row.VsLibp2p), si(row.Emitted), note)
		}
		if err := t.write(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "Targets\n")
	for _, tg := range r.Targets() {
		fmt.Fprintf(w, "  %-4s  %s\n", tg.Verdict(), tg.Name)
		if tg.Ran {
			fmt.Fprintf(w, "        measured: %s\n", tg.Measured)
		}
	}
	return nil
}

// stalledFate describes what became of the stalled subscriber in a run.
func stalledFate(r StallResult) string {
	switch {
	case r.Events == 0:
		return "-"
	case r.Config.Blocking():
		return fmt.Sprintf("read %d slowly, %d queued", r.StalledReceived, r.StalledQueued)
	case r.StalledKilled:
		return fmt.Sprintf("killed, %d queued", r.StalledQueued)
	case r.Config.Policy == eventbus.Kill:
		return fmt.Sprintf("not killed, %d queued", r.StalledQueued)
	}
	return fmt.Sprintf("dropped %d, %d queued", r.StalledDropped, r.StalledQueued)
}

// si formats x with a k/M/G suffix.
func si(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// iqr formats the quartiles of a row's ratios to go-libp2p.
func iqr(row ThroughputRow) string {
	if row.Config == row.Config.Baseline() || row.VsLibp2p == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f-%.2f", row.VsLibp2pQ1, row.VsLibp2pQ3)
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

// dur formats a latency with 3 significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.2fµs", float64(d)/1e3)
	}
	return fmt.Sprintf("%dns", d.Nanoseconds())
}

// writeRows writes throughput rows as a table; cpu adds the CPU column.
func writeRows(w io.Writer, rows []ThroughputRow, cpu bool) error {
	header := []string{"impl", "subs", "buf", "metrics", "events", "ns/event", "events/s", "cpu ns/ev", "allocs/ev", "B/ev", "x libp2p", "IQR", "x floor", "note"}
	right := []bool{false, true, true, false, true, true, true, true, true, true, true, false, true, false}
	const cpuCol = 7
	if !cpu {
		header = append(header[:cpuCol:cpuCol], header[cpuCol+1:]...)
		right = append(right[:cpuCol:cpuCol], right[cpuCol+1:]...)
	}
	t := &table{header: header, right: right}
	for _, row := range rows {
		c := row.Config
		metrics := onOff(c.Metrics)
		if c.Impl.isChan() {
			metrics = "-"
		}
		note := ""
		if !row.Selected {
			note = "baseline"
		}
		if row.Err != nil {
			note = "ERROR: " + row.Err.Error()
		}
		cells := []string{string(c.Impl), fmt.Sprint(c.Subs), fmt.Sprint(c.Buf), metrics, fmt.Sprint(row.Events),
			fmt.Sprintf("%.1f", row.NsPerEvent), si(row.EventsPerSec), fmt.Sprintf("%.1f", row.CPUNsPerEvent), fmt.Sprintf("%.2f", row.AllocsPerEvent),
			fmt.Sprintf("%.0f", row.BytesPerEvent), ratio(row.VsLibp2p), iqr(row), ratio(row.VsFloor), note}
		if !cpu {
			cells = append(cells[:cpuCol:cpuCol], cells[cpuCol+1:]...)
		}
		t.add(cells...)
	}
	return t.write(w)
}
