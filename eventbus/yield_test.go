package eventbus

import "testing"

// TestYieldDebt drives an emitter's yield state by hand: a hand-off to a
// Drop subscriber's parked reader records a debt and does not yield; the
// debt is checked once the reader's queue would have filled had it not
// run, and is void when the reader took something (or the subscription
// ended), and paid with a yield when it did not.
func TestYieldDebt(t *testing.T) {
	b := New()
	defer b.Close()
	const buf = 4
	sub := must(Subscribe[evtA](b, BufSize(buf), WithPolicy(Drop)))
	defer sub.Close()
	em := must(NewEmitter[evtA](b))
	defer em.Close()
	n, y := em.n, &em.y
	c := sub.c

	// Emits before the first yield: let the rate limit allow one.
	for range yieldEvery {
		if err := em.Emit(evtA{}); err != nil {
			t.Fatal(err)
		}
	}
	drainQueued(sub.Out())
	y.owedTo.Store(nil)
	lastBefore := y.last.Load()

	emit := func() {
		t.Helper()
		if err := em.Emit(evtA{}); err != nil {
			t.Fatal(err)
		}
	}
	// A hand-off (queue length 1 after it) records a debt, no yield.
	emit()
	y.maybeYield(n, false, c, 1)
	if y.owedTo.Load() != c {
		t.Fatal("a hand-off to a Drop subscriber recorded no debt")
	}
	if y.last.Load() != lastBefore {
		t.Fatal("a hand-off to a Drop subscriber yielded at once")
	}
	// Within the grace (the queue not full yet): the debt stays.
	emit()
	emit()
	if y.owedTo.Load() != c || y.last.Load() != lastBefore {
		t.Fatalf("debt checked before the queue could fill: owed %v, last %d -> %d", y.owedTo.Load() != nil, lastBefore, y.last.Load())
	}
	// The reader takes one event: at the grace's end the debt is void.
	<-sub.Out()
	emit()
	if y.owedTo.Load() != nil {
		t.Fatal("the debt stayed although the reader took an event")
	}
	if y.last.Load() != lastBefore {
		t.Fatal("yielded although the reader ran")
	}

	// Empty the queue; a new hand-off, then nobody reads: once the queue
	// is full the emitter yields (the rate limit allows it: more than
	// yieldEvery Emits since the last yield).
	drainQueued(sub.Out())
	for range yieldEvery {
		n.emitted.Add(1) // as if other emitters emitted, without queueing
	}
	emit()
	y.maybeYield(n, false, c, 1)
	for range buf {
		emit()
	}
	if y.owedTo.Load() != nil || y.last.Load() == lastBefore {
		t.Fatalf("no yield for a reader that did not run: owed %v, last %d", y.owedTo.Load() != nil, y.last.Load())
	}

	// A debt to a subscription that ended is void.
	drainQueued(sub.Out())
	last := y.last.Load()
	emit()
	y.maybeYield(n, false, c, 1)
	_ = sub.Close()
	for range buf {
		n.emitted.Add(1)
	}
	y.maybeYield(n, false, nil, 0)
	if y.owedTo.Load() != nil || y.last.Load() != last {
		t.Fatal("a debt to a closed subscription was not voided, or was paid")
	}
}
