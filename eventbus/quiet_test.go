package eventbus

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
)

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// isReady reports whether ch can be received from now (it takes the token).
func isReady(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A Quiet type's events wait without waking the reader; the next event of
// another type wakes it, and it takes everything in emission order.
func TestQuietWaitsForALoudEvent(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(b.SubscribeBatch([]any{new(evtA), new(evtB)}, BufSize(16), Quiet(new(evtA))))
	defer s.Close()
	if q := b.Subscriptions()[0].Quiet; len(q) != 1 || q[0] != reflect.TypeFor[evtA]() {
		t.Fatalf("introspection: Quiet = %v", q)
	}
	ea, eb := must(NewEmitter[evtA](b)), must(NewEmitter[evtB](b))
	buf := make([]any, 16)
	if got, _ := s.TryNext(buf); len(got) != 0 {
		t.Fatalf("queued at start: %v", got)
	}
	ready := s.Ready()
	for i := range 3 {
		noErr(t, ea.Emit(evtA{N: i}))
	}
	if isReady(ready) {
		t.Fatal("quiet events woke the reader")
	}
	noErr(t, eb.Emit(evtB{S: "loud"}))
	if !isReady(ready) {
		t.Fatal("an event of another type did not wake the reader")
	}
	got, err := s.TryNext(buf)
	if err != nil || len(got) != 4 || got[0] != (evtA{N: 0}) || got[2] != (evtA{N: 2}) || got[3] != (evtB{S: "loud"}) {
		t.Fatalf("TryNext = %v, %v; want the three quiet events, then the loud one", got, err)
	}
	// Taken: a new quiet event does not wake again.
	ready = s.Ready()
	noErr(t, ea.Emit(evtA{N: 3}))
	if isReady(ready) {
		t.Fatal("a quiet event woke the reader after a drain")
	}
	if isReady(s.Ready()) { // as a reader looping over Ready and TryNext asks
		t.Fatal("Ready fires for a queued quiet event")
	}
	// But the reader takes it whenever it looks.
	if got, _ := s.TryNext(buf); len(got) != 1 || got[0] != (evtA{N: 3}) {
		t.Fatalf("TryNext = %v", got)
	}
}

// Quiet events wake the reader once the queue holds half its buffer, so
// that a Block emitter never waits on a reader nobody woke.
func TestQuietWakesAtHalfFull(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(b.SubscribeBatch([]any{new(evtA), new(evtB)}, BufSize(8), WithPolicy(Block), Quiet(new(evtA))))
	defer s.Close()
	ea := must(NewEmitter[evtA](b))
	ready := s.Ready()
	for i := range 3 {
		noErr(t, ea.Emit(evtA{N: i}))
	}
	if isReady(ready) {
		t.Fatal("woke below half full")
	}
	noErr(t, ea.Emit(evtA{N: 3}))
	if !isReady(ready) {
		t.Fatal("not woken at half full (4 of 8)")
	}
	// A Block emitter far past the buffer is never stuck: a reader
	// parked in Next is woken at every half. The last few quiet events
	// wait for the loud one at the end.
	const n = 1000
	eb := must(NewEmitter[evtB](b))
	var got []any
	within(t, "reading 1004 quiet events and a loud one", func() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 4; i < n+4; i++ {
				if err := ea.Emit(evtA{N: i}); err != nil {
					t.Error(err)
					return
				}
			}
			if err := eb.Emit(evtB{S: "end"}); err != nil {
				t.Error(err)
			}
		}()
		buf := make([]any, 8)
		for len(got) == 0 || got[len(got)-1] != (evtB{S: "end"}) {
			batch, err := s.Next(context.Background(), buf)
			if err != nil {
				t.Error(err)
				return
			}
			got = append(got, batch...)
		}
		wg.Wait()
	})
	if len(got) != n+5 {
		t.Fatalf("read %d events, want %d", len(got), n+5)
	}
	for i, ev := range got[:n+4] {
		if ev != (evtA{N: i}) {
			t.Fatalf("event %d is %v", i, ev)
		}
	}
}

