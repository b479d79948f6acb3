package eventbus

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// nextAll reads n events from s with Next, in batches of up to batch.
func nextAll[E any](t *testing.T, s *BatchSubscription[E], n, batch int) []E {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	buf := make([]E, batch)
	var got []E
	for len(got) < n {
		b, err := s.Next(ctx, buf)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, b...)
	}
	return got
}

func TestBatchDeliversInOrderUnderBlock(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(8)))
	defer s.Close()
	const emitters, events = 3, 2000
	var wg sync.WaitGroup
	for e := range emitters {
		em := must(NewEmitter[seqEvt](b))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range events {
				if err := em.Emit(seqEvt{Emitter: e, N: i}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	got := nextAll(t, s, emitters*events, 5)
	within(t, "emitters", wg.Wait)
	next := make([]int, emitters)
	for _, ev := range got {
		if ev.N != next[ev.Emitter] {
			t.Fatalf("emitter %d: got %d, want %d (lost, duplicated or reordered)", ev.Emitter, ev.N, next[ev.Emitter])
		}
		next[ev.Emitter]++
	}
	if info := b.Subscriptions()[0]; info.Delivered != emitters*events || info.Queued != 0 || info.Dropped != 0 {
		t.Fatalf("introspection %+v", info)
	}
}

func TestBatchPolicies(t *testing.T) {
	b := New()
	defer b.Close()
	var notices []DropNotice
	drop := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(4), Name("drop")))
	notify := must(SubscribeBatch[evtA](b, BufSize(4), OnDrop(func(n DropNotice) { notices = append(notices, n) })))
	kill := must(SubscribeBatch[evtA](b, WithPolicy(Kill), BufSize(4)))
	em := must(NewEmitter[evtA](b))
	for i := range 10 {
		_ = em.Emit(evtA{i})
	}
	if drop.Dropped() != 6 || drop.Queued() != 4 {
		t.Fatalf("drop: dropped %d queued %d, want 6 and 4", drop.Dropped(), drop.Queued())
	}
	if len(notices) != 6 || notices[5].Dropped != 6 || notify.Dropped() != 6 {
		t.Fatalf("notify: %d notices, dropped %d", len(notices), notify.Dropped())
	}
	got := nextAll(t, drop, 4, 16)
	for i, ev := range got {
		if ev.N != i {
			t.Fatalf("drop kept %v, want the first four", got)
		}
	}
	// Kill: the four queued events stay readable, then Next reports ErrKilled.
	if got := nextAll(t, kill, 4, 16); got[3].N != 3 {
		t.Fatalf("kill queue %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := kill.Next(ctx, make([]evtA, 4)); !errors.Is(err, ErrKilled) {
		t.Fatalf("Next on a killed subscription = %v, want ErrKilled", err)
	}
	within(t, "killed subscription's Done", func() { <-kill.Done() })
}

func TestBatchBlockCloseReleasesEmitter(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(1)))
	em := must(NewEmitter[evtA](b))
	_ = em.Emit(evtA{0})
	done := make(chan error, 1)
	go func() { done <- em.Emit(evtA{1}) }() // blocks: the queue is full
	waitFor(t, "an emitter blocked on the full queue", func() bool {
		return s.r.writersWait.Load() > 0
	})
	within(t, "Close with an emitter blocked on the subscription", func() { s.Close() })
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	// The queued event stays readable, then the end is reported.
	got := nextAll(t, s, 1, 4)
	if got[0].N != 0 {
		t.Fatalf("got %v", got)
	}
	if _, err := s.Next(context.Background(), make([]evtA, 4)); !errors.Is(err, ErrSubscriptionClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
	if s.r.abandoned.Load() != 1 {
		t.Fatalf("abandoned %d, want the blocked event", s.r.abandoned.Load())
	}
}

func TestBatchBlockWakesAParkedEmitter(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(2)))
	defer s.Close()
	const n = 500
	var wg sync.WaitGroup
	for range 2 { // two emitters may both park on the same full queue
		em := must(NewEmitter[evtA](b))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				_ = em.Emit(evtA{i})
			}
		}()
	}
	nextAll(t, s, 2*n, 1)
	within(t, "emitters", wg.Wait)
}

func TestBatchSequencedAndInterface(t *testing.T) {
	b := New()
	defer b.Close()
	seqA := must(SubscribeBatchSequenced[evtA](b, BufSize(16)))
	iface := must(SubscribeBatch[describer](b, BufSize(16)))
	ea := must(NewEmitter[evtA](b))
	eb := must(NewEmitter[evtB](b))
	boxed := must(b.Emitter(new(evtA)))
	_ = ea.Emit(evtA{1})
	_ = eb.Emit(evtB{"x"})
	_ = boxed.Emit(evtA{2})
	got := nextAll(t, seqA, 2, 8)
	if got[0].Event.N != 1 || got[1].Event.N != 2 || got[0].Seq == 0 || got[1].Seq <= got[0].Seq {
		t.Fatalf("sequenced batch got %+v", got)
	}
	if d := nextAll(t, iface, 1, 8); d[0].Describe() != "B:x" {
		t.Fatalf("interface batch got %v", d)
	}
}

