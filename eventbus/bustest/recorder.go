package bustest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/meshbus/meshbus/eventbus"
)

// DefaultBufSize is the Recorder's subscription buffer. The Recorder reads
// continuously, so the buffer only absorbs bursts.
const DefaultBufSize = 1024

// Entry is one recorded event.
type Entry struct {
	// Seq is the event's bus-wide sequence number (0 for a replayed
	// stateful event); sorting by Seq restores the emission order across
	// types.
	Seq uint64
	// Event is the event value as emitted.
	Event any
}

// Recorder subscribes to event types and records every event they deliver,
// in delivery order. It is safe for concurrent use.
type Recorder struct {
	sub  *eventbus.AnySubscription
	done chan struct{} // closed when the reading goroutine has returned

	mu      sync.Mutex
	entries []Entry       // guarded by mu
	changed chan struct{} // closed and replaced on every append and at the end; guarded by mu
	ended   bool          // guarded by mu: the subscription's channel closed
}

// NewRecorder subscribes to the given event types (each given as new(EvtX),
// as the event.Bus API takes them; an interface pointer takes every type
// implementing it) and records what they deliver until the test ends (its
// Cleanup closes the Recorder). With no types it records every event on the
// bus. It fails the test if the bus refuses the subscription.
func NewRecorder(tb testing.TB, b *eventbus.Bus, types ...any) *Recorder {
	tb.Helper()
	r, err := Start(b, types...)
	if err != nil {
		tb.Fatalf("bustest: %v", err)
	}
	tb.Cleanup(r.Close)
	return r
}

// Start is NewRecorder outside a test: the caller must Close the Recorder.
func Start(b *eventbus.Bus, types ...any) (*Recorder, error) {
	var what any = eventbus.Wildcard
	if len(types) > 0 {
		what = types
	}
	sub, err := b.Subscribe(what, eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(DefaultBufSize),
		eventbus.WithSequence(), eventbus.Name("bustest.Recorder"))
	if err != nil {
		return nil, fmt.Errorf("recorder subscribe: %w", err)
	}
	r := &Recorder{sub: sub, done: make(chan struct{}), changed: make(chan struct{})}
	go r.run()
	return r, nil
}

func (r *Recorder) run() {
	defer close(r.done)
	for v := range r.sub.Out() {
		e := Entry{Event: v}
		if s, ok := v.(eventbus.Sequenced[any]); ok {
			e = Entry{Seq: s.Seq, Event: s.Event}
		}
		r.mu.Lock()
		r.entries = append(r.entries, e)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.ended = true
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Close ends the subscription and waits for the reading goroutine to
// return. What was recorded stays readable. Closing twice is harmless.
func (r *Recorder) Close() {
	_ = r.sub.Close()
	<-r.done
}

// Entries returns a copy of everything recorded so far, in delivery order.
func (r *Recorder) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.entries...)
}

// Events returns the recorded event values, in delivery order.
func (r *Recorder) Events() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]any, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.Event
	}
	return out
}

// Len returns how many events have been recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// Reset forgets everything recorded so far; later waits see only newer
// events.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.entries = nil
	r.mu.Unlock()
}

// Err reports why the Recorder's subscription ended (nil while it lives).
func (r *Recorder) Err() error { return r.sub.Err() }

// Wait blocks until cond holds over the recorded entries (it is called with
// a snapshot after every new event, never concurrently), the subscription
// ends, or timeout passes; it reports whether cond held. cond must not keep
// the slice.
func (r *Recorder) Wait(timeout time.Duration, cond func([]Entry) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.entries)
		ended, changed := r.ended, r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		if ended {
			return false
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// Of returns the recorded events of type T (or implementing interface T), in
// delivery order.
func Of[T any](r *Recorder) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return filter[T](r.entries)
}

func filter[T any](entries []Entry) []T {
	var out []T
	for _, e := range entries {
		if v, ok := e.Event.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// WaitFor waits until a recorded event of type T satisfies pred (nil
// matches any T) and returns the first such event, counting events recorded
// before the call. It fails the test (tb.Fatalf) if none arrives within
// timeout or the subscription ends first.
func WaitFor[T any](tb testing.TB, r *Recorder, pred func(T) bool, timeout time.Duration) T {
	tb.Helper()
	var found T
	ok := r.Wait(timeout, func(es []Entry) bool {
		for _, e := range es {
			if v, ok := e.Event.(T); ok && (pred == nil || pred(v)) {
				found = v
				return true
			}
		}
		return false
	})
	if !ok {
		tb.Fatalf("bustest: no %v matching the condition within %v (recorded %d events; %s)",
			reflect.TypeFor[T](), timeout, r.Len(), r.summary())
	}
	return found
}

// WaitCount waits until at least n events of type T have been recorded and
// returns the first n. It fails the test if they do not arrive within
// timeout.
func WaitCount[T any](tb testing.TB, r *Recorder, n int, timeout time.Duration) []T {
	tb.Helper()
	var got []T
	ok := r.Wait(timeout, func(es []Entry) bool {
		got = filter[T](es)
		return len(got) >= n
	})
	if !ok {
		tb.Fatalf("bustest: %d of %d %v events within %v (%s)", len(got), n, reflect.TypeFor[T](), timeout, r.summary())
	}
	return got[:n]
}

// WaitForNone checks that no recorded event of type T satisfies pred once
// the barrier event (an event of type B matching until, emitted after
// everything the test wants to rule out) has been recorded. It turns "X did
// not happen" into a wait on something that did, without a sleep. It fails
// the test if the barrier does not arrive within timeout or a matching T
// was recorded before it.
func WaitForNone[T, B any](tb testing.TB, r *Recorder, pred func(T) bool, until func(B) bool, timeout time.Duration) {
	tb.Helper()
	var bad *T
	ok := r.Wait(timeout, func(es []Entry) bool {
		for _, e := range es {
			if v, ok := e.Event.(T); ok && (pred == nil || pred(v)) {
				bad = &v
				return true
			}
			if v, ok := e.Event.(B); ok && (until == nil || until(v)) {
				return true
			}
		}
		return false
	})
	switch {
	case !ok:
		tb.Fatalf("bustest: barrier %v not recorded within %v (%s)", reflect.TypeFor[B](), timeout, r.summary())
	case bad != nil:
		tb.Fatalf("bustest: unexpected %v %+v recorded", reflect.TypeFor[T](), *bad)
	}
}

// summary counts the recorded events by type, for failure messages.
func (r *Recorder) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[string]int{}
	var order []string
	for _, e := range r.entries {
		k := fmt.Sprintf("%T", e.Event)
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	s := ""
	for i, k := range order {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s x%d", k, counts[k])
	}
	if s == "" {
		return "nothing recorded"
	}
	return s
}
