package bustest

import (
	"reflect"
	"testing"
	"time"

	"github.com/meshbus/meshbus/eventbus"
)

// PollInterval is how long Eventually waits between two checks of its
// condition.
const PollInterval = 5 * time.Millisecond

// Eventually checks cond until it holds and fails the test (tb.Fatalf,
// naming what) if it still does not hold after timeout. Between two checks
// it waits PollInterval and then runs step, when step is not nil: a test on
// a mock clock advances the clock there, so that timers the condition
// depends on fire. cond and step run on the caller's goroutine, never
// concurrently.
//
// Eventually is for state that no event reports (a metric, a connectedness,
// a store); where an event reports it, wait for the event (WaitFor on a
// Recorder, or Next on a subscription) instead.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool, step func()) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			tb.Fatalf("bustest: timed out after %v waiting for %s", timeout, what)
			return
		case <-tick.C:
			if step != nil {
				step()
			}
		}
	}
}

// Subscribe subscribes to T on b with the Block policy (no event is lost;
// the emitter waits for the test instead) and a buffer of DefaultBufSize,
// plus opts, and closes the subscription at the test's cleanup. It fails
// the test if the bus refuses. Unlike a Recorder, the subscription's events
// are consumed as they are read: Next returns them one at a time, in
// emission order.
func Subscribe[T any](tb testing.TB, b *eventbus.Bus, opts ...eventbus.SubscriptionOpt) *eventbus.Subscription[T] {
	tb.Helper()
	opts = append([]eventbus.SubscriptionOpt{eventbus.BufSize(DefaultBufSize), eventbus.WithPolicy(eventbus.Block)}, opts...)
	sub, err := eventbus.Subscribe[T](b, opts...)
	if err != nil {
		tb.Fatalf("bustest: subscribe %v: %v", reflect.TypeFor[T](), err)
	}
	tb.Cleanup(func() { _ = sub.Close() })
	return sub
}

// Next reads sub until an event satisfies pred (nil matches any event) and
// returns it; the events read before it are consumed and dropped, so a
// second Next sees only later events. It fails the test if no such event
// arrives within timeout or the subscription ends first.
func Next[T any](tb testing.TB, sub *eventbus.Subscription[T], pred func(T) bool, timeout time.Duration) T {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	skipped := 0
	for {
		select {
		case v, ok := <-sub.Out():
			if !ok {
				tb.Fatalf("bustest: subscription to %v ended while waiting (after %d other events): %v",
					reflect.TypeFor[T](), skipped, sub.Err())
				var zero T
				return zero
			}
			if pred == nil || pred(v) {
				return v
			}
			skipped++
		case <-deadline.C:
			tb.Fatalf("bustest: no %v matching the condition within %v (%d other events read)",
				reflect.TypeFor[T](), timeout, skipped)
			var zero T
			return zero
		}
	}
}
