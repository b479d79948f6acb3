package busbench

import (
	"flag"
	"testing"
)

var ratios = flag.Bool("ratios", true, "BenchmarkEmit: also time go-libp2p's bus and the row's plain-channel floor with the same b.N, untimed, and report x-libp2p and x-floor")

// BenchmarkEmit times one emitted event, end to end (emit b.N, wait until
// every subscriber has all b.N), for every throughput row. Compare
// implementations with benchstat -col /impl. x-libp2p is this run's time
// over go-libp2p's bus (same subscribers, buffer and metrics setting) timed
// right after it with the same b.N; x-floor likewise over the row's floor
// (Config.Floor: plain channels carrying what the row's API carries).
func BenchmarkEmit(b *testing.B) {
	for _, c := range Grid([]int{1, 4, 16, 64}, []int{16, 1024}) {
		b.Run(c.Name(), func(b *testing.B) { benchEmit(b, c) })
	}
}

func benchEmit(b *testing.B, c Config) {
	r, err := NewRig(c, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	runErr := r.Run()
	b.StopTimer()
	acc, closeErr := r.Close()
	if runErr != nil || closeErr != nil {
		b.Fatal(runErr, closeErr)
	}
	if err := acc.Check(); err != nil {
		b.Fatal(err)
	}
	elapsed := b.Elapsed()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if !*ratios {
		return
	}
	if base := c.Baseline(); base != c {
		res, err := Measure(base, b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(elapsed)/float64(res.Elapsed), "x-libp2p")
	}
	if floor := c.Floor(); floor != c {
		res, err := Measure(floor, b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(elapsed)/float64(res.Elapsed), "x-floor")
	}
}

// BenchmarkEmitter is the emitter-cost table as benchmarks: each row emits
// b.N events with nobody reading while the timer runs (MeasureEmitter).
// ns/op, B/op and allocs/op are MeasureEmitter's, per event; the untimed
// drains between bursts are left out of them.
func BenchmarkEmitter(b *testing.B) {
	for _, c := range Grid([]int{1, 4, 16, 64}, []int{EmitterRoom}) {
		b.Run(c.Name(), func(b *testing.B) {
			b.StopTimer()
			res, err := MeasureEmitter(c, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.NsPerEvent(), "ns/op")
			b.ReportMetric(res.BytesPerEvent(), "B/op")
			b.ReportMetric(res.AllocsPerEvent(), "allocs/op")
		})
	}
}

// BenchmarkStall emits b.N events with one stalled subscriber and reports
// the emitter's latency percentiles (p50-ns, p99-ns, max-ns; each includes
// a pair of clock reads) and healthy-missed, the events the healthy
// subscribers did not receive (must be 0). The percentiles time the Emit
// call only (the caller's boxing for the APIs that take an any happens
// before the clock read, except in the convert=timed row); ns/op and the
// allocations include the boxing, the clock reads and the waits for the
// healthy subscribers between bursts.
func BenchmarkStall(b *testing.B) {
	for _, c := range StallRows() {
		b.Run(c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.StopTimer()
			res, err := runStallTimed(c, b.N, b.StartTimer, b.StopTimer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.P50.Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(res.P99.Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(res.Max.Nanoseconds()), "max-ns")
			b.ReportMetric(float64(res.HealthyMissed()), "healthy-missed")
		})
	}
}

// BenchmarkChurn is the subscription-churn table as Go benchmarks: one op
// is one subscribe (and, every other time, one read) and close under the
// load of the row's emitters. Compare the rows with
// benchstat -col /impl. With -ratios (the default) each meshbus row also
// runs go-libp2p's row with the same b.N right after it, untimed, and
// reports x-libp2p, its time over go-libp2p's.
func BenchmarkChurn(b *testing.B) {
	for _, c := range ChurnRows() {
		b.Run(c.Name(), func(b *testing.B) {
			c.Iterations = b.N
			b.ReportAllocs()
			b.ResetTimer()
			res, err := RunChurn(c)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(b.N), "ns/iteration")
			if !*ratios || c.Impl == ImplLibp2p {
				return
			}
			base := ChurnConfig{Impl: ImplLibp2p, Emitters: c.Emitters, Buf: c.Buf, Iterations: b.N}
			lp, err := RunChurn(base)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Elapsed)/float64(lp.Elapsed), "x-libp2p")
		})
	}
}
