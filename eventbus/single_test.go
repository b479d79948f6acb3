package eventbus

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A single-producer emitter is its type's only emitter: making one beside
// another emitter, or another beside it, is ErrSingleProducer; after its
// Close the type takes other emitters again. Other types are not affected.
func TestSingleProducerIsTheOnlyEmitter(t *testing.T) {
	b := New()
	defer b.Close()
	plain := must(NewEmitter[evtA](b))
	if _, err := NewEmitter[evtA](b, SingleProducer()); !errors.Is(err, ErrSingleProducer) {
		t.Fatalf("SingleProducer beside a live emitter: %v, want ErrSingleProducer", err)
	}
	_ = plain.Close()
	sp := must(NewEmitter[evtA](b, SingleProducer()))
	if _, err := NewEmitter[evtA](b); !errors.Is(err, ErrSingleProducer) {
		t.Fatalf("NewEmitter beside a single-producer emitter: %v, want ErrSingleProducer", err)
	}
	if _, err := NewEmitter[evtA](b, SingleProducer()); !errors.Is(err, ErrSingleProducer) {
		t.Fatalf("a second single-producer emitter: %v, want ErrSingleProducer", err)
	}
	if _, err := b.Emitter(new(evtA)); !errors.Is(err, ErrSingleProducer) {
		t.Fatalf("Bus.Emitter beside a single-producer emitter: %v, want ErrSingleProducer", err)
	}
	if st := StatOf[evtA](b); st.Emitters != 1 {
		t.Fatalf("emitters %d after the refused ones, want 1", st.Emitters)
	}
	// Another type is free.
	other := must(NewEmitter[evtB](b))
	_ = other.Close()
	_ = sp.Close()
	_ = sp.Close() // twice is harmless and releases nothing more
	again := must(NewEmitter[evtA](b))
	_ = again.Close()
	// The event.Bus API has no single-producer emitter.
	if _, err := b.Emitter(new(evtA), SingleProducer()); !errors.Is(err, ErrBadOption) {
		t.Fatalf("Bus.Emitter with SingleProducer: %v, want ErrBadOption", err)
	}
	// A stateful single-producer emitter is allowed (it takes the
	// ordinary path) and replays.
	st := must(NewEmitter[evtA](b, SingleProducer(), Stateful))
	_ = st.Emit(evtA{5})
	s := must(SubscribeBatch[evtA](b))
	if got := nextAll(t, s, 1, 4); got[0].N != 5 {
		t.Fatalf("stateful replay %v", got)
	}
	_ = st.Close()
	if err := st.Emit(evtA{6}); !errors.Is(err, ErrEmitterClosed) {
		t.Fatalf("Emit after Close = %v", err)
	}
}

// emitsWithoutEmu emits v on em while the test holds em's node's emu,
// which every Emit but the single-producer fast path takes: it fails t
// if the Emit had to wait for it.
func emitsWithoutEmu(t *testing.T, em *Emitter[evtA], v evtA) {
	t.Helper()
	em.n.emu.Lock()
	done := make(chan error, 1)
	go func() { done <- em.Emit(v) }()
	select {
	case err := <-done:
		em.n.emu.Unlock()
		if err != nil {
			t.Fatalf("Emit(%v): %v", v, err)
		}
	case <-time.After(deadline):
		em.n.emu.Unlock()
		<-done
		t.Fatalf("Emit(%v) waited for the node's emu: not on the fast path", v)
	}
}

