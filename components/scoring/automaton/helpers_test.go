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

// Peer ids for tests: any string is a valid map key, so short names keep
// failures readable.
const (
	pA = peer.ID("A")
	pB = peer.ID("B")
	pC = peer.ID("C")
	pD = peer.ID("D")
)

func peerID(s string) peer.ID { return peer.ID(s) }

// topic is the one configured topic in core tests.
const topic = "t"

// t0 is the core tests' start time.
var t0 = time.Unix(1_000_000, 0)

// sec returns t0 plus s seconds.
func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// baseParams has every term off, DecayInterval 1s, DecayToZero 0.1,
// RetainScore 30s and thresholds gossip -10, publish -20, graylist -30,
// accept-PX 10, opportunistic-graft 1. Each test turns on what it checks.
func baseParams() Params {
	return Params{
		Topics:        map[string]TopicParams{},
		DecayInterval: time.Second,
		DecayToZero:   0.1,
		RetainScore:   30 * time.Second,
		Thresholds: Thresholds{
			Gossip: -10, Publish: -20, Graylist: -30, AcceptPX: 10, OpportunisticGraft: 1,
		},
	}
}

// withTopic returns baseParams with topic configured by tp (TopicWeight 0.5
// unless tp sets it).
func withTopic(tp TopicParams) Params {
	p := baseParams()
	if tp.TopicWeight == 0 {
		tp.TopicWeight = 0.5
	}
	p.Topics[topic] = tp
	return p
}

// meshTopic is a topic with only P₃ (and P₃b when w3b != 0) on: threshold 4,
// cap 8, activation 5s, window 10ms, decay 0.9 for both counters.
func meshTopic(w3, w3b float64) TopicParams {
	return TopicParams{
		MeshMessageDeliveriesWeight:     w3,
		MeshMessageDeliveriesDecay:      0.9,
		MeshMessageDeliveriesThreshold:  4,
		MeshMessageDeliveriesCap:        8,
		MeshMessageDeliveriesActivation: 5 * time.Second,
		MeshMessageDeliveriesWindow:     10 * time.Millisecond,
		MeshFailurePenaltyWeight:        w3b,
		MeshFailurePenaltyDecay:         0.9,
	}
}

func newScorer(t testing.TB, p Params) *Automaton {
	t.Helper()
	s, err := New(p, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func score(t testing.TB, s *Automaton, p peer.ID) float64 {
	t.Helper()
	v, ok := s.Score(p)
	if !ok {
		t.Fatalf("peer %s is not scored", p)
	}
	return v
}

func wantScore(t testing.TB, s *Automaton, p peer.ID, want float64) {
	t.Helper()
	if got := score(t, s, p); !approx(got, want) {
		t.Fatalf("score(%s) = %v, want %v", p, got, want)
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// connect feeds what the connection tracker emits when p connects from ip.
func connect(s *Automaton, p peer.ID, ip string, at time.Time) { connectTo(s, p, ip, at, nil) }

// connectTo is connect with the Output the handlers append to.
func connectTo(s *Automaton, p peer.ID, ip string, at time.Time, out *Output) {
	var addr netip.Addr
	if ip != "" {
		addr = netip.MustParseAddr(ip)
	}
	s.HandleConnOpened(at, events.EvtConnOpened{Peer: p, ConnID: string(p) + ip, RemoteIP: addr, At: at}, out)
	s.HandleConnectednessChanged(at, events.EvtPeerConnectednessChanged{Peer: p, Connectedness: network.Connected}, out)
}

// disconnect feeds what the host emits when p's connection from ip closes.
func disconnect(s *Automaton, p peer.ID, ip string, at time.Time) {
	var addr netip.Addr
	if ip != "" {
		addr = netip.MustParseAddr(ip)
	}
	s.HandleConnClosed(at, events.EvtConnClosed{Peer: p, ConnID: string(p) + ip, RemoteIP: addr, At: at}, nil)
	s.HandleConnectednessChanged(at, events.EvtPeerConnectednessChanged{Peer: p, Connectedness: network.NotConnected}, nil)
}

func graft(s *Automaton, p peer.ID, at time.Time) {
	s.HandleGrafted(at, events.EvtPeerGrafted{Peer: p, Topic: topic, At: at}, nil)
}

func prune(s *Automaton, p peer.ID, at time.Time) {
	s.HandlePruned(at, events.EvtPeerPruned{Peer: p, Topic: topic, Reason: events.PruneReasonNegativeScore, At: at}, nil)
}

func deliver(s *Automaton, id string, from peer.ID, at time.Time) {
	s.HandleDelivered(at, events.EvtMessageDelivered{Topic: topic, ID: id, From: from, Author: from, At: at}, nil)
}

func duplicate(s *Automaton, id string, from peer.ID, at time.Time) {
	s.HandleDuplicate(at, events.EvtMessageDuplicated{Topic: topic, ID: id, From: from, At: at}, nil)
}

func reject(s *Automaton, id string, from peer.ID, r events.RejectReason, at time.Time) {
	s.HandleRejected(at, events.EvtMessageRejected{Topic: topic, ID: id, From: from, Reason: r, At: at}, nil)
}
