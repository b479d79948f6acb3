package automaton

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// FuzzScorer drives a Scorer with an arbitrary sequence of facts, decoded
// from the input three bytes at a time (operation, peer/topic/id selector,
// argument), and checks after each one that nothing panics and the state
// stays consistent: scores finite and equal to their breakdown, IP groups
// matching the peers' IPs, bounded delivery records.
func FuzzScorer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 3, 1, 0, 5, 1, 2, 9, 0, 200})
	f.Add([]byte{4, 0, 0, 5, 0, 0, 6, 0, 0, 10, 0, 1, 10, 1, 1, 11, 0, 0, 9, 0, 255})
	f.Add([]byte{0, 0, 1, 0, 1, 1, 0, 2, 1, 0, 3, 1, 8, 0, 100, 12, 0, 0, 1, 2, 0, 13, 0, 0, 9, 0, 40})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := DefaultParams()
		p.Topics["a"] = DefaultTopicParams()
		tb := DefaultTopicParams()
		tb.MeshMessageDeliveriesActivation = time.Second
		tb.TopicWeight = 0.7
		p.Topics["b"] = tb
		p.IPColocationFactorThreshold = 1
		p.MaxDeliveryRecords = 8
		p.RetainScore = 5 * time.Second
		start := time.Unix(0, 0)
		s, err := New(p, start)
		if err != nil {
			t.Fatal(err)
		}
		peers := []peer.ID{"p0", "p1", "p2", "p3"}
		topics := []string{"a", "b", "unconfigured"}
		ids := []string{"", "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"}
		ips := []netip.Addr{{}, netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2.2.2.2"), netip.MustParseAddr("127.0.0.1")}
		now := start
		for len(data) >= 3 {
			op, sel, arg := data[0], int(data[1]), data[2]
			data = data[3:]
			pr := peers[sel%len(peers)]
			tp := topics[(sel/4)%len(topics)]
			id := ids[int(arg)%len(ids)]
			ip := ips[(sel/12)%len(ips)]
			switch op % 15 {
			case 0:
				s.HandleConnOpened(now, events.EvtConnOpened{Peer: pr, RemoteIP: ip, At: now}, nil)
			case 1:
				s.HandleConnClosed(now, events.EvtConnClosed{Peer: pr, RemoteIP: ip, At: now}, nil)
			case 2:
				s.HandleConnectednessChanged(now, events.EvtPeerConnectednessChanged{Peer: pr, Connectedness: network.Connectedness(arg % 5)}, nil)
			case 3:
				s.HandleGrafted(now, events.EvtPeerGrafted{Peer: pr, Topic: tp, At: now}, nil)
			case 4:
				s.HandlePruned(now, events.EvtPeerPruned{Peer: pr, Topic: tp, Reason: events.PruneReason(arg % 8), At: now}, nil)
			case 5:
				s.HandleDelivered(now, events.EvtMessageDelivered{Topic: tp, ID: id, From: pr, At: now}, nil)
			case 6:
				s.HandleDuplicate(now, events.EvtMessageDuplicated{Topic: tp, ID: id, From: pr, At: now}, nil)
			case 7:
				s.HandleRejected(now, events.EvtMessageRejected{Topic: tp, ID: id, From: pr, Reason: events.RejectReason(arg % 13), At: now}, nil)
			case 8:
				s.HandlePenalized(now, events.EvtPeerPenalized{Peer: pr, Count: int(int8(arg)), At: now}, nil)
			case 9:
				now = now.Add(time.Duration(arg) * 50 * time.Millisecond)
				s.HandleTick(now, nil)
			case 10:
				s.HandleAppScoreSet(now, events.EvtPeerAppScoreSet{Peer: pr, Score: float64(int8(arg))}, nil)
			case 11:
				s.HandleRouterPeerRemoved(now, events.EvtRouterPeerRemoved{Peer: pr, At: now}, nil)
			case 12:
				s.HandlePublished(now, events.EvtMessagePublished{Topic: tp, ID: id, At: now}, nil)
			case 13:
				s.HandleTopicLeft(now, events.EvtTopicLeft{Topic: tp, At: now}, nil)
			case 14: // a choked mesh peer's announcement: this id and a neighbour's
				s.HandleChokedAnnounced(now, events.EvtChokedPeerAnnounced{Topic: tp, From: pr, IDs: []string{id, ids[(int(arg)+1)%len(ids)]}, At: now}, nil)
			}
			checkInvariants(t, s)
		}
	})
}

func checkInvariants(t *testing.T, s *Automaton) {
	t.Helper()
	if len(s.peers) != len(s.index) {
		t.Fatalf("%d peers, %d indexed", len(s.peers), len(s.index))
	}
	for i, ps := range s.peers {
		if ps.idx != i || s.index[ps.id] != ps {
			t.Fatalf("peer %s: idx %d at %d", ps.id, ps.idx, i)
		}
		if math.IsNaN(ps.score) || math.IsInf(ps.score, 0) {
			t.Fatalf("peer %s: score %v", ps.id, ps.score)
		}
		if got := s.compute(ps); got != ps.score {
			t.Fatalf("peer %s: cached score %v, state gives %v", ps.id, ps.score, got)
		}
		b, _ := s.Breakdown(ps.id)
		sum := b.TopicScore + s.params.AppSpecificWeight*b.P5 + s.params.IPColocationFactorWeight*b.P6 +
			s.params.BehaviourPenaltyWeight*b.P7
		if math.Abs(sum-b.Score) > 1e-9*math.Max(1, math.Abs(sum)) {
			t.Fatalf("peer %s: breakdown sums to %v, score %v", ps.id, sum, b.Score)
		}
		if ps.below != s.ladder.mask(ps.score) {
			t.Fatalf("peer %s: threshold mask out of date", ps.id)
		}
		for _, r := range ps.ips {
			g := s.ips[r.addr]
			if r.conns < 1 || g == nil || !containsPeer(g.peers, ps) {
				t.Fatalf("peer %s: ip %v (conns %d) not in its group", ps.id, r.addr, r.conns)
			}
		}
	}
	for addr, g := range s.ips {
		if len(g.peers) == 0 {
			t.Fatalf("empty group for %v", addr)
		}
		for _, q := range g.peers {
			if s.index[q.id] != q {
				t.Fatalf("group %v holds forgotten peer %s", addr, q.id)
			}
		}
	}
	if n := s.records.len(); n > s.params.MaxDeliveryRecords || n != len(s.records.byID) {
		t.Fatalf("%d records (%d indexed), max %d", n, len(s.records.byID), s.params.MaxDeliveryRecords)
	}
}

func containsPeer(list []*peerState, ps *peerState) bool {
	for _, q := range list {
		if q == ps {
			return true
		}
	}
	return false
}
