package eventbus

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestBufSizeAboveMaximumIsBadOption(t *testing.T) {
	b := New()
	defer b.Close()
	for _, n := range []int{MaxBufSize + 1, 1 << 40, math.MaxInt} {
		if _, err := Subscribe[evtA](b, BufSize(n)); !errors.Is(err, ErrBadOption) {
			t.Errorf("typed BufSize(%d) = %v, want ErrBadOption", n, err)
		}
		if _, err := b.Subscribe(new(evtA), BufSize(n)); !errors.Is(err, ErrBadOption) {
			t.Errorf("event.Bus BufSize(%d) = %v, want ErrBadOption", n, err)
		}
	}
	s, err := Subscribe[evtA](b, BufSize(MaxBufSize))
	if err != nil {
		t.Fatalf("BufSize(MaxBufSize) = %v", err)
	}
	s.Close()
	if len(b.Subscriptions()) != 0 {
		t.Fatal("a refused subscription is listed")
	}
}

func TestEmptyTypeListIsAnError(t *testing.T) {
	b := New()
	defer b.Close()
	for _, list := range []any{[]any{}, []any(nil)} {
		if _, err := b.Subscribe(list); !errors.Is(err, ErrNoTypes) {
			t.Errorf("Subscribe(%#v) = %v, want ErrNoTypes", list, err)
		}
	}
	if len(b.Subscriptions()) != 0 {
		t.Fatal("a refused subscription is listed")
	}
}

// countingHandler counts log records.
type countingHandler struct {
	slog.Handler
	n *atomic.Int64
}

func (h countingHandler) Handle(context.Context, slog.Record) error { h.n.Add(1); return nil }
func (h countingHandler) Enabled(context.Context, slog.Level) bool  { return true }

func TestNotifierPanicsAreCountedAndRateLimited(t *testing.T) {
	var lines atomic.Int64
	b := New(WithLogger(slog.New(countingHandler{n: &lines})))
	defer b.Close()
	sub := must(Subscribe[evtA](b, BufSize(1), OnDrop(func(DropNotice) { panic("boom") })))
	defer sub.Close()
	em := must(NewEmitter[evtA](b))
	const n = 1001 // one fits, 1000 drop
	for i := range n {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.NotifierPanics(); got != n-1 {
		t.Fatalf("NotifierPanics = %d, want %d", got, n-1)
	}
	// Logged at 1, 2, 4, ..., 512: 10 lines for 1000 panics.
	if got := lines.Load(); got != 10 {
		t.Fatalf("%d log lines for %d panics, want 10", got, n-1)
	}
	if sub.Dropped() != n-1 {
		t.Fatalf("Dropped = %d, want %d", sub.Dropped(), n-1)
	}
}

// TestNotifierGoexitReleasesTheLock: a notifier that ends its goroutine
// (runtime.Goexit, as t.FailNow does) must not leave the type's lock held:
// afterwards the type can still be subscribed to, emitted and closed.
func TestNotifierGoexitReleasesTheLock(t *testing.T) {
	for _, api := range []string{"typed", "event.Bus"} {
		t.Run(api, func(t *testing.T) {
			b := New(WithLogger(slog.New(countingHandler{n: new(atomic.Int64)})))
			defer b.Close()
			sub := must(Subscribe[evtA](b, BufSize(1), OnDrop(func(DropNotice) { runtime.Goexit() })))
			typed := must(NewEmitter[evtA](b))
			boxed := must(b.Emitter(new(evtA)))
			emit := func(v evtA) error { return typed.Emit(v) }
			if api == "event.Bus" {
				emit = func(v evtA) error { return boxed.Emit(v) }
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = emit(evtA{1}) // fits
				_ = emit(evtA{2}) // dropped: the notifier ends this goroutine
				t.Error("the emitting goroutine survived runtime.Goexit")
			}()
			<-done
			within(t, "Subscribe and Close after a Goexit in a notifier", func() {
				other := must(Subscribe[evtA](b, BufSize(4)))
				if err := emit(evtA{3}); err != nil {
					t.Error(err)
				}
				if v := recv(t, other.Out()); v.N != 3 {
					t.Errorf("got %+v", v)
				}
				other.Close()
				sub.Close()
			})
		})
	}
}
