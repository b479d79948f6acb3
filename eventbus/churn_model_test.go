package eventbus

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// churnRec is one channel subscription of the churn model: how it was made
// and closed, and what its reader saw.
type churnRec struct {
	id     int
	kind   string // "typed", "sequenced" or "event.Bus"
	policy Policy
	buf    int
	c      *subCore
	close  func() error
	drain  func(context.Context) error // CloseAfterDrain
	out    func() (seqEvt, uint64, bool)
	queued func() int
	// fullRun subscriptions exist before the first Emit and are closed
	// after the last one.
	fullRun bool

	// Written by the reader goroutine, read after it ended.
	got  []seqEvt
	seqs []uint64
	// afterClose is what the reader drained after its own Close returned,
	// and queuedAtClose the queue length right after Close returned: no
	// emitter may deliver after Close, so the two are equal.
	afterClose, queuedAtClose int
	readerClosed              bool

	notified atomic.Uint64 // Notifier calls
	// readerDone is closed when the reader saw the channel close.
	readerDone chan struct{}
}

// runChurnModel drives one seeded schedule of the churn scenario, with
// checks: emitters emit numbered events while churners subscribe and close
// channel subscriptions of every API (typed, sequenced, event.Bus) and
// every policy, readers read some or all and close, churners close
// subscriptions under their readers (Close or CloseAfterDrain), and a few
// subscriptions live through the whole run. Under -race it checks that
// nothing sends on a closed channel (the emitter would panic), and, per
// subscription:
//   - each emitter's events arrive in emission order, with increasing
//     sequence numbers;
//   - Block and Kill: no emitter's events have a hole (an event is lost
//     only by the subscription's end: once one is not delivered, none
//     after it is); Drop and Notify: the holes are at most the drops;
//   - nothing is delivered after Close returned (what the reader drains
//     then is what was queued when Close returned);
//   - the bus's delivered count is what the reader received, the
//     Notifier ran once per drop, Err is ErrKilled exactly for the killed;
//   - a full-run Block subscription got every event exactly once, a
//     full-run Drop one received + dropped == emitted;
//
// and for the type, that emitted, dropped and killed are the sums of the
// subscriptions'; every wait has a deadline.
func runChurnModel(t *testing.T, seed int64, emitters, events, churners, steps int) churnStats {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	b := New(WithNotifier(func(DropNotice) {}))
	ems := make([]*Emitter[seqEvt], emitters)
	for i := range ems {
		ems[i] = must(NewEmitter[seqEvt](b))
	}

	var mu sync.Mutex // guards recs
	var recs []*churnRec
	var readers sync.WaitGroup
	policies := []Policy{Block, Drop, Kill, Notify}

	// subscribe makes one subscription of a random kind, policy and buffer
	// and starts its reader, which reads readFor events (all when < 0)
	// and then closes it itself.
	subscribe := func(r *rand.Rand, fullRun bool, policy Policy) *churnRec {
		rec := &churnRec{policy: policy, buf: r.Intn(4), fullRun: fullRun, readerDone: make(chan struct{})}
		opts := []SubscriptionOpt{BufSize(rec.buf), WithPolicy(policy)}
		if policy == Notify {
			opts = append(opts, OnDrop(func(DropNotice) { rec.notified.Add(1) }))
		}
		switch k := r.Intn(3); {
		case k == 0 || fullRun:
			s := must(Subscribe[seqEvt](b, opts...))
			rec.kind, rec.c, rec.close, rec.drain = "typed", s.c, s.Close, s.CloseAfterDrain
			rec.queued = func() int { return len(s.ch) }
			rec.out = func() (seqEvt, uint64, bool) { v, ok := <-s.Out(); return v, 0, ok }
		case k == 1:
			s := must(SubscribeSequenced[seqEvt](b, opts...))
			rec.kind, rec.c, rec.close, rec.drain = "sequenced", s.c, s.Close, s.CloseAfterDrain
			rec.queued = func() int { return len(s.ch) }
			rec.out = func() (seqEvt, uint64, bool) { v, ok := <-s.Out(); return v.Event, v.Seq, ok }
		default:
			s := must(b.Subscribe(new(seqEvt), opts...))
			rec.kind, rec.c, rec.close, rec.drain = "event.Bus", s.c, s.Close, s.CloseAfterDrain
			rec.queued = func() int { return len(s.ch) }
			rec.out = func() (seqEvt, uint64, bool) {
				v, ok := <-s.Out()
				if !ok {
					return seqEvt{}, 0, false
				}
				return v.(seqEvt), 0, true
			}
		}
		readFor := -1
		if !fullRun && r.Intn(2) == 0 {
			readFor = r.Intn(3 * emitters)
		}
		slow := r.Intn(3) == 0
		mu.Lock()
		rec.id = len(recs)
		recs = append(recs, rec)
		mu.Unlock()
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer close(rec.readerDone)
			closeOwn := func() {
				_ = rec.close()
				rec.readerClosed = true
				rec.queuedAtClose = rec.queued()
			}
			if readFor == 0 {
				closeOwn()
			}
			for {
				ev, seq, ok := rec.out()
				if !ok {
					return
				}
				rec.got = append(rec.got, ev)
				rec.seqs = append(rec.seqs, seq)
				if rec.readerClosed {
					rec.afterClose++
				}
				if slow && len(rec.got)%5 == 0 {
					runtime.Gosched() // let the emitters fill the queue
				}
				if len(rec.got) == readFor {
					closeOwn() // then drain what was queued
				}
			}
		}()
		return rec
	}

	// Full-run subscriptions: one per policy, typed, made before any Emit.
	for _, p := range policies {
		subscribe(rng, true, p)
	}

	var emitting sync.WaitGroup
	for i, em := range ems {
		emitting.Add(1)
		go func() {
			defer emitting.Done()
			for n := range events {
				if err := em.Emit(seqEvt{Emitter: i, N: n}); err != nil {
					t.Errorf("emit: %v", err)
					return
				}
				if n%64 == 63 {
					runtime.Gosched()
				}
			}
		}()
	}
	var churning sync.WaitGroup
	for c := range churners {
		r := rand.New(rand.NewSource(seed*1000 + int64(c)))
		churning.Add(1)
		go func() {
			defer churning.Done()
			var live []*churnRec
			for range steps {
				live = append(live, subscribe(r, false, policies[r.Intn(len(policies))]))
				if len(live) > 0 && r.Intn(2) == 0 {
					i := r.Intn(len(live))
					rec := live[i]
					live = append(live[:i], live[i+1:]...)
					if r.Intn(4) == 0 {
						ctx, cancel := context.WithTimeout(context.Background(), deadline)
						if err := rec.drain(ctx); err != nil {
							t.Errorf("seed %d sub %d: CloseAfterDrain: %v", seed, rec.id, err)
						}
						cancel()
					} else {
						_ = rec.close()
					}
				}
			}
		}()
	}
	within(t, "churners", churning.Wait)
	within(t, "emitters", emitting.Wait)
	// A killed subscription's channel closes without anybody calling
	// Close.
	mu.Lock()
	all := append([]*churnRec(nil), recs...)
	mu.Unlock()
	for _, rec := range all {
		if errors.Is(rec.c.Err(), ErrKilled) {
			within(t, fmt.Sprintf("sub %d: channel close after its kill", rec.id), func() { <-rec.readerDone })
		}
	}
	for _, rec := range all {
		_ = rec.close()
	}
	within(t, "readers", readers.Wait)
	var st churnStats
	if t.Failed() {
		return st
	}

	var dropped, killed uint64
	for _, rec := range recs {
		checkChurnRec(t, seed, rec, emitters, events)
		dropped += rec.c.droppedTotal()
		if errors.Is(rec.c.Err(), ErrKilled) {
			killed++
		}
		st.subs++
		st.received += len(rec.got)
		st.abandoned += rec.c.abandoned.Load()
	}
	if n := len(b.Subscriptions()); n != 0 {
		t.Errorf("seed %d: %d subscriptions still listed after every Close", seed, n)
	}
	for _, ti := range b.Types() {
		if ti.Type != reflect.TypeFor[seqEvt]() {
			continue
		}
		if ti.Emitted != uint64(emitters*events) || ti.Dropped != dropped || ti.Killed != killed {
			t.Errorf("seed %d: type counts emitted %d dropped %d killed %d, want %d, %d, %d",
				seed, ti.Emitted, ti.Dropped, ti.Killed, emitters*events, dropped, killed)
		}
	}
	within(t, "bus Close", func() { _ = b.Close() })
	st.dropped, st.killed = dropped, killed
	return st
}

