package eventbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// floorEvt is a 64-byte event, as the bench/ rows carry.
type floorEvt struct{ A, B, C, D, E, F, G, H int64 }

// floorRing is a bare ring of floorEvt: the cheapest queue an emitter can
// push into, with no subscriber bookkeeping.
// alternateRounds runs n contenders b.N rounds each, rotating which goes
// first every round, timing run(i) alone (drain runs with the timer stopped
// after each), and returns each contender's time in each round.
func alternateRounds(b *testing.B, n int, run func(i int), drain func()) [][]time.Duration {
	per := make([][]time.Duration, n)
	b.ReportAllocs()
	b.ResetTimer()
	for round := range b.N {
		for k := range n {
			i := (round + k) % n
			start := time.Now()
			run(i)
			per[i] = append(per[i], time.Since(start))
			b.StopTimer()
			drain()
			b.StartTimer()
		}
	}
	return per
}

// alternate is alternateRounds summed: each contender's total time.
func alternate(b *testing.B, n int, run func(i int), drain func()) []time.Duration {
	total := make([]time.Duration, n)
	for i, rounds := range alternateRounds(b, n, run, drain) {
		for _, d := range rounds {
			total[i] += d
		}
	}
	return total
}

// libp2pFanout subscribes n subscribers of E, each with a buffer of size,
// to a fresh go-libp2p bus and returns their channels and an emitter of E
// (closed when b ends).
func libp2pFanout[E any](b testing.TB, n, size int) ([]<-chan any, event.Emitter) {
	lp := lpbus.NewBus()
	outs := make([]<-chan any, n)
	for i := range outs {
		outs[i] = must(lp.Subscribe(new(E), lpbus.BufSize(size))).Out()
	}
	em := must(lp.Emitter(new(E)))
	b.Cleanup(func() { _ = em.Close() })
	return outs, em
}

// typedFanout subscribes n Block subscribers of E, each with a buffer of
// size, to a fresh bus (closed when b ends) and returns their channels and
// a typed emitter of E.
func typedFanout[E any](b testing.TB, n, size int) ([]<-chan E, *Emitter[E]) {
	bus := New(WithDefaultPolicy(Block))
	b.Cleanup(func() { _ = bus.Close() })
	outs := make([]<-chan E, n)
	for i := range outs {
		outs[i] = must(Subscribe[E](bus, BufSize(size))).Out()
	}
	return outs, must(NewEmitter[E](bus))
}

// medianOf returns the median of x (the upper one for an even count),
// leaving x as it was.
func medianOf(x []float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y[len(y)/2]
}

type floorRing struct {
	slots []floorEvt
	mask  uint64
	tail  uint64
	_     [40]byte
	seq   atomic.Uint64 // published tail << 1 | word
	_     [56]byte
	nwait atomic.Int32
}

// pushStore is a single-producer push: write the slot, publish the tail
// with one atomic store (one locked instruction, an XCHG on amd64).
func (r *floorRing) pushStore(v floorEvt) {
	r.slots[r.tail&r.mask] = v
	r.tail++
	r.seq.Store(r.tail << 1)
}

// pushStoreWake is pushStore plus the load a parking reader needs the
// emitter to make after publishing (the lane's wake-up check).
func (r *floorRing) pushStoreWake(v floorEvt) bool {
	r.slots[r.tail&r.mask] = v
	r.tail++
	r.seq.Store(r.tail << 1)
	return r.nwait.Load() > 0
}

// pushCAS is a multi-producer push as the lane's fast path does it: take
// the word with a compare-and-swap, write, publish with a store (two
// locked instructions).
func (r *floorRing) pushCAS(v floorEvt) bool {
	s := r.seq.Load()
	if s&1 != 0 || !r.seq.CompareAndSwap(s, s|1) {
		return false
	}
	r.slots[r.tail&r.mask] = v
	r.tail++
	r.seq.Store(r.tail << 1)
	return r.nwait.Load() > 0
}

// pushOneCAS is a single-producer push as a SingleProducer emitter's fast
// path does it: write the slot, publish with a compare-and-swap from the
// value the producer left (one locked instruction, like pushStore, but one
// that fails when somebody else took the word meanwhile).
func (r *floorRing) pushOneCAS(v floorEvt) bool {
	s := r.seq.Load()
	t := s >> 1
	r.slots[t&r.mask] = v
	if !r.seq.CompareAndSwap(s, (t+1)<<1) {
		return false
	}
	return r.nwait.Load() > 0
}

