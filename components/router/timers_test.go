package router

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// The flush timer is armed only while a batch waits, always for the next
// tick of the interval since the driver started (as a ticker's), and is
// disarmed when nothing is pending; with interval 0 it is never armed.
func TestFlushTimer(t *testing.T) {
	const iv = 200 * time.Millisecond
	clk := clock.NewMock()
	start := clk.Now()
	f := newFlushTimer(clk, iv)
	if f.C() != nil {
		t.Fatal("a timer before anything was pending")
	}
	f.set(clk.Now(), false)
	if f.C() != nil || !f.at.IsZero() {
		t.Fatal("armed with nothing pending")
	}
	// Pending at 130 ms: fires at the 200 ms tick, not 200 ms later.
	clk.Add(130 * time.Millisecond)
	f.set(clk.Now(), true)
	if want := start.Add(iv); !f.at.Equal(want) {
		t.Fatalf("armed for %v, want the tick at %v", f.at.Sub(start), want.Sub(start))
	}
	f.set(clk.Now(), true) // already armed: unchanged
	clk.Add(69 * time.Millisecond)
	if n := fires(&f.alarm); n != 0 {
		t.Fatalf("%d fires before the tick", n)
	}
	clk.Add(time.Millisecond)
	if n := fires(&f.alarm); n != 1 {
		t.Fatalf("%d fires at the tick, want 1", n)
	}
	// Nothing pending after the flush: no more fires, however long.
	f.set(clk.Now(), false)
	clk.Add(10 * iv)
	if n := fires(&f.alarm); n != 0 {
		t.Fatalf("%d fires with nothing pending", n)
	}
	// Pending again exactly on a tick (at 2.2 s): the next tick, 2.4 s.
	f.set(clk.Now(), true)
	if want := start.Add(12 * iv); !f.at.Equal(want) {
		t.Fatalf("armed for %v, want %v", f.at.Sub(start), want.Sub(start))
	}
	// Flushed by something else (a heartbeat) before the tick: disarmed.
	clk.Add(50 * time.Millisecond)
	f.set(clk.Now(), false)
	clk.Add(iv)
	if n := fires(&f.alarm); n != 0 {
		t.Fatalf("%d fires after disarming", n)
	}
	f.stop()

	never := newFlushTimer(clk, 0)
	never.set(clk.Now(), true)
	if never.C() != nil {
		t.Fatal("interval 0 armed a timer")
	}
	never.stop()
}

// An alarm fires once at the instant it is armed for, also when armed for
// it again later (the driver does after every input), moves when armed
// for another, and never fires disarmed (the stagger and PREAMBLE
// deadlines' timer).
func TestAlarm(t *testing.T) {
	clk := clock.NewMock()
	a := alarm{clk: clk}
	if a.C() != nil || a.armed() {
		t.Fatal("armed before anything")
	}
	start := clk.Now()
	a.arm(clk.Now(), start.Add(100*time.Millisecond))
	clk.Add(60 * time.Millisecond)
	a.arm(clk.Now(), start.Add(100*time.Millisecond)) // the same instant, 60 ms later
	clk.Add(40 * time.Millisecond)
	if n := fires(&a); n != 1 || a.armed() {
		t.Fatalf("%d fires at the instant (armed %v), want 1", n, a.armed())
	}
	// Moved earlier, it fires at the new instant.
	a.arm(clk.Now(), clk.Now().Add(50*time.Millisecond))
	a.arm(clk.Now(), clk.Now().Add(10*time.Millisecond))
	clk.Add(10 * time.Millisecond)
	if n := fires(&a); n != 1 {
		t.Fatalf("%d fires after moving the alarm earlier, want 1", n)
	}
	clk.Add(time.Second)
	if n := fires(&a); n != 0 {
		t.Fatalf("%d fires for the instant it was moved from", n)
	}
	// Disarmed, it never fires.
	a.arm(clk.Now(), clk.Now().Add(10*time.Millisecond))
	a.disarm()
	clk.Add(time.Second)
	if n := fires(&a); n != 0 || a.armed() {
		t.Fatalf("%d fires after disarming", n)
	}
	a.stop()
}

// fires takes the alarm's pending fires, as the driver's loop does, and
// counts them.
func fires(a *alarm) int {
	n := 0
	for {
		select {
		case <-a.C():
			a.fired()
			n++
		default:
			return n
		}
	}
}
