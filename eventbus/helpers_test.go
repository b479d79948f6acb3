package eventbus

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Test event types.
type evtA struct{ N int }
type evtB struct{ S string }
type evtC struct{ N int }

// describer is implemented by evtB and evtC, not evtA.
type describer interface{ Describe() string }

func (b evtB) Describe() string { return "B:" + b.S }
func (c evtC) Describe() string { return "C" }

// deadline bounds every wait in these tests: a deadlock fails the test
// instead of hanging it.
const deadline = 10 * time.Second

// recv reads one value or fails the test at the deadline.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("channel closed")
		}
		return v
	case <-time.After(deadline):
		t.Fatalf("no event within %v", deadline)
	}
	var zero T
	return zero
}

// closed waits for ch to be closed, draining it, and returns what it drained.
func closed[T any](t *testing.T, ch <-chan T) []T {
	t.Helper()
	var got []T
	timeout := time.After(deadline)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, v)
		case <-timeout:
			t.Fatalf("channel not closed within %v", deadline)
		}
	}
}

// empty asserts nothing is queued on ch.
func empty[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected event %v", v)
	default:
	}
}

// within runs f and fails the test if it does not return by the deadline.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatalf("%s did not return within %v (deadlock?)", what, deadline)
	}
}

// must returns v, panicking (which fails the test) on err; it exists so
// that two-value constructors can be used inline.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// waitFor polls cond, yielding between tries, until it holds; it fails the
// test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for stop := time.Now().Add(deadline); !cond(); runtime.Gosched() {
		if time.Now().After(stop) {
			t.Fatalf("%s: not within %v", what, deadline)
		}
	}
}

// waitBlockedInSend waits until some goroutine is parked in a channel send
// inside the bus (an emitter stuck on a full Block subscription), so that a
// test can act on a blocked emitter without sleeping.
func waitBlockedInSend(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	waitFor(t, "an emitter blocked in a channel send", func() bool {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "meshbus/eventbus.blockSend") ||
				strings.Contains(g, "[chan send") && strings.Contains(g, "meshbus/eventbus.") {
				return true
			}
		}
		return false
	})
}

// drainQueued takes what c holds now, without waiting for more.
func drainQueued[T any](c <-chan T) {
	for len(c) > 0 {
		<-c
	}
}