// pushOneCASNoLoad is pushOneCAS as the SingleProducer fast path does
// it now: the compare-and-swap's old value is the tail the producer
// keeps, not a load of seq (such a load, right after the last push's
// locked instruction, waits for it).
func (r *floorRing) pushOneCASNoLoad(v floorEvt) bool {
	t := r.tail
	r.slots[t&r.mask] = v
	if !r.seq.CompareAndSwap(t<<1, (t+1)<<1) {
		return false
	}
	r.tail = t + 1
	return r.nwait.Load() > 0
}

// BenchmarkPushFloor measures, alternated in one run, what one event costs
// an emitter that nobody reads while the timer runs: a bare single-producer
// ring push (one atomic store), the same with the wake-up check, a
// compare-and-swap + store push (the lane's fast path without its
// membership checks), a single compare-and-swap push (one-cas: a
// SingleProducer emitter's fast path without its checks, as it was until
// 2026-12-08; one-cas-noload: as it is, without loading seq first, each
// on a ring of its own so that its compare-and-swap succeeds), a buffered typed
// channel send, the batch mode's Emit (one subscriber) and its EmitMany
// (per event, in batches of 64), both also from a SingleProducer emitter
// (batch-emit-single, batch-emitmany64-single-per-event), the
// typed and event.Bus APIs' Emit to one channel subscription (the
// event.Bus event boxed once, outside the timing), and a channel send
// under a sync.RWMutex plus an emit counter (what those Emits pay) and
// under one word's two additions (a read lock that also counts, tried and
// not kept: docs/eventbus.md). Each
// round times a burst of 1024 pushes of every contender, in a rotating
// order, and empties the queues untimed; the metrics are ns per push of
// each contender and each one's ratio to the channel send.
//
//	go test -run x -bench PushFloor -benchtime 2000x ./eventbus
var ev0 = floorEvt{A: 1, H: 8}

