package automaton

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// pid returns a valid peer id (identity multihash) for test peer i.
func pid(i int) peer.ID {
	data := fmt.Appendf(nil, "test-peer-%06d", i)
	return peer.ID(append([]byte{0x00, byte(len(data))}, data...))
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const topicA = "topic-a"

// harness drives one automaton with a manual clock.
type harness struct {
	t   testing.TB
	a   *Automaton
	now time.Time
	out Output
}

func newHarness(t testing.TB, mut func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	a, err := New(pid(0), cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, a: a, now: t0}
}

func (h *harness) reset() { h.out.Reset() }

// add adds peer i with the protocol, subscribed to the given topics.
func (h *harness) add(i int, proto protocol.ID, outbound bool, topics ...string) peer.ID {
	h.t.Helper()
	p := pid(i)
	if o := h.a.AddPeer(h.now, PeerSpec{ID: p, Protocol: proto, Outbound: outbound}, &h.out); o != OutcomePeerAdded {
		h.t.Fatalf("AddPeer(%d) = %v", i, o)
	}
	for _, tp := range topics {
		if o := h.a.HandleSubscription(h.now, p, tp, true, &h.out); o != OutcomeSubscribed {
			h.t.Fatalf("subscribe(%d, %s) = %v", i, tp, o)
		}
	}
	return p
}

// addN adds peers first..first+n-1 (v1.2, alternating outbound) subscribed to topic.
func (h *harness) addN(first, n int, topic string) []peer.ID {
	var ps []peer.ID
	for i := first; i < first+n; i++ {
		ps = append(ps, h.add(i, wire.ProtocolMeshsub12, i%2 == 0, topic))
	}
	return ps
}

func (h *harness) join(topic string) {
	h.t.Helper()
	if o := h.a.Join(h.now, topic, &h.out); o != OutcomeJoined {
		h.t.Fatalf("Join = %v", o)
	}
}

// heartbeat advances the clock one interval and runs Heartbeat.
func (h *harness) heartbeat() {
	h.now = h.now.Add(h.a.cfg.HeartbeatInterval)
	if o := h.a.Heartbeat(h.now, &h.out); o != OutcomeHeartbeatDone {
		h.t.Fatalf("Heartbeat = %v", o)
	}
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

func (h *harness) scores(th events.ScoreThresholds, kv ...any) {
	var ss []events.PeerScore
	for i := 0; i < len(kv); i += 2 {
		ss = append(ss, events.PeerScore{Peer: kv[i].(peer.ID), Score: kv[i+1].(float64)})
	}
	if o := h.a.UpdateScores(h.now, ss, th, &h.out); o != OutcomeScoresUpdated {
		h.t.Fatalf("UpdateScores = %v", o)
	}
}

// graftIn makes p graft itself into topic's mesh (inbound).
func (h *harness) graftIn(p peer.ID, topic string) {
	h.t.Helper()
	if o := h.a.HandleGraft(h.now, p, topic, &h.out); o != OutcomeGraftAccepted {
		h.t.Fatalf("HandleGraft(%s) = %v", p, o)
	}
}

func (h *harness) rpc(p peer.ID) *pb.RPC {
	if s := h.out.SendTo(p); s != nil {
		return s.RPC
	}
	return nil
}

func (h *harness) mesh(topic string) []peer.ID { return h.a.Mesh(topic) }

// msgSeq numbers the messages one test builds. A test whose output shows
// seqnos (the golden trace) owns its msgSeq, so its output does not depend on
// which tests ran before it.
type msgSeq struct{ n atomic.Uint64 }

// msg builds a message authored by author in topic with a payload of size
// bytes, with the sequence's next seqno; it returns the message and its id.
func (q *msgSeq) msg(author peer.ID, topic string, size int) (*pb.Message, string) {
	seq := fmt.Appendf(nil, "%08d", q.n.Add(1))
	m := &pb.Message{From: []byte(author), Seqno: seq, Topic: &topic, Data: make([]byte, size)}
	return m, string(author) + string(seq)
}

// anySeq numbers the messages of tests that never show a seqno: ids only
// need to be distinct.
var anySeq msgSeq

// msg is anySeq.msg.
func msg(author peer.ID, topic string, size int) (*pb.Message, string) {
	return anySeq.msg(author, topic, size)
}

func ihave(topic string, ids ...string) *pb.ControlIHave {
	t := topic
	ih := &pb.ControlIHave{TopicID: &t}
	for _, id := range ids {
		ih.MessageIDs = append(ih.MessageIDs, []byte(id))
	}
	return ih
}

func iwant(ids ...string) *pb.ControlIWant {
	iw := &pb.ControlIWant{}
	for _, id := range ids {
		iw.MessageIDs = append(iw.MessageIDs, []byte(id))
	}
	return iw
}

func idontwant(ids ...string) *pb.ControlIDontWant {
	m := &pb.ControlIDontWant{}
	for _, id := range ids {
		m.MessageIDs = append(m.MessageIDs, []byte(id))
	}
	return m
}

func prune(topic string, backoffSecs uint64, px ...peer.ID) *pb.ControlPrune {
	t := topic
	pr := &pb.ControlPrune{TopicID: &t}
	if backoffSecs > 0 {
		pr.Backoff = &backoffSecs
	}
	for _, p := range px {
		pr.Peers = append(pr.Peers, &pb.PeerInfo{PeerID: []byte(p), SignedPeerRecord: []byte("rec-" + string(p))})
	}
	return pr
}

// prunesIn lists the PRUNEs for topic in an RPC.
func prunesIn(r *pb.RPC, topic string) []*pb.ControlPrune {
	var out []*pb.ControlPrune
	for _, p := range r.GetControl().GetPrune() {
		if p.GetTopicID() == topic {
			out = append(out, p)
		}
	}
	return out
}

func graftsIn(r *pb.RPC, topic string) int {
	n := 0
	for _, g := range r.GetControl().GetGraft() {
		if g.GetTopicID() == topic {
			n++
		}
	}
	return n
}

func hasPeer(ps []peer.ID, p peer.ID) bool { return slices.Contains(ps, p) }

func penalties(out *Output, reason events.PenaltyReason) map[peer.ID]int {
	m := map[peer.ID]int{}
	for _, e := range FactPeerPenalized.In(out) {
		if e.Reason == reason {
			m[e.Peer] += e.Count
		}
	}
	return m
}
