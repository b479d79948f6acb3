package automaton

import (
	"fmt"
	"math/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// benchScorer returns a Scorer with nPeers connected peers spread over
// nTopics DefaultTopicParams topics (every peer subscribed to about half of
// them and in the mesh of a few), with non-zero counters and some shared
// IPs. Decays are 0.9999 so the counters stay non-zero however many
// refreshes a benchmark runs: the steady state of a busy node, where
// deliveries keep replenishing them.
func benchScorer(b *testing.B, nPeers, nTopics int) (*Automaton, []peer.ID, []string, time.Time) {
	b.Helper()
	p := DefaultParams()
	tp := DefaultTopicParams()
	tp.FirstMessageDeliveriesDecay = 0.9999
	tp.MeshMessageDeliveriesDecay = 0.9999
	tp.MeshFailurePenaltyDecay = 0.9999
	tp.InvalidMessageDeliveriesDecay = 0.9999
	p.BehaviourPenaltyDecay = 0.9999
	topics := make([]string, nTopics)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-%02d", i)
		p.Topics[topics[i]] = tp
	}
	now := time.Unix(1_700_000_000, 0)
	s, err := New(p, now)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	peers := make([]peer.ID, nPeers)
	for i := range peers {
		peers[i] = peer.ID(fmt.Sprintf("peer-%04d", i))
		ip := netip.AddrFrom4([4]byte{10 + byte(i%7), 1, byte(i / 256), byte(i % 200)})
		s.HandleConnOpened(now, events.EvtConnOpened{Peer: peers[i], RemoteIP: ip, At: now}, nil)
		for j, t := range topics {
			if rng.Intn(2) == 0 {
				continue
			}
			if j%3 == 0 {
				s.HandleGrafted(now, events.EvtPeerGrafted{Peer: peers[i], Topic: t, At: now}, nil)
			}
			for k := range 3 {
				s.HandleDelivered(now, events.EvtMessageDelivered{Topic: t, ID: fmt.Sprint(i, t, k), From: peers[i], At: now}, nil)
			}
			if rng.Intn(10) == 0 {
				s.HandleRejected(now, events.EvtMessageRejected{Topic: t, From: peers[i], Reason: events.RejectValidationFailed, At: now}, nil)
			}
		}
		if rng.Intn(10) == 0 {
			s.HandlePenalized(now, events.EvtPeerPenalized{Peer: peers[i], Count: 1, At: now}, nil)
		}
	}
	return s, peers, topics, now
}

func BenchmarkRefresh1000Peers10Topics(b *testing.B) {
	s, _, _, now := benchScorer(b, 1000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(time.Second) // one decay step per refresh, as the driver does
		s.HandleTick(now, nil)
	}
}

// BenchmarkObserveDelivery is the cost of one first delivery (P₂, P₃ and
// the delivery record) on a scorer holding 1000 peers in 10 topics, with
// the record cache full so every op also recycles the oldest record.
func BenchmarkObserveDelivery(b *testing.B) {
	s, peers, topics, now := benchScorer(b, 1000, 10)
	s.params.MaxDeliveryRecords = 1 << 14
	s.records.max = 1 << 14
	ids := make([]string, 1<<15) // twice the cache: an id is gone before reuse
	for i := range ids {
		ids[i] = fmt.Sprintf("msg-%08d", i)
	}
	evs := make([]events.EvtMessageDelivered, 4096)
	for i := range evs {
		evs[i] = events.EvtMessageDelivered{Topic: topics[i%len(topics)], From: peers[(i*7)%len(peers)]}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		ev.ID = ids[i%len(ids)]
		now = now.Add(time.Microsecond)
		ev.At = now
		s.HandleDelivered(now, ev, nil)
		i++
	}
}

// BenchmarkObserveDuplicate is the cost of one near-first duplicate through
// the generic Observe entry point (the event is boxed outside the loop, as
// the bus delivers it boxed).
func BenchmarkObserveDuplicate(b *testing.B) {
	s, peers, topics, now := benchScorer(b, 1000, 10)
	const n = 4096
	boxed := make([]any, n)
	for i := range n {
		id := fmt.Sprintf("dup-%d", i)
		s.HandleDelivered(now, events.EvtMessageDelivered{Topic: topics[i%len(topics)], ID: id, From: peers[i%len(peers)], At: now}, nil)
		boxed[i] = events.EvtMessageDuplicated{Topic: topics[i%len(topics)], ID: id, From: peers[(i+1)%len(peers)], At: now}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// After the first pass every peer is already recorded for its
		// message: the steady cost of a repeated copy.
		s.HandleEvent(now, boxed[i%n], nil)
		i++
	}
}

// BenchmarkSnapshot1000Peers is what the driver does to publish one
// snapshot: a new score slice for the event.
func BenchmarkSnapshot1000Peers(b *testing.B) {
	s, _, _, now := benchScorer(b, 1000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if snap := s.Snapshot(now); len(snap.Scores) != 1000 {
			b.Fatal("wrong snapshot size")
		}
	}
}

// BenchmarkBreakdowns1000Peers10Topics is the cost of dumping every peer's
// breakdown (an inspection tool's full read).
func BenchmarkBreakdowns1000Peers10Topics(b *testing.B) {
	s, _, _, _ := benchScorer(b, 1000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	var bds []Breakdown
	var rows []TopicBreakdown
	for b.Loop() {
		bds, rows = s.AppendBreakdowns(bds[:0], rows[:0])
	}
}
