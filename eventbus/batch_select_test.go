package eventbus

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// readWithReady reads s the way a driver with other channels does: TryNext,
// and when it is empty a select over Ready and a deadline, until enough
// holds for what it read.
func readWithReady[E any](t *testing.T, s *BatchSubscription[E], batch int, enough func(got []E) bool) []E {
	t.Helper()
	buf := make([]E, batch)
	// The deadline is one without progress: a slow machine may take long
	// over all the events, but Ready must fire within it of each one.
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	var got []E
	for !enough(got) {
		b, err := s.TryNext(buf)
		if err != nil {
			t.Fatalf("TryNext after %d events: %v", len(got), err)
		}
		if len(b) > 0 {
			got = append(got, b...)
			timer.Reset(deadline)
			continue
		}
		select {
		case <-s.Ready():
		case <-timer.C:
			t.Fatalf("Ready did not fire for %v: %d events read, %d dropped, %d queued", deadline, len(got), s.Dropped(), s.Queued())
		}
	}
	return got
}

func TestBusSubscribeBatchSeveralTypes(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(b.SubscribeBatch([]any{new(evtA), new(evtB)}, WithPolicy(Block), BufSize(4)))
	defer s.Close()
	ea, eb, ec := must(NewEmitter[evtA](b)), must(NewEmitter[evtB](b)), must(NewEmitter[evtC](b))
	const events = 500
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range events {
			_ = ea.Emit(evtA{N: i})
			_ = ec.Emit(evtC{N: i}) // not subscribed: never queued
		}
	}()
	go func() {
		defer wg.Done()
		for i := range events {
			_ = eb.Emit(evtB{S: string(rune('a' + i%26))})
		}
	}()
	got := nextAll(t, s, 2*events, 7)
	within(t, "emitters", wg.Wait)
	nextA, nb := 0, 0
	for _, ev := range got {
		switch e := ev.(type) {
		case evtA:
			if e.N != nextA {
				t.Fatalf("evtA %d, want %d: lost, duplicated or reordered", e.N, nextA)
			}
			nextA++
		case evtB:
			if want := string(rune('a' + nb%26)); e.S != want {
				t.Fatalf("evtB %q, want %q", e.S, want)
			}
			nb++
		default:
			t.Fatalf("unsubscribed event %T delivered", ev)
		}
	}
	if nextA != events || nb != events {
		t.Fatalf("got %d evtA and %d evtB, want %d each", nextA, nb, events)
	}
}

func TestBusSubscribeBatchRejectsBadTypes(t *testing.T) {
	b := New()
	defer b.Close()
	for _, tc := range []struct {
		name string
		arg  any
		want error
	}{
		{"empty list", []any{}, ErrNoTypes},
		{"value, not pointer", evtA{}, ErrNotPointer},
		{"nil in list", []any{new(evtA), nil}, ErrNotPointer},
	} {
		if _, err := b.SubscribeBatch(tc.arg); !errors.Is(err, tc.want) {
			t.Errorf("%s: SubscribeBatch = %v, want %v", tc.name, err, tc.want)
		}
	}
	if n := len(b.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions left by rejected calls", n)
	}
}

func TestBusSubscribeBatchWildcard(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(b.SubscribeBatch(Wildcard))
	defer s.Close()
	must(NewEmitter[evtC](b)).Emit(evtC{N: 7})
	got := nextAll(t, s, 1, 1)
	if e, ok := got[0].(evtC); !ok || e.N != 7 {
		t.Fatalf("wildcard batch got %#v", got[0])
	}
	if info := b.Subscriptions()[0]; !info.Wildcard {
		t.Fatalf("introspection does not say wildcard: %+v", info)
	}
}

