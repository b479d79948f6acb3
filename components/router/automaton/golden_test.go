package automaton

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// tracer renders handler calls and their outputs as text, naming peers pNN.
type tracer struct {
	h     *harness
	names map[peer.ID]string
	b     strings.Builder
}

func (tr *tracer) name(p peer.ID) string {
	if n, ok := tr.names[p]; ok {
		return n
	}
	return fmt.Sprintf("%x", string(p))
}

func (tr *tracer) id(id string) string {
	for p, n := range tr.names {
		if strings.HasPrefix(id, string(p)) {
			return n + "/" + id[len(p):]
		}
	}
	return id
}

// step records one call: its label, its outcome, then the output.
func (tr *tracer) step(label string, o Outcome) {
	out := &tr.h.out
	fmt.Fprintf(&tr.b, "@%s %s -> %s\n", tr.h.now.Sub(t0), label, o)
	sends := slices.Clone(out.Sends)
	slices.SortFunc(sends, func(a, b Send) int { return strings.Compare(tr.name(a.To), tr.name(b.To)) })
	for _, s := range sends {
		fmt.Fprintf(&tr.b, "  send %s:%s\n", tr.name(s.To), tr.rpc(s.RPC))
	}
	for _, c := range out.Cancels {
		fmt.Fprintf(&tr.b, "  cancel %s %s\n", tr.name(c.Peer), tr.id(c.ID))
	}
	out.ForEachFact(func(ev any) { fmt.Fprintf(&tr.b, "  fact %s\n", tr.fact(ev)) })
	out.Reset()
}

func (tr *tracer) rpc(r *pb.RPC) string {
	var parts []string
	for _, s := range r.GetSubscriptions() {
		parts = append(parts, fmt.Sprintf("sub(%s,%v)", s.GetTopicid(), s.GetSubscribe()))
	}
	for _, m := range r.GetPublish() {
		parts = append(parts, "msg("+tr.id(string(m.GetFrom())+string(m.GetSeqno()))+")")
	}
	c := r.GetControl()
	for _, g := range c.GetGraft() {
		parts = append(parts, "GRAFT("+g.GetTopicID()+")")
	}
	for _, p := range c.GetPrune() {
		s := "PRUNE(" + p.GetTopicID()
		if p.Backoff != nil {
			s += fmt.Sprintf(" backoff=%ds", p.GetBackoff())
		}
		if len(p.GetPeers()) > 0 {
			var px []string
			for _, pi := range p.GetPeers() {
				px = append(px, tr.name(peer.ID(pi.GetPeerID())))
			}
			slices.Sort(px)
			s += " px=" + strings.Join(px, ",")
		}
		parts = append(parts, s+")")
	}
	for _, ih := range c.GetIhave() {
		parts = append(parts, fmt.Sprintf("IHAVE(%s %s)", ih.GetTopicID(), tr.ids(ih.GetMessageIDs())))
	}
	for _, iw := range c.GetIwant() {
		parts = append(parts, fmt.Sprintf("IWANT(%s)", tr.ids(iw.GetMessageIDs())))
	}
	for _, d := range c.GetIdontwant() {
		parts = append(parts, fmt.Sprintf("IDONTWANT(%s)", tr.ids(d.GetMessageIDs())))
	}
	return " " + strings.Join(parts, " ")
}

