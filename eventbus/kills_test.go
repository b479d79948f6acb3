package eventbus

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestKillsDetachedByTheEmitter: every subscription one Emit kills — two
// channel subscriptions of the typed and event.Bus APIs, a sequenced one,
// and batch queues (lane members and a queue of its own) — is detached by
// the emitter before its Emit returns, not by a goroutine started for it:
// right after the Emit, the type has no subscriber left, every channel is
// closed behind what it had queued, and Next reports ErrKilled.
func TestKillsDetachedByTheEmitter(t *testing.T) {
	for _, api := range []string{"typed", "event.Bus"} {
		t.Run(api, func(t *testing.T) {
			b := New()
			defer b.Close()
			opts := []SubscriptionOpt{WithPolicy(Kill), BufSize(1)}
			c1 := must(Subscribe[evtA](b, opts...))
			c2 := must(Subscribe[evtA](b, opts...))
			a1 := must(b.Subscribe(new(evtA), opts...))
			sq := must(SubscribeSequenced[evtA](b, opts...))
			l1 := must(SubscribeBatch[evtA](b, opts...))
			l2 := must(SubscribeBatch[evtA](b, opts...))
			own := must(SubscribeBatchSequenced[evtA](b, opts...))
			var emit func(evtA) error
			if api == "typed" {
				emit = must(NewEmitter[evtA](b)).Emit
			} else {
				em := must(b.Emitter(new(evtA)))
				emit = func(v evtA) error { return em.Emit(v) }
			}
			if err := emit(evtA{1}); err != nil { // fills every queue
				t.Fatal(err)
			}
			if err := emit(evtA{2}); err != nil { // kills all of them
				t.Fatal(err)
			}
			if got := StatOf[evtA](b).Subscribers; got != 0 {
				t.Fatalf("%d subscriptions still attached right after the Emit that killed them", got)
			}
			for i, ch := range []<-chan evtA{c1.Out(), c2.Out()} {
				if v := <-ch; v.N != 1 {
					t.Fatalf("channel %d: got %v, want the queued event", i, v)
				}
				if _, ok := <-ch; ok {
					t.Fatalf("channel %d: open after its kill", i)
				}
			}
			if v := <-a1.Out(); v.(evtA).N != 1 {
				t.Fatalf("event.Bus subscription: got %v", v)
			}
			if _, ok := <-a1.Out(); ok {
				t.Fatal("event.Bus subscription: open after its kill")
			}
			<-sq.Out()
			if _, ok := <-sq.Out(); ok {
				t.Fatal("sequenced subscription: open after its kill")
			}
			ctx := context.Background()
			for i, s := range []*BatchSubscription[evtA]{l1, l2} {
				if got, err := s.Next(ctx, make([]evtA, 4)); err != nil || len(got) != 1 {
					t.Fatalf("batch %d: Next = %v, %v; want the queued event", i, got, err)
				}
				if _, err := s.Next(ctx, make([]evtA, 4)); !errors.Is(err, ErrKilled) {
					t.Fatalf("batch %d: Next = %v, want ErrKilled", i, err)
				}
			}
			if _, err := own.Next(ctx, make([]Sequenced[evtA], 4)); err != nil {
				t.Fatal(err)
			}
			if _, err := own.Next(ctx, make([]Sequenced[evtA], 4)); !errors.Is(err, ErrKilled) {
				t.Fatalf("sequenced batch: Next = %v, want ErrKilled", err)
			}
			if ti := typeInfo(t, b); ti.Killed != 7 {
				t.Fatalf("killed %d, want 7", ti.Killed)
			}
		})
	}
}

func typeInfo(t *testing.T, b *Bus) TypeInfo {
	t.Helper()
	for _, ti := range b.Types() {
		if ti.Type == reflect.TypeFor[evtA]() {
			return ti
		}
	}
	t.Fatal("no evtA in Types()")
	return TypeInfo{}
}
