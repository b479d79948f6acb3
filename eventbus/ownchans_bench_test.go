package eventbus

import (
	"fmt"
	"testing"
	"time"
)

// ptrEvt is a 64-byte event holding pointers, laid out as the bench/
// rows' event (events.EvtPeerGrafted: two strings, a bool, a time.Time),
// so that a channel's buffer is allocated apart from the channel and every
// send copies pointers (typedmemmove), as there.
type ptrEvt struct {
	Peer     string
	Topic    string
	Outbound bool
	At       time.Time
}

// BenchmarkFanoutOwnChans measures, alternated in one process, what an
// Emit at N subscribers costs an emitter that nobody reads while the timer
// runs (the bench/ emitter-cost scenario: 64-byte events holding
// pointers, 1024 slots each) against plain sends on *the same channels*:
//   - libp2p: go-libp2p's bus, its event boxed outside the timing;
//   - typed-emit: the typed Emit (Block subscriptions);
//   - typed-own-chans: a loop of plain blocking sends of the event on the
//     typed subscriptions' own channels;
//   - typed-own-select: the same loop with the Emit's non-blocking send (a
//     select with a default, which copies the event into a temporary for
//     the runtime call);
//   - typed-own-select-len: that, plus the Emit's hand-off check after each
//     send (queuedLen);
//   - any-emit: the event.Bus API's Emit (Block), its event boxed once
//     outside the timing;
//   - any-own-chans: a loop of plain sends of that box on the event.Bus
//     subscriptions' own channels.
//
// The own-chans contenders send on the very channels the Emit sends on, so
// where the runtime put their buffers (which moves the floor of a fan-out
// by tens of percent from one set of channels to the next:
// docs/eventbus.md, "Fifth pass", "Ninth pass") is the same for both, and
// the ratio emit / own-chans is the Emit's own per-subscriber work. Each
// round times a burst of 1024 Emits of every contender in a rotating
// order and empties the queues untimed; the metrics are the median ns per
// Emit over the rounds and the median of the per-round ratios.
//
//	go test -run x -bench FanoutOwnChans -benchtime 200x ./eventbus
func BenchmarkFanoutOwnChans(b *testing.B) {
	const burst = 1024
	for _, subs := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			ev := ptrEvt{Peer: "12D3KooWbenchbenchbenchbenchbenchbenchbenchbench", Topic: "/meshbus/bench/1", Outbound: true, At: time.Unix(1_700_000_000, 0)}
			boxed := any(ev)

			lpOuts, lpEm := libp2pFanout[ptrEvt](b, subs, burst)
			tOuts, tEm := typedFanout[ptrEvt](b, subs, burst)
			var tChans []chan ptrEvt
			for _, t := range tEm.n.fanp.Load().typed.([]flatSink[ptrEvt]) {
				tChans = append(tChans, t.ch)
			}

			abus := New(WithDefaultPolicy(Block))
			defer abus.Close()
			aOuts := make([]<-chan any, subs)
			for i := range aOuts {
				aOuts[i] = must(abus.Subscribe(new(ptrEvt), BufSize(burst))).Out()
			}
			aEm := must(abus.Emitter(new(ptrEvt)))
			var aChans []chan any
			for _, t := range aEm.n.fanp.Load().boxed {
				aChans = append(aChans, t.ch)
			}

			handOffs := 0 // keeps the hand-off check
			contenders := []struct {
				name string
				run  func()
			}{
				{"libp2p", func() {
					for range burst {
						_ = lpEm.Emit(boxed)
					}
				}},
				{"typed-emit", func() {
					for range burst {
						_ = tEm.Emit(ev)
					}
				}},
				{"typed-own-chans", func() {
					for range burst {
						for _, ch := range tChans {
							ch <- ev
						}
					}
				}},
				{"typed-own-select", func() {
					for range burst {
						for _, ch := range tChans {
							select {
							case ch <- ev:
							default:
							}
						}
					}
				}},
				{"typed-own-select-len", func() {
					for range burst {
						for _, ch := range tChans {
							select {
							case ch <- ev:
								if queuedLen(ch) == 0 {
									handOffs++
								}
							default:
							}
						}
					}
				}},
				{"any-emit", func() {
					for range burst {
						_ = aEm.Emit(boxed)
					}
				}},
				{"any-own-chans", func() {
					for range burst {
						for _, ch := range aChans {
							ch <- boxed
						}
					}
				}},
			}
			drain := func() {
				for i := range subs {
					drainQueued(lpOuts[i])
					drainQueued(tOuts[i])
					drainQueued(aOuts[i])
				}
			}
			rounds := alternateRounds(b, len(contenders), func(i int) { contenders[i].run() }, drain)
			per := make([][]float64, len(contenders)) // ns per Emit, by round
			for i, ds := range rounds {
				for _, d := range ds {
					per[i] = append(per[i], float64(d.Nanoseconds())/burst)
				}
			}
			ratio := func(i, j int) float64 {
				r := make([]float64, len(per[i]))
				for k := range r {
					r[k] = per[i][k] / per[j][k]
				}
				return medianOf(r)
			}
			for i, c := range contenders {
				b.ReportMetric(medianOf(per[i]), c.name+"-ns/emit")
				b.ReportMetric(ratio(i, 0), c.name+"-x-libp2p")
			}
			b.ReportMetric(ratio(1, 2), "typed-emit-x-own-chans")
			b.ReportMetric(ratio(3, 2), "typed-own-select-x-own-chans")
			b.ReportMetric(ratio(4, 2), "typed-own-select-len-x-own-chans")
			b.ReportMetric(ratio(5, 6), "any-emit-x-own-chans")
			_ = handOffs
			b.ReportMetric(0, "ns/op")
		})
	}
}