// churnStats sums what one runChurnModel run exercised.
type churnStats struct {
	subs, received             int
	dropped, killed, abandoned uint64
}

// checkChurnRec checks one subscription of runChurnModel.
func checkChurnRec(t *testing.T, seed int64, rec *churnRec, emitters, events int) {
	t.Helper()
	where := fmt.Sprintf("seed %d sub %d (%s, %v, buf %d)", seed, rec.id, rec.kind, rec.policy, rec.buf)
	dropped, abandoned := rec.c.droppedTotal(), rec.c.abandoned.Load()
	last := make(map[int]int)
	lastSeq := make(map[int]uint64)
	holes := 0
	for k, ev := range rec.got {
		if ev.Emitter < 0 || ev.Emitter >= emitters || ev.N < 0 || ev.N >= events {
			t.Errorf("%s: forged event %+v", where, ev)
			return
		}
		if prev, seen := last[ev.Emitter]; seen {
			switch {
			case ev.N <= prev:
				t.Errorf("%s: emitter %d went %d -> %d (out of order or duplicated)", where, ev.Emitter, prev, ev.N)
				return
			case ev.N > prev+1 && (rec.policy == Block || rec.policy == Kill):
				t.Errorf("%s: emitter %d went %d -> %d: lost events without an end", where, ev.Emitter, prev, ev.N)
				return
			}
			holes += ev.N - prev - 1
		}
		last[ev.Emitter] = ev.N
		if rec.kind == "sequenced" {
			if prev, seen := lastSeq[ev.Emitter]; seen && rec.seqs[k] <= prev {
				t.Errorf("%s: emitter %d: sequence %d after %d", where, ev.Emitter, rec.seqs[k], prev)
				return
			}
			lastSeq[ev.Emitter] = rec.seqs[k]
		}
	}
	if uint64(holes) > dropped+abandoned {
		t.Errorf("%s: %d events missing between received ones, dropped %d + abandoned %d", where, holes, dropped, abandoned)
	}
	if rec.readerClosed && rec.afterClose != rec.queuedAtClose {
		t.Errorf("%s: %d events read after Close returned with %d queued: delivered after Close", where, rec.afterClose, rec.queuedAtClose)
	}
	if d := rec.c.delivered(); d != uint64(len(rec.got)) {
		t.Errorf("%s: received %d, the bus counted %d delivered (dropped %d, abandoned %d)", where, len(rec.got), d, dropped, abandoned)
	}
	if rec.policy == Notify && rec.notified.Load() != dropped {
		t.Errorf("%s: Notifier ran %d times for %d drops", where, rec.notified.Load(), dropped)
	}
	if rec.policy != Notify && rec.policy != Drop && dropped != 0 {
		t.Errorf("%s: dropped %d", where, dropped)
	}
	if err := rec.c.Err(); err != nil && !(errors.Is(err, ErrKilled) && rec.policy == Kill && abandoned > 0) {
		t.Errorf("%s: Err %v with %d abandoned", where, err, abandoned)
	}
	if !rec.fullRun {
		return
	}
	total := uint64(emitters * events)
	switch {
	case rec.policy == Block && (len(rec.got) != emitters*events || abandoned != 0):
		t.Errorf("%s: full run received %d of %d (abandoned %d)", where, len(rec.got), total, abandoned)
	case rec.policy == Drop || rec.policy == Notify:
		if uint64(len(rec.got))+dropped != total || abandoned != 0 {
			t.Errorf("%s: full run received %d + dropped %d != emitted %d (abandoned %d)", where, len(rec.got), dropped, total, abandoned)
		}
	case rec.policy == Kill && rec.c.Err() == nil && len(rec.got) != emitters*events:
		t.Errorf("%s: full run not killed, received %d of %d", where, len(rec.got), total)
	}
}

// TestChurnModel runs runChurnModel over fixed seeds.
func TestChurnModel(t *testing.T) {
	var sum churnStats
	for seed := int64(1); seed <= 12; seed++ {
		st := runChurnModel(t, seed, 1+int(seed%3), 300, 1+int(seed%2), 40)
		if t.Failed() {
			return
		}
		sum.subs += st.subs
		sum.received += st.received
		sum.dropped += st.dropped
		sum.killed += st.killed
		sum.abandoned += st.abandoned
	}
	t.Logf("%d subscriptions received %d events, dropped %d, abandoned %d; %d killed",
		sum.subs, sum.received, sum.dropped, sum.abandoned, sum.killed)
}

// FuzzChurnModel explores schedules beyond the fixed seeds:
// go test -run x -fuzz FuzzChurnModel ./eventbus
func FuzzChurnModel(f *testing.F) {
	f.Add(int64(1), uint8(2), uint8(1))
	f.Add(int64(7), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, seed int64, emitters, churners uint8) {
		_ = runChurnModel(t, seed, 1+int(emitters%4), 200, 1+int(churners%3), 30)
	})
}
