package eventbus

import (
	"context"
	"errors"
	"log/slog"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// infoOf returns the introspection record of the subscription named name.
func infoOf(t *testing.T, b *Bus, name string) SubscriptionInfo {
	t.Helper()
	for _, in := range b.Subscriptions() {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no subscription %q", name)
	return SubscriptionInfo{}
}

// A stalled Drop member leaves the shared ring with its first BufSize
// events and drops the rest; its healthy neighbours get every event; once
// it read its queue it rejoins the ring and gets the later events in order.
func TestLaneStalledDropMemberLeavesAndRejoins(t *testing.T) {
	b := New()
	defer b.Close()
	healthy := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(64), Name("healthy")))
	stalled := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(4), Name("stalled")))
	em := must(NewEmitter[evtA](b))
	for i := range 20 {
		_ = em.Emit(evtA{i})
	}
	if stalled.Dropped() != 16 || stalled.Queued() != 4 {
		t.Fatalf("stalled: dropped %d queued %d, want 16 and 4", stalled.Dropped(), stalled.Queued())
	}
	if got := nextAll(t, stalled, 4, 16); got[0].N != 0 || got[3].N != 3 {
		t.Fatalf("stalled kept %v, want the first four", got)
	}
	if !stalled.r.shared.Load() && !stalled.r.lnp.Load().rejoin.Load() {
		t.Fatal("a drained private member did not ask to rejoin")
	}
	for i := 20; i < 23; i++ {
		_ = em.Emit(evtA{i})
	}
	if !stalled.r.shared.Load() {
		t.Fatal("the drained member did not rejoin the shared ring")
	}
	if got := nextAll(t, stalled, 3, 16); got[0].N != 20 || got[2].N != 22 {
		t.Fatalf("after rejoining got %v, want 20 21 22", got)
	}
	got := nextAll(t, healthy, 23, 64)
	for i, ev := range got {
		if ev.N != i {
			t.Fatalf("healthy got %v", got)
		}
	}
	if in := infoOf(t, b, "stalled"); in.Delivered != 7 || in.Dropped != 16 || in.Queued != 0 {
		t.Fatalf("stalled introspection %+v", in)
	}
	if in := infoOf(t, b, "healthy"); in.Delivered != 23 || in.Dropped != 0 || in.Queued != 0 {
		t.Fatalf("healthy introspection %+v", in)
	}
}

// A Kill member that falls a full queue behind is ended; what it had queued
// stays readable; the other members go on in the shared ring.
func TestLaneKillMember(t *testing.T) {
	b := New()
	defer b.Close()
	kill := must(SubscribeBatch[evtA](b, WithPolicy(Kill), BufSize(2)))
	other := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(8)))
	em := must(NewEmitter[evtA](b))
	for i := range 5 {
		_ = em.Emit(evtA{i})
	}
	if got := nextAll(t, kill, 2, 4); got[0].N != 0 || got[1].N != 1 {
		t.Fatalf("killed member kept %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := kill.Next(ctx, make([]evtA, 4)); !errors.Is(err, ErrKilled) {
		t.Fatalf("Next = %v, want ErrKilled", err)
	}
	if got := nextAll(t, other, 5, 8); got[4].N != 4 {
		t.Fatalf("other got %v", got)
	}
}

// A member with a larger buffer than the ring grows it; events a smaller
// member has not read yet survive the growth.
func TestLaneGrowsForALargerMember(t *testing.T) {
	b := New()
	defer b.Close()
	small := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(4)))
	em := must(NewEmitter[evtA](b))
	for i := range 3 {
		_ = em.Emit(evtA{i})
	}
	large := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(100)))
	if n := len(small.r.lnp.Load().buf.Load().slots); n < 100 {
		t.Fatalf("ring has %d slots after a member of 100 joined", n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 3; i < 60; i++ {
			_ = em.Emit(evtA{i})
		}
	}()
	got := nextAll(t, small, 60, 3)
	within(t, "emitter", func() { <-done })
	for i, ev := range got {
		if ev.N != i {
			t.Fatalf("small member got %v", got)
		}
	}
	lg := nextAll(t, large, 57, 100)
	if lg[0].N != 3 || lg[56].N != 59 {
		t.Fatalf("large member got %v", lg)
	}
}

