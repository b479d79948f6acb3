package router

import (
	"time"

	"github.com/benbjohnson/clock"
)

// flushTimer paces the batched IHAVEs (LazyConfig.FlushInterval and
// ChokeConfig.FlushInterval: GossipConfig.FlushInterval). Batches go out
// on the interval's ticks, every interval since the driver started, as
// from a ticker, but the timer is armed only while a batch waits: an idle
// router does not wake five times a second for nothing (a ticker did, and
// that was most of an idle node's CPU). The driver goroutine alone uses
// it.
type flushTimer struct {
	clk      clock.Clock
	interval time.Duration // 0: nothing is batched, never armed
	start    time.Time     // the ticks are start + k*interval
	t        *clock.Timer  // made at the first arm
	at       time.Time     // when t fires; zero while disarmed
}

func newFlushTimer(clk clock.Clock, interval time.Duration) *flushTimer {
	return &flushTimer{clk: clk, interval: interval, start: clk.Now()}
}

// C is the channel the timer fires on; nil (never ready) until first armed.
func (f *flushTimer) C() <-chan time.Time {
	if f.t == nil {
		return nil
	}
	return f.t.C
}

// fired records that the timer fired: it is disarmed until set arms it.
func (f *flushTimer) fired() { f.at = time.Time{} }

// set arms the timer for the next tick after now when pending (a batch
// waits) and it is not armed, and disarms it when nothing is pending.
func (f *flushTimer) set(now time.Time, pending bool) {
	switch {
	case f.interval <= 0:
	case pending && f.at.IsZero():
		f.at = f.start.Add((now.Sub(f.start)/f.interval + 1) * f.interval)
		if f.t == nil {
			f.t = f.clk.Timer(f.at.Sub(now))
		} else {
			f.t.Reset(f.at.Sub(now))
		}
	case !pending && !f.at.IsZero():
		f.t.Stop()
		f.at = time.Time{}
	}
}

// stop releases the timer when the driver ends.
func (f *flushTimer) stop() {
	if f.t != nil {
		f.t.Stop()
	}
}