// With only batch subscriptions of the type, a single-producer Emit takes
// its own fast path (no word), and any change of the subscriptions sends it
// through the slow path once, after which it is back on the fast path.
func TestSingleProducerFastPath(t *testing.T) {
	b := New()
	defer b.Close()
	s1 := must(SubscribeBatch[evtA](b, BufSize(8), WithPolicy(Block)))
	em := must(NewEmitter[evtA](b, SingleProducer()))
	c := em.sp
	_ = em.Emit(evtA{0}) // slow path: fills the cache
	ln := s1.r.lnp.Load()
	if !c.ok || c.seq != ln.seq.Load() {
		t.Fatalf("after the first Emit: cache ok %v seq %d, lane seq %d", c.ok, c.seq, ln.seq.Load())
	}
	for i := 1; i < 8; i++ {
		emitsWithoutEmu(t, em, evtA{i})
	}
	if t8 := ln.seq.Load() >> 2; t8 < c.room {
		t.Fatalf("the cache allows position %d into a full Block member (room until %d)", t8, c.room)
	}
	if got := nextAll(t, s1, 8, 8); got[7].N != 7 {
		t.Fatalf("got %v", got)
	}
	// A subscribe releases the word dirty: the next Emit goes slow.
	s2 := must(SubscribeBatch[evtA](b, BufSize(4), WithPolicy(Drop)))
	if c.seq == ln.seq.Load() {
		t.Fatal("a Subscribe left the lane's seq as the emitter had left it")
	}
	for i := 8; i < 14; i++ {
		_ = em.Emit(evtA{i})
	}
	// s2 joined at 8, holds 4 of the 6 and dropped 2; s1 has all 6.
	if got := nextAll(t, s1, 6, 8); got[0].N != 8 || got[5].N != 13 {
		t.Fatalf("s1 got %v", got)
	}
	if got := nextAll(t, s2, 4, 8); got[0].N != 8 || got[3].N != 11 || s2.Dropped() != 2 {
		t.Fatalf("s2 got %v, dropped %d", got, s2.Dropped())
	}
	_ = s2.Close()
	_ = em.Emit(evtA{14})
	if !c.ok {
		t.Fatal("not back on the fast path after the Close was handled")
	}
	if got := nextAll(t, s1, 1, 8); got[0].N != 14 {
		t.Fatalf("s1 got %v", got)
	}
	st := StatOf[evtA](b)
	if info := infoOf(t, b, s1.Name()); info.Delivered != 15 || st.Emitters != 1 {
		t.Fatalf("s1 %+v, stat %+v", info, st)
	}
}

// A Subscribe that grows the ring between two Emits: the next Emit's
// fast path, which does not load the lane's seq first, writes its slot in
// the old ring and its compare-and-swap fails; the event comes through
// the slow path in the new ring, and what the members had queued is
// intact.
func TestSingleProducerStaleCacheAfterGrow(t *testing.T) {
	b := New()
	defer b.Close()
	s1 := must(SubscribeBatch[evtA](b, BufSize(4), WithPolicy(Block)))
	em := must(NewEmitter[evtA](b, SingleProducer()))
	for i := range 3 {
		_ = em.Emit(evtA{i}) // the first on the slow path, then fast
	}
	c := em.sp
	oldSlots, oldMask := c.slots, c.mask
	if !c.ok {
		t.Fatal("not on the fast path after three Emits")
	}
	s2 := must(SubscribeBatch[evtA](b, BufSize(64), WithPolicy(Block)))
	if nb := s1.r.lnp.Load().buf.Load(); len(nb.slots) <= len(oldSlots) {
		t.Fatalf("the ring did not grow: %d slots, %d before", len(nb.slots), len(oldSlots))
	}
	if err := em.Emit(evtA{3}); err != nil {
		t.Fatal(err)
	}
	if got := oldSlots[3&oldMask].N; got != 3 {
		t.Fatalf("the fast path did not write the old ring (slot holds %d): the test missed its case", got)
	}
	if got := nextAll(t, s1, 4, 8); got[0].N != 0 || got[1].N != 1 || got[2].N != 2 || got[3].N != 3 {
		t.Fatalf("s1 got %v", got)
	}
	if got := nextAll(t, s2, 1, 8); got[0].N != 3 {
		t.Fatalf("s2 got %v", got)
	}
	_ = em.Emit(evtA{4})
	if !c.ok || len(c.slots) == len(oldSlots) {
		t.Fatalf("the cache was not refreshed: ok %v, %d slots", c.ok, len(c.slots))
	}
}