// A stateful emitter's last event reaches a new member first (from its
// private ring), then the member reads the shared ring.
func TestLaneStatefulReplayThenShared(t *testing.T) {
	b := New()
	defer b.Close()
	em := must(NewEmitter[evtA](b, Stateful))
	_ = em.Emit(evtA{0})
	s := must(SubscribeBatch[evtA](b, BufSize(4)))
	other := must(SubscribeBatch[evtA](b, BufSize(4)))
	for i := 1; i < 30; i++ {
		_ = em.Emit(evtA{i})
		got := nextAll(t, s, 1, 1)
		if i == 1 {
			// The replay, then event 1.
			if got[0].N != 0 {
				t.Fatalf("first read %v, want the replayed 0", got)
			}
			got = nextAll(t, s, 1, 1)
		}
		if got[0].N != i {
			t.Fatalf("event %d: got %v", i, got)
		}
		nextAll(t, other, 1, 1)
		if i == 1 {
			nextAll(t, other, 1, 1) // its replay
		}
	}
	if !s.r.shared.Load() {
		t.Fatal("the replayed member never joined the shared ring")
	}
}

// The event.Bus API's emitter reaches batch members through the ring.
func TestLaneAnyEmitter(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, BufSize(8)))
	em := must(b.Emitter(new(evtA)))
	typed := must(NewEmitter[evtA](b))
	_ = em.Emit(evtA{1})
	_ = typed.Emit(evtA{2})
	if got := nextAll(t, s, 2, 8); got[0].N != 1 || got[1].N != 2 {
		t.Fatalf("got %v", got)
	}
	if ti := b.Types()[0]; ti.Emitted != 2 {
		t.Fatalf("types %+v", ti)
	}
}

// A notifier that calls runtime.Goexit while the ring hands an event to a
// private member leaves the ring and its word usable.
func TestLaneNotifierGoexit(t *testing.T) {
	b := New(WithLogger(slog.New(countingHandler{n: new(atomic.Int64)})))
	defer b.Close()
	sub := must(SubscribeBatch[evtA](b, BufSize(1), OnDrop(func(DropNotice) { runtime.Goexit() })))
	em := must(NewEmitter[evtA](b))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = em.Emit(evtA{1}) // fits
		_ = em.Emit(evtA{2}) // dropped: the notifier ends this goroutine
		t.Error("the emitting goroutine survived runtime.Goexit")
	}()
	<-done
	within(t, "Subscribe, Emit and Close after a Goexit in a notifier", func() {
		other := must(SubscribeBatch[evtA](b, BufSize(4)))
		if err := em.Emit(evtA{3}); err != nil {
			t.Error(err)
		}
		if got := nextAll(t, other, 1, 4); got[0].N != 3 {
			t.Errorf("got %+v", got)
		}
		other.Close()
		sub.Close()
	})
}

