package eventbus

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A full Drop member of a lane is set aside: Emits take the fast path and
// do nothing for it, its drops are derived from the lane's position, and
// after its reader took some events it gets the next ones in order (as a
// full channel would), then rejoins the lane once drained.
func TestLaneSaturatedDropMember(t *testing.T) {
	b := New()
	defer b.Close()
	healthy := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(256), Name("healthy")))
	stalled := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(4), Name("stalled")))
	em := must(NewEmitter[evtA](b))
	for i := range 100 {
		_ = em.Emit(evtA{i})
	}
	ln := stalled.r.lnp.Load()
	emu := &b.nodes[ln.n.typ].emu
	emu.Lock()
	nsat, npriv := len(ln.saturated), len(ln.private)
	emu.Unlock()
	if nsat != 1 || npriv != 0 {
		t.Fatalf("%d members set aside, %d private; want the stalled one set aside and none private", nsat, npriv)
	}
	if got := stalled.r.dropped.Load(); got != 0 {
		t.Fatalf("%d drops counted one by one while set aside, want 0 (derived)", got)
	}
	// Set aside, it costs the Emit nothing: the fast path takes it.
	f := ln.n.fanp.Load()
	if st, _, _ := ln.tryFast(f, evtA{100}, new(atomic.Bool)); st != fastOK {
		t.Fatal("an Emit with a member set aside did not take the fast path")
	}
	if d, q := stalled.Dropped(), stalled.Queued(); d != 97 || q != 4 {
		t.Fatalf("stalled: dropped %d queued %d, want 97 and 4", d, q)
	}
	checkCounts(t, b, map[string][3]uint64{"healthy": {101, 0, 101}, "stalled": {4, 97, 4}}, 101, 97)

	// The reader takes two: the next two events fit, the rest drop.
	if got := nextAll(t, stalled, 2, 2); got[0].N != 0 || got[1].N != 1 {
		t.Fatalf("stalled read %v, want 0 1", got)
	}
	for i := 101; i < 111; i++ {
		_ = em.Emit(evtA{i})
	}
	if d := stalled.Dropped(); d != 105 {
		t.Fatalf("dropped %d after room for two of ten, want 105", d)
	}
	if got := nextAll(t, stalled, 4, 8); got[0].N != 2 || got[1].N != 3 || got[2].N != 101 || got[3].N != 102 {
		t.Fatalf("stalled read %v, want 2 3 101 102", got)
	}
	// Drained: it rejoins the lane and gets everything again.
	for i := 111; i < 114; i++ {
		_ = em.Emit(evtA{i})
	}
	if !stalled.r.shared.Load() {
		t.Fatal("the drained member did not rejoin the lane")
	}
	if got := nextAll(t, stalled, 3, 8); got[0].N != 111 || got[2].N != 113 {
		t.Fatalf("after rejoining read %v, want 111 112 113", got)
	}
	checkCounts(t, b, map[string][3]uint64{"healthy": {114, 0, 114}, "stalled": {9, 105, 0}}, 114, 105)
	_ = healthy
}

// Closing a member while it is set aside keeps what it queued readable and
// counts what it dropped until then, and nothing after.
func TestLaneSaturatedMemberCloses(t *testing.T) {
	b := New()
	defer b.Close()
	stalled := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(2), Name("stalled")))
	other := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(64), Name("other")))
	em := must(NewEmitter[evtA](b))
	for i := range 10 {
		_ = em.Emit(evtA{i})
	}
	_ = stalled.Close()
	for i := 10; i < 20; i++ {
		_ = em.Emit(evtA{i})
	}
	if d := stalled.Dropped(); d != 8 {
		t.Fatalf("dropped %d, want 8 (nothing after Close)", d)
	}
	if ti := b.Types()[0]; ti.Dropped != 8 || ti.Emitted != 20 {
		t.Fatalf("type counts %+v, want 20 emitted, 8 dropped", ti)
	}
	got := nextAll(t, stalled, 2, 4)
	if got[0].N != 0 || got[1].N != 1 {
		t.Fatalf("closed member read %v, want 0 1", got)
	}
	if _, err := stalled.Next(context.Background(), make([]evtA, 4)); err != ErrSubscriptionClosed {
		t.Fatalf("Next after the queue: %v, want ErrSubscriptionClosed", err)
	}
	_ = other
}

