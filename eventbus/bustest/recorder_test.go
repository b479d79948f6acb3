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
