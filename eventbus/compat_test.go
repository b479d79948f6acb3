package eventbus

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/libp2p/go-libp2p/core/event"
	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// compatBus is the event.Bus view of a *Bus, as eventbus/libp2pbus makes it
// (that package cannot be imported here without a cycle; its own test
// checks it is the same three forwarding methods).
type compatBus struct{ *Bus }

func (b compatBus) Subscribe(t any, opts ...event.SubscriptionOpt) (event.Subscription, error) {
	s, err := b.Bus.Subscribe(t, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b compatBus) Emitter(t any, opts ...event.EmitterOpt) (event.Emitter, error) {
	e, err := b.Bus.Emitter(t, opts...)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// busUnderTest is used only through the go-libp2p interface in these tests,
// proving that code written against event.Bus works unchanged.
func blockingBus() event.Bus { return compatBus{New(WithDefaultPolicy(Block))} }

func TestCompatDeliversEverythingUnderBlock(t *testing.T) {
	b := blockingBus()
	defer b.(compatBus).Close()
	sub := must(b.Subscribe(new(evtA), BufSize(0)))
	em := must(b.Emitter(new(evtA)))
	const n = 1000
	go func() {
		for i := 0; i < n; i++ {
			if err := em.Emit(evtA{i}); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := 0; i < n; i++ {
		if got := recv(t, sub.Out()).(evtA); got.N != i {
			t.Fatalf("event %d: got %d", i, got.N)
		}
	}
	within(t, "Close", func() { sub.Close() })
}

func TestCompatStatefulReplay(t *testing.T) {
	b := blockingBus()
	defer b.(compatBus).Close()
	em := must(b.Emitter(new(evtA), Stateful))
	if err := em.Emit(evtA{1}); err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(evtA{2}); err != nil {
		t.Fatal(err)
	}
	sub := must(b.Subscribe(new(evtA)))
	if got := recv(t, sub.Out()).(evtA); got.N != 2 {
		t.Fatalf("replayed %d, want the last event 2", got.N)
	}
	empty(t, sub.Out())
	// A later event follows the replay.
	if err := em.Emit(evtA{3}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, sub.Out()).(evtA); got.N != 3 {
		t.Fatalf("got %d after replay, want 3", got.N)
	}
	// A non-stateful type replays nothing.
	emB := must(b.Emitter(new(evtB)))
	if err := emB.Emit(evtB{"x"}); err != nil {
		t.Fatal(err)
	}
	subB := must(b.Subscribe(new(evtB)))
	empty(t, subB.Out())
}

func TestCompatWildcardSeesEverything(t *testing.T) {
	b := blockingBus()
	defer b.(compatBus).Close()
	emA := must(b.Emitter(new(evtA)))
	all := must(b.Subscribe(event.WildcardSubscription))
	// A type whose node is created after the wildcard subscription.
	emB := must(b.Emitter(new(evtB)))
	if err := emA.Emit(evtA{1}); err != nil {
		t.Fatal(err)
	}
	if err := emB.Emit(evtB{"b"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, all.Out()); got != (evtA{1}) {
		t.Fatalf("got %v", got)
	}
	if got := recv(t, all.Out()); got != (evtB{"b"}) {
		t.Fatalf("got %v", got)
	}
}

func TestCompatMultiTypeKeepsEmitterOrder(t *testing.T) {
	b := blockingBus()
	defer b.(compatBus).Close()
	sub := must(b.Subscribe([]any{new(evtA), new(evtB)}, BufSize(256)))
	emA := must(b.Emitter(new(evtA)))
	emB := must(b.Emitter(new(evtB)))
	for i := 0; i < 100; i++ {
		if err := emA.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
		if err := emB.Emit(evtB{S: string(rune('a' + i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	nextA, nextB := 0, 0
	for i := 0; i < 200; i++ {
		switch e := recv(t, sub.Out()).(type) {
		case evtA:
			if e.N != nextA {
				t.Fatalf("A out of order: %d, want %d", e.N, nextA)
			}
			nextA++
		case evtB:
			if want := string(rune('a' + nextB%26)); e.S != want {
				t.Fatalf("B out of order: %q, want %q", e.S, want)
			}
			nextB++
		}
	}
}

func TestCompatCloseReleasesBlockedEmitter(t *testing.T) {
	b := blockingBus()
	defer b.(compatBus).Close()
	sub := must(b.Subscribe(new(evtA), BufSize(0)))
	em := must(b.Emitter(new(evtA)))
	emitted := make(chan error)
	go func() { emitted <- em.Emit(evtA{1}) }() // blocks: nobody reads
	within(t, "sub.Close with a blocked emitter", func() { sub.Close() })
	if err := recv(t, emitted); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil { // double Close is harmless
		t.Fatalf("second Close: %v", err)
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	if err := em.Close(); err != nil {
		t.Fatalf("second emitter Close: %v", err)
	}
}

func TestCompatMisuse(t *testing.T) {
	b := New()
	if _, err := b.Subscribe(evtA{}); !errors.Is(err, ErrNotPointer) {
		t.Fatalf("Subscribe(non-pointer) = %v, want ErrNotPointer", err)
	}
	if _, err := b.Subscribe([]any{new(evtA), evtB{}}); !errors.Is(err, ErrNotPointer) {
		t.Fatalf("Subscribe(slice with non-pointer) = %v, want ErrNotPointer", err)
	}
	if _, err := b.Emitter(evtA{}); !errors.Is(err, ErrNotPointer) {
		t.Fatalf("Emitter(non-pointer) = %v, want ErrNotPointer", err)
	}
	em := must(b.Emitter(new(evtA)))
	if err := em.Emit(evtB{}); !errors.Is(err, ErrWrongType) {
		t.Fatalf("Emit(wrong type) = %v, want ErrWrongType", err)
	}
	if err := em.Emit(nil); !errors.Is(err, ErrWrongType) {
		t.Fatalf("Emit(nil) = %v, want ErrWrongType", err)
	}
	// Options of go-libp2p's own bus implementation are refused, not a panic.
	if _, err := b.Subscribe(new(evtA), lpbus.BufSize(4)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("foreign option = %v, want ErrBadOption", err)
	}
	if _, err := b.Emitter(new(evtA), lpbus.Stateful); !errors.Is(err, ErrBadOption) {
		t.Fatalf("foreign emitter option = %v, want ErrBadOption", err)
	}
	if _, err := b.Subscribe(new(evtA), BufSize(-1)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("BufSize(-1) = %v, want ErrBadOption", err)
	}
	if _, err := b.Subscribe(new(evtA), WithPolicy(Policy(42))); !errors.Is(err, ErrBadOption) {
		t.Fatalf("bad policy = %v, want ErrBadOption", err)
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(evtA{}); !errors.Is(err, ErrEmitterClosed) {
		t.Fatalf("Emit after emitter Close = %v, want ErrEmitterClosed", err)
	}
	em2 := must(b.Emitter(new(evtA)))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second bus Close: %v", err)
	}
	if err := em2.Emit(evtA{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Emit after bus Close = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(new(evtA)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after bus Close = %v, want ErrClosed", err)
	}
	if _, err := b.Emitter(new(evtA)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Emitter after bus Close = %v, want ErrClosed", err)
	}
}

func TestCompatGetAllEventTypesAndName(t *testing.T) {
	b := New()
	defer b.Close()
	must(b.Emitter(new(evtB)))
	must(b.Emitter(new(evtA)))
	must(b.Subscribe(new(evtC))) // subscribed, not emitted: not listed
	got := b.GetAllEventTypes()
	want := []reflect.Type{reflect.TypeFor[evtA](), reflect.TypeFor[evtB]()}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetAllEventTypes = %v, want %v", got, want)
	}
	_, _, line, _ := runtime.Caller(0)
	sub := must(b.Subscribe(new(evtA)))
	if want := fmt.Sprintf("eventbus/compat_test.go:%d", line+1); sub.Name() != want {
		t.Fatalf("default name = %q, want the caller's file:line", sub.Name())
	}
	named := must(b.Subscribe(new(evtA), Name("mine")))
	if named.Name() != "mine" {
		t.Fatalf("Name option ignored: %q", named.Name())
	}
}