// QuietLimit moves the wake-up from half the buffer to its n.
func TestQuietLimit(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(b.SubscribeBatch([]any{new(evtA), new(evtB)}, BufSize(64), Quiet(new(evtA)), QuietLimit(3)))
	defer s.Close()
	ea := must(NewEmitter[evtA](b))
	ready := s.Ready()
	noErr(t, ea.Emit(evtA{N: 0}))
	noErr(t, ea.Emit(evtA{N: 1}))
	if isReady(ready) {
		t.Fatal("woke below the limit")
	}
	noErr(t, ea.Emit(evtA{N: 2}))
	if !isReady(ready) {
		t.Fatal("not woken at the limit (3 of 64; half would be 32)")
	}
}

// A reader parked in Next stays parked for quiet events and returns them
// with the loud one that wakes it; Close wakes it too.
func TestQuietNextParks(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(b.SubscribeBatch([]any{new(evtA), new(evtB)}, BufSize(64), Quiet(new(evtA))))
	ea, eb := must(NewEmitter[evtA](b)), must(NewEmitter[evtB](b))
	r := s.r
	type result struct {
		got []any
		err error
	}
	next := func() <-chan result {
		c := make(chan result, 1)
		go func() {
			got, err := s.Next(context.Background(), make([]any, 64))
			c <- result{append([]any(nil), got...), err}
		}()
		return c
	}
	parked := func() { t.Helper(); waitFor(t, "the reader to park", r.readerWaits.Load) }
	res := next()
	parked()
	noErr(t, ea.Emit(evtA{N: 1}))
	if !r.readerWaits.Load() || len(r.wake) != 0 {
		t.Fatal("a quiet event woke the parked reader")
	}
	noErr(t, eb.Emit(evtB{S: "x"}))
	var got result
	within(t, "Next", func() { got = <-res })
	if got.err != nil || len(got.got) != 2 || got.got[0] != (evtA{N: 1}) || got.got[1] != (evtB{S: "x"}) {
		t.Fatalf("Next = %v, %v", got.got, got.err)
	}
	res = next()
	parked()
	noErr(t, ea.Emit(evtA{N: 2}))
	noErr(t, s.Close())
	within(t, "Next after Close", func() { got = <-res })
	if got.err != nil || len(got.got) != 1 || got.got[0] != (evtA{N: 2}) {
		t.Fatalf("Next after Close = %v, %v; want the queued quiet event", got.got, got.err)
	}
}

// Quiet is refused where it cannot apply or names a type the subscription
// does not receive.
func TestQuietRefused(t *testing.T) {
	b := New()
	defer b.Close()
	cases := []struct {
		name string
		sub  func() error
	}{
		{"channel subscription", func() error {
			_, err := b.Subscribe([]any{new(evtA), new(evtB)}, Quiet(new(evtA)))
			return err
		}},
		{"typed batch of one type", func() error {
			_, err := SubscribeBatch[evtA](b, Quiet(new(evtA)))
			return err
		}},
		{"batch of one type", func() error {
			_, err := b.SubscribeBatch(new(evtA), Quiet(new(evtA)))
			return err
		}},
		{"a type not received", func() error {
			_, err := b.SubscribeBatch([]any{new(evtA), new(evtB)}, Quiet(new(evtC)))
			return err
		}},
		{"not a pointer", func() error {
			_, err := b.SubscribeBatch([]any{new(evtA), new(evtB)}, Quiet(evtA{}))
			return err
		}},
		{"QuietLimit 0", func() error {
			_, err := b.SubscribeBatch([]any{new(evtA), new(evtB)}, Quiet(new(evtA)), QuietLimit(0))
			return err
		}},
		{"QuietLimit above the buffer", func() error {
			_, err := b.SubscribeBatch([]any{new(evtA), new(evtB)}, BufSize(8), Quiet(new(evtA)), QuietLimit(9))
			return err
		}},
		{"QuietLimit without Quiet", func() error {
			_, err := b.SubscribeBatch([]any{new(evtA), new(evtB)}, QuietLimit(4))
			return err
		}},
	}
	for _, c := range cases {
		if err := c.sub(); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: %v, want ErrBadOption", c.name, err)
		}
	}
	// An interface type's batch subscription takes it.
	s, err := SubscribeBatch[describer](b, Quiet(new(evtB)))
	if err != nil {
		t.Fatalf("interface-typed batch: %v", err)
	}
	_ = s.Close()
}