// checkCounts compares the bus's derived counters with the expected
// {delivered, dropped, queued} per subscription name and the type's
// emitted and dropped totals (one event type on the bus).
func checkCounts(t *testing.T, b *Bus, want map[string][3]uint64, emitted, dropped uint64) {
	t.Helper()
	for _, in := range b.Subscriptions() {
		w, ok := want[in.Name]
		if !ok {
			continue
		}
		if got := [3]uint64{in.Delivered, in.Dropped, uint64(in.Queued)}; got != w {
			t.Fatalf("%s: delivered, dropped, queued = %v, want %v", in.Name, got, w)
		}
	}
	for _, ti := range b.Types() {
		if ti.Emitted != emitted || ti.Dropped != dropped {
			t.Fatalf("type %v: emitted %d dropped %d, want %d and %d", ti.Type, ti.Emitted, ti.Dropped, emitted, dropped)
		}
	}
}

// The counts the bus derives at read time instead of counting per event
// (delivered from the emitted count and the attachment baselines; the
// emitted count of a type with a lane from the lane's position; the drops
// of a lane member set aside from the lane's position) are exact: a model
// of every subscription's queue, driven by a seeded random schedule of
// emits and reads over every kind of subscription, agrees with
// Subscriptions() and Types() after every step.
func TestDerivedCountsExact(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runDerivedCounts(t, seed) })
	}
}

// countModel is the expected state of one subscription: a queue of cap
// events under Drop/Notify (keep the oldest) or Block (the schedule never
// fills it).
type countModel struct {
	name                       string
	cap                        uint64
	queued, delivered, dropped uint64
	read                       func(n int) int // takes up to n events, returns how many
	kind                       string
	policy                     Policy
}

func runDerivedCounts(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	b := New(WithNotifier(func(DropNotice) {}))
	defer b.Close()
	kinds := []string{"chan", "any", "lane", "lane", "lane", "seqbatch", "seqchan"}
	var models []*countModel
	for i := range 3 + rng.Intn(6) {
		m := &countModel{
			name:   fmt.Sprintf("s%d", i),
			cap:    uint64(1 + rng.Intn(8)),
			kind:   kinds[rng.Intn(len(kinds))],
			policy: []Policy{Drop, Notify, Block}[rng.Intn(3)],
		}
		if m.policy == Block {
			m.cap = 1 << 15 // more than the schedule emits: never full
		}
		opts := []SubscriptionOpt{Name(m.name), BufSize(int(m.cap)), WithPolicy(m.policy)}
		switch m.kind {
		case "chan":
			s := must(Subscribe[evtA](b, opts...))
			m.read = func(n int) int { return drainChan(s.Out(), n) }
		case "seqchan":
			s := must(SubscribeSequenced[evtA](b, opts...))
			m.read = func(n int) int { return drainChan(s.Out(), n) }
		case "any":
			s := must(b.Subscribe(new(evtA), opts...))
			m.read = func(n int) int { return drainChan(s.Out(), n) }
		case "lane":
			s := must(SubscribeBatch[evtA](b, opts...))
			m.read = func(n int) int { return drainBatch(s, n) }
		case "seqbatch":
			s := must(SubscribeBatchSequenced[evtA](b, opts...))
			m.read = func(n int) int { return drainBatch(s, n) }
		}
		models = append(models, m)
	}
	typed := must(NewEmitter[evtA](b))
	boxed := must(b.Emitter(new(evtA)))
	var emitted, dropped uint64
	for step := range 400 {
		if rng.Intn(3) > 0 {
			k := 1 + rng.Intn(40)
			for range k {
				if rng.Intn(2) == 0 {
					_ = typed.Emit(evtA{step})
				} else {
					_ = boxed.Emit(evtA{step})
				}
				emitted++
				for _, m := range models {
					if m.queued < m.cap {
						m.queued++
						m.delivered++
					} else {
						m.dropped++
						dropped++
					}
				}
			}
		} else {
			m := models[rng.Intn(len(models))]
			want := 1 + rng.Intn(int(min(m.cap, 16)))
			got := m.read(want)
			if exp := int(min(uint64(want), m.queued)); got != exp {
				t.Fatalf("step %d: %s (%s, %v) read %d, want %d", step, m.name, m.kind, m.policy, got, exp)
			}
			m.queued -= uint64(got)
		}
		if step%7 == 0 || step == 399 {
			for _, in := range b.Subscriptions() {
				for _, m := range models {
					if m.name != in.Name {
						continue
					}
					if in.Delivered != m.delivered || in.Dropped != m.dropped || uint64(in.Queued) != m.queued {
						t.Fatalf("step %d: %s (%s, %v, cap %d): bus says delivered %d dropped %d queued %d, model %d %d %d",
							step, m.name, m.kind, m.policy, m.cap, in.Delivered, in.Dropped, in.Queued, m.delivered, m.dropped, m.queued)
					}
				}
			}
			ti := b.Types()
			if len(ti) != 1 || ti[0].Emitted != emitted || ti[0].Dropped != dropped {
				t.Fatalf("step %d: types %+v, want emitted %d dropped %d", step, ti, emitted, dropped)
			}
		}
	}
}

