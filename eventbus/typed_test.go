package eventbus

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
)

func TestTypedRoundTrip(t *testing.T) {
	b := New()
	defer b.Close()
	sub := must(Subscribe[evtA](b))
	em := must(NewEmitter[evtA](b))
	for i := 0; i < 10; i++ {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, sub.Out()); got.N != i {
			t.Fatalf("got %d, want %d", got.N, i)
		}
	}
}

// An emitter of either API reaches subscribers of either API.
func TestTypedAndCompatShareOneCore(t *testing.T) {
	b := New()
	defer b.Close()
	typed := must(Subscribe[evtA](b))
	untyped := must(b.Subscribe(new(evtA)))
	typedEm := must(NewEmitter[evtA](b))
	untypedEm := must(b.Emitter(new(evtA)))

	if err := typedEm.Emit(evtA{1}); err != nil {
		t.Fatal(err)
	}
	if err := untypedEm.Emit(evtA{2}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{1, 2} {
		if got := recv(t, typed.Out()); got.N != want {
			t.Fatalf("typed got %d, want %d", got.N, want)
		}
		if got := recv(t, untyped.Out()).(evtA); got.N != want {
			t.Fatalf("untyped got %d, want %d", got.N, want)
		}
	}
	if s := StatOf[evtA](b); s.Subscribers != 2 || s.Emitters != 2 {
		t.Fatalf("Stat = %+v, want 2 subscribers and 2 emitters", s)
	}
}

func TestInterfaceSubscription(t *testing.T) {
	b := New()
	defer b.Close()
	emB := must(NewEmitter[evtB](b)) // exists before the subscription
	sub := must(Subscribe[describer](b))
	emC := must(b.Emitter(new(evtC))) // created after it
	emA := must(NewEmitter[evtA](b))  // does not implement describer

	if err := emA.Emit(evtA{1}); err != nil {
		t.Fatal(err)
	}
	if err := emB.Emit(evtB{"x"}); err != nil {
		t.Fatal(err)
	}
	if err := emC.Emit(evtC{}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, sub.Out()).Describe(); got != "B:x" {
		t.Fatalf("got %q", got)
	}
	if got := recv(t, sub.Out()).Describe(); got != "C" {
		t.Fatalf("got %q", got)
	}
	empty(t, sub.Out())

	// The same through the event.Bus API.
	anySub := must(b.Subscribe(new(describer)))
	if err := emB.Emit(evtB{"y"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, anySub.Out()).(describer).Describe(); got != "B:y" {
		t.Fatalf("got %q", got)
	}
}

// Subscribing to a type and to an interface it implements on one
// subscription delivers each event once.
func TestOverlappingTypesDeliverOnce(t *testing.T) {
	b := New()
	defer b.Close()
	em := must(NewEmitter[evtB](b))
	sub := must(b.Subscribe([]any{new(evtB), new(describer)}))
	if err := em.Emit(evtB{"once"}); err != nil {
		t.Fatal(err)
	}
	recv(t, sub.Out())
	empty(t, sub.Out())
}

func TestTypedEmitDoesNotAllocate(t *testing.T) {
	for _, metrics := range []bool{false} {
		b := New()
		sub := must(Subscribe[evtA](b, BufSize(1024), WithPolicy(Drop)))
		em := must(NewEmitter[evtA](b))
		allocs := testing.AllocsPerRun(1000, func() {
			_ = em.Emit(evtA{7})
			<-sub.Out()
		})
		if allocs != 0 {
			t.Errorf("metrics=%v: Emit allocates %.1f times per event, want 0", metrics, allocs)
		}
		b.Close()
	}
}

func TestSequencedRestoresGlobalOrder(t *testing.T) {
	b := New(WithDefaultPolicy(Block))
	defer b.Close()
	seqA := must(SubscribeSequenced[evtA](b, BufSize(64)))
	seqB := must(SubscribeSequenced[evtB](b, BufSize(64)))
	all := must(b.Subscribe([]any{new(evtA), new(evtB)}, WithSequence(), BufSize(128)))
	emA := must(NewEmitter[evtA](b))
	emB := must(b.Emitter(new(evtB)))
	// Emission order: A0 B0 A1 B1 ...; read back per channel, merged by Seq.
	for i := 0; i < 20; i++ {
		if err := emA.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
		if err := emB.Emit(evtB{S: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	var lastSeq uint64
	for i := 0; i < 20; i++ {
		a := recv(t, seqA.Out())
		bb := recv(t, seqB.Out())
		if a.Event.N != i || a.Seq <= lastSeq || bb.Seq != a.Seq+1 {
			t.Fatalf("step %d: A seq %d (n %d), B seq %d after %d", i, a.Seq, a.Event.N, bb.Seq, lastSeq)
		}
		lastSeq = bb.Seq
	}
	var prev uint64
	for i := 0; i < 40; i++ {
		s, ok := recv(t, all.Out()).(Sequenced[any])
		if !ok || s.Seq <= prev {
			t.Fatalf("event.Bus sequenced subscription: got %#v after seq %d", s, prev)
		}
		prev = s.Seq
	}
}

var _ event.Subscription = (*AnySubscription)(nil)

// TestChannelEmitFanoutDoesNotAllocate: the typed Emit of a 64-byte event
// holding pointers to 16 channel subscriptions under every policy, and the
// event.Bus Emit of one boxed value to as many, allocate nothing (offer
// takes the event by pointer; it must stay on the Emit's stack).
func TestChannelEmitFanoutDoesNotAllocate(t *testing.T) {
	ev := ptrEvt{Peer: "p", Topic: "t", At: time.Unix(1, 0)}
	t.Run("typed", func(t *testing.T) {
		checkFanoutAllocs(t, func(b *Bus, opts ...SubscriptionOpt) <-chan ptrEvt {
			return must(Subscribe[ptrEvt](b, opts...)).Out()
		}, func(b *Bus) func() error {
			em := must(NewEmitter[ptrEvt](b))
			return func() error { return em.Emit(ev) }
		})
	})
	t.Run("event.Bus", func(t *testing.T) {
		box := any(ev)
		checkFanoutAllocs(t, func(b *Bus, opts ...SubscriptionOpt) <-chan any {
			return must(b.Subscribe(new(ptrEvt), opts...)).Out()
		}, func(b *Bus) func() error {
			em := must(b.Emitter(new(ptrEvt)))
			return func() error { return em.Emit(box) }
		})
	})
}

// checkFanoutAllocs subscribes 16 times on a new bus (every policy in
// turn, 4 slots each), makes an emitter, and fails t unless an Emit and
// the reads of its 16 deliveries allocate nothing.
func checkFanoutAllocs[E any](t *testing.T, subscribe func(*Bus, ...SubscriptionOpt) <-chan E, emitter func(*Bus) func() error) {
	b := New()
	defer b.Close()
	policies := []Policy{Block, Drop, Kill, Notify}
	var outs []<-chan E
	for i := range 16 {
		outs = append(outs, subscribe(b, BufSize(4), WithPolicy(policies[i%4])))
	}
	emit := emitter(b)
	if a := testing.AllocsPerRun(200, func() {
		_ = emit()
		for _, ch := range outs {
			<-ch
		}
	}); a != 0 {
		t.Errorf("Emit to 16 subscriptions: %.1f allocations per event, want 0", a)
	}
}
