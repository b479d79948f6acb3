package busbench

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// EmitterRoom is every subscription's buffer in emitter-cost runs: the
// burst emitted between two untimed drains.
const EmitterRoom = 1024

// MeasureEmitter times the emitter alone. cfg's subscriptions (cfg.Buf
// must be EmitterRoom) are not read while the timer runs: the emitter emits
// a burst of up to EmitterRoom events, which all fit, then the timer stops
// and the queues are emptied on this goroutine. So the time is the bus's own
// cost plus one uncontended channel send per subscriber, with no reader
// holding a channel's lock and no goroutine to wake: the part of the
// end-to-end cost a bus decides. Allocations are counted over the timed
// bursts and their drains (draining allocates nothing).
func MeasureEmitter(cfg Config, n int) (Result, error) {
	if cfg.Buf != EmitterRoom {
		return Result{}, fmt.Errorf("%w: emitter-cost buffer %d, want %d", ErrConfig, cfg.Buf, EmitterRoom)
	}
	r, err := newRig(cfg, n, true)
	if err != nil {
		return Result{}, err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var elapsed time.Duration
	var runErr error
	for left := n; left > 0 && runErr == nil; {
		b := min(left, EmitterRoom)
		runErr = r.burst(b, &elapsed)
		left -= b
	}
	runtime.ReadMemStats(&after)
	return r.finish(Result{Events: n, Elapsed: elapsed}, &before, &after, runErr)
}

// burst emits n events on a manual rig, adding the time the emits took to
// *elapsed, then empties every queue untimed and checks that each
// subscriber had exactly the n events.
func (r *Rig) burst(n int, elapsed *time.Duration) error {
	start := time.Now()
	err := r.emit(n)
	*elapsed += time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: emit: %w", r.cfg.Name(), err)
	}
	var errs []error
	for i, drainNow := range r.drainNow {
		if got := drainNow(); got != uint64(n) {
			errs = append(errs, fmt.Errorf("%s: %w: subscriber %d had %d of a burst of %d queued", r.cfg.Name(), ErrAccounting, i, got, n))
		}
	}
	return errors.Join(errs...)
}