// An Emit to many members costs one copy: no allocation, and 64 members
// take the same events.
func TestLaneFanoutDoesNotAllocate(t *testing.T) {
	b := New()
	defer b.Close()
	subs := make([]*BatchSubscription[evtA], 64)
	for i := range subs {
		subs[i] = must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(128)))
	}
	em := must(NewEmitter[evtA](b))
	buf := make([]evtA, 128)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(20, func() {
		for i := range 100 {
			_ = em.Emit(evtA{i})
		}
		for _, s := range subs {
			if got, _ := s.Next(ctx, buf); len(got) != 100 || got[99].N != 99 {
				t.Fatalf("got %d events", len(got))
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("100 Emits to 64 members and their reads allocate %.1f times, want 0", allocs)
	}
}

// runBatchInterleaving is runInterleaving for batch subscriptions: several
// emitters (typed, some through the event.Bus API) emit while members of
// every policy, with buffers of different sizes (the ring grows), read in
// batches of random size, stall, close early (Close or CloseAfterDrain) or
// read until the bus closes. Per member it checks: each emitter's events in
// order, no duplicates; Block members that live through every emit get
// every event; delivered (the bus's count) equals what arrived; for
// full-run members, delivered + dropped + abandoned equals what was
// emitted.
// runBatchInterleaving runs emitters emitting numbered events while members
// subscribe (some late), read, stall and close under random policies, and
// checks order, losses and counts. With single, there is one emitter, a
// SingleProducer one, alternating Emit and EmitMany.
func runBatchInterleaving(t *testing.T, seed int64, emitters, members, events int, single bool) {
	rng := rand.New(rand.NewSource(seed))
	b := New(WithNotifier(func(DropNotice) {}))
	type result struct {
		policy  Policy
		fullRun bool
		late    bool // subscribed while the emitters ran
		sub     *BatchSubscription[seqEvt]
		got     []seqEvt
		info    SubscriptionInfo // taken after the emitters finished, before Bus.Close
	}
	results := make([]*result, members)
	var wg sync.WaitGroup
	emitted := make(chan struct{}) // closed when every emitter returned
	start := make(chan struct{})   // closed when the emitters start
	var lateWG sync.WaitGroup
	for i := range members {
		policy := []Policy{Block, Drop, Kill, Notify}[rng.Intn(4)]
		buf := []int{0, 1, 3, 16, 64}[rng.Intn(5)]
		readFor := -1
		if rng.Intn(3) == 0 {
			readFor = 1 + rng.Intn(events*emitters)
		}
		stallAt := -1
		if policy != Block && rng.Intn(2) == 0 {
			stallAt = rng.Intn(events) // stop reading until the emitters are done
		}
		batch := 1 + rng.Intn(8)
		drain := rng.Intn(2) == 0
		late := rng.Intn(4) == 0
		r := &result{policy: policy, fullRun: readFor < 0, late: late}
		results[i] = r
		subscribe := func() {
			r.sub = must(SubscribeBatch[seqEvt](b, WithPolicy(policy), BufSize(buf), Name(string(rune('a'+i)))))
		}
		if !late {
			subscribe()
		} else {
			lateWG.Add(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if late {
				// Join while the emitters run (and their EmitMany
				// calls hold the ring's word for several events).
				<-start
				runtime.Gosched()
				subscribe()
				lateWG.Done()
			}
			s := r.sub
			bufv := make([]seqEvt, batch)
			ctx := context.Background()
			closed := false
			for {
				if stallAt >= 0 && len(r.got) >= stallAt {
					<-emitted
					stallAt = -1
				}
				got, err := s.Next(ctx, bufv)
				if err != nil {
					return
				}
				r.got = append(r.got, got...)
				if !closed && readFor >= 0 && len(r.got) >= readFor {
					closed = true
					if drain {
						go func() { _ = s.CloseAfterDrain(ctx) }()
					} else {
						_ = s.Close()
					}
				}
			}
		}()
	}
	var ewg sync.WaitGroup
	if single {
		emitters = 1
	}
	for e := range emitters {
		kind := e % 3 // 0: Emit, 1: the event.Bus API, 2: EmitMany
		var typed *Emitter[seqEvt]
		var boxed *AnyEmitter
		if single {
			typed = must(NewEmitter[seqEvt](b, SingleProducer()))
			kind = 3 // Emit and EmitMany, alternated
		} else {
			typed = must(NewEmitter[seqEvt](b))
			boxed = must(b.Emitter(new(seqEvt)))
		}
		chunks := rand.New(rand.NewSource(seed + int64(e)))
		ewg.Add(1)
		go func() {
			defer ewg.Done()
			if kind >= 2 {
				// EmitMany of random chunks; kind 3 also emits single
				// events between them.
				evs := make([]seqEvt, 0, 24)
				for n := 0; n < events; {
					if kind == 3 && chunks.Intn(2) == 0 {
						if err := typed.Emit(seqEvt{Emitter: e, N: n}); err != nil {
							t.Errorf("seed %d: Emit: %v", seed, err)
							return
						}
						n++
						continue
					}
					evs = evs[:0]
					for k := 1 + chunks.Intn(24); k > 0 && n < events; k-- {
						evs = append(evs, seqEvt{Emitter: e, N: n})
						n++
					}
					if got, err := typed.EmitMany(evs); err != nil || got != len(evs) {
						t.Errorf("seed %d: EmitMany of %d: %d, %v", seed, len(evs), got, err)
						return
					}
				}
				return
			}
			for n := range events {
				if kind == 1 {
					_ = boxed.Emit(seqEvt{Emitter: e, N: n})
				} else {
					_ = typed.Emit(seqEvt{Emitter: e, N: n})
				}
			}
		}()
	}
	close(start)
	within(t, "late members", lateWG.Wait)
	within(t, "emitters", ewg.Wait)
	// Full-run members that stalled read on now; wait until every live
	// member has read what it was given before taking the counts.
	close(emitted)
	for _, r := range results {
		if !r.fullRun {
			continue
		}
		waitFor(t, "a member to read its queue", func() bool { return r.sub.Queued() == 0 })
	}
	infos := b.Subscriptions()
	within(t, "bus Close", func() { b.Close() })
	within(t, "members", wg.Wait)
	for _, in := range infos {
		results[in.Name[0]-'a'].info = in
	}
	total := uint64(emitters * events)
	for i, r := range results {
		last := make(map[int]int)
		for _, ev := range r.got {
			prev, seen := last[ev.Emitter]
			if seen && ev.N <= prev {
				t.Fatalf("seed %d member %d (%v): emitter %d went %d -> %d", seed, i, r.policy, ev.Emitter, prev, ev.N)
			}
			want := 0
			if seen {
				want = prev + 1
			}
			if r.late && !seen {
				want = ev.N // a late member starts anywhere, then has no gap
			}
			if r.policy == Block && ev.N != want {
				t.Fatalf("seed %d member %d (block): emitter %d went %d -> %d (lost)", seed, i, ev.Emitter, prev, ev.N)
			}
			last[ev.Emitter] = ev.N
		}
		if !r.fullRun || r.policy == Kill && r.sub.Err() != nil && !errors.Is(r.sub.Err(), ErrClosed) {
			continue // closed or killed early: no longer listed
		}
		in := r.info
		if in.Delivered != uint64(len(r.got)) {
			t.Fatalf("seed %d member %d (%v): received %d, bus counted %d delivered (%+v)", seed, i, r.policy, len(r.got), in.Delivered, in)
		}
		if r.late {
			continue // attached at an unknown point: no total to compare with
		}
		if r.policy == Block && uint64(len(r.got)) != total {
			t.Fatalf("seed %d member %d (block): received %d of %d", seed, i, len(r.got), total)
		}
		if uint64(len(r.got))+in.Dropped+r.sub.r.abandoned.Load() != total {
			t.Fatalf("seed %d member %d (%v): delivered %d + dropped %d + abandoned %d != emitted %d",
				seed, i, r.policy, len(r.got), in.Dropped, r.sub.r.abandoned.Load(), total)
		}
	}
}

func TestLaneRandomInterleavings(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		runBatchInterleaving(t, seed, 1+int(seed%3), 1+int(seed%7), 300, false)
	}
}

// The same with one SingleProducer emitter: its fast path publishes
// without taking the ring's word, while members subscribe, read from
// other goroutines, stall, are moved out and back and close (run it with
// -race).
func TestLaneRandomInterleavingsSingleProducer(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		runBatchInterleaving(t, seed, 1, 1+int(seed%7), 400, true)
	}
}

// FuzzLaneInterleaving explores more schedules:
// go test -fuzz=FuzzLaneInterleaving ./eventbus
func FuzzLaneInterleaving(f *testing.F) {
	f.Add(int64(1), uint8(2), uint8(3), false)
	f.Add(int64(7), uint8(3), uint8(8), false)
	f.Add(int64(3), uint8(1), uint8(5), true)
	f.Fuzz(func(t *testing.T, seed int64, emitters, members uint8, single bool) {
		runBatchInterleaving(t, seed, 1+int(emitters%4), 1+int(members%8), 100, single)
	})
}

// SubscribeBatch[any] is a wildcard batch subscription: every type, also
// types first emitted after it subscribed.
func TestBatchAnyIsWildcard(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[any](b, BufSize(8), Name("all")))
	ea := must(NewEmitter[evtA](b))
	eb := must(b.Emitter(new(evtB)))
	_ = ea.Emit(evtA{1})
	_ = eb.Emit(evtB{"x"})
	got := nextAll(t, s, 2, 8)
	if got[0].(evtA).N != 1 || got[1].(evtB).S != "x" {
		t.Fatalf("got %v", got)
	}
	if in := infoOf(t, b, "all"); !in.Wildcard || in.Types != nil || in.Delivered != 2 {
		t.Fatalf("introspection %+v", in)
	}
}
