package busbench

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Options configures a Suite run. Zero fields take the defaults named.
type Options struct {
	// Subs are the subscriber counts (default 1, 4, 16, 64).
	Subs []int
	// Bufs are the subscription buffers (default 16, 1024).
	Bufs []int
	// Rounds is how many times each row runs, interleaved with the other
	// rows of its cell; the table shows medians (default 9).
	Rounds int
	// Budget is the deliveries (events × subscribers) per throughput run
	// (default 200000): 1 subscriber gets 200000 events per round.
	Budget int
	// MinEvents is the least events per throughput run (default 5000).
	MinEvents int
	// StallEvents is the events per stall run under Drop, Kill and Notify
	// (default 100000).
	StallEvents int
	// SlowEvents is the events per stall run in blocking rows (default
	// 5000; each takes about SlowPeriod).
	SlowEvents int
	// SlowPeriod is the slow reader's time per event in blocking rows
	// (default 20µs).
	SlowPeriod time.Duration
	// ChurnIterations is the subscribe/close iterations per churn run
	// (default 2000).
	ChurnIterations int
	// ChurnRounds is how many rounds the churn rows run (default 3: a
	// round of the nine rows takes seconds).
	ChurnRounds int
	// Rows selects rows by name: "throughput/impl=.../subs=...",
	// "emitter/impl=.../subs=..." or "stall/impl=.../policy=..." (nil:
	// all). The go-libp2p and channel rows a selected row is compared with
	// always run.
	Rows *regexp.Regexp
	// Progress receives one line per finished row and round (nil: none).
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	if len(o.Subs) == 0 {
		o.Subs = []int{1, 4, 16, 64}
	}
	if len(o.Bufs) == 0 {
		o.Bufs = []int{16, 1024}
	}
	if o.Rounds == 0 {
		o.Rounds = 9
	}
	if o.Budget == 0 {
		o.Budget = 200_000
	}
	if o.MinEvents == 0 {
		o.MinEvents = 5000
	}
	if o.StallEvents == 0 {
		o.StallEvents = 100_000
	}
	if o.SlowEvents == 0 {
		o.SlowEvents = 5000
	}
	if o.SlowPeriod == 0 {
		o.SlowPeriod = 20 * time.Microsecond
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ChurnIterations == 0 {
		o.ChurnIterations = 2000
	}
	if o.ChurnRounds == 0 {
		o.ChurnRounds = 3
	}
	return o
}

// Validate reports the first bad field (after defaults).
func (o Options) Validate() error {
	o = o.withDefaults()
	for _, s := range o.Subs {
		if s < 1 {
			return fmt.Errorf("%w: Subs has %d, want at least 1", ErrConfig, s)
		}
	}
	for _, b := range o.Bufs {
		if b < 0 {
			return fmt.Errorf("%w: Bufs has %d, want at least 0", ErrConfig, b)
		}
	}
	switch {
	case o.Rounds < 1:
		return fmt.Errorf("%w: Rounds %d is below 1", ErrConfig, o.Rounds)
	case o.Budget < 1:
		return fmt.Errorf("%w: Budget %d is below 1", ErrConfig, o.Budget)
	case o.MinEvents < 1:
		return fmt.Errorf("%w: MinEvents %d is below 1", ErrConfig, o.MinEvents)
	case o.StallEvents < 1:
		return fmt.Errorf("%w: StallEvents %d is below 1", ErrConfig, o.StallEvents)
	case o.SlowEvents < 1:
		return fmt.Errorf("%w: SlowEvents %d is below 1", ErrConfig, o.SlowEvents)
	case o.ChurnIterations < 1 || o.ChurnRounds < 1:
		return fmt.Errorf("%w: ChurnIterations %d, ChurnRounds %d: want at least 1", ErrConfig, o.ChurnIterations, o.ChurnRounds)
	case o.SlowPeriod < 0:
		return fmt.Errorf("%w: SlowPeriod %v is negative", ErrConfig, o.SlowPeriod)
	}
	return nil
}

// ThroughputRow is one throughput row of the report: medians over rounds.
type ThroughputRow struct {
	// Config is the row's configuration, one of its cell's Grid entries.
	Config Config
	// Events is the events emitted per round.
	Events int
	// Runs is the rounds that completed.
	Runs int
	// NsPerEvent is the median over the completed rounds of the wall time
	// per emitted event (Result.NsPerEvent).
	NsPerEvent float64
	// CPUNsPerEvent is the median process CPU time per emitted event (0
	// where CPU time was not measured, as in Emitter rows).
	CPUNsPerEvent float64
	// EventsPerSec is 1e9/NsPerEvent (0 when NsPerEvent is 0), not a
	// median of its own.
	EventsPerSec float64
	// AllocsPerEvent is the median heap allocations per emitted event.
	AllocsPerEvent float64
	// BytesPerEvent is the median heap bytes allocated per emitted event.
	BytesPerEvent float64
	// VsLibp2p is the median over rounds of this row's time divided by the
	// time of go-libp2p's bus (same subscribers, buffer and metrics
	// setting; plain channels compare with go-libp2p without metrics) in
	// the same round. VsFloor likewise against the row's floor
	// (Config.Floor: plain channels carrying what its API carries).
	VsLibp2p, VsFloor float64
	// VsMetricsOff is, for a row with metrics on, the median over rounds
	// of its time divided by the same row's with metrics off in the same
	// round (0 for rows with metrics off).
	VsMetricsOff float64
	// VsMetricsOffQ1 and VsMetricsOffQ3 are the quartiles of those
	// per-round ratios. Metrics on and off run the same Emit code (the
	// collector reads, at scrape time, counters the bus keeps anyway), so
	// their spread is the noise of the cell.
	VsMetricsOffQ1, VsMetricsOffQ3 float64
	// FloorVsLibp2p is the median over rounds of the floor's time divided
	// by the baseline's in the same round: the best ratio to go-libp2p any
	// bus with the row's API could show in this cell.
	FloorVsLibp2p float64
	// VsLibp2pQ1 and VsLibp2pQ3 are the first and third quartiles of the
	// per-round ratios to go-libp2p: how far the rounds disagree.
	VsLibp2pQ1, VsLibp2pQ3 float64
	// Selected is false for rows run only as another row's baseline.
	Selected bool
	// Err is the first failure of the row, if any.
	Err error
}

// StallRow is one stall row of the report: medians over rounds.
type StallRow struct {
	// Config is the row's configuration: a StallRows entry with
	// Options.SlowPeriod.
	Config StallConfig
	// Events is the events emitted per round.
	Events int
	// Runs is the rounds that emitted anything, a round that failed after
	// emitting included (Err holds the row's first failure).
	Runs int
	// P50 and P99 are medians over rounds; Max is the largest of any round.
	P50, P99, Max time.Duration
	// VsLibp2pP99 is the median over rounds of P99 / go-libp2p's P99.
	VsLibp2pP99 float64
	// VsFloorP99 is the median over rounds of P99 / the floor's P99
	// (StallConfig.Floor) in the same round (0 where it did not run).
	VsFloorP99 float64
	// HealthyMissed sums, over rounds, the events healthy subscribers did
	// not receive; HealthyOwed sums what they were owed.
	HealthyMissed, HealthyOwed uint64
	// Last is the last round's full result (the stalled subscriber's fate).
	Last StallResult
	// Selected is false for a row that ran only as the baseline of
	// selected rows: go-libp2p's, and the floors (StallConfig.Floor).
	Selected bool
	// Err is the first failure of the row, if any.
	Err error
}

// Report is a Suite run's outcome.
type Report struct {
	// Started is when the run began (UTC).
	Started time.Time
	// LoadBefore and LoadAfter are /proc/loadavg's 1-minute load at the
	// start and the end ("" where there is none): other processes' share
	// of the machine while it ran.
	LoadBefore, LoadAfter string
	// Elapsed is the whole run's wall time.
	Elapsed time.Duration
	// GoVersion, OS, Arch, NumCPU and GOMAXPROCS describe the machine.
	//
	// GoVersion is runtime.Version of the benchmark binary.
	GoVersion string
	// OS and Arch are runtime.GOOS and runtime.GOARCH.
	OS, Arch string
	// NumCPU is runtime.NumCPU at the start.
	NumCPU int
	// GOMAXPROCS is runtime.GOMAXPROCS at the start.
	GOMAXPROCS int
	// ClockOverhead is the cost of the clock reads in each stall sample.
	ClockOverhead time.Duration
	// Options are the options run, defaults filled in.
	Options Options
	// Throughput, Emitter, Stall and Churn are the rows, in table order;
	// each holds the selected rows and the unselected ones they needed as
	// baselines (Selected false). None is run when no row of its kind is
	// selected.
	//
	// Throughput holds the rows measured with Measure, cell by cell
	// (subscriber counts outer, buffer sizes inner).
	Throughput []ThroughputRow
	// Emitter holds throughput rows measured with MeasureEmitter (buffer
	// EmitterRoom): the emitter's own cost, without readers; their
	// CPUNsPerEvent is not measured.
	Emitter []ThroughputRow
	// Stall holds the stall rows (RunStall), in StallRows order.
	Stall []StallRow
	// Churn holds the churn rows (RunChurn), in ChurnRows order.
	Churn []ChurnRow
}

// ChurnRow is one churn row of the report: medians over rounds.
type ChurnRow struct {
	// Config is the row's configuration: a ChurnRows entry with
	// Options.ChurnIterations.
	Config ChurnConfig
	// Runs is the rounds that completed.
	Runs int
	// Elapsed is the median time for all the iterations.
	Elapsed time.Duration
	// VsLibp2p is the median over rounds of Elapsed / go-libp2p's Elapsed
	// in the same round.
	VsLibp2p float64
	// Emitted is the median of the events emitted meanwhile.
	Emitted float64
	// Selected is false for go-libp2p's row when it ran only as the
	// baseline of selected rows.
	Selected bool
	// Err is the first failure of the row, if any.
	Err error
}

// Err joins the rows' failures.
func (r *Report) Err() error {
	var errs []error
	for _, t := range slices.Concat(r.Throughput, r.Emitter) {
		errs = append(errs, t.Err)
	}
	for _, s := range r.Stall {
		errs = append(errs, s.Err)
	}
	for _, c := range r.Churn {
		errs = append(errs, c.Err)
	}
	return errors.Join(errs...)
}

// selected reports whether opts.Rows selects the named row.
func (o Options) selected(name string) bool { return o.Rows == nil || o.Rows.MatchString(name) }

// Run runs the throughput grid and the stall rows that opts selects, and
// returns the report. Failing rows carry their error (Report.Err) and do
// not stop the others.
func Run(opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	rep := &Report{
		Started:       time.Now().UTC(),
		GoVersion:     runtime.Version(),
		OS:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		NumCPU:        runtime.NumCPU(),
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		ClockOverhead: ClockOverhead(),
		Options:       opts,
		LoadBefore:    loadAvg(),
	}
	for _, s := range opts.Subs {
		for _, b := range opts.Bufs {
			rep.Throughput = append(rep.Throughput, runCell(opts, "throughput/", s, b, Measure)...)
		}
	}
	for _, s := range opts.Subs {
		rep.Emitter = append(rep.Emitter, runCell(opts, "emitter/", s, EmitterRoom, MeasureEmitter)...)
	}
	rep.Stall = runStall(opts)
	rep.Churn = runChurn(opts)
	rep.Elapsed = time.Since(rep.Started)
	rep.LoadAfter = loadAvg()
	return rep, nil
}

// runCell runs the selected rows of one cell (subscribers, buffer) and the
// baselines they need with measure, interleaved over rounds; kind prefixes
// the row names that opts.Rows selects on.
func runCell(opts Options, kind string, subs, buf int, measure func(Config, int) (Result, error)) []ThroughputRow {
	grid := Grid([]int{subs}, []int{buf})
	need := map[Config]bool{}
	sel := map[Config]bool{}
	for _, c := range grid {
		if opts.selected(kind + c.Name()) {
			sel[c], need[c] = true, true
			need[c.Baseline()], need[c.Floor()] = true, true
			if c.Metrics {
				off := c
				off.Metrics = false
				need[off] = true
			}
		}
	}
	var cfgs []Config
	for _, c := range grid {
		if need[c] {
			cfgs = append(cfgs, c)
		}
	}
	if len(cfgs) == 0 {
		return nil
	}
	n := max(opts.Budget/subs, opts.MinEvents)
	results := make(map[Config][]Result, len(cfgs)) // index: round
	errs := make(map[Config]error)
	for round := range opts.Rounds {
		for _, i := range roundOrder(len(cfgs), round) {
			c := cfgs[i]
			res, err := measure(c, n)
			if err != nil {
				if errs[c] == nil {
					errs[c] = err
				}
				results[c] = append(results[c], Result{})
				fmt.Fprintf(opts.Progress, "round %d %s%s: %v\n", round+1, kind, c.Name(), err)
				continue
			}
			results[c] = append(results[c], res)
			fmt.Fprintf(opts.Progress, "round %d %-60s %10.1f ns/event\n", round+1, kind+c.Name(), res.NsPerEvent())
		}
	}
	rows := make([]ThroughputRow, 0, len(cfgs))
	for _, c := range cfgs {
		row := ThroughputRow{Config: c, Events: n, Selected: sel[c], Err: errs[c]}
		var ns, cpu, allocs, bytes, vsLib, vsFloor, floorVsLib, vsOff []float64
		off := c
		off.Metrics = false
		for round, res := range results[c] {
			if res.Events == 0 {
				continue
			}
			ns = append(ns, res.NsPerEvent())
			cpu = append(cpu, res.CPUNsPerEvent())
			allocs = append(allocs, res.AllocsPerEvent())
			bytes = append(bytes, res.BytesPerEvent())
			base, baseOK := at(results[c.Baseline()], round)
			floor, floorOK := at(results[c.Floor()], round)
			if baseOK {
				vsLib = append(vsLib, res.NsPerEvent()/base.NsPerEvent())
			}
			if floorOK {
				vsFloor = append(vsFloor, res.NsPerEvent()/floor.NsPerEvent())
			}
			if o, ok := at(results[off], round); ok && c.Metrics {
				vsOff = append(vsOff, res.NsPerEvent()/o.NsPerEvent())
			}
			if baseOK && floorOK {
				floorVsLib = append(floorVsLib, floor.NsPerEvent()/base.NsPerEvent())
			}
		}
		row.Runs = len(ns)
		row.NsPerEvent, row.CPUNsPerEvent = Median(ns), Median(cpu)
		if row.NsPerEvent > 0 {
			row.EventsPerSec = 1e9 / row.NsPerEvent
		}
		row.AllocsPerEvent, row.BytesPerEvent = Median(allocs), Median(bytes)
		row.VsLibp2p, row.VsFloor, row.FloorVsLibp2p = Median(vsLib), Median(vsFloor), Median(floorVsLib)
		row.VsLibp2pQ1, row.VsLibp2pQ3 = Quantile(vsLib, 0.25), Quantile(vsLib, 0.75)
		row.VsMetricsOff = Median(vsOff)
		row.VsMetricsOffQ1, row.VsMetricsOffQ3 = Quantile(vsOff, 0.25), Quantile(vsOff, 0.75)
		rows = append(rows, row)
	}
	return rows
}

// runStall runs the selected stall rows and go-libp2p's (their baseline),
// interleaved over rounds.
func runStall(opts Options) []StallRow {
	var cfgs []StallConfig
	sel := map[StallConfig]bool{}
	var base StallConfig
	for _, c := range StallRows() {
		c.SlowPeriod = opts.SlowPeriod
		if c.Impl == ImplLibp2p {
			base = c
		}
		if opts.selected("stall/" + c.Name()) {
			sel[c] = true
		}
	}
	if len(sel) == 0 {
		return nil
	}
	floors := map[StallConfig]bool{}
	for c := range sel {
		if c.Impl.isMeshbus() && !c.Blocking() {
			floors[c.Floor()] = true
		}
	}
	for _, c := range StallRows() {
		c.SlowPeriod = opts.SlowPeriod
		if sel[c] || c == base || floors[c] {
			cfgs = append(cfgs, c)
		}
	}
	results := make(map[StallConfig][]StallResult, len(cfgs))
	errs := make(map[StallConfig]error)
	for round := range opts.Rounds {
		for _, i := range roundOrder(len(cfgs), round) {
			c := cfgs[i]
			n := opts.StallEvents
			if c.Blocking() {
				n = opts.SlowEvents
			}
			res, err := RunStall(c, n)
			if err != nil && errs[c] == nil {
				errs[c] = err
			}
			results[c] = append(results[c], res)
			fmt.Fprintf(opts.Progress, "round %d stall %-40s p50 %v p99 %v max %v\n", round+1, c.Name(), res.P50, res.P99, res.Max)
		}
	}
	rows := make([]StallRow, 0, len(cfgs))
	for _, c := range cfgs {
		row := StallRow{Config: c, Selected: sel[c], Err: errs[c]}
		var p50, p99, vs, vsFloor []float64
		for round, res := range results[c] {
			if res.Events == 0 {
				continue
			}
			row.Events = res.Events
			row.Runs++
			p50 = append(p50, float64(res.P50))
			p99 = append(p99, float64(res.P99))
			row.Max = max(row.Max, res.Max)
			row.HealthyMissed += res.HealthyMissed()
			row.HealthyOwed += uint64(res.Events) * uint64(len(res.HealthyReceived))
			row.Last = res
			if b, ok := at(results[base], round); ok && b.P99 > 0 {
				vs = append(vs, float64(res.P99)/float64(b.P99))
			}
			if f, ok := at(results[c.Floor()], round); ok && f.P99 > 0 && !c.Blocking() {
				vsFloor = append(vsFloor, float64(res.P99)/float64(f.P99))
			}
		}
		row.P50, row.P99 = time.Duration(Median(p50)), time.Duration(Median(p99))
		row.VsLibp2pP99, row.VsFloorP99 = Median(vs), Median(vsFloor)
		rows = append(rows, row)
	}
	return rows
}

// runChurn runs the selected churn rows and go-libp2p's (their baseline),
// interleaved over ChurnRounds rounds.
func runChurn(opts Options) []ChurnRow {
	var cfgs []ChurnConfig
	sel := map[ChurnConfig]bool{}
	var base ChurnConfig
	for _, c := range ChurnRows() {
		c.Iterations = opts.ChurnIterations
		if c.Impl == ImplLibp2p {
			base = c
		}
		if opts.selected("churn/" + c.Name()) {
			sel[c] = true
		}
	}
	if len(sel) == 0 {
		return nil
	}
	for _, c := range ChurnRows() {
		c.Iterations = opts.ChurnIterations
		if sel[c] || c == base {
			cfgs = append(cfgs, c)
		}
	}
	results := make(map[ChurnConfig][]ChurnResult, len(cfgs))
	errs := make(map[ChurnConfig]error)
	for round := range opts.ChurnRounds {
		for _, i := range roundOrder(len(cfgs), round) {
			c := cfgs[i]
			res, err := RunChurn(c)
			if err != nil {
				if errs[c] == nil {
					errs[c] = err
				}
				res = ChurnResult{}
			}
			results[c] = append(results[c], res)
			fmt.Fprintf(opts.Progress, "round %d churn %-40s %v (%d iterations)\n", round+1, c.Name(), res.Elapsed, res.Iterations)
		}
	}
	rows := make([]ChurnRow, 0, len(cfgs))
	for _, c := range cfgs {
		row := ChurnRow{Config: c, Selected: sel[c], Err: errs[c]}
		var el, vs, em []float64
		for round, res := range results[c] {
			if res.Iterations != c.Iterations {
				continue
			}
			row.Runs++
			el = append(el, float64(res.Elapsed))
			em = append(em, float64(res.Emitted))
			if round < len(results[base]) {
				if b := results[base][round]; b.Iterations == base.Iterations && b.Elapsed > 0 {
					vs = append(vs, float64(res.Elapsed)/float64(b.Elapsed))
				}
			}
		}
		row.Elapsed, row.VsLibp2p, row.Emitted = time.Duration(Median(el)), Median(vs), Median(em)
		rows = append(rows, row)
	}
	return rows
}

// roundOrder is the order in which a round runs n rows: a permutation drawn
// from a generator seeded with the round, so runs repeat exactly. Each row
// follows a different row from round to round, so none always inherits the
// same predecessor's state (caches, heap, GC pacing); a rotation of one fixed
// order would keep every row's predecessor the same.
func roundOrder(n, round int) []int {
	return rand.New(rand.NewPCG(uint64(round), 0x6d657368627573)).Perm(n)
}

// at returns the result of a round, if that row ran and completed it.
func at[R Result | StallResult](rs []R, round int) (R, bool) {
	var zero R
	if round >= len(rs) {
		return zero, false
	}
	switch r := any(rs[round]).(type) {
	case Result:
		return rs[round], r.Events > 0
	case StallResult:
		return rs[round], r.Events > 0
	}
	return zero, false
}

// loadAvg returns the 1-minute load average, or "" where /proc/loadavg
// does not exist.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