func TestBatchFuncHandler(t *testing.T) {
	b := New()
	var mu sync.Mutex
	var got []int
	batches := 0
	s := must(SubscribeBatchFunc(b, func(evs []evtA) {
		mu.Lock()
		defer mu.Unlock()
		batches++
		for _, e := range evs {
			got = append(got, e.N)
		}
	}, WithPolicy(Block), BufSize(64)))
	em := must(NewEmitter[evtA](b))
	for i := range 1000 {
		_ = em.Emit(evtA{i})
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.CloseAfterDrain(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1000 {
		t.Fatalf("handler got %d events, want 1000", len(got))
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("handler order broken at %d: %d", i, n)
		}
	}
	if batches > 1000 || batches < 1 {
		t.Fatalf("%d batches", batches)
	}
	b.Close()
	if _, err := SubscribeBatchFunc[evtA](New(), nil); !errors.Is(err, ErrBadOption) {
		t.Fatalf("nil handler = %v", err)
	}
}

func TestBatchCloseAfterDrain(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, BufSize(8)))
	em := must(NewEmitter[evtA](b))
	for i := range 5 {
		_ = em.Emit(evtA{i})
	}
	result := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		result <- s.CloseAfterDrain(ctx)
	}()
	// New deliveries stop as soon as the subscription ended.
	waitFor(t, "the subscription to end", func() bool { return s.r.ended.Load() })
	_ = em.Emit(evtA{99})
	got := nextAll(t, s, 5, 2)
	for i, e := range got {
		if e.N != i {
			t.Fatalf("drained %v", got)
		}
	}
	if err := recv(t, result); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(context.Background(), make([]evtA, 1)); !errors.Is(err, ErrSubscriptionClosed) {
		t.Fatalf("Next after drain = %v", err)
	}
	// A reader that never comes: ctx ends the wait.
	s2 := must(SubscribeBatch[evtA](b, BufSize(8)))
	_ = em.Emit(evtA{1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s2.CloseAfterDrain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("CloseAfterDrain with nobody reading = %v", err)
	}
}

func TestBatchNextHonoursContextAndBusClose(t *testing.T) {
	b := New()
	s := must(SubscribeBatch[evtA](b))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx, make([]evtA, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next on a cancelled ctx = %v", err)
	}
	if _, err := s.Next(context.Background(), nil); !errors.Is(err, ErrBadOption) {
		t.Fatalf("Next without a buffer = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Next(context.Background(), make([]evtA, 1))
		done <- err
	}()
	b.Close()
	if err := recv(t, done); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next across Bus.Close = %v", err)
	}
}

func TestBatchEmitDoesNotAllocate(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, BufSize(1024), WithPolicy(Drop)))
	seq := must(SubscribeBatchSequenced[evtA](b, BufSize(1024), WithPolicy(Drop)))
	em := must(NewEmitter[evtA](b))
	buf := make([]evtA, 64)
	sbuf := make([]Sequenced[evtA], 64)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			_ = em.Emit(evtA{i})
		}
		_, _ = s.Next(ctx, buf)
		_, _ = seq.Next(ctx, sbuf)
	})
	if allocs != 0 {
		t.Errorf("64 Emits and one batch read allocate %.1f times, want 0", allocs)
	}
}

func TestBatchStatefulReplay(t *testing.T) {
	b := New()
	defer b.Close()
	em := must(NewEmitter[evtA](b, Stateful))
	_ = em.Emit(evtA{7})
	s := must(SubscribeBatch[evtA](b))
	defer s.Close()
	if got := nextAll(t, s, 1, 4); got[0].N != 7 {
		t.Fatalf("replay %v", got)
	}
}

func TestChannelCloseAfterDrain(t *testing.T) {
	b := New()
	defer b.Close()
	typed := must(Subscribe[evtA](b, BufSize(8), WithPolicy(Block)))
	boxed := must(b.Subscribe(new(evtA), BufSize(8), WithPolicy(Block)))
	em := must(NewEmitter[evtA](b))
	for i := range 3 {
		_ = em.Emit(evtA{i})
	}
	for _, sub := range []interface {
		CloseAfterDrain(context.Context) error
	}{typed, boxed} {
		result := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			result <- sub.CloseAfterDrain(ctx)
		}()
		var got []int
		switch s := sub.(type) {
		case *Subscription[evtA]:
			for _, e := range closed(t, s.Out()) {
				got = append(got, e.N)
			}
		case *AnySubscription:
			for _, e := range closed(t, s.Out()) {
				got = append(got, e.(evtA).N)
			}
		}
		if len(got) != 3 || got[0] != 0 || got[2] != 2 {
			t.Fatalf("%T drained %v, want 0 1 2", sub, got)
		}
		if err := recv(t, result); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody reads: ctx ends the wait, and the queue stays readable.
	s := must(Subscribe[evtA](b, BufSize(8)))
	_ = em.Emit(evtA{9})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.CloseAfterDrain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("CloseAfterDrain with nobody reading = %v", err)
	}
	if v := recv(t, s.Out()); v.N != 9 {
		t.Fatalf("queued event lost: %v", v)
	}
}

// A Block batch subscription whose emitters keep waiting for room allocates
// nothing per wait.
func TestBatchBlockWaitsDoNotAllocate(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(1)))
	defer s.Close()
	em := must(NewEmitter[evtA](b))
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]evtA, 1)
		for {
			if _, err := s.Next(context.Background(), buf); err != nil {
				return
			}
		}
	}()
	// AllocsPerRun runs the function twice (one warm-up).
	allocs := testing.AllocsPerRun(1, func() {
		for i := range n {
			_ = em.Emit(evtA{i})
		}
	})
	s.Close()
	within(t, "reader", func() { <-done })
	if allocs > 5 {
		t.Fatalf("%v allocations for %d emits through a full Block queue", allocs, n)
	}
}
