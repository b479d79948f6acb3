package eventbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Lost wake-ups on the batch paths changed in the eighth pass
// (docs/eventbus.md): a reader without a context parks on its wake
// channel alone (Close leaves a token there), an emitter whose fast path
// finds only Block members without room yields holding nothing and looks
// at the cursors itself (lane.tryFast, singleCache.moreRoom) before the
// slow path parks. Each test makes one side park over and over and fails
// at a deadline instead of hanging.

// TestBatchPingPongNoLostWakeup makes the reader park before every event:
// the emitter emits one, waits until the reader has it, and emits the
// next, so every Emit must wake a parked reader (through Next without a
// context and through a handler).
func TestBatchPingPongNoLostWakeup(t *testing.T) {
	const rounds = 3000
	for _, handler := range []bool{false, true} {
		for _, single := range []bool{false, true} {
			t.Run(fmt.Sprintf("handler=%v/single=%v", handler, single), func(t *testing.T) {
				b := New()
				defer b.Close()
				got := make(chan int, 1)
				var s *BatchSubscription[evtA]
				if handler {
					s = must(SubscribeBatchFunc(b, func(batch []evtA) {
						for _, ev := range batch {
							got <- ev.N
						}
					}, WithPolicy(Block), BufSize(4)))
				} else {
					s = must(SubscribeBatch[evtA](b, WithPolicy(Block), BufSize(4)))
					go func() {
						buf := make([]evtA, 4)
						for {
							batch, err := s.Next(context.Background(), buf)
							if err != nil {
								close(got)
								return
							}
							for _, ev := range batch {
								got <- ev.N
							}
						}
					}()
				}
				var opts []EmitterOpt
				if single {
					opts = append(opts, SingleProducer())
				}
				em := must(NewEmitter[evtA](b, opts...))
				for i := range rounds {
					if err := em.Emit(evtA{i}); err != nil {
						t.Fatal(err)
					}
					if n := recv(t, got); n != i {
						t.Fatalf("round %d: got event %d", i, n)
					}
				}
				within(t, "Close", func() { _ = s.Close() })
				if handler {
					within(t, "the handler's end", func() { <-s.Done() })
				} else {
					closed(t, got)
				}
			})
		}
	}
}

// TestBatchCloseWakesParkedReader closes, over and over, a subscription
// whose reader is parked in Next without a context (on its wake channel
// alone): Close, Bus.Close and a kill by the Kill policy must each end the
// wait.
func TestBatchCloseWakesParkedReader(t *testing.T) {
	for _, how := range []string{"Close", "Bus.Close", "kill"} {
		t.Run(how, func(t *testing.T) {
			for round := range 200 {
				b := New()
				policy := Block
				if how == "kill" {
					policy = Kill
				}
				s := must(SubscribeBatch[evtA](b, WithPolicy(policy), BufSize(1)))
				em := must(NewEmitter[evtA](b))
				done := make(chan error, 1)
				go func() {
					buf := make([]evtA, 1)
					for {
						if _, err := s.Next(context.Background(), buf); err != nil {
							done <- err
							return
						}
					}
				}()
				if round%2 == 0 { // parked for sure, or about to park
					waitFor(t, "the reader to park", func() bool { return s.r.readerWaits.Load() })
				}
				switch how {
				case "Close":
					_ = s.Close()
				case "Bus.Close":
					_ = b.Close()
				case "kill":
					// The reader takes what it can; Emits until one finds
					// the queue full kill it (the reader may keep up for
					// a while).
					for i := 0; s.Err() == nil; i++ {
						if err := em.Emit(evtA{i}); err != nil {
							t.Fatal(err)
						}
					}
				}
				err := recv(t, done)
				want := map[string]error{"Close": ErrSubscriptionClosed, "Bus.Close": ErrClosed, "kill": ErrKilled}[how]
				if !errors.Is(err, want) {
					t.Fatalf("round %d: Next returned %v, want %v", round, err, want)
				}
				_ = b.Close()
			}
		})
	}
}

// TestLaneFullBlockYieldThenPark runs emitters against Block members with
// tiny buffers (the emitters find the ring full every few events, yield,
// look at the cursors again and park), next to a Drop member that stalls
// (a member without room that is not Block: the fast path must leave it to
// the slow path, which moves it out) and one that reads slowly. Every Block
// member must get every event in order, within the deadline.
func TestLaneFullBlockYieldThenPark(t *testing.T) {
	const events = 20000
	for _, c := range []struct {
		emitters int
		single   bool
	}{{1, false}, {2, false}, {1, true}} {
		t.Run(fmt.Sprintf("emitters=%d/single=%v", c.emitters, c.single), func(t *testing.T) {
			b := New(WithNotifier(func(DropNotice) {}))
			defer b.Close()
			type member struct {
				s     *BatchSubscription[seqEvt]
				batch int
				slow  bool
				got   []seqEvt
				err   error
			}
			members := []*member{
				{s: must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(1))), batch: 1},
				{s: must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(3))), batch: 2},
				{s: must(SubscribeBatch[seqEvt](b, WithPolicy(Block), BufSize(8))), batch: 8, slow: true},
			}
			// No Close of its own deferred: on a failure, emitters may be
			// blocked on the Block members, and a Close waits for them;
			// Bus.Close (deferred above) ends every subscription first.
			stalled := must(SubscribeBatch[seqEvt](b, WithPolicy(Drop), BufSize(2)))
			var wg sync.WaitGroup
			for _, m := range members {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]seqEvt, m.batch)
					for len(m.got) < c.emitters*events {
						batch, err := m.s.Next(context.Background(), buf)
						if err != nil {
							m.err = err // reported after wg.Wait
							return
						}
						m.got = append(m.got, batch...)
						if m.slow && len(m.got)%64 == 0 {
							time.Sleep(10 * time.Microsecond)
						}
					}
				}()
			}
			var ewg sync.WaitGroup
			emitErr := make([]error, c.emitters)
			for e := range c.emitters {
				var opts []EmitterOpt
				if c.single {
					opts = append(opts, SingleProducer())
				}
				em := must(NewEmitter[seqEvt](b, opts...))
				ewg.Add(1)
				go func() {
					defer ewg.Done()
					for n := range events {
						if err := em.Emit(seqEvt{Emitter: e, N: n}); err != nil {
							emitErr[e] = err // reported after ewg.Wait
							return
						}
					}
				}()
			}
			within(t, "emitters", ewg.Wait)
			within(t, "readers", wg.Wait)
			for e, err := range emitErr {
				if err != nil {
					t.Fatalf("emitter %d: %v", e, err)
				}
			}
			for i, m := range members {
				if m.err != nil {
					t.Fatalf("member %d: Next: %v", i, m.err)
				}
				next := make([]int, c.emitters)
				for _, ev := range m.got {
					if ev.N != next[ev.Emitter] {
						t.Fatalf("member %d: emitter %d went to %d, want %d (lost or reordered)", i, ev.Emitter, ev.N, next[ev.Emitter])
					}
					next[ev.Emitter]++
				}
			}
			if stalled.Dropped() == 0 {
				t.Fatal("the stalled Drop member dropped nothing")
			}
			for _, m := range members {
				_ = m.s.Close()
			}
		})
	}
}