func (tr *tracer) ids(raw [][]byte) string {
	var s []string
	for _, r := range raw {
		s = append(s, tr.id(string(r)))
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func (tr *tracer) fact(ev any) string {
	switch e := ev.(type) {
	case events.EvtRouterPeerAdded:
		return fmt.Sprintf("PeerAdded %s %s", tr.name(e.Peer), e.Protocol)
	case events.EvtRouterPeerRemoved:
		return "PeerRemoved " + tr.name(e.Peer)
	case events.EvtTopicJoined:
		return "TopicJoined " + e.Topic
	case events.EvtTopicLeft:
		return "TopicLeft " + e.Topic
	case events.EvtPeerSubscribed:
		return fmt.Sprintf("Subscribed %s %s", tr.name(e.Peer), e.Topic)
	case events.EvtPeerUnsubscribed:
		return fmt.Sprintf("Unsubscribed %s %s", tr.name(e.Peer), e.Topic)
	case events.EvtPeerGrafted:
		return fmt.Sprintf("Grafted %s %s outbound=%v", tr.name(e.Peer), e.Topic, e.Outbound)
	case events.EvtPeerPruned:
		return fmt.Sprintf("Pruned %s %s %s backoff=%v", tr.name(e.Peer), e.Topic, e.Reason, e.Backoff)
	case events.EvtPeerExchangeReceived:
		var ps []string
		for _, r := range e.Records {
			ps = append(ps, tr.name(r.Peer))
		}
		return fmt.Sprintf("PeerExchange from=%s %s %v", tr.name(e.From), e.Topic, ps)
	case events.EvtMessagePublished:
		return fmt.Sprintf("Published %s %s peers=%d", tr.id(e.ID), e.Topic, e.Peers)
	case events.EvtMessageDelivered:
		return fmt.Sprintf("Delivered %s from=%s", tr.id(e.ID), tr.name(e.From))
	case events.EvtMessageDuplicated:
		return fmt.Sprintf("Duplicate %s from=%s", tr.id(e.ID), tr.name(e.From))
	case events.EvtMessageRejected:
		return fmt.Sprintf("Rejected %s from=%s %s", tr.id(e.ID), tr.name(e.From), e.Reason)
	case events.EvtPeerPenalized:
		return fmt.Sprintf("Penalized %s %s x%d", tr.name(e.Peer), e.Reason, e.Count)
	}
	return fmt.Sprintf("%T", ev)
}

// TestGoldenTrace runs a scripted scenario and compares its full trace
// with testdata/trace.golden (regenerate with -update, then review the diff).
func TestGoldenTrace(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.D, c.Dlo, c.Dhi, c.Dscore, c.Dout, c.Dlazy = 3, 2, 4, 2, 1, 2
		c.PeerExchange = true
		c.PrunePeers = 2
		c.IDontWantThreshold = 100
	})
	tr := &tracer{h: h, names: map[peer.ID]string{pid(0): "self"}}
	var seq msgSeq // the trace shows seqnos: number them from 1 whatever ran before
	protos := []string{"", string(wire.ProtocolMeshsub12), string(wire.ProtocolMeshsub12), string(wire.ProtocolMeshsub12),
		string(wire.ProtocolMeshsub11), string(wire.ProtocolMeshsub10), string(wire.ProtocolFloodsub), string(wire.ProtocolMeshsub12)}
	for i := 1; i < len(protos); i++ {
		tr.names[pid(i)] = fmt.Sprintf("p%02d", i)
	}
	a, now := h.a, func() time.Time { return h.now }
	tr.step("join topic-a (no peers yet)", a.Join(now(), topicA, &h.out))
	for i := 1; i < len(protos); i++ {
		p := pid(i)
		tr.step(fmt.Sprintf("add p%02d %s outbound=%v", i, protos[i], i%2 == 1),
			a.AddPeer(now(), PeerSpec{ID: p, Protocol: protocol.ID(protos[i]), Outbound: i%2 == 1}, &h.out))
		tr.step(fmt.Sprintf("p%02d subscribes topic-a", i), a.HandleSubscription(now(), p, topicA, true, &h.out))
	}
	h.heartbeat()
	tr.step("heartbeat: mesh below Dlo grafts to D", OutcomeHeartbeatDone)
	mesh := h.mesh(topicA)
	var other peer.ID
	for i := 1; i < 6; i++ {
		if !hasPeer(mesh, pid(i)) {
			other = pid(i)
			break
		}
	}
	tr.step("inbound graft from a non-mesh peer", a.HandleGraft(now(), other, topicA, &h.out))
	tr.step("mesh peer prunes us with PX and 30 s backoff", a.HandlePrune(now(), mesh[0], prune(topicA, 30, pid(7)), &h.out))
	h.advance(time.Second)
	tr.step("it grafts again 1 s later", a.HandleGraft(now(), mesh[0], topicA, &h.out))

	m, id := seq.msg(pid(1), topicA, 200)
	tr.step("big message from p01", a.HandleMessage(now(), pid(1), m, id, true, &h.out))
	tr.step("duplicate from p02", a.HandleMessage(now(), pid(2), m, id, true, &h.out))
	tr.step("validated accept", a.Validated(now(), id, ValidationAccept, &h.out))
	tr.step("p03 says IDONTWANT", a.HandleIDontWant(now(), pid(3), idontwant(id), &h.out))
	own, oid := seq.msg(pid(0), topicA, 10)
	tr.step("publish (flood publish)", a.Publish(now(), own, oid, &h.out))
	tr.step("p04 advertises an unknown id", a.HandleIHave(now(), pid(4), ihave(topicA, "x1"), &h.out))
	h.heartbeat()
	tr.step("heartbeat: gossip", OutcomeHeartbeatDone)
	for range 3 {
		h.heartbeat()
		tr.step("heartbeat", OutcomeHeartbeatDone)
	}
	h.scores(events.ScoreThresholds{Gossip: -5, Publish: -10, Graylist: -20}, pid(3), -1.0)
	tr.step("mesh peer p03's score turns negative", OutcomeScoresUpdated)
	h.heartbeat()
	tr.step("heartbeat: negative score pruned", OutcomeHeartbeatDone)
	tr.step("leave topic-a", a.Leave(now(), topicA, &h.out))
	tr.step("remove p01", a.RemovePeer(now(), pid(1), &h.out))

	got := tr.b.String()
	path := filepath.Join("testdata", "trace.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("trace differs from %s (rerun with -update and review the diff):\n%s", path, got)
	}
}