// The four policies, counters and Notifier calls are those of any
// emitter, and channel, sequenced and event.Bus subscriptions of the type
// get every event in order beside the batch ones.
func TestSingleProducerPoliciesAndMixedSubscribers(t *testing.T) {
	b := New()
	defer b.Close()
	var notices []DropNotice
	drop := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(4), Name("drop")))
	notify := must(SubscribeBatch[evtA](b, BufSize(4), OnDrop(func(n DropNotice) { notices = append(notices, n) })))
	kill := must(SubscribeBatch[evtA](b, WithPolicy(Kill), BufSize(4)))
	big := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(64), Name("big")))
	em := must(NewEmitter[evtA](b, SingleProducer()))
	for i := range 10 {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	if drop.Dropped() != 6 || drop.Queued() != 4 {
		t.Fatalf("drop: dropped %d queued %d, want 6 and 4", drop.Dropped(), drop.Queued())
	}
	if len(notices) != 6 || notices[5].Dropped != 6 || notify.Dropped() != 6 {
		t.Fatalf("notify: %d notices, dropped %d", len(notices), notify.Dropped())
	}
	// The full Notify member stays (set aside, its Notifier called per
	// drop) through the rest: it must not take the emitter off its fast
	// path (checked at the end).
	if got := nextAll(t, drop, 4, 16); got[0].N != 0 || got[3].N != 3 {
		t.Fatalf("drop kept %v, want the first four", got)
	}
	if got := nextAll(t, kill, 4, 16); got[3].N != 3 {
		t.Fatalf("kill queue %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := kill.Next(ctx, make([]evtA, 4)); !errors.Is(err, ErrKilled) {
		t.Fatalf("Next on a killed subscription = %v, want ErrKilled", err)
	}
	// Channel, sequenced and event.Bus subscribers beside the lane.
	ch := must(Subscribe[evtA](b, BufSize(64), WithPolicy(Block)))
	sq := must(SubscribeBatchSequenced[evtA](b, BufSize(64), WithPolicy(Block)))
	anyS := must(b.Subscribe(new(evtA), BufSize(64), WithPolicy(Block)))
	for i := 10; i < 30; i++ {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := em.EmitMany([]evtA{{30}, {31}}); n != 2 || err != nil {
		t.Fatalf("EmitMany: %d, %v", n, err)
	}
	for i := 10; i < 32; i++ {
		if ev := recv(t, ch.Out()); ev.N != i {
			t.Fatalf("channel got %d, want %d", ev.N, i)
		}
		if ev := recv(t, anyS.Out()).(evtA); ev.N != i {
			t.Fatalf("event.Bus subscription got %d, want %d", ev.N, i)
		}
	}
	seqs := nextAll(t, sq, 22, 64)
	for i, ev := range seqs {
		if ev.Event.N != 10+i || i > 0 && ev.Seq <= seqs[i-1].Seq {
			t.Fatalf("sequenced %d: %+v after %+v", i, ev, seqs[max(i-1, 0)])
		}
	}
	if got := nextAll(t, big, 32, 64); got[0].N != 0 || got[31].N != 31 {
		t.Fatalf("big got %v", got)
	}
	if info := infoOf(t, b, "big"); info.Delivered != 32 || info.Dropped != 0 {
		t.Fatalf("big %+v", info)
	}
	// Back to the lane alone: the fast path again, in order.
	_ = ch.Close()
	_ = sq.Close()
	_ = anyS.Close()
	for i := 32; i < 40; i++ {
		_ = em.Emit(evtA{i})
	}
	if !em.sp.ok {
		t.Fatal("not on the fast path with the lane alone")
	}
	if got := nextAll(t, big, 8, 64); got[0].N != 32 || got[7].N != 39 {
		t.Fatalf("big got %v", got)
	}
	if len(notices) != 36 || notices[35].Dropped != 36 || notify.Dropped() != 36 {
		t.Fatalf("notify after 40 events: %d notices, dropped %d; want 36", len(notices), notify.Dropped())
	}
}

// Block: the single-producer emitter waits for a slow reader and loses
// nothing; Close of the subscription releases it; Bus.Close ends Emit.
func TestSingleProducerBlockAndClose(t *testing.T) {
	b := New()
	s := must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(4)))
	em := must(NewEmitter[seqEvt](b, SingleProducer()))
	const events = 3000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range events {
			if err := em.Emit(seqEvt{N: i}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := nextAll(t, s, events, 3)
	within(t, "emitter", wg.Wait)
	for i, ev := range got {
		if ev.N != i {
			t.Fatalf("event %d is %d (lost, duplicated or reordered)", i, ev.N)
		}
	}
	// Full queue, emitter blocked, then the subscription closes.
	for i := range 4 {
		_ = em.Emit(seqEvt{N: i})
	}
	done := make(chan error, 1)
	go func() { done <- em.Emit(seqEvt{N: 4}) }()
	waitFor(t, "an emitter blocked on the full queue", func() bool { return s.r.writersWait.Load() > 0 })
	within(t, "Close with the emitter blocked", func() { _ = s.Close() })
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if got := nextAll(t, s, 4, 8); got[3].N != 3 {
		t.Fatalf("queued %v", got)
	}
	if _, err := s.Next(context.Background(), make([]seqEvt, 4)); !errors.Is(err, ErrSubscriptionClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
	b.Close()
	if err := em.Emit(seqEvt{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Emit after Bus.Close = %v", err)
	}
}

func TestSingleProducerEmitDoesNotAllocate(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, BufSize(1024), WithPolicy(Drop)))
	em := must(NewEmitter[evtA](b, SingleProducer()))
	buf := make([]evtA, 64)
	evs := make([]evtA, 16)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 48 {
			_ = em.Emit(evtA{i})
		}
		_, _ = em.EmitMany(evs)
		_, _ = s.Next(ctx, buf)
	})
	if allocs != 0 {
		t.Errorf("48 Emits, an EmitMany and one batch read allocate %.1f times, want 0", allocs)
	}
}

