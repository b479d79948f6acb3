package busbench

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshbus/meshbus/eventbus"
)

// Every contender delivers every event to every subscriber, including with
// unbuffered and tiny buffers, and the metrics rows count what they emitted.
func TestMeasureAccounting(t *testing.T) {
	const n = 50
	for _, c := range Grid([]int{1, 3}, []int{0, 4}) {
		t.Run(c.Name(), func(t *testing.T) {
			res, err := Measure(c, n)
			if err != nil {
				t.Fatal(err)
			}
			if want := uint64(n * c.Subs); res.Received != want || res.Emitted != want || res.Dropped != 0 {
				t.Fatalf("received %d, dropped %d, owed %d; want %d received", res.Received, res.Dropped, res.Emitted, want)
			}
			if res.Events != n || res.Elapsed <= 0 || res.NsPerEvent() <= 0 || res.EventsPerSec() <= 0 {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

// The emitter-cost runs deliver every event too, over several bursts and a
// partial last one, and the typed API allocates nothing there either.
func TestMeasureEmitterAccounting(t *testing.T) {
	const n = 2*EmitterRoom + 7
	for _, c := range Grid([]int{1, 3}, []int{EmitterRoom}) {
		t.Run(c.Name(), func(t *testing.T) {
			res, err := MeasureEmitter(c, n)
			if err != nil {
				t.Fatal(err)
			}
			if want := uint64(n * c.Subs); res.Received != want || res.Emitted != want || res.Dropped != 0 {
				t.Fatalf("received %d, dropped %d, owed %d; want %d received", res.Received, res.Dropped, res.Emitted, want)
			}
			if res.Elapsed <= 0 {
				t.Fatalf("elapsed %v", res.Elapsed)
			}
			if c.Impl == ImplTyped && res.AllocsPerEvent() >= ZeroAllocs {
				t.Fatalf("typed emitter allocates %.3f per event", res.AllocsPerEvent())
			}
		})
	}
	if _, err := MeasureEmitter(Config{Impl: ImplTyped, Subs: 1, Buf: 16}, 10); !errors.Is(err, ErrConfig) {
		t.Fatalf("MeasureEmitter with buffer 16 = %v, want ErrConfig", err)
	}
}

func TestRigCloseTwice(t *testing.T) {
	r, err := NewRig(Config{Impl: ImplTyped, Subs: 2, Buf: 1}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
}

// A subscriber that never gets all its events fails the run with
// ErrTimeout instead of hanging it.
func TestRigTimeout(t *testing.T) {
	old := RunTimeout
	RunTimeout = time.Millisecond
	r, err := NewRig(Config{Impl: ImplChan, Subs: 1, Buf: 4}, 3)
	RunTimeout = old
	if err != nil {
		t.Fatal(err)
	}
	r.emit = func(int) error { return nil } // emits nothing
	if err := r.Run(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Run = %v, want ErrTimeout", err)
	}
	acc, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Check(); !errors.Is(err, ErrAccounting) {
		t.Fatalf("Check = %v, want ErrAccounting", err)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Impl: "nope", Subs: 1, Buf: 1},
		{Impl: ImplTyped, Subs: 0, Buf: 1},
		{Impl: ImplTyped, Subs: 1, Buf: -1},
		{Impl: ImplChan, Subs: 1, Buf: 1, Metrics: true},
		{Impl: ImplChanAny, Subs: 1, Buf: 1, Metrics: true},
	}
	for _, c := range bad {
		if _, err := NewRig(c, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("NewRig(%+v) = %v, want ErrConfig", c, err)
		}
	}
	if _, err := NewRig(Config{Impl: ImplTyped, Subs: 1, Buf: 1}, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("NewRig with 0 events = %v, want ErrConfig", err)
	}
	badStall := []StallConfig{
		{Impl: ImplChan, Policy: eventbus.Kill},
		{Impl: ImplTyped, Policy: 0},
		{Impl: ImplTyped, Policy: eventbus.Drop, Healthy: -1},
		{Impl: ImplTyped, Policy: eventbus.Drop, Buf: -1},
		{Impl: ImplTyped, Policy: eventbus.Drop, SlowPeriod: -1},
		// The typed, batch and chan callers convert nothing to time.
		{Impl: ImplTyped, Policy: eventbus.Drop, ConvertTimed: true},
		{Impl: ImplBatch, Policy: eventbus.Drop, ConvertTimed: true},
		{Impl: ImplChan, Policy: eventbus.Drop, ConvertTimed: true},
	}
	for _, c := range badStall {
		if _, err := RunStall(c, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("RunStall(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

func TestGridAndNames(t *testing.T) {
	g := Grid([]int{1, 64}, []int{16, 1024})
	// Per cell: 2 channel floors, then 5 buses with metrics off and on,
	// and the single-producer batch row with metrics off only.
	if len(g) != 2*2*13 {
		t.Fatalf("grid has %d rows, want 52", len(g))
	}
	names := map[string]bool{}
	for _, c := range g {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		names[c.Name()] = true
		if b := c.Baseline(); b.Impl != ImplLibp2p || b.Subs != c.Subs || b.Buf != c.Buf || b.Metrics != (c.Metrics && !c.Impl.isChan()) {
			t.Fatalf("baseline of %s is %s", c.Name(), b.Name())
		}
	}
	for impl, want := range map[Impl]Impl{ImplChan: ImplChan, ImplTyped: ImplChan,
		ImplChanAny: ImplChanAny, ImplLibp2p: ImplChanAny, ImplEventBus: ImplChanAny, ImplBatchSingle: ImplChan} {
		if f := (Config{Impl: impl, Subs: 4, Buf: 16, Metrics: !impl.isChan()}).Floor(); f != (Config{Impl: want, Subs: 4, Buf: 16}) {
			t.Fatalf("floor of %s is %s, want %s", impl, f.Name(), want)
		}
	}
	if len(names) != len(g) {
		t.Fatal("row names are not unique")
	}
	if got := (Config{Impl: ImplTyped, Subs: 1, Buf: 16}).Name(); got != "impl=meshbus-typed/subs=1/buf=16/metrics=off" {
		t.Fatalf("Name = %q", got)
	}
}

// The stall rig hands the event to the Emit as the row's API takes it: an
// any for the APIs whose caller boxes (event.Bus, chan-any, go-libp2p), so
// that runStallTimed can box it before the clock starts; the event itself
// for the others. Exactly one of emit and emitAny is set.
func TestStallRigConversion(t *testing.T) {
	for _, c := range StallRows() {
		t.Run(c.Name(), func(t *testing.T) {
			r, err := newStallRig(c)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				close(r.stopSlow)
				r.slowDone.Wait()
				if err := r.closeFn(); err != nil {
					t.Error(err)
				}
				r.drainers.Wait()
			}()
			if (r.emit == nil) == (r.emitAny == nil) {
				t.Fatalf("emit set %v, emitAny set %v: want exactly one", r.emit != nil, r.emitAny != nil)
			}
			if got := r.emitAny != nil; got != c.converts() {
				t.Fatalf("emitAny set %v, want %v (the caller of %s boxes: %v)", got, c.converts(), c.Impl, c.converts())
			}
		})
	}
}

// Each stall row's accounting holds with tiny runs: the healthy subscribers
// get every event, and the stalled one's events are read, queued, dropped,
// or cut off by its kill, as its policy says.
func TestStallAccounting(t *testing.T) {
	const n = 200
	for _, c := range StallRows() {
		c.SlowPeriod = time.Microsecond
		t.Run(c.Name(), func(t *testing.T) {
			res, err := RunStall(c, n)
			if err != nil {
				t.Fatal(err)
			}
			if res.HealthyMissed() != 0 || len(res.HealthyReceived) != c.Healthy {
				t.Fatalf("healthy received %v of %d", res.HealthyReceived, n)
			}
			if !(res.P50 <= res.P99 && res.P99 <= res.Max) {
				t.Fatalf("percentiles out of order: %v %v %v", res.P50, res.P99, res.Max)
			}
			switch {
			case c.Blocking():
				if res.StalledReceived+res.StalledQueued != n || res.StalledDropped != 0 {
					t.Fatalf("slow reader: read %d, queued %d, dropped %d", res.StalledReceived, res.StalledQueued, res.StalledDropped)
				}
			case c.Policy == eventbus.Kill:
				if !res.StalledKilled || res.StalledQueued != uint64(c.Buf) {
					t.Fatalf("killed %v, queued %d", res.StalledKilled, res.StalledQueued)
				}
			default:
				if res.StalledDropped != n-uint64(c.Buf) || res.StalledQueued != uint64(c.Buf) || res.StalledReceived != 0 {
					t.Fatalf("dropped %d, queued %d, read %d", res.StalledDropped, res.StalledQueued, res.StalledReceived)
				}
			}
		})
	}
}

func TestStallResultCheck(t *testing.T) {
	drop := StallConfig{Impl: ImplTyped, Policy: eventbus.Drop}.withDefaults()
	kill := StallConfig{Impl: ImplTyped, Policy: eventbus.Kill}.withDefaults()
	cases := []struct {
		name string
		res  StallResult
		ok   bool
	}{
		{"drop ok", StallResult{Config: drop, Events: 100, HealthyReceived: []uint64{100}, StalledQueued: 16, StalledDropped: 84}, true},
		{"healthy missed one", StallResult{Config: drop, Events: 100, HealthyReceived: []uint64{100, 99}, StalledQueued: 16, StalledDropped: 84}, false},
		{"drop lost one", StallResult{Config: drop, Events: 100, HealthyReceived: []uint64{100}, StalledQueued: 16, StalledDropped: 83}, false},
		{"kill ok", StallResult{Config: kill, Events: 100, HealthyReceived: []uint64{100}, StalledQueued: 16, StalledKilled: true}, true},
		{"kill missing", StallResult{Config: kill, Events: 100, HealthyReceived: []uint64{100}, StalledQueued: 16}, false},
		{"kill short run", StallResult{Config: kill, Events: 10, HealthyReceived: []uint64{10}, StalledQueued: 10}, true},
	}
	for _, tc := range cases {
		err := tc.res.Check()
		if tc.ok != (err == nil) {
			t.Errorf("%s: Check = %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrAccounting) {
			t.Errorf("%s: Check = %v, want ErrAccounting", tc.name, err)
		}
	}
}

func TestStats(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0, 1}} {
		if got := Percentile(lat, tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile(lat[:1], 99); got != 1 {
		t.Errorf("Percentile of one = %v", got)
	}
	if Median(nil) != 0 || Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Error("Median is wrong")
	}
	if q := Quantile([]float64{4, 1, 3, 2, 5}, 0.25); q != 2 {
		t.Errorf("Quantile(0.25) = %v, want 2", q)
	}
	if q := Quantile([]float64{1, 2}, 0.75); q != 1.75 {
		t.Errorf("Quantile(0.75) = %v, want 1.75", q)
	}
	if Quantile([]float64{7}, 1) != 7 || Quantile(nil, 0.5) != 0 {
		t.Error("Quantile edge cases are wrong")
	}
	xs := []float64{3, 1, 2}
	Median(xs)
	if xs[0] != 3 {
		t.Error("Median sorted its argument")
	}
}

// tinyOptions makes a full Suite run fast enough for a -race test.
func tinyOptions() Options {
	return Options{
		Subs: []int{1, 2}, Bufs: []int{4}, Rounds: 2,
		Budget: 40, MinEvents: 20, StallEvents: 100, SlowEvents: 20, SlowPeriod: time.Microsecond,
		ChurnIterations: 20, ChurnRounds: 1,
	}
}

// The suite runs every row, the table renders them all, and every target
// gets a verdict.
func TestRunRendersTable(t *testing.T) {
	rep, err := Run(tinyOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(rep.Throughput), 2*13; got != want {
		t.Fatalf("%d throughput rows, want %d", got, want)
	}
	if got, want := len(rep.Emitter), 2*13; got != want {
		t.Fatalf("%d emitter-cost rows, want %d", got, want)
	}
	for _, row := range rep.Emitter {
		if row.Runs != 2 || row.NsPerEvent <= 0 || row.VsLibp2p <= 0 || row.VsFloor <= 0 || row.Config.Buf != EmitterRoom || row.Err != nil {
			t.Fatalf("emitter row %+v", row)
		}
	}
	if got, want := len(rep.Stall), len(StallRows()); got != want {
		t.Fatalf("%d stall rows, want %d", got, want)
	}
	for _, row := range rep.Throughput {
		if row.Runs != 2 || row.NsPerEvent <= 0 || row.VsLibp2p <= 0 || row.VsFloor <= 0 || row.FloorVsLibp2p <= 0 || !row.Selected {
			t.Fatalf("row %+v", row)
		}
		if (row.Config.Impl == ImplLibp2p) != (row.VsLibp2p == 1) && row.Config.Impl == ImplLibp2p {
			t.Fatalf("go-libp2p row vs itself = %v", row.VsLibp2p)
		}
	}
	for _, row := range rep.Stall {
		if row.Runs != 2 || row.HealthyMissed != 0 || row.HealthyOwed == 0 {
			t.Fatalf("stall row %+v", row)
		}
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"ns/event", "x libp2p", "p99", "Targets", string(ImplTyped), string(ImplEventBus), "always-block", "killed, 16 queued", "Subscription churn", string(ImplBatch), string(ImplBatchMany), string(ImplBatchSingle)} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	targets := rep.Targets()
	verdicts := regexp.MustCompile(`(?m)^  (PASS|MISS|n/a) `).FindAllString(out, -1)
	if len(verdicts) != len(targets) {
		t.Errorf("%d verdicts printed for %d targets", len(verdicts), len(targets))
	}
	for _, tg := range targets {
		// The batch targets at 16 and 64 subscribers need rows this run
		// does not have.
		if strings.Contains(tg.Name, "64 subscribers") {
			if tg.Ran {
				t.Errorf("target %q ran without its rows", tg.Name)
			}
			continue
		}
		if !tg.Ran || tg.Measured == "" {
			t.Errorf("target %q did not run", tg.Name)
		}
	}
}

// A row filter runs the selected rows plus the baselines they are compared
// with (go-libp2p, the floor, and for a metrics-on row the same row with
// metrics off), and nothing else.
func TestRunRowsFilter(t *testing.T) {
	opts := tinyOptions()
	opts.Subs = []int{1}
	opts.Rows = regexp.MustCompile(`^throughput/impl=meshbus-typed/.*/metrics=on$`)
	rep, err := Run(opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, row := range rep.Throughput {
		got[row.Config.Name()] = row.Selected
	}
	want := map[string]bool{
		"impl=meshbus-typed/subs=1/buf=4/metrics=on": true,
		"impl=libp2p/subs=1/buf=4/metrics=on":        false,
		"impl=chan/subs=1/buf=4/metrics=off":         false,
		// The metrics target compares with the same row, metrics off.
		"impl=meshbus-typed/subs=1/buf=4/metrics=off": false,
	}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for name, sel := range want {
		if s, ok := got[name]; !ok || s != sel {
			t.Fatalf("rows %v, want %v", got, want)
		}
	}
	if len(rep.Stall) != 0 {
		t.Fatalf("%d stall rows ran", len(rep.Stall))
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{Subs: []int{0}}, {Bufs: []int{-1}}, {Rounds: -1}, {Budget: -1},
		{MinEvents: -1}, {StallEvents: -1}, {SlowEvents: -1}, {SlowPeriod: -1},
	}
	for _, o := range bad {
		if _, err := Run(o); !errors.Is(err, ErrConfig) {
			t.Errorf("Run(%+v) = %v, want ErrConfig", o, err)
		}
	}
}

// Every round runs each row once, the same rounds repeat exactly, and over
// the default 9 rounds no row always follows the same row.
func TestRoundOrderVariesPredecessors(t *testing.T) {
	const n, rounds = 8, 9
	preds := make([]map[int]bool, n)
	for i := range preds {
		preds[i] = map[int]bool{}
	}
	for round := range rounds {
		order := roundOrder(n, round)
		if again := roundOrder(n, round); !slices.Equal(order, again) {
			t.Fatalf("round %d: %v then %v", round, order, again)
		}
		if sorted := slices.Sorted(slices.Values(order)); !slices.Equal(sorted, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
			t.Fatalf("round %d: %v is not a permutation", round, order)
		}
		for k := 1; k < n; k++ {
			preds[order[k]][order[k-1]] = true
		}
	}
	for row, p := range preds {
		if len(p) < 2 {
			t.Errorf("row %d followed only %v in %d rounds", row, p, rounds)
		}
	}
}

// The targets judge the rows they name and say which cells missed.
func TestTargetsJudgeTheirRows(t *testing.T) {
	row := func(impl Impl, subs, buf int, metrics bool, vsLib, vsFloor, vsOff float64) ThroughputRow {
		return ThroughputRow{Config: Config{Impl: impl, Subs: subs, Buf: buf, Metrics: metrics}, Runs: 1,
			VsLibp2p: vsLib, VsFloor: vsFloor, VsMetricsOff: vsOff}
	}
	rep := &Report{
		Throughput: []ThroughputRow{
			row(ImplTyped, 1, 16, false, 0.9, 1.05, 0),
			row(ImplTyped, 4, 16, false, 0.9, 1.30, 0), // misses the overhead target
			row(ImplTyped, 1, 16, true, 0.9, 1.05, 1.02),
			row(ImplBatch, 1, 16, false, 0.5, 0.95, 0),
			row(ImplBatch, 16, 16, false, 0.4, 0.9, 0),
			row(ImplBatch, 64, 16, false, 0.6, 0.9, 0), // misses 2x libp2p
		},
		Emitter: []ThroughputRow{
			row(ImplBatchSingle, 1, EmitterRoom, false, 0.3, 0.45, 0),
			row(ImplBatch, 1, EmitterRoom, false, 0.5, 0.8, 0), // reference only
			row(ImplBatch, 64, EmitterRoom, false, 0.25, 0.2, 0),
		},
		Churn: []ChurnRow{
			{Config: ChurnConfig{Impl: ImplTyped, Policy: eventbus.Drop}, Runs: 1, VsLibp2p: 0.5},
			{Config: ChurnConfig{Impl: ImplBatch, Policy: eventbus.Kill}, Runs: 1, VsLibp2p: 1.5},
			{Config: ChurnConfig{Impl: ImplLibp2p}, Runs: 1, VsLibp2p: 1},
		},
	}
	if o := rep.overheadTarget(ImplTyped); !o.Ran || o.Pass || !strings.Contains(o.Measured, "subs 4 buf 16: 1.30x") {
		t.Errorf("overhead target %+v", o)
	}
	if m := rep.metricsTarget(ImplTyped); !m.Ran || !m.Pass {
		t.Errorf("metrics target %+v", m)
	}
	be := rep.batchEmitterTargets()
	if !be[0].Pass || !be[1].Pass || !strings.Contains(be[0].Measured, "0.45x chan") || !strings.Contains(be[0].Measured, "for reference, meshbus-batch") {
		t.Errorf("batch emitter targets %+v", be)
	}
	bt := rep.batchEndToEndTargets()
	if !bt[0].Pass || bt[1].Pass || !strings.Contains(bt[1].Measured, "subs 64 buf 16: 0.60x") {
		t.Errorf("batch end-to-end targets %+v", bt)
	}
	if c := rep.churnTarget(); !c.Ran || c.Pass || !strings.Contains(c.Measured, "meshbus-batch kill: 1.50x MISSED") {
		t.Errorf("churn target %+v", c)
	}
	if e := rep.emitterTarget(ImplEventBus); e.Ran {
		t.Errorf("emitter target ran without rows: %+v", e)
	}
}
