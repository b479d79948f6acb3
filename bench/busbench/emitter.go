package busbench

import (
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
// end-to-end cost a bus decides. Allocations are counted over the whole run
// (draining allocates nothing).
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
		burst := min(left, EmitterRoom)
		start := time.Now()
		if err := r.emit(burst); err != nil {
			runErr = fmt.Errorf("%s: emit: %w", cfg.Name(), err)
		}
		elapsed += time.Since(start)
		left -= burst
		for i, drainNow := range r.drainNow {
			if got := drainNow(); got != uint64(burst) && runErr == nil {
				runErr = fmt.Errorf("%s: %w: subscriber %d had %d of a burst of %d queued", cfg.Name(), ErrAccounting, i, got, burst)
			}
		}
	}
	runtime.ReadMemStats(&after)
	acc, closeErr := r.Close()
	res := Result{
		Config:     cfg,
		Events:     n,
		Elapsed:    elapsed,
		Allocs:     after.Mallocs - before.Mallocs,
		Bytes:      after.TotalAlloc - before.TotalAlloc,
		Accounting: acc,
	}
	switch {
	case runErr != nil:
		return res, runErr
	case closeErr != nil:
		return res, fmt.Errorf("%s: close: %w", cfg.Name(), closeErr)
	}
	if err := acc.Check(); err != nil {
		return res, fmt.Errorf("%s: %w", cfg.Name(), err)
	}
	return res, nil
}
