package sim

import (
	"testing"
	"time"

	"github.com/meshbus/meshbus/components/router/automaton"
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
	st := publishLoop(b, s, 256)
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

// BenchmarkSimUnderAttack runs 500 honest nodes against 500 adversaries
// (sybils, IHAVE spammers, graft spammers and invalid senders in equal
// numbers), each honest node dialing 3 honest nodes and 10 adversaries,
// without flood publishing or scoring; each iteration publishes one
// 128-byte message and advances virtual time by 100 ms.
func BenchmarkSimUnderAttack(b *testing.B) {
	b.ReportAllocs()
	var adv []Behavior
	for _, k := range []Behavior{Sybil, IHaveSpammer, GraftSpammer, InvalidSender} {
		adv = append(adv, repeat(k, 125)...)
	}
	router := automaton.DefaultConfig()
	router.FloodPublish = false
	s, err := New(Config{Nodes: 500, Degree: 3, Seed: 42, Router: router, Adversaries: adv, AdversaryDials: 10})
	if err != nil {
		b.Fatal(err)
	}
	st := publishLoop(b, s, 128)
	b.ReportMetric(st.DeliveryRatio, "delivery")
	b.ReportMetric(st.RPCsPerDelivered, "rpcs/delivered")
	b.ReportMetric(float64(st.MeanLatency.Milliseconds()), "latency_ms")
	b.ReportMetric(float64(st.InvalidValidated), "invalid_validated")
}

// publishLoop lets the meshes form (10 s), then per iteration publishes one
// message of size bytes from a random node and advances 100 ms, and returns
// the stats of the iterations after a 5 s drain.
func publishLoop(b *testing.B, s *Sim, size int) Stats {
	s.Run(10 * time.Second)
	s.ResetStats()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.PublishRandom(size); err != nil {
			b.Fatal(err)
		}
		s.Run(100 * time.Millisecond)
	}
	s.Run(5 * time.Second)
	b.StopTimer()
	return s.Stats()
}
