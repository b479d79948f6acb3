package eventbus

import (
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/event"
)

// seqEvt carries its emitter and position so receivers can check order.
type seqEvt struct{ Emitter, N int }

// runInterleaving drives one random schedule: several emitters emit while
// subscribers come and go (subscribe, read some, close), and the bus may be
// closed at the end. It checks, per subscriber:
//   - Block: every event of an emitter that was emitted while the
//     subscription was attached arrives exactly once, in emission order, up
//     to Bus.Close; an emitter blocked when the bus closes gives up its
//     event (abandoned), and what was queued stays readable, in order;
//   - Drop: delivered + dropped == emitted for subscribers that lived through
//     every emit, each emitter's events in order;
//   - the bus's delivered count equals what the subscriber received;
//
// and that nothing panics or deadlocks (every step runs under a deadline).
func runInterleaving(t *testing.T, seed int64, emitters, subscribers, events int) {
	rng := rand.New(rand.NewSource(seed))
	b := New()
	ems := make([]*Emitter[seqEvt], emitters)
	for i := range ems {
		ems[i] = must(NewEmitter[seqEvt](b))
	}

	type result struct {
		policy  Policy
		fullRun bool // never closed early: was offered every event
		sub     *Subscription[seqEvt]
		got     []seqEvt
		// beforeClose counts the events of got received before Bus.Close
		// began.
		beforeClose int
		// Read once Bus.Close has returned.
		dropped   uint64
		abandoned uint64 // Block: given up by emitters blocked at Close
		delivered uint64 // the bus's own count
	}
	results := make([]*result, subscribers)
	var wg sync.WaitGroup
	var closing atomic.Bool // set just before Bus.Close
	for i := 0; i < subscribers; i++ {
		policy := []Policy{Block, Drop}[rng.Intn(2)]
		buf := rng.Intn(4)
		readFor := -1 // read until the bus closes
		if rng.Intn(2) == 0 {
			readFor = 1 + rng.Intn(events*emitters) // then Close early
		}
		sub := must(Subscribe[seqEvt](b, WithPolicy(policy), BufSize(buf)))
		r := &result{policy: policy, fullRun: readFor < 0, sub: sub}
		results[i] = r
		slow := rng.Intn(3) == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for ev := range sub.Out() {
				r.got = append(r.got, ev)
				if !closing.Load() {
					r.beforeClose = len(r.got)
				}
				n++
				if slow && n%7 == 0 {
					runtime.Gosched() // let the emitters run ahead: Drop really drops
				}
				if n == readFor {
					sub.Close()
					// What was queued stays readable under every
					// policy: keep reading until the channel closes.
				}
			}
		}()
	}

	var ewg sync.WaitGroup
	for i, em := range ems {
		ewg.Add(1)
		go func() {
			defer ewg.Done()
			for n := 0; n < events; n++ {
				_ = em.Emit(seqEvt{Emitter: i, N: n})
			}
		}()
	}
	within(t, "emitters", ewg.Wait)
	closing.Store(true)
	within(t, "bus Close", func() { b.Close() })
	within(t, "subscribers", wg.Wait)

	for i, r := range results {
		r.dropped = r.sub.Dropped()
		r.abandoned = r.sub.c.abandoned.Load()
		r.delivered = r.sub.c.delivered()
		last := make(map[int]int)
		for k, ev := range r.got {
			prev, seen := last[ev.Emitter]
			if !seen {
				prev = -1
			}
			if r.policy == Block && k < r.beforeClose && ev.N != prev+1 {
				t.Fatalf("seed %d sub %d (block): emitter %d went %d -> %d (lost or duplicated)", seed, i, ev.Emitter, prev, ev.N)
			}
			if seen && ev.N <= prev {
				t.Fatalf("seed %d sub %d (%v): emitter %d out of order %d -> %d", seed, i, r.policy, ev.Emitter, prev, ev.N)
			}
			last[ev.Emitter] = ev.N
		}
		if r.policy == Block && r.dropped != 0 {
			t.Fatalf("seed %d sub %d: Block dropped %d", seed, i, r.dropped)
		}
		if uint64(len(r.got)) != r.delivered {
			t.Fatalf("seed %d sub %d (%v): received %d, bus counted %d delivered", seed, i, r.policy, len(r.got), r.delivered)
		}
		// Every event reached a full-run subscriber, was dropped by its
		// policy, or (Block only) was given up by an emitter blocked at Close.
		if r.fullRun && uint64(len(r.got))+r.dropped+r.abandoned != uint64(emitters*events) {
			t.Fatalf("seed %d sub %d (%v): delivered %d + dropped %d + abandoned at close %d != emitted %d",
				seed, i, r.policy, len(r.got), r.dropped, r.abandoned, emitters*events)
		}
		if r.fullRun && r.policy == Drop && r.abandoned != 0 {
			t.Fatalf("seed %d sub %d: Drop abandoned %d events", seed, i, r.abandoned)
		}
	}
}

func TestRandomInterleavings(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		runInterleaving(t, seed, 1+int(seed%3), 1+int(seed%5), 200)
	}
}

// FuzzInterleaving explores schedules beyond the fixed seeds:
// go test -fuzz=FuzzInterleaving ./eventbus
func FuzzInterleaving(f *testing.F) {
	f.Add(int64(1), uint8(2), uint8(3))
	f.Add(int64(99), uint8(1), uint8(8))
	f.Fuzz(func(t *testing.T, seed int64, emitters, subscribers uint8) {
		runInterleaving(t, seed, 1+int(emitters%4), 1+int(subscribers%8), 100)
	})
}