// drainChan takes up to n queued values from ch without waiting.
func drainChan[E any](ch <-chan E, n int) int {
	got := 0
	for got < n {
		select {
		case <-ch:
			got++
		default:
			return got
		}
	}
	return got
}

// drainBatch takes up to n queued events from s without waiting.
func drainBatch[E any](s *BatchSubscription[E], n int) int {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Next returns what is queued, or ctx.Err() when nothing is
	got := 0
	buf := make([]E, n)
	for got < n {
		b, err := s.Next(ctx, buf[:n-got])
		if err != nil || len(b) == 0 {
			return got
		}
		got += len(b)
	}
	return got
}

// Under concurrent emitters, a reader that reads now and then (its member
// is set aside and taken back over and over) and a scraper, the derived
// drop counts never go down (a Prometheus counter must not), and at the
// end received + dropped == emitted for the Drop member, exactly.
func TestDerivedDropsMonotonicAndExact(t *testing.T) {
	b := New()
	defer b.Close()
	slow := must(SubscribeBatch[evtA](b, WithPolicy(Drop), BufSize(4), Name("slow")))
	fast := must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(64), Name("fast")))
	const emitters, events = 3, 20000
	var received atomic.Uint64
	var readers, scrapers sync.WaitGroup
	stop := make(chan struct{})
	readers.Add(2)
	go func() {
		defer readers.Done()
		buf := make([]evtA, 2)
		for {
			got, err := slow.Next(context.Background(), buf)
			if err != nil {
				return
			}
			received.Add(uint64(len(got)))
			for range 50 { // read slowly: the member keeps filling up
				runtime.Gosched()
			}
		}
	}()
	go func() {
		defer readers.Done()
		buf := make([]evtA, 64)
		for {
			if _, err := fast.Next(context.Background(), buf); err != nil {
				return
			}
		}
	}()
	scrapers.Add(1)
	go func() {
		defer scrapers.Done()
		var lastSub, lastType uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			d := slow.Dropped()
			td := b.Types()[0].Dropped
			if d < lastSub || td < lastType {
				t.Errorf("drop count went down: subscription %d -> %d, type %d -> %d", lastSub, d, lastType, td)
				return
			}
			lastSub, lastType = d, td
		}
	}()
	var ewg sync.WaitGroup
	for range emitters {
		em := must(NewEmitter[evtA](b))
		ewg.Add(1)
		go func() {
			defer ewg.Done()
			for i := range events {
				_ = em.Emit(evtA{i})
			}
		}()
	}
	within(t, "emitters", ewg.Wait)
	close(stop)
	within(t, "scraper", scrapers.Wait)
	// The reader counts a batch only after Next returned it, so an empty
	// queue is not yet a counted one: wait (up to the deadline) until the
	// counts add up; if they never do, the check below reports them.
	for stop := time.Now().Add(deadline); time.Now().Before(stop); runtime.Gosched() {
		if slow.Queued() == 0 && received.Load()+slow.Dropped() == emitters*events {
			break
		}
	}
	dropped := slow.Dropped()
	if got := received.Load() + dropped; got != emitters*events {
		t.Fatalf("received %d + dropped %d = %d, want %d", received.Load(), dropped, got, emitters*events)
	}
	if in := infoOf(t, b, "slow"); in.Delivered != received.Load() || in.Dropped != dropped {
		t.Fatalf("introspection %+v, want delivered %d dropped %d", in, received.Load(), dropped)
	}
	if ti := b.Types()[0]; ti.Dropped != dropped || ti.Emitted != emitters*events {
		t.Fatalf("type counts %+v", ti)
	}
	_ = slow.Close()
	_ = fast.Close()
	within(t, "readers", readers.Wait)
}
