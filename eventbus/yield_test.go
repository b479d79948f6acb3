package eventbus

import "testing"

// TestYieldDebt drives an emitter's yield state by hand: a hand-off to a
// Drop subscriber's parked reader records a debt and does not yield; the
// debt falls due at the Emit that would overflow the reader's queue had it
// not run (checked before that Emit delivers), and is void when the reader
// took something (or the subscription ended), and paid with a yield when
// it did not.
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
	droppedBefore := sub.Dropped()

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
	// Until the queue is full (buf-1 more Emits): the debt stays.
	for range buf - 1 {
		emit()
	}
	if len(sub.Out()) != buf || y.owedTo.Load() != c || y.last.Load() != lastBefore {
		t.Fatalf("debt checked before the queue could overflow: queued %d, owed %v, last %d -> %d", len(sub.Out()), y.owedTo.Load() != nil, lastBefore, y.last.Load())
	}
	// The reader takes one event: at the next Emit the debt is void.
	<-sub.Out()
	emit()
	if y.owedTo.Load() != nil {
		t.Fatal("the debt stayed although the reader took an event")
	}
	if y.last.Load() != lastBefore {
		t.Fatal("yielded although the reader ran")
	}
	if d := sub.Dropped() - droppedBefore; d != 0 {
		t.Fatalf("%d dropped", d)
	}

	// Empty the queue; a new hand-off, then nobody reads: the Emit that
	// would overflow the queue yields first (the rate limit allows it:
	// more than yieldEvery Emits since the last yield).
	drainQueued(sub.Out())
	for range yieldEvery {
		n.emitted.Add(1) // as if other emitters emitted, without queueing
	}
	emit()
	y.maybeYield(n, false, c, 1)
	for range buf - 1 {
		emit()
	}
	if y.owedTo.Load() != c || y.last.Load() != lastBefore {
		t.Fatal("the debt was settled before the queue was full")
	}
	emit()
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
	y.payDue(n)
	if y.owedTo.Load() != nil || y.last.Load() != last {
		t.Fatal("a debt to a closed subscription was not voided, or was paid")
	}
}