func BenchmarkPushFloor(b *testing.B) {
	const burst = 1024
	ring := &floorRing{slots: make([]floorEvt, burst), mask: burst - 1}
	casRing := &floorRing{slots: make([]floorEvt, burst), mask: burst - 1}
	noLoadRing := &floorRing{slots: make([]floorEvt, burst), mask: burst - 1}
	ch := make(chan floorEvt, burst)
	bus := New(WithDefaultPolicy(Block))
	defer bus.Close()
	sub := must(SubscribeBatch[floorEvt](bus, BufSize(burst)))
	em := must(NewEmitter[floorEvt](bus))
	sbus := New(WithDefaultPolicy(Block))
	defer sbus.Close()
	ssub := must(SubscribeBatch[floorEvt](sbus, BufSize(burst)))
	sem := must(NewEmitter[floorEvt](sbus, SingleProducer()))
	buf := make([]floorEvt, burst)
	many := make([]floorEvt, 64)
	ctx := context.Background()
	ev := ev0
	var sink bool
	var rw sync.RWMutex
	var emitted, gateWord atomic.Uint64
	// The channel APIs on a bus of their own: one channel subscription
	// each, read untimed like the plain channel.
	cbus := New(WithDefaultPolicy(Block))
	defer cbus.Close()
	tsub := must(Subscribe[floorEvt](cbus, BufSize(burst)))
	temit := must(NewEmitter[floorEvt](cbus))
	abus := New(WithDefaultPolicy(Block))
	defer abus.Close()
	asub := must(abus.Subscribe(new(floorEvt), BufSize(burst)))
	aemit := must(abus.Emitter(new(floorEvt)))
	boxed := any(ev0)
	ch2 := make(chan floorEvt, burst)
	ch3 := make(chan floorEvt, burst)
	contenders := []struct {
		name string
		run  func()
	}{
		{"store", func() {
			for range burst {
				ring.pushStore(ev)
			}
		}},
		{"store+wake", func() {
			for range burst {
				sink = ring.pushStoreWake(ev) || sink
			}
		}},
		{"cas+store", func() {
			for range burst {
				sink = ring.pushCAS(ev) || sink
			}
		}},
		{"one-cas", func() {
			for range burst {
				sink = casRing.pushOneCAS(ev) || sink
			}
		}},
		{"one-cas-noload", func() {
			for range burst {
				sink = noLoadRing.pushOneCASNoLoad(ev) || sink
			}
		}},
		{"chan", func() {
			for range burst {
				ch <- ev
			}
		}},
		{"chan+rwmutex+counter", func() {
			for range burst {
				rw.RLock()
				ch2 <- ev
				emitted.Add(1)
				rw.RUnlock()
			}
		}},
		{"chan+gate", func() {
			for range burst {
				gateWord.Add(1)
				ch3 <- ev
				gateWord.Add(1<<25 - 1)
			}
		}},
		{"typed-emit", func() {
			for range burst {
				_ = temit.Emit(ev)
			}
		}},
		{"eventbus-api-emit", func() {
			for range burst {
				_ = aemit.Emit(boxed)
			}
		}},
		{"batch-emit", func() {
			for range burst {
				_ = em.Emit(ev)
			}
		}},
		{"batch-emitmany64-per-event", func() {
			for range burst / len(many) {
				_, _ = em.EmitMany(many)
			}
		}},
		{"batch-emit-single", func() {
			for range burst {
				_ = sem.Emit(ev)
			}
		}},
		{"batch-emitmany64-single-per-event", func() {
			for range burst / len(many) {
				_, _ = sem.EmitMany(many)
			}
		}},
	}
	drain := func() {
		for _, c := range []chan floorEvt{ch, ch2, ch3} {
			drainQueued(c)
		}
		drainQueued(tsub.Out())
		for out := asub.Out(); len(out) > 0; {
			<-out
		}
		for _, s := range []*BatchSubscription[floorEvt]{sub, ssub} {
			for s.Queued() > 0 {
				if _, err := s.Next(ctx, buf); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	total := alternate(b, len(contenders), func(i int) { contenders[i].run() }, drain)
	_ = sink
	per := func(i int) float64 { return float64(total[i].Nanoseconds()) / float64(b.N*burst) }
	chanNs := 0.0
	for i, c := range contenders {
		if c.name == "chan" {
			chanNs = per(i)
		}
	}
	for i, c := range contenders {
		b.ReportMetric(per(i), c.name+"-ns/push")
		b.ReportMetric(per(i)/chanNs, c.name+"-x-chan")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFanoutFloor measures, alternated in one run, what one Emit costs
// an emitter at N subscribers that nobody reads while the timer runs (the
// bench/ emitter-cost table's scenario, 64-byte events, 1024 slots each):
// the typed API's floor (N buffered sends of the 64-byte value on N typed
// channels), go-libp2p's floor (N sends of one boxed value on N chan any:
// a pointer-sized send each), go-libp2p's bus (its Emit of a value boxed
// outside the timing), the typed Emit, and the typed Emit with its hand-off
// check through len (typed-emit-len, see queuedLen). Each round times a burst of 1024
// Emits of every contender, in a rotating order, and empties the queues
// untimed; the metrics are ns per Emit and each one's ratio to go-libp2p's
// bus.
//
//	go test -run x -bench FanoutFloor -benchtime 300x ./eventbus
func BenchmarkFanoutFloor(b *testing.B) {
	const burst = 1024
	for _, subs := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			chans := make([]chan floorEvt, subs)
			anys := make([]chan any, subs)
			for i := range chans {
				chans[i] = make(chan floorEvt, burst)
				anys[i] = make(chan any, burst)
			}
			lpOuts, lpEm := libp2pFanout[floorEvt](b, subs, burst)
			tOuts, tEm := typedFanout[floorEvt](b, subs, burst)
			ev := ev0
			boxed := any(ev0)
			qcountOK := hchanQcountOK
			contenders := []struct {
				name string
				run  func()
			}{
				{"libp2p", func() {
					for range burst {
						_ = lpEm.Emit(boxed)
					}
				}},
				{"chan", func() {
					for range burst {
						for _, ch := range chans {
							ch <- ev
						}
					}
				}},
				{"chan-any", func() {
					for range burst {
						for _, ch := range anys {
							ch <- boxed
						}
					}
				}},
				{"typed-emit", func() {
					for range burst {
						_ = tEm.Emit(ev)
					}
				}},
				{"typed-emit-len", func() {
					// The hand-off check through len, the runtime call
					// (see queuedLen).
					hchanQcountOK = false
					defer func() { hchanQcountOK = qcountOK }()
					for range burst {
						_ = tEm.Emit(ev)
					}
				}},
			}
			drain := func() {
				for i := range subs {
					drainQueued(chans[i])
					drainQueued(anys[i])
					drainQueued(lpOuts[i])
					drainQueued(tOuts[i])
				}
			}
			total := alternate(b, len(contenders), func(i int) { contenders[i].run() }, drain)
			per := func(i int) float64 { return float64(total[i].Nanoseconds()) / float64(b.N*burst) }
			for i, c := range contenders {
				b.ReportMetric(per(i), c.name+"-ns/emit")
				b.ReportMetric(per(i)/per(0), c.name+"-x-libp2p")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
