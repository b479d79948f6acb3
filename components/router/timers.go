package router

import (
	"time"

	"github.com/benbjohnson/clock"
)

// The driver's timers. Each is armed only while something waits for it,
// so that an idle router does not wake; the driver goroutine alone uses
// them.

// alarm is a timer on the injected clock armed for one instant at a time.
type alarm struct {
	clk clock.Clock
	t   *clock.Timer // made at the first arm
	at  time.Time    // when t fires; zero while disarmed
}

// C is the channel the alarm fires on; nil (never ready) until first armed.
func (a *alarm) C() <-chan time.Time {
	if a.t == nil {
		return nil
	}
	return a.t.C
}

// armed reports whether the alarm waits to fire.
func (a *alarm) armed() bool { return !a.at.IsZero() }

// fired records that the alarm fired: it is disarmed until armed again.
func (a *alarm) fired() { a.at = time.Time{} }

// arm sets the alarm for at (now is the clock's time); one already set
// for at is left alone (the driver arms after every input: no timer reset
// each time).
func (a *alarm) arm(now, at time.Time) {
	if at.Equal(a.at) {
		return
	}
	a.at = at
	if a.t == nil {
		a.t = a.clk.Timer(at.Sub(now))
	} else {
		a.t.Reset(at.Sub(now))
	}
}

// disarm stops the alarm if it is armed.
func (a *alarm) disarm() {
	if a.armed() {
		a.t.Stop()
		a.at = time.Time{}
	}
}

// stop releases the timer when the driver ends.
func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
}

// flushTimer paces the batched IHAVEs (LazyConfig.FlushInterval and
// ChokeConfig.FlushInterval: GossipConfig.FlushInterval). Batches go out
// on the interval's ticks, every interval since the driver started, as
// from a ticker, but the alarm is armed only while a batch waits: an idle
// router does not wake five times a second for nothing (a ticker did, and
// that was most of an idle node's CPU).
type flushTimer struct {
	alarm
	interval time.Duration // 0: nothing is batched, never armed
	start    time.Time     // the ticks are start + k*interval
}

func newFlushTimer(clk clock.Clock, interval time.Duration) *flushTimer {
	return &flushTimer{alarm: alarm{clk: clk}, interval: interval, start: clk.Now()}
}

// set arms the alarm for the next tick after now when pending (a batch
// waits) and it is not armed, and disarms it when nothing is pending.
func (f *flushTimer) set(now time.Time, pending bool) {
	switch {
	case f.interval <= 0:
	case !pending:
		f.disarm()
	case !f.armed():
		f.arm(now, f.start.Add((now.Sub(f.start)/f.interval+1)*f.interval))
	}
}
