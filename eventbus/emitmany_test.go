package eventbus

import (
	"errors"
	"reflect"
	"sync"
	"testing"
)

func seqEvts(emitter, from, n int) []seqEvt {
	evs := make([]seqEvt, n)
	for i := range evs {
		evs[i] = seqEvt{Emitter: emitter, N: from + i}
	}
	return evs
}

// EmitMany to lane members only (the fast path) delivers every event once,
// in order, also through a ring smaller than the slice (it publishes what
// fits, then the slow path waits for the Block reader), and counts each
// event as emitted and delivered.
func TestEmitManyLaneInOrder(t *testing.T) {
	b := New()
	defer b.Close()
	small := must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(3), Name("small")))
	large := must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(64), Name("large")))
	em := must(NewEmitter[seqEvt](b))
	const total = 1000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n < total; n += 50 {
			if got, err := em.EmitMany(seqEvts(0, n, 50)); got != 50 || err != nil {
				t.Errorf("EmitMany: %d, %v", got, err)
				return
			}
		}
	}()
	var rwg sync.WaitGroup
	for _, s := range []*BatchSubscription[seqEvt]{small, large} {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for i, ev := range nextAll(t, s, total, 7) {
				if ev.N != i {
					t.Errorf("%s: event %d is %d", s.Name(), i, ev.N)
					return
				}
			}
		}()
	}
	within(t, "readers", rwg.Wait)
	within(t, "emitter", wg.Wait)
	for _, name := range []string{"small", "large"} {
		if in := infoOf(t, b, name); in.Delivered != total || in.Dropped != 0 || in.Queued != 0 {
			t.Fatalf("%s: %+v", name, in)
		}
	}
	for _, ti := range b.Types() {
		if ti.Type == reflect.TypeFor[seqEvt]() && ti.Emitted != total {
			t.Fatalf("emitted %d, want %d", ti.Emitted, total)
		}
	}
}

// EmitMany to a mix of subscription kinds (a channel, the event.Bus API, a
// lane member, a Drop member that fills) is the same as one Emit per event.
func TestEmitManyMixedIsEmitPerEvent(t *testing.T) {
	b := New()
	defer b.Close()
	ch := must(Subscribe[seqEvt](b, WithPolicy(Block), BufSize(16)))
	anySub := must(b.Subscribe(new(seqEvt), BufSize(16), WithPolicy(Block)))
	lane := must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(16), Name("lane")))
	drop := must(SubscribeBatch[seqEvt](b, WithPolicy(Drop), BufSize(4), Name("drop")))
	em := must(NewEmitter[seqEvt](b))
	if got, err := em.EmitMany(seqEvts(1, 0, 10)); got != 10 || err != nil {
		t.Fatalf("EmitMany: %d, %v", got, err)
	}
	for i := range 10 {
		if ev := recv(t, ch.Out()); ev.N != i {
			t.Fatalf("channel: event %d is %d", i, ev.N)
		}
		if ev := recv(t, anySub.Out()).(seqEvt); ev.N != i {
			t.Fatalf("event.Bus: event %d is %d", i, ev.N)
		}
	}
	for i, ev := range nextAll(t, lane, 10, 16) {
		if ev.N != i {
			t.Fatalf("lane: event %d is %d", i, ev.N)
		}
	}
	got := nextAll(t, drop, 4, 16)
	for i, ev := range got {
		if ev.N != i {
			t.Fatalf("drop: event %d is %d (keeps the oldest)", i, ev.N)
		}
	}
	if d := drop.Dropped(); d != 6 {
		t.Fatalf("drop member dropped %d, want 6", d)
	}
}

// Misuse and ends: an empty slice is no Emit; a closed emitter or bus
// emits nothing and says why; EmitMany makes no allocation.
func TestEmitManyErrorsAndAllocs(t *testing.T) {
	b := New()
	s := must(SubscribeBatch[seqEvt](b, WithPolicy(Drop), BufSize(1024)))
	em := must(NewEmitter[seqEvt](b))
	if got, err := em.EmitMany(nil); got != 0 || err != nil {
		t.Fatalf("EmitMany(nil): %d, %v", got, err)
	}
	evs := seqEvts(0, 0, 8)
	if a := testing.AllocsPerRun(100, func() { _, _ = em.EmitMany(evs) }); a != 0 {
		t.Fatalf("EmitMany allocates %v per call", a)
	}
	_ = s.Close()
	em2 := must(NewEmitter[seqEvt](b))
	_ = em2.Close()
	if got, err := em2.EmitMany(evs); got != 0 || !errors.Is(err, ErrEmitterClosed) {
		t.Fatalf("closed emitter: %d, %v", got, err)
	}
	b.Close()
	if got, err := em.EmitMany(evs); got != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("closed bus: %d, %v", got, err)
	}
}

// A Block member that ends while EmitMany waits for its room releases the
// emitter: the rest of the slice goes on to nobody (abandoned), and the
// call returns.
func TestEmitManyBlockedMemberCloses(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(2)))
	em := must(NewEmitter[seqEvt](b))
	done := make(chan int)
	go func() {
		n, _ := em.EmitMany(seqEvts(0, 0, 10))
		done <- n
	}()
	waitFor(t, "the emitter to fill the ring", func() bool { return s.Queued() == 2 })
	_ = s.Close()
	var n int
	within(t, "EmitMany", func() { n = <-done })
	if n != 10 {
		t.Fatalf("EmitMany returned %d, want 10 (emitted to a closed member)", n)
	}
	if got := nextAll(t, s, 2, 4); got[0].N != 0 || got[1].N != 1 {
		t.Fatalf("queued %v", got)
	}
}

// The typed and event.Bus Emits count every call, as the introspection
// shows, and the delivered count follows.
func TestEmitsAreCounted(t *testing.T) {
	b := New()
	defer b.Close()
	s := must(Subscribe[evtA](b, BufSize(4), WithPolicy(Drop)))
	defer s.Close()
	typed := must(NewEmitter[evtA](b))
	boxed := must(b.Emitter(new(evtA)))
	for i := range 10 {
		_ = typed.Emit(evtA{i})
		_ = boxed.Emit(evtA{i})
	}
	for _, ti := range b.Types() {
		if ti.Type.Name() == "evtA" && (ti.Emitted != 20 || ti.Dropped != 16) {
			t.Fatalf("%+v", ti)
		}
	}
	if in := b.Subscriptions()[0]; in.Delivered != 4 {
		t.Fatalf("%+v", in)
	}
}