// A full Notify member of a lane is set aside like a Drop member: Emits,
// of either kind of emitter, take their fast path and call its Notifier
// once per event with the exact running count; it rejoins once its reader
// makes room; a panicking Notifier on the fast path is counted and a
// Notifier that calls runtime.Goexit there leaves the bus usable.
func TestLaneSaturatedNotifyMember(t *testing.T) {
	for _, single := range []bool{false, true} {
		b := New(WithLogger(slog.New(countingHandler{n: new(atomic.Int64)})))
		var counts []uint64
		panicAt := uint64(0)
		stalled := must(SubscribeBatch[evtA](b, BufSize(4), Name("stalled"), OnDrop(func(n DropNotice) {
			counts = append(counts, n.Dropped)
			if n.Dropped == panicAt {
				panic("notifier")
			}
		})))
		healthy := must(SubscribeBatch[evtA](b, BufSize(1024), WithPolicy(Drop), Name("healthy")))
		var opts []EmitterOpt
		if single {
			opts = append(opts, SingleProducer())
		}
		em := must(NewEmitter[evtA](b, opts...))
		panicAt = 7
		for i := range 20 {
			_ = em.Emit(evtA{i})
		}
		ln := stalled.r.lnp.Load()
		b.nodes[ln.n.typ].emu.Lock()
		nsat, nnote := len(ln.saturated), len(ln.satNotify)
		b.nodes[ln.n.typ].emu.Unlock()
		if nsat != 1 || nnote != 1 {
			t.Fatalf("single %v: %d set aside, %d notify notes; want the stalled member set aside", single, nsat, nnote)
		}
		if len(counts) != 16 || counts[0] != 1 || counts[15] != 16 {
			t.Fatalf("single %v: notifier counts %v, want 1..16", single, counts)
		}
		if b.NotifierPanics() != 1 {
			t.Fatalf("single %v: %d notifier panics counted, want 1", single, b.NotifierPanics())
		}
		if single {
			if !em.sp.ok {
				t.Fatal("the single-producer emitter is off its fast path with a Notify member set aside")
			}
		} else if st, _, _ := ln.tryFast(b.nodes[ln.n.typ].fanp.Load(), evtA{20}, new(atomic.Bool)); st != fastOK {
			t.Fatal("an Emit with a Notify member set aside did not take the fast path")
		} else {
			_ = em.Emit(evtA{21}) // as the single-producer run: 22 events
		}
		if single {
			_ = em.Emit(evtA{20})
			_ = em.Emit(evtA{21})
		}
		if d, q := stalled.Dropped(), stalled.Queued(); d != 18 || q != 4 || len(counts) != 18 || counts[17] != 18 {
			t.Fatalf("single %v: stalled dropped %d queued %d, %d notifier calls; want 18, 4, 18", single, d, q, len(counts))
		}
		// The reader takes everything: it rejoins, the next events fit.
		if got := nextAll(t, stalled, 4, 8); got[0].N != 0 || got[3].N != 3 {
			t.Fatalf("single %v: stalled read %v", single, got)
		}
		for i := 22; i < 24; i++ {
			_ = em.Emit(evtA{i})
		}
		if got := nextAll(t, stalled, 2, 8); got[0].N != 22 || got[1].N != 23 || len(counts) != 18 {
			t.Fatalf("single %v: after rejoining read %v, %d notifier calls", single, got, len(counts))
		}
		if got := nextAll(t, healthy, 24, 64); got[23].N != 23 {
			t.Fatalf("single %v: healthy got %v", single, got)
		}
		infos := b.Subscriptions()
		for _, in := range infos {
			if in.Name == "stalled" && (in.Dropped != 18 || in.Delivered != 6) {
				t.Fatalf("single %v: stalled %+v", single, in)
			}
		}
		// Goexit in the Notifier on the fast path.
		panicAt = 0
		for i := range 4 {
			_ = em.Emit(evtA{i})
		}
		_ = em.Emit(evtA{99}) // set aside again
		goexit := make(chan struct{})
		stalledNotifier := stalled.r.settings.notifier
		stalled.r.settings.notifier = func(DropNotice) { runtime.Goexit() }
		go func() {
			defer close(goexit)
			_ = em.Emit(evtA{100})
			t.Error("the emitting goroutine survived runtime.Goexit")
		}()
		<-goexit
		stalled.r.settings.notifier = stalledNotifier
		within(t, "Subscribe, Emit and Close after a Goexit in a fast-path notifier", func() {
			other := must(SubscribeBatch[evtA](b, BufSize(4)))
			if err := em.Emit(evtA{3}); err != nil {
				t.Error(err)
			}
			if got := nextAll(t, other, 1, 4); got[0].N != 3 {
				t.Errorf("got %+v", got)
			}
			_ = other.Close()
		})
		_ = em.Close()
		b.Close()
	}
}

