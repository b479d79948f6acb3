package eventbus

import (
	"errors"
	"reflect"
	"sync"
	"testing"
)

// A stalled subscriber under Drop, Kill or Notify never blocks the emitter
// and never delays another subscriber: the other one receives every event.
func TestNonBlockingPoliciesIsolateAStalledSubscriber(t *testing.T) {
	for _, p := range []Policy{Drop, Kill, Notify} {
		t.Run(p.String(), func(t *testing.T) {
			b := New(WithNotifier(func(DropNotice) {}))
			defer b.Close()
			stalled := must(Subscribe[evtA](b, BufSize(4), WithPolicy(p), Name("stalled")))
			healthy := must(Subscribe[evtA](b, BufSize(0), WithPolicy(Block)))
			em := must(NewEmitter[evtA](b))
			const n = 500
			go func() {
				for i := 0; i < n; i++ {
					if err := em.Emit(evtA{i}); err != nil {
						t.Error(err)
					}
				}
			}()
			for i := 0; i < n; i++ {
				if got := recv(t, healthy.Out()); got.N != i {
					t.Fatalf("healthy subscriber got %d, want %d", got.N, i)
				}
			}
			switch p {
			case Kill:
				got := closed(t, stalled.Out())
				if len(got) != 4 || !errors.Is(stalled.Err(), ErrKilled) {
					t.Fatalf("killed subscription kept %d events, Err %v; want its 4 queued and ErrKilled", len(got), stalled.Err())
				}
				if d := stalled.c.delivered(); d != 4 {
					t.Fatalf("bus counted %d delivered to the killed subscription, want the 4 it received", d)
				}
			default:
				if d := stalled.Dropped(); d != n-4 {
					t.Fatalf("dropped %d, want %d", d, n-4)
				}
			}
		})
	}
}

func TestNotifyCallsBackWithNameTypeAndCount(t *testing.T) {
	b := New()
	defer b.Close()
	var mu sync.Mutex
	var notes []DropNotice
	sub := must(Subscribe[evtA](b, BufSize(1), Name("slow"), OnDrop(func(n DropNotice) {
		mu.Lock()
		notes = append(notes, n)
		mu.Unlock()
	})))
	em := must(NewEmitter[evtA](b))
	for i := 0; i < 4; i++ {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != 3 {
		t.Fatalf("%d notices, want 3", len(notes))
	}
	for i, n := range notes {
		if n.Subscriber != "slow" || n.Type != reflect.TypeFor[evtA]() || n.Dropped != uint64(i+1) {
			t.Fatalf("notice %d = %+v", i, n)
		}
	}
	if got := recv(t, sub.Out()); got.N != 0 {
		t.Fatalf("kept %d, want the first event", got.N)
	}
}

func TestNotifierPanicIsRecoveredAndCounted(t *testing.T) {
	b := New()
	defer b.Close()
	must(Subscribe[evtA](b, BufSize(0), OnDrop(func(DropNotice) { panic("boom") })))
	em := must(NewEmitter[evtA](b))
	for i := 0; i < 3; i++ {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.NotifierPanics(); got != 3 {
		t.Fatalf("NotifierPanics = %d, want 3", got)
	}
}

func TestDefaultPolicyIsNotifyAndLogs(t *testing.T) {
	var logged []DropNotice
	b := New(WithNotifier(func(n DropNotice) { logged = append(logged, n) }))
	defer b.Close()
	sub := must(Subscribe[evtA](b, BufSize(0)))
	em := must(NewEmitter[evtA](b))
	if err := em.Emit(evtA{}); err != nil {
		t.Fatal(err)
	}
	if len(logged) != 1 || sub.Dropped() != 1 {
		t.Fatalf("default policy: %d notices, %d dropped; want Notify with the bus notifier", len(logged), sub.Dropped())
	}
	if info := b.Subscriptions(); info[0].Policy != Notify {
		t.Fatalf("policy %v, want notify", info[0].Policy)
	}
}

func TestKilledSubscriptionCanBeClosedAndRecreated(t *testing.T) {
	b := New()
	defer b.Close()
	sub := must(Subscribe[evtA](b, BufSize(0), WithPolicy(Kill)))
	em := must(NewEmitter[evtA](b))
	if err := em.Emit(evtA{}); err != nil {
		t.Fatal(err)
	}
	closed(t, sub.Out())
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(sub.Err(), ErrKilled) {
		t.Fatalf("Err after Close of a killed subscription = %v, want ErrKilled", sub.Err())
	}
	if s := StatOf[evtA](b); s.Subscribers != 0 {
		t.Fatalf("killed subscription still attached: %+v", s)
	}
}

func TestBusCloseEndsSubscriptionsAndReleasesEmitters(t *testing.T) {
	b := New(WithDefaultPolicy(Block))
	sub := must(Subscribe[evtA](b, BufSize(0)))
	em := must(NewEmitter[evtA](b))
	emitted := make(chan error)
	go func() { emitted <- em.Emit(evtA{}) }()
	within(t, "Bus.Close with a blocked emitter", func() { b.Close() })
	recv(t, emitted)
	closed(t, sub.Out())
	if !errors.Is(sub.Err(), ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", sub.Err())
	}
}

// Bus.Close must release an emitter blocked on one Block subscription even
// while it detaches another subscription of the same type first: detaching
// needs the type's lock, which the blocked emitter holds.
func TestBusCloseReleasesEmitterBlockedOnAnotherBlockSubscription(t *testing.T) {
	for round := 0; round < 20; round++ {
		b := New(WithDefaultPolicy(Block))
		subs := []*Subscription[evtA]{must(Subscribe[evtA](b, BufSize(0))), must(Subscribe[evtA](b, BufSize(0)))}
		em := must(NewEmitter[evtA](b))
		emitted := make(chan error)
		go func() { emitted <- em.Emit(evtA{}) }() // blocks: nobody reads
		waitBlockedInSend(t)
		within(t, "Bus.Close with an emitter blocked on one of two subscriptions", func() { b.Close() })
		if err := recv(t, emitted); err != nil {
			t.Fatalf("Emit that began before Close: %v", err)
		}
		for _, s := range subs {
			closed(t, s.Out())
		}
	}
}

func TestPolicyString(t *testing.T) {
	for p, want := range map[Policy]string{Block: "block", Drop: "drop", Kill: "kill", Notify: "notify", 9: "policy(9)"} {
		if p.String() != want {
			t.Errorf("%d.String() = %q, want %q", p, p.String(), want)
		}
	}
}
