package bustest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
)

type evtA struct{ N int }
type evtB struct{ S string }

const timeout = 10 * time.Second

func TestRecorderRecordsInOrderAndWaits(t *testing.T) {
	b := eventbus.New()
	defer b.Close()
	rec := bustest.NewRecorder(t, b, new(evtA), new(evtB))
	ea, err := eventbus.NewEmitter[evtA](b)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := eventbus.NewEmitter[evtB](b)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			_ = ea.Emit(evtA{i})
		}
		_ = eb.Emit(evtB{"done"})
	}()
	got := bustest.WaitFor(t, rec, func(e evtB) bool { return e.S == "done" }, timeout)
	wg.Wait()
	if got.S != "done" {
		t.Fatalf("WaitFor returned %+v", got)
	}
	as := bustest.WaitCount[evtA](t, rec, 100, timeout)
	for i, a := range as {
		if a.N != i {
			t.Fatalf("event %d is %+v: order lost", i, a)
		}
	}
	entries := rec.Entries()
	for i := 1; i < len(entries); i++ {
		if entries[i].Seq <= entries[i-1].Seq {
			t.Fatalf("sequence numbers not increasing at %d: %d after %d", i, entries[i].Seq, entries[i-1].Seq)
		}
	}
	bustest.WaitForNone[evtA, evtB](t, rec, func(a evtA) bool { return a.N >= 100 }, nil, timeout)
	if n := len(bustest.Of[evtB](rec)); n != 1 {
		t.Fatalf("%d evtB recorded, want 1", n)
	}
	rec.Reset()
	if rec.Len() != 0 {
		t.Fatal("Reset kept events")
	}
}

func TestRecorderWildcard(t *testing.T) {
	b := eventbus.New()
	defer b.Close()
	rec := bustest.NewRecorder(t, b)
	em, err := eventbus.NewEmitter[evtB](b)
	if err != nil {
		t.Fatal(err)
	}
	_ = em.Emit(evtB{"x"})
	bustest.WaitFor[evtB](t, rec, nil, timeout)
}

// fakeTB records a Fatalf instead of ending the test, to check that waits
// fail when they should.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
}

func TestWaitFailsWhenTheSubscriptionEnds(t *testing.T) {
	b := eventbus.New()
	rec, err := bustest.Start(b, new(evtA))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	b.Close() // ends the subscription: the wait below must not run to its timeout
	f := &fakeTB{TB: t}
	bustest.WaitFor[evtA](f, rec, nil, time.Hour)
	if !f.failed {
		t.Fatal("WaitFor on an ended subscription did not fail")
	}
	if rec.Err() == nil {
		t.Fatal("Err is nil after the bus closed")
	}
}

func TestWaitForNoneCatchesAnUnexpectedEvent(t *testing.T) {
	b := eventbus.New()
	defer b.Close()
	rec := bustest.NewRecorder(t, b, new(evtA), new(evtB))
	ea, _ := eventbus.NewEmitter[evtA](b)
	eb, _ := eventbus.NewEmitter[evtB](b)
	_ = ea.Emit(evtA{1})
	_ = eb.Emit(evtB{"barrier"})
	f := &fakeTB{TB: t}
	bustest.WaitForNone[evtA, evtB](f, rec, nil, nil, timeout)
	if !f.failed {
		t.Fatal("WaitForNone missed an evtA before the barrier")
	}
}

func TestSubscribeAndNextConsumeInOrder(t *testing.T) {
	b := eventbus.New()
	defer b.Close()
	sub := bustest.Subscribe[evtA](t, b)
	ea, err := eventbus.NewEmitter[evtA](b)
	if err != nil {
		t.Fatal(err)
	}
	defer ea.Close()
	for i := range 5 {
		_ = ea.Emit(evtA{i})
	}
	if got := bustest.Next[evtA](t, sub, nil, timeout); got.N != 0 {
		t.Fatalf("first Next = %+v, want 0", got)
	}
	if got := bustest.Next(t, sub, func(a evtA) bool { return a.N >= 3 }, timeout); got.N != 3 {
		t.Fatalf("Next(>=3) = %+v, want 3", got)
	}
	// 1 and 2 were consumed by the previous Next.
	if got := bustest.Next[evtA](t, sub, nil, timeout); got.N != 4 {
		t.Fatalf("Next after the match = %+v, want 4", got)
	}
}

func TestNextFailsWhenTheSubscriptionEnds(t *testing.T) {
	b := eventbus.New()
	sub := bustest.Subscribe[evtA](t, b)
	b.Close() // ends the subscription: Next must not run to its timeout
	f := &fakeTB{TB: t}
	bustest.Next[evtA](f, sub, nil, time.Hour)
	if !f.failed {
		t.Fatal("Next on an ended subscription did not fail")
	}
}

func TestEventuallyRunsStepUntilTheConditionHolds(t *testing.T) {
	steps := 0
	bustest.Eventually(t, timeout, "three steps", func() bool { return steps >= 3 }, func() { steps++ })
	if steps != 3 {
		t.Fatalf("%d steps, want 3", steps)
	}
	f := &fakeTB{TB: t}
	bustest.Eventually(f, 10*time.Millisecond, "never", func() bool { return false }, nil)
	if !f.failed {
		t.Fatal("Eventually on a condition that never holds did not fail")
	}
}