func TestBatchTryNext(t *testing.T) {
	b := New()
	s := must(SubscribeBatch[evtA](b, BufSize(8)))
	if got, err := s.TryNext(make([]evtA, 4)); err != nil || len(got) != 0 {
		t.Fatalf("TryNext on an empty queue = %v, %v; want nothing, nil", got, err)
	}
	if _, err := s.TryNext(nil); !errors.Is(err, ErrBadOption) {
		t.Fatalf("TryNext without a buffer = %v", err)
	}
	em := must(NewEmitter[evtA](b))
	for i := range 3 {
		_ = em.Emit(evtA{N: i})
	}
	if got, err := s.TryNext(make([]evtA, 2)); err != nil || len(got) != 2 || got[0].N != 0 || got[1].N != 1 {
		t.Fatalf("TryNext = %v, %v; want events 0 and 1", got, err)
	}
	b.Close()
	// What was queued stays readable after the end, then the end is reported.
	if got, err := s.TryNext(make([]evtA, 4)); err != nil || len(got) != 1 || got[0].N != 2 {
		t.Fatalf("TryNext after Bus.Close = %v, %v; want event 2", got, err)
	}
	if _, err := s.TryNext(make([]evtA, 4)); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryNext on the ended, empty queue = %v, want ErrClosed", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed once TryNext found the ended queue empty")
	}
}

// TestBatchReadyNeverMissesAnEvent reads with TryNext and Ready while
// emitters run, for a subscription on its own ring (several types) and
// one sharing its type's lane (one concrete type), under Block (every
// event arrives) and Drop (what arrived plus what was dropped is what was
// emitted).
func TestBatchReadyNeverMissesAnEvent(t *testing.T) {
	for _, p := range []Policy{Block, Drop} {
		t.Run("own ring/"+p.String(), func(t *testing.T) {
			b := New(WithLogger(slog.New(countingHandler{n: new(atomic.Int64)})))
			defer b.Close()
			s := must(b.SubscribeBatch([]any{new(evtA), new(evtB)}, WithPolicy(p), BufSize(8)))
			readAllWithReady(t, b, s, p)
		})
		t.Run("lane/"+p.String(), func(t *testing.T) {
			b := New(WithLogger(slog.New(countingHandler{n: new(atomic.Int64)})))
			defer b.Close()
			readAllWithReady(t, b, must(SubscribeBatch[evtA](b, WithPolicy(p), BufSize(8))), p)
		})
	}
}

func readAllWithReady[E any](t *testing.T, b *Bus, s *BatchSubscription[E], p Policy) {
	t.Helper()
	const emitters, events = 3, 3000
	var wg sync.WaitGroup
	for e := range emitters {
		em := must(NewEmitter[evtA](b))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range events {
				_ = em.Emit(evtA{N: e*events + i})
			}
		}()
	}
	got := len(readWithReady(t, s, 16, func(got []E) bool {
		return uint64(len(got))+s.Dropped() == emitters*events
	}))
	within(t, "emitters", wg.Wait)
	if p == Block && got != emitters*events {
		t.Fatalf("Block: read %d of %d", got, emitters*events)
	}
	_ = s.Close()
}

func TestBatchReadyFiresOnEnd(t *testing.T) {
	b := New()
	s := must(SubscribeBatch[evtA](b))
	ready := s.Ready()
	select {
	case <-ready:
		t.Fatal("Ready fired with nothing queued")
	default:
	}
	b.Close()
	within(t, "Ready after Bus.Close", func() { <-ready })
	if _, err := s.TryNext(make([]evtA, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryNext after the end = %v", err)
	}
	within(t, "Ready once ended", func() { <-s.Ready() })
}

// A stale token does not fire Ready, and events read with Ready keep
// their order.
func TestBatchReadyIgnoresAStaleToken(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, BufSize(64), WithPolicy(Block)))
	defer s.Close()
	em := must(NewEmitter[evtA](b))
	// A reader that armed Ready, then served another channel instead,
	// leaves a token behind for the emit that follows; the next Ready must
	// not fire on that stale token once the event is taken.
	_ = s.Ready()
	_ = em.Emit(evtA{N: 1})
	if got, _ := s.TryNext(make([]evtA, 4)); len(got) != 1 {
		t.Fatalf("TryNext = %v", got)
	}
	select {
	case <-s.Ready():
		t.Fatal("Ready fired on a stale token with nothing queued")
	default:
	}
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for i := range 1000 {
			_ = em.Emit(evtA{N: i})
		}
	}()
	got := readWithReady(t, s, 8, func(got []evtA) bool { return len(got) >= 1000 })
	within(t, "the emitter", func() { <-emitted })
	for i, ev := range got {
		if ev.N != i {
			t.Fatalf("event %d is %d: lost, duplicated or reordered", i, ev.N)
		}
	}
}