// misuseEnv names the environment variable that makes
// TestSingleProducerMisuseChild run (in a child process of
// TestSingleProducerConcurrentUseIsARace).
const misuseEnv = "MESHBUS_SINGLE_PRODUCER_MISUSE_CHILD"

// Concurrent Emits on a single-producer emitter, the misuse it forbids,
// are reported by the race detector: a child process of this test binary
// (built with -race) emits from two goroutines and must fail with a data
// race report.
func TestSingleProducerConcurrentUseIsARace(t *testing.T) {
	if !raceEnabled {
		t.Skip("needs the race detector (go test -race)")
	}
	if os.Getenv(misuseEnv) != "" {
		t.Skip("in the child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSingleProducerMisuseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), misuseEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("concurrent Emits on a single-producer emitter: child err %v, no data race reported:\n%s", err, out)
	}
}

// TestSingleProducerMisuseChild is the misuse, run only as the child of
// TestSingleProducerConcurrentUseIsARace.
func TestSingleProducerMisuseChild(t *testing.T) {
	if os.Getenv(misuseEnv) == "" {
		t.Skip("runs only as the child of TestSingleProducerConcurrentUseIsARace")
	}
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[evtA](b, BufSize(1<<16), WithPolicy(Drop)))
	defer s.Close()
	em := must(NewEmitter[evtA](b, SingleProducer()))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				_ = em.Emit(evtA{i})
			}
		}()
	}
	wg.Wait()
}

// A member whose BufSize is larger than the lane's ring grows the ring
// while a single-producer emitter may be writing its next slot without the
// word (its compare-and-swap then fails). The grow copies only positions a
// member has still to read, never the slots the emitter may be writing:
// run with -race, which reported the copy of the whole ring.
func TestSingleProducerGrowWhileEmitting(t *testing.T) {
	b := New()
	defer b.Close()
	em := must(NewEmitter[evtA](b, SingleProducer()))
	stop := make(chan struct{})
	emitted := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				emitted <- n
				return
			default:
			}
			if err := em.Emit(evtA{n}); err != nil {
				t.Errorf("Emit: %v", err)
			}
			n++
		}
	}()
	// Without members the emitter stays on its fast path, writing slots
	// nobody reads, while each Subscribe below grows the ring.
	for size := 32; size <= 1<<14; size *= 2 {
		s := must(SubscribeBatch[evtA](b, BufSize(size), WithPolicy(Drop)))
		got := nextAll(t, s, 1, 1)
		_ = s.Close()
		if got[0].N < 0 {
			t.Fatalf("BufSize(%d) member read %v", size, got)
		}
	}
	close(stop)
	if n := <-emitted; n == 0 {
		t.Fatal("nothing emitted")
	}
	_ = em.Close()
}
