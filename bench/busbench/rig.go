package busbench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshbus/meshbus/bench/internal/cputime"
)

// RunTimeout bounds the wait for the subscribers after the last Emit (and
// the stall scenario's waits for its healthy subscribers), so that a bus
// that loses an event fails the run instead of hanging it. An Emit that
// never returns is not bounded.
var RunTimeout = 2 * time.Minute

// Rig is one throughput contender set up for one run of N events: a bus (or
// plain channels), Subs subscriptions each drained by its own goroutine, and
// one emitter. NewRig does all the setup, Run is the part worth timing, and
// Close tears down and does the accounting.
type Rig struct {
	cfg Config
	n   int

	emit    func(n int) error // emits n events
	closeFn func() error      // ends subscriptions, emitter, bus
	dropped func() uint64     // events the bus dropped, summed over subscriptions

	remaining atomic.Int64  // subscribers still short of n events
	done      chan struct{} // closed when remaining reaches 0
	exited    sync.WaitGroup
	received  []uint64 // per subscriber; written by its drainer before exiting
	timer     *time.Timer
	closed    bool

	// manual rigs start no drainer goroutines: drainNow empties every
	// subscription's queue on the caller's goroutine instead.
	manual   bool
	drainNow []func() uint64
}

// NewRig sets up cfg for a run of n events (n >= 1).
func NewRig(cfg Config, n int) (*Rig, error) { return newRig(cfg, n, false) }

// newRig is NewRig; a manual rig starts no drainers (see Rig.manual).
func newRig(cfg Config, n int, manual bool) (*Rig, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("%w: %d events, want at least 1", ErrConfig, n)
	}
	r := &Rig{
		cfg:      cfg,
		n:        n,
		done:     make(chan struct{}),
		received: make([]uint64, cfg.Subs),
		dropped:  func() uint64 { return 0 },
		manual:   manual,
	}
	r.remaining.Store(int64(cfg.Subs))
	var err error
	switch cfg.Impl {
	case ImplChan:
		err = setupChan(r)
	case ImplChanAny:
		err = setupChanAny(r)
	case ImplLibp2p:
		err = setupLibp2p(r)
	case ImplTyped, ImplEventBus, ImplBatch, ImplBatchSingle, ImplBatchMany:
		err = setupMeshbus(r)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name(), err)
	}
	// Made here, not in Run, so that Run allocates nothing of its own.
	r.timer = time.NewTimer(RunTimeout)
	return r, nil
}

// drain starts subscriber i's goroutine: it counts what arrives on ch until
// ch closes, and reports when it has seen the run's n events.
func drain[E any](r *Rig, i int, ch <-chan E) {
	if r.manual {
		r.drainNow = append(r.drainNow, func() uint64 {
			var got uint64
			for len(ch) > 0 {
				<-ch
				got++
			}
			r.received[i] += got
			return got
		})
		return
	}
	r.exited.Add(1)
	n := uint64(r.n)
	go func() {
		defer r.exited.Done()
		var got uint64
		for range ch {
			got++
			if got == n && r.remaining.Add(-1) == 0 {
				close(r.done)
			}
		}
		r.received[i] = got
	}()
}

// Run emits the n events and returns once every subscriber has received
// them all.
func (r *Rig) Run() error {
	if err := r.emit(r.n); err != nil {
		return fmt.Errorf("%s: emit: %w", r.cfg.Name(), err)
	}
	select {
	case <-r.done:
		return nil
	case <-r.timer.C:
		return fmt.Errorf("%s: %w: %d of %d subscribers still short of %d events",
			r.cfg.Name(), ErrTimeout, r.remaining.Load(), r.cfg.Subs, r.n)
	}
}

// Accounting is what one run delivered.
type Accounting struct {
	// Emitted is events emitted times subscribers: the deliveries owed.
	Emitted uint64
	// Received is what the subscribers' goroutines received, summed.
	Received uint64
	// Dropped is what the bus counted as dropped, summed over subscribers.
	Dropped uint64
}

