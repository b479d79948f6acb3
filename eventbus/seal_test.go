package eventbus

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSealFailsSubscriptionsWithoutEmitter(t *testing.T) {
	b := New()
	defer b.Close()
	missing := must(Subscribe[evtB](b, RequireEmitter(), Name("needs-b")))
	present := must(Subscribe[evtA](b, RequireEmitter()))
	viaIface := must(Subscribe[describer](b, RequireEmitter()))
	optional := must(Subscribe[evtC](b))
	must(NewEmitter[evtA](b))
	must(NewEmitter[evtC](b)) // implements describer

	err := b.Seal()
	if !errors.Is(err, ErrNoEmitter) {
		t.Fatalf("Seal = %v, want ErrNoEmitter", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "eventbus.evtB") || !strings.Contains(msg, "needs-b") {
		t.Fatalf("Seal error %q does not name the type and subscriber", msg)
	}
	closed(t, missing.Out())
	if !errors.Is(missing.Err(), ErrNoEmitter) {
		t.Fatalf("Err = %v, want ErrNoEmitter", missing.Err())
	}
	for _, err := range []error{present.Err(), viaIface.Err(), optional.Err()} {
		if err != nil {
			t.Fatalf("satisfied subscription ended: %v", err)
		}
	}
	// After the seal, Subscribe itself fails.
	if _, err := Subscribe[evtB](b, RequireEmitter()); !errors.Is(err, ErrNoEmitter) {
		t.Fatalf("Subscribe after Seal = %v, want ErrNoEmitter", err)
	}
	if _, err := Subscribe[evtA](b, RequireEmitter()); err != nil {
		t.Fatalf("Subscribe with an emitter after Seal: %v", err)
	}
}

func TestWaitForEmitter(t *testing.T) {
	b := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitForEmitterOf[evtA](ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled wait = %v", err)
	}
	done := make(chan error)
	go func() { done <- WaitForEmitterOf[describer](context.Background(), b) }()
	must(NewEmitter[evtA](b)) // not a describer: the waiter keeps waiting
	must(NewEmitter[evtB](b))
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	go func() { done <- WaitForEmitterOf[evtC](context.Background(), b) }()
	b.Close()
	if err := recv(t, done); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait across Close = %v, want ErrClosed", err)
	}
}

func TestStatCountsEverySubscriberKind(t *testing.T) {
	b := New()
	defer b.Close()
	must(Subscribe[evtB](b))
	must(Subscribe[describer](b))
	must(b.Subscribe(new(any))) // every type implements any
	em := must(NewEmitter[evtB](b))
	if s := StatOf[evtB](b); s.Subscribers != 3 || s.Emitters != 1 {
		t.Fatalf("Stat = %+v, want 3 subscribers, 1 emitter", s)
	}
	em.Close()
	if s := StatOf[evtB](b); s.Emitters != 0 {
		t.Fatalf("emitter not released: %+v", s)
	}
	if s := StatOf[evtA](b); s != (Stat{}) {
		t.Fatalf("unknown type Stat = %+v", s)
	}
}