// A subscriber that reads every event of a Block subscription made before
// any emit receives each event exactly once, in order.
func TestBlockExactlyOnceInOrder(t *testing.T) {
	b := New(WithDefaultPolicy(Block))
	defer b.Close()
	const emitters, events = 3, 2000
	subs := make([]*Subscription[seqEvt], 4)
	for i := range subs {
		subs[i] = must(Subscribe[seqEvt](b, BufSize(i))) // 0..3, unbuffered included
	}
	var wg sync.WaitGroup
	for e := 0; e < emitters; e++ {
		em := must(NewEmitter[seqEvt](b))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < events; n++ {
				_ = em.Emit(seqEvt{e, n})
			}
		}()
	}
	var rwg sync.WaitGroup
	for _, s := range subs {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			next := make([]int, emitters)
			for i := 0; i < emitters*events; i++ {
				ev := recv(t, s.Out())
				if ev.N != next[ev.Emitter] {
					t.Errorf("emitter %d: got %d, want %d", ev.Emitter, ev.N, next[ev.Emitter])
					return
				}
				next[ev.Emitter]++
			}
		}()
	}
	within(t, "emitters", wg.Wait)
	within(t, "readers", rwg.Wait)
	for _, s := range subs {
		empty(t, s.Out())
	}
}

// Closing subscriptions, emitters and the bus while other goroutines emit
// and subscribe never panics and never deadlocks.
func TestCloseEverythingWhileEmitting(t *testing.T) {
	for round := 0; round < 20; round++ {
		b := New(WithNotifier(func(DropNotice) {}))
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for e := 0; e < 3; e++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				em, err := NewEmitter[evtA](b)
				if err != nil {
					return
				}
				// Stateful: every new subscription gets a replay while
				// the bus may be closing under it.
				anyEm, _ := b.Emitter(new(evtB), Stateful)
				for i := 0; ; i++ {
					select {
					case <-stop:
						em.Close()
						return
					default:
					}
					_ = em.Emit(evtA{i})
					if anyEm != nil {
						_ = anyEm.Emit(evtB{})
					}
					if i%50 == 0 {
						em.Close()
						em.Close()
						if em, err = NewEmitter[evtA](b); err != nil {
							return
						}
					}
				}
			}()
		}
		for s := 0; s < 4; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				policy := []Policy{Block, Drop, Kill, Notify}[s]
				for {
					select {
					case <-stop:
						return
					default:
					}
					sub, err := b.Subscribe([]any{new(evtA), new(evtB)}, WithPolicy(policy), BufSize(s))
					if err != nil {
						return // bus closed
					}
					for i := 0; i < 10; i++ {
						if _, ok := <-sub.Out(); !ok {
							break
						}
					}
					sub.Close()
					sub.Close()
				}
			}()
		}
		within(t, "bus Close under load", func() { b.Close() })
		close(stop)
		within(t, "workers", wg.Wait)
	}
}

// Bus.Close releases every emitter whatever its subscribers do: some Block
// subscribers stall for good after a few events, others read on, and some
// non-blocking ones come and go, through both APIs. Emitters end up parked
// on the stalled subscribers; Close must still return, every Emit must
// return, and every channel must close.
func TestBusCloseWithStalledBlockSubscribers(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		b := New(WithNotifier(func(DropNotice) {}))
		var typedOuts []<-chan seqEvt
		var boxedOuts []<-chan any
		var readers sync.WaitGroup
		stalled := 1 + rng.Intn(3)
		for i := 0; i < stalled+rng.Intn(3); i++ {
			policy := Block
			if i >= stalled && rng.Intn(2) == 0 {
				policy = []Policy{Drop, Kill, Notify}[rng.Intn(3)]
			}
			readFor := -1 // read until the channel closes
			if i < stalled {
				readFor = rng.Intn(5) // then stall, never closing
			}
			opts := []event.SubscriptionOpt{WithPolicy(policy), BufSize(rng.Intn(3))}
			if rng.Intn(2) == 0 {
				out := must(Subscribe[seqEvt](b, opts...)).Out()
				typedOuts = append(typedOuts, out)
				readUpTo(&readers, out, readFor)
			} else {
				out := must(b.Subscribe(new(seqEvt), opts...)).Out()
				boxedOuts = append(boxedOuts, out)
				readUpTo(&readers, out, readFor)
			}
		}
		var emitters sync.WaitGroup
		for e := 0; e < 1+rng.Intn(3); e++ {
			em := must(NewEmitter[seqEvt](b))
			emitters.Add(1)
			go func() {
				defer emitters.Done()
				for n := 0; n < 50; n++ {
					if em.Emit(seqEvt{e, n}) != nil {
						return // the bus closed
					}
				}
			}()
		}
		waitBlockedInSend(t)
		within(t, "Bus.Close with emitters parked on stalled subscribers", func() { b.Close() })
		within(t, "emitters after Bus.Close", emitters.Wait)
		within(t, "readers after Bus.Close", readers.Wait)
		for _, o := range typedOuts {
			closed(t, o)
		}
		for _, o := range boxedOuts {
			closed(t, o)
		}
	}
}

// readUpTo starts a reader of ch that stops after n events (n < 0: when ch
// closes), without closing anything.
func readUpTo[T any](wg *sync.WaitGroup, ch <-chan T, n int) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; n < 0 || i < n; i++ {
			if _, ok := <-ch; !ok {
				return
			}
		}
	}()
}
