package busbench

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshbus/meshbus/eventbus"
)

// The targets of issue 2.
const (
	// MaxTypedVsChan: the typed API with 1 subscriber and buffer 16 costs at
	// most this many plain typed channel sends.
	MaxTypedVsChan = 1.2
	// ZeroAllocs: allocations per event below this count as zero (a few
	// allocations of the runtime's own over a whole run round to 0.00).
	ZeroAllocs = 0.01
	// MaxMetricsVsLibp2p: with metrics on, meshbus costs at most this
	// fraction of go-libp2p's bus with its metrics tracer.
	MaxMetricsVsLibp2p = 0.2
	// MaxStallP99: emitter p99 with one stalled subscriber under Drop,
	// Kill or Notify.
	MaxStallP99 = time.Microsecond
)

// Target is one checked target.
type Target struct {
	// Name says what is checked.
	Name string
	// Ran is false when the rows it needs were not run (filtered out).
	Ran bool
	// Pass is the verdict.
	Pass bool
	// Measured is what was measured, as text.
	Measured string
}

// Verdict is "PASS", "MISS" or "n/a".
func (t Target) Verdict() string {
	switch {
	case !t.Ran:
		return "n/a"
	case t.Pass:
		return "PASS"
	}
	return "MISS"
}

// Targets checks the report against the targets of issue 2.
func (r *Report) Targets() []Target {
	var out []Target
	for _, m := range []bool{false, true} {
		out = append(out, r.typedTarget(m))
	}
	for _, s := range r.Options.Subs {
		out = append(out, r.eventBusTarget(s))
	}
	for _, impl := range []Impl{ImplTyped, ImplEventBus} {
		out = append(out, r.metricsTarget(impl))
	}
	for _, impl := range []Impl{ImplTyped, ImplEventBus} {
		for _, p := range []eventbus.Policy{eventbus.Drop, eventbus.Kill, eventbus.Notify} {
			out = append(out, r.stallTarget(impl, p))
		}
	}
	return out
}

// row finds a completed throughput row.
func (r *Report) row(c Config) (ThroughputRow, bool) {
	for _, t := range r.Throughput {
		if t.Config == c && t.Runs > 0 {
			return t, true
		}
	}
	return ThroughputRow{}, false
}

func (r *Report) typedTarget(metrics bool) Target {
	t := Target{Name: fmt.Sprintf("typed API, 1 subscriber, buffer 16, metrics %s: <= %.1fx plain channel, 0 allocs/event",
		onOff(metrics), MaxTypedVsChan)}
	row, ok := r.row(Config{Impl: ImplTyped, Subs: 1, Buf: 16, Metrics: metrics})
	if !ok {
		return t
	}
	t.Ran = true
	t.Pass = row.Err == nil && row.VsFloor <= MaxTypedVsChan && row.AllocsPerEvent < ZeroAllocs
	t.Measured = fmt.Sprintf("%.2fx chan, %.2f allocs/event (%.1f ns/event; %.2fx libp2p%s)",
		row.VsFloor, row.AllocsPerEvent, row.NsPerEvent, row.VsLibp2p, map[bool]string{true: " with metrics", false: ""}[metrics])
	return t
}

func (r *Report) eventBusTarget(subs int) Target {
	t := Target{Name: fmt.Sprintf("event.Bus API, %d subscriber(s): faster than go-libp2p's bus (< 1.00x), metrics off", subs)}
	var parts []string
	t.Pass = true
	for _, buf := range r.Options.Bufs {
		row, ok := r.row(Config{Impl: ImplEventBus, Subs: subs, Buf: buf})
		if !ok {
			continue
		}
		t.Ran = true
		t.Pass = t.Pass && row.Err == nil && row.VsLibp2p < 1
		parts = append(parts, fmt.Sprintf("buf %d: %.2fx (IQR %.2f-%.2f; floor %.2fx)",
			buf, row.VsLibp2p, row.VsLibp2pQ1, row.VsLibp2pQ3, row.FloorVsLibp2p))
	}
	t.Measured = strings.Join(parts, ", ")
	for _, row := range r.Emitter {
		if row.Config == (Config{Impl: ImplEventBus, Subs: subs, Buf: EmitterRoom}) && row.Runs > 0 {
			t.Measured += fmt.Sprintf("; emitter cost alone: %.2fx (IQR %.2f-%.2f)", row.VsLibp2p, row.VsLibp2pQ1, row.VsLibp2pQ3)
		}
	}
	return t
}

// metricsTarget checks every cell. A missed cell whose floor (plain
// channels, no bus) misses too is reported as below the floor: no bus with
// that API can meet the target there.
func (r *Report) metricsTarget(impl Impl) Target {
	t := Target{Name: fmt.Sprintf("%s, metrics on: <= %.1fx go-libp2p's bus with its metrics tracer, every cell", impl, MaxMetricsVsLibp2p)}
	t.Pass = true
	var worst ThroughputRow
	var cells int
	var missed, belowFloor []string
	for _, row := range r.Throughput {
		c := row.Config
		if c.Impl != impl || !c.Metrics || row.Runs == 0 {
			continue
		}
		t.Ran = true
		cells++
		if row.Err != nil || row.VsLibp2p > MaxMetricsVsLibp2p {
			t.Pass = false
			cell := fmt.Sprintf("subs %d buf %d: %.2fx, floor %.2fx", c.Subs, c.Buf, row.VsLibp2p, row.FloorVsLibp2p)
			if row.FloorVsLibp2p > MaxMetricsVsLibp2p {
				belowFloor = append(belowFloor, cell)
			} else {
				missed = append(missed, cell)
			}
		}
		if row.VsLibp2p > worst.VsLibp2p {
			worst = row
		}
	}
	if !t.Ran {
		return t
	}
	t.Measured = fmt.Sprintf("%d of %d cells met; worst %.2fx (IQR %.2f-%.2f) at subs %d, buf %d",
		cells-len(missed)-len(belowFloor), cells, worst.VsLibp2p, worst.VsLibp2pQ1, worst.VsLibp2pQ3, worst.Config.Subs, worst.Config.Buf)
	if len(missed) > 0 {
		t.Measured += "\n        missed where the floor meets it: " + strings.Join(missed, "; ")
	}
	if len(belowFloor) > 0 {
		t.Measured += "\n        unreachable, the floor itself misses: " + strings.Join(belowFloor, "; ")
	}
	return t
}

func (r *Report) stallTarget(impl Impl, p eventbus.Policy) Target {
	t := Target{Name: fmt.Sprintf("%s, one stalled subscriber, %s: emitter p99 < %v, healthy subscribers get every event", impl, p, MaxStallP99)}
	for _, row := range r.Stall {
		if row.Config.Impl != impl || row.Config.Policy != p || row.Runs == 0 {
			continue
		}
		t.Ran = true
		t.Pass = row.Err == nil && row.P99 < MaxStallP99 && row.HealthyMissed == 0
		t.Measured = fmt.Sprintf("p99 %v, healthy received %d of %d", row.P99, row.HealthyOwed-row.HealthyMissed, row.HealthyOwed)
		if row.Err != nil {
			t.Measured += "; error: " + row.Err.Error()
		}
	}
	return t
}