// Check reports ErrAccounting unless Received + Dropped == Emitted.
func (a Accounting) Check() error {
	if a.Received+a.Dropped != a.Emitted {
		return fmt.Errorf("%w: received %d + dropped %d != owed %d",
			ErrAccounting, a.Received, a.Dropped, a.Emitted)
	}
	return nil
}

// Close ends the run: it closes the subscriptions (their drainers exit), the
// emitter and the bus, and returns what was delivered. Call it once.
func (r *Rig) Close() (Accounting, error) {
	if r.closed {
		return Accounting{}, fmt.Errorf("%s: rig closed twice", r.cfg.Name())
	}
	r.closed = true
	r.timer.Stop()
	dropped := r.dropped() // read before the subscriptions go away
	err := r.closeFn()
	r.exited.Wait()
	a := Accounting{Emitted: uint64(r.n) * uint64(r.cfg.Subs), Dropped: dropped}
	for _, g := range r.received {
		a.Received += g
	}
	return a, err
}

// Result is one measured throughput run.
type Result struct {
	// Config is the configuration the rig ran.
	Config Config
	Events int // emitted
	// Elapsed is, for Measure, the wall time from the first emit until
	// every subscriber had every event (or the run failed); for
	// MeasureEmitter, the sum of the bursts' emit times, drains excluded.
	Elapsed time.Duration
	// CPU is the CPU time the whole process used during the run (every
	// goroutine, the runtime's too; 0 where not measured). Unlike Elapsed,
	// it does not grow while other processes have the CPUs.
	CPU    time.Duration
	Allocs uint64 // heap allocations during the run, every goroutine
	Bytes  uint64 // heap bytes allocated during the run
	Accounting
}

// NsPerEvent is the end-to-end time per emitted event.
func (r Result) NsPerEvent() float64 { return float64(r.Elapsed.Nanoseconds()) / float64(r.Events) }

// CPUNsPerEvent is the process CPU time per emitted event.
func (r Result) CPUNsPerEvent() float64 { return float64(r.CPU.Nanoseconds()) / float64(r.Events) }

// EventsPerSec is the emitted events per second, end to end.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// AllocsPerEvent is heap allocations per emitted event.
func (r Result) AllocsPerEvent() float64 { return float64(r.Allocs) / float64(r.Events) }

// BytesPerEvent is heap bytes allocated per emitted event.
func (r Result) BytesPerEvent() float64 { return float64(r.Bytes) / float64(r.Events) }

// Measure sets up cfg, times one run of n events with its allocations (the
// way testing.B counts them: runtime.MemStats deltas, after a GC), tears
// down, and checks the accounting.
func Measure(cfg Config, n int) (Result, error) {
	r, err := NewRig(cfg, n)
	if err != nil {
		return Result{}, err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := cputime.Process()
	start := time.Now()
	runErr := r.Run()
	elapsed := time.Since(start)
	cpu := cputime.Process() - cpu0
	runtime.ReadMemStats(&after)
	return r.finish(Result{Events: n, Elapsed: elapsed, CPU: cpu}, &before, &after, runErr)
}

// finish closes the rig and completes res (whose Events, Elapsed and CPU
// the caller measured) with the config, the allocations between before and
// after, and the accounting; the error is runErr, else a failed Close, else
// a failed accounting check.
func (r *Rig) finish(res Result, before, after *runtime.MemStats, runErr error) (Result, error) {
	acc, closeErr := r.Close()
	res.Config = r.cfg
	res.Allocs = after.Mallocs - before.Mallocs
	res.Bytes = after.TotalAlloc - before.TotalAlloc
	res.Accounting = acc
	switch {
	case runErr != nil:
		return res, runErr
	case closeErr != nil:
		return res, fmt.Errorf("%s: close: %w", r.cfg.Name(), closeErr)
	}
	if err := acc.Check(); err != nil {
		return res, fmt.Errorf("%s: %w", r.cfg.Name(), err)
	}
	return res, nil
}
