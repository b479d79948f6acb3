package eventbus

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHandOffFloor measures end to end, alternated in one process,
// what one subscriber costs per event next to a plain buffered channel:
// one emitter goroutine emits handOffEvents 64-byte events while one
// reader goroutine takes them, and a run ends when the reader has them
// all. On two cores the pair runs as coroutines on one processor (the
// reader is made runnable on the emitter's processor and runs when the
// emitter stops), so the figures add the emitter's and the reader's work
// per event and the scheduler's per cycle of a buffer's length
// (docs/eventbus.md, "Eighth pass"). Contenders:
//   - chan: a plain send, the reader ranging over the channel (the typed
//     API's floor);
//   - call+send: the send in a function that is not inlined, taking the
//     event by value as Emit does;
//   - call+slot+send: the same between two atomic additions on a cache
//     line of its own and a load, what the typed Emit's fast path adds to
//     the send (the slot that lets Close close the channel: fastpath.go);
//   - typed-emit: Subscribe and Emit (Block);
//   - ring: a bare ring of the buffer's length published with a
//     compare-and-swap and a store (the lane's per-event cost), its
//     reader taking everything there and parking on one channel, its
//     emitter yielding once and then parking on a full ring;
//   - batch-emit, batch-emit-single: SubscribeBatch (Block) read with
//     Next and a buffer of the subscription's size, and Emit from an
//     emitter safe for concurrent use or a SingleProducer one.
//
// Each round runs every contender once in a rotating order; the metrics
// are each contender's median ns per event and the median of its per-round
// ratios to chan.
//
//	go test -run x -bench HandOffFloor -benchtime 15x ./eventbus
func BenchmarkHandOffFloor(b *testing.B) {
	for _, buf := range []int{16, 1024} {
		b.Run(fmt.Sprintf("buf=%d", buf), func(b *testing.B) { benchHandOff(b, buf) })
	}
}

const handOffEvents = 100000

var handOffSlot struct {
	_       [64]byte
	in, out atomic.Uint64
	writers atomic.Int32
	_       [44]byte
}

//go:noinline
func handOffCall(ch chan floorEvt, v floorEvt) { ch <- v }

//go:noinline
func handOffSlotted(ch chan floorEvt, v floorEvt) {
	handOffSlot.in.Add(1)
	if handOffSlot.writers.Load() != 0 {
		panic("no writer in this benchmark")
	}
	ch <- v
	handOffSlot.out.Add(1)
}

// handOffChan times n events through ch, sent by send, read by a goroutine
// ranging over ch.
func handOffChan(ch chan floorEvt, n int, send func(chan floorEvt, floorEvt)) time.Duration {
	done := make(chan struct{})
	go func() {
		got := 0
		for range ch {
			if got++; got == n {
				close(done)
			}
		}
	}()
	ev := ev0
	start := time.Now()
	for range n {
		send(ch, ev)
	}
	<-done
	d := time.Since(start)
	close(ch)
	return d
}

// handOffRing is the ring contender: single reader, one emitter.
type handOffRing struct {
	slots []floorEvt
	mask  uint64
	_     [40]byte
	seq   atomic.Uint64 // published tail << 1 | word
	_     [56]byte
	head  atomic.Uint64
	_     [56]byte
	rwait atomic.Bool
	wwait atomic.Bool
	wake  chan struct{}
	space chan struct{}
}

func (r *handOffRing) room() bool {
	return r.seq.Load()>>1-r.head.Load() < uint64(len(r.slots))
}

func (r *handOffRing) emit(v floorEvt) {
	for yielded := false; ; {
		s := r.seq.Load()
		if t := s >> 1; t-r.head.Load() < uint64(len(r.slots)) && r.seq.CompareAndSwap(s, s|1) {
			r.slots[t&r.mask] = v
			r.seq.Store((t + 1) << 1)
			if r.rwait.Load() && r.rwait.CompareAndSwap(true, false) {
				r.wake <- struct{}{}
			}
			return
		}
		if !yielded {
			yielded = true
			runtime.Gosched()
			continue
		}
		r.wwait.Store(true)
		if r.room() {
			if r.wwait.CompareAndSwap(true, false) {
				continue
			}
		}
		<-r.space
		yielded = false
	}
}

