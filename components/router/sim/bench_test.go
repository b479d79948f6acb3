package sim

import (
	"testing"
	"time"
)

// BenchmarkSim runs 2000 nodes; each iteration publishes one 256-byte
// message from a random node and advances virtual time by 100 ms. The
// metrics describe the whole run after a 5 s drain.
func BenchmarkSim(b *testing.B) {
	b.ReportAllocs()
	s, err := New(Config{Nodes: 2000, Degree: 5, Seed: 42, Jitter: 40 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	s.Run(10 * time.Second)
	s.ResetStats()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.PublishRandom(256); err != nil {
			b.Fatal(err)
		}
		s.Run(100 * time.Millisecond)
	}
	s.Run(5 * time.Second)
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(st.DeliveryRatio, "delivery")
	b.ReportMetric(st.DuplicatesPerDelivered, "dups/delivered")
	b.ReportMetric(st.MeanHops, "hops_mean")
	b.ReportMetric(float64(st.MaxHops), "hops_max")
	b.ReportMetric(st.RPCsPerDelivered, "rpcs/delivered")
	b.ReportMetric(float64(st.MeanLatency.Milliseconds()), "latency_ms")
	if st.DeliveryRatio < 0.99 {
		b.Fatalf("delivery ratio %.4f", st.DeliveryRatio)
	}
}
