package eventbus

import (
	"context"
	"fmt"
	"sync"
	"testing"

	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

type benchEvt struct{ A, B int64 }

// drainAll starts one reader per channel and returns a function that waits
// until each has read n events.
func drainAll[T any](chans []<-chan T, n int) func() {
	var wg sync.WaitGroup
	for _, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				<-ch
			}
		}()
	}
	return wg.Wait
}

// BenchmarkEmitTyped measures one typed Emit delivered to every subscriber
// (Block policy, so every event is delivered), end to end.
func BenchmarkEmitTyped(b *testing.B) {
	for _, subs := range []int{1, 4, 16} {
		for _, metrics := range []bool{false} {
			b.Run(fmt.Sprintf("subs=%d/metrics=%v", subs, metrics), func(b *testing.B) {
				bus := New()
				defer bus.Close()
				chans := make([]<-chan benchEvt, subs)
				for i := range chans {
					chans[i] = must(Subscribe[benchEvt](bus, WithPolicy(Block))).Out()
				}
				em := must(NewEmitter[benchEvt](bus))
				wait := drainAll(chans, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					_ = em.Emit(benchEvt{A: int64(i)})
				}
				wait()
			})
		}
	}
}

// BenchmarkEmitAny is BenchmarkEmitTyped through the event.Bus API.
func BenchmarkEmitAny(b *testing.B) {
	for _, subs := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			bus := New(WithDefaultPolicy(Block))
			defer bus.Close()
			chans := make([]<-chan any, subs)
			for i := range chans {
				chans[i] = must(bus.Subscribe(new(benchEvt))).Out()
			}
			em := must(bus.Emitter(new(benchEvt)))
			wait := drainAll(chans, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = em.Emit(benchEvt{A: int64(i)})
			}
			wait()
		})
	}
}

// BenchmarkEmitStalled measures Emit while the only subscriber never reads:
// the cost of the overflow path of each non-blocking policy.
func BenchmarkEmitStalled(b *testing.B) {
	for _, p := range []Policy{Drop, Notify} {
		b.Run(p.String(), func(b *testing.B) {
			bus := New(WithNotifier(func(DropNotice) {}))
			defer bus.Close()
			must(Subscribe[benchEvt](bus, WithPolicy(p), BufSize(16)))
			em := must(NewEmitter[benchEvt](bus))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = em.Emit(benchEvt{A: int64(i)})
			}
		})
	}
}

// BenchmarkChannelFloor is a plain buffered channel with one reader: the
// floor the typed API is measured against.
func BenchmarkChannelFloor(b *testing.B) {
	ch := make(chan benchEvt, DefaultBufSize)
	wait := drainAll([]<-chan benchEvt{ch}, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ch <- benchEvt{A: int64(i)}
	}
	wait()
}

// BenchmarkFanout isolates the emitter's own cost per event from the
// receivers': subscribers have room for every event and nobody receives
// while the timer runs, so there is no lock contention with readers and no
// goroutine wake-up. It compares the event.Bus API with go-libp2p's bus on
// the same events, and shows the typed API beside them.
func BenchmarkFanout(b *testing.B) {
	const room = 4096 // events queued before the untimed drain
	for _, subs := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("impl=libp2p/subs=%d", subs), func(b *testing.B) {
			bus := lpbus.NewBus()
			outs := make([]<-chan any, subs)
			for i := range outs {
				outs[i] = must(bus.Subscribe(new(benchEvt), lpbus.BufSize(room))).Out()
			}
			em := must(bus.Emitter(new(benchEvt)))
			runFanout(b, room, outs, func(ev benchEvt) { _ = em.Emit(ev) })
		})
		b.Run(fmt.Sprintf("impl=event.Bus/subs=%d", subs), func(b *testing.B) {
			bus := New(WithDefaultPolicy(Block))
			defer bus.Close()
			outs := make([]<-chan any, subs)
			for i := range outs {
				outs[i] = must(bus.Subscribe(new(benchEvt), BufSize(room))).Out()
			}
			em := must(bus.Emitter(new(benchEvt)))
			runFanout(b, room, outs, func(ev benchEvt) { _ = em.Emit(ev) })
		})
		b.Run(fmt.Sprintf("impl=typed/subs=%d", subs), func(b *testing.B) {
			bus := New(WithDefaultPolicy(Block))
			defer bus.Close()
			outs := make([]<-chan benchEvt, subs)
			for i := range outs {
				outs[i] = must(Subscribe[benchEvt](bus, BufSize(room))).Out()
			}
			em := must(NewEmitter[benchEvt](bus))
			runFanout(b, room, outs, func(ev benchEvt) { _ = em.Emit(ev) })
		})
	}
}

// runFanout runs b.N emits, draining outs with the timer stopped whenever they
// are full.
func runFanout[T any](b *testing.B, room int, outs []<-chan T, emit func(benchEvt)) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		emit(benchEvt{A: int64(i)})
		if i%room == room-1 {
			b.StopTimer()
			for _, o := range outs {
				drainQueued(o)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkBatchFanout is BenchmarkFanout for batch subscriptions and a
// plain channel per subscriber: the emitter's own cost, nobody reading
// while the timer runs.
func BenchmarkBatchFanout(b *testing.B) {
	const room = 1024
	for _, subs := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("impl=chan/subs=%d", subs), func(b *testing.B) {
			chans := make([]chan benchEvt, subs)
			outs := make([]<-chan benchEvt, subs)
			for i := range chans {
				chans[i] = make(chan benchEvt, room)
				outs[i] = chans[i]
			}
			runFanout(b, room, outs, func(ev benchEvt) {
				for _, c := range chans {
					c <- ev
				}
			})
		})
		b.Run(fmt.Sprintf("impl=batch/subs=%d", subs), func(b *testing.B) {
			bus := New(WithDefaultPolicy(Block))
			defer bus.Close()
			subsList := make([]*BatchSubscription[benchEvt], subs)
			for i := range subsList {
				subsList[i] = must(SubscribeBatch[benchEvt](bus, BufSize(room)))
			}
			em := must(NewEmitter[benchEvt](bus))
			buf := make([]benchEvt, room)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				_ = em.Emit(benchEvt{A: int64(i)})
				if i%room == room-1 {
					b.StopTimer()
					for _, s := range subsList {
						_, _ = s.Next(ctx, buf)
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkBatchEndToEnd is one emitter and subs readers, every event to
// every reader (Block), through batch subscriptions and through plain
// channels.
func BenchmarkBatchEndToEnd(b *testing.B) {
	for _, subs := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("impl=chan/subs=%d", subs), func(b *testing.B) {
			chans := make([]chan benchEvt, subs)
			outs := make([]<-chan benchEvt, subs)
			for i := range chans {
				chans[i] = make(chan benchEvt, 1024)
				outs[i] = chans[i]
			}
			wait := drainAll(outs, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for _, c := range chans {
					c <- benchEvt{A: int64(i)}
				}
			}
			wait()
		})
		b.Run(fmt.Sprintf("impl=batch/subs=%d", subs), func(b *testing.B) {
			bus := New(WithDefaultPolicy(Block))
			defer bus.Close()
			var wg sync.WaitGroup
			for range subs {
				s := must(SubscribeBatch[benchEvt](bus, BufSize(1024)))
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]benchEvt, 1024)
					for got := 0; got < b.N; {
						batch, err := s.Next(context.Background(), buf)
						if err != nil {
							return
						}
						got += len(batch)
					}
				}()
			}
			em := must(NewEmitter[benchEvt](bus))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				_ = em.Emit(benchEvt{A: int64(i)})
			}
			wg.Wait()
		})
	}
}