func (r *handOffRing) next(buf []floorEvt) int {
	for {
		h, t := r.head.Load(), r.seq.Load()>>1
		if t != h {
			n := min(t-h, uint64(len(buf)))
			for i := uint64(0); i < n; {
				from := (h + i) & r.mask
				i += uint64(copy(buf[i:n], r.slots[from:min(from+(n-i), uint64(len(r.slots)))]))
			}
			r.head.Store(h + n)
			if r.wwait.Load() && r.wwait.CompareAndSwap(true, false) {
				r.space <- struct{}{}
			}
			return int(n)
		}
		r.rwait.Store(true)
		if r.seq.Load()>>1 != h {
			if !r.rwait.CompareAndSwap(true, false) {
				<-r.wake // the emitter saw the flag: take its token
			}
			continue
		}
		<-r.wake
	}
}

func handOffRingRun(size, n int) time.Duration {
	r := &handOffRing{slots: make([]floorEvt, size), mask: uint64(size - 1),
		wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		buf := make([]floorEvt, size)
		for got := 0; got < n; {
			got += r.next(buf)
		}
		close(done)
	}()
	ev := ev0
	start := time.Now()
	for range n {
		r.emit(ev)
	}
	<-done
	return time.Since(start)
}

func handOffBatch(size, n int, single bool) time.Duration {
	bus := New(WithDefaultPolicy(Block))
	defer bus.Close()
	sub := must(SubscribeBatch[floorEvt](bus, BufSize(size)))
	var opts []EmitterOpt
	if single {
		opts = append(opts, SingleProducer())
	}
	em := must(NewEmitter[floorEvt](bus, opts...))
	defer em.Close()
	done := make(chan struct{})
	go func() {
		buf := make([]floorEvt, size)
		for got := 0; got < n; {
			batch, err := sub.Next(context.Background(), buf)
			if err != nil {
				panic(err)
			}
			got += len(batch)
		}
		close(done)
	}()
	ev := ev0
	start := time.Now()
	for range n {
		_ = em.Emit(ev)
	}
	<-done
	return time.Since(start)
}

func handOffTyped(size, n int) time.Duration {
	bus := New(WithDefaultPolicy(Block))
	defer bus.Close()
	sub := must(Subscribe[floorEvt](bus, BufSize(size)))
	em := must(NewEmitter[floorEvt](bus))
	defer em.Close()
	done := make(chan struct{})
	go func() {
		got := 0
		for range sub.Out() {
			if got++; got == n {
				close(done)
			}
		}
	}()
	ev := ev0
	start := time.Now()
	for range n {
		_ = em.Emit(ev)
	}
	<-done
	d := time.Since(start)
	_ = sub.Close()
	return d
}

func benchHandOff(b *testing.B, size int) {
	n := handOffEvents
	contenders := []struct {
		name string
		run  func() time.Duration
	}{
		{"chan", func() time.Duration {
			return handOffChan(make(chan floorEvt, size), n, func(ch chan floorEvt, v floorEvt) { ch <- v })
		}},
		{"call+send", func() time.Duration { return handOffChan(make(chan floorEvt, size), n, handOffCall) }},
		{"call+slot+send", func() time.Duration { return handOffChan(make(chan floorEvt, size), n, handOffSlotted) }},
		{"typed-emit", func() time.Duration { return handOffTyped(size, n) }},
		{"ring", func() time.Duration { return handOffRingRun(size, n) }},
		{"batch-emit", func() time.Duration { return handOffBatch(size, n, false) }},
		{"batch-emit-single", func() time.Duration { return handOffBatch(size, n, true) }},
	}
	ns := make([][]float64, len(contenders))
	ratios := make([][]float64, len(contenders))
	b.ResetTimer()
	for round := range b.N {
		times := make([]time.Duration, len(contenders))
		for k := range contenders {
			i := (round + k) % len(contenders)
			times[i] = contenders[i].run()
		}
		for i, d := range times {
			ns[i] = append(ns[i], float64(d.Nanoseconds())/float64(n))
			ratios[i] = append(ratios[i], float64(d)/float64(times[0]))
		}
	}
	b.StopTimer()
	for i, c := range contenders {
		b.ReportMetric(medianOf(ns[i]), c.name+"-ns/event")
		if i > 0 {
			b.ReportMetric(medianOf(ratios[i]), c.name+"-x-chan")
		}
	}
}
