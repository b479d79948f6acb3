package eventbus

import (
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
)

// The gate excludes writers from readers and writers from each other: a
// plain variable written under lock and read under rlock is race-free
// (the race detector checks), readers never see a half-done write, and the
// count seen by count never goes back and ends at the number of counted
// leaves, across many folds (foldAt is tiny here).
func TestGateExclusionCountAndFold(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		var g gate
		g.init()
		g.foldAt = 3
		var a, b int // written together under lock; equal under rlock
		var counted atomic.Uint64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		const readers, rounds = 4, 2000
		for r := range readers {
			rng := rand.New(rand.NewSource(seed*100 + int64(r)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					g.rlock()
					if a != b {
						t.Errorf("seed %d: a reader saw a half-done write (%d, %d)", seed, a, b)
					}
					c := rng.Intn(2) == 0
					if c {
						counted.Add(1)
					}
					g.runlock(c)
				}
			}()
		}
		wg.Add(1)
		go func() { // a writer
			defer wg.Done()
			for i := range rounds / 10 {
				g.lock()
				a = i
				b = i
				g.unlock()
			}
		}()
		var cwg sync.WaitGroup
		cwg.Add(1)
		go func() { // the count never goes back
			defer cwg.Done()
			var last uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := g.count()
				if c < last {
					t.Errorf("seed %d: count went back from %d to %d", seed, last, c)
					return
				}
				last = c
			}
		}()
		within(t, "readers and writer", wg.Wait)
		close(stop)
		cwg.Wait()
		if got, want := g.count(), counted.Load(); got != want {
			t.Fatalf("seed %d: count %d, want %d", seed, got, want)
		}
		if g.folded.Load() == 0 {
			t.Fatalf("seed %d: never folded", seed)
		}
		if v := g.w.Load(); v&(gateReaders|gateWriter) != 0 {
			t.Fatalf("seed %d: word %#x still held", seed, v)
		}
	}
}

// The typed and event.Bus Emits count every call (the gate's count), as
// the introspection shows.
func TestEmitCountedByTheGate(t *testing.T) {
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
