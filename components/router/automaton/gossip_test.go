package automaton

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

func TestIHaveBudget(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxIHaveLength = 10 })
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	var ids []string
	for i := range 15 {
		ids = append(ids, fmt.Sprintf("m%02d", i))
	}
	if o := h.a.HandleIHave(h.now, p, ihave(topicA, ids...), &h.out); o != OutcomeIWantSent {
		t.Fatalf("ihave = %v", o)
	}
	iw := h.rpc(p).GetControl().GetIwant()
	if len(iw) != 1 || len(iw[0].GetMessageIDs()) != 10 {
		t.Fatalf("IWANT = %v, want 10 ids (MaxIHaveLength)", iw)
	}
	if o := h.a.HandleIHave(h.now, p, ihave(topicA, "other"), &h.out); o != OutcomeIHaveBudgetExceeded {
		t.Fatalf("second ihave = %v", o)
	}
	h.heartbeat()
	h.reset()
	if o := h.a.HandleIHave(h.now, p, ihave(topicA, "other"), &h.out); o != OutcomeIWantSent {
		t.Fatalf("ihave after heartbeat = %v", o)
	}
	// Duplicate and invalid ids inside one IHAVE are requested once / skipped.
	h.heartbeat()
	h.reset()
	long := string(make([]byte, h.a.cfg.MaxIDLength+1))
	h.a.HandleIHave(h.now, p, ihave(topicA, "d", "d", "d", "", long), &h.out)
	if got := h.rpc(p).GetControl().GetIwant()[0].GetMessageIDs(); len(got) != 1 {
		t.Fatalf("IWANT ids = %q", got)
	}
}

// MaxIHaveMessages counts RPCs, not IHAVE entries: one heartbeat's gossip
// for many topics is one RPC with an entry per topic, and each entry is
// answered (a per-entry count dropped every topic past the tenth).
func TestIHaveBudgetCountsRPCs(t *testing.T) {
	h := newHarness(t, nil)
	var topics []string
	for i := range 15 {
		topics = append(topics, fmt.Sprintf("topic-%02d", i))
	}
	for _, tp := range topics {
		h.join(tp)
	}
	p := h.add(1, wire.ProtocolMeshsub12, false, topics...)
	ctl := &pb.ControlMessage{}
	for _, tp := range topics {
		ctl.Ihave = append(ctl.Ihave, ihave(tp, "gossip-"+tp))
	}
	outcomes := h.a.HandleControl(h.now, p, ctl, &h.out, nil)
	if len(outcomes) != len(topics) {
		t.Fatalf("%d outcomes for %d entries", len(outcomes), len(topics))
	}
	for i, o := range outcomes {
		if o != OutcomeIWantSent {
			t.Fatalf("entry %d (%s) = %v; want an IWANT for every topic", i, topics[i], o)
		}
	}
	// That was one RPC of MaxIHaveMessages (10): nine more fit, the
	// eleventh does not.
	for i := range h.a.cfg.MaxIHaveMessages - 1 {
		ctl := &pb.ControlMessage{Ihave: []*pb.ControlIHave{ihave(topics[0], fmt.Sprintf("later-%d", i))}}
		if o := h.a.HandleControl(h.now, p, ctl, &h.out, nil); o[0] != OutcomeIWantSent {
			t.Fatalf("RPC %d = %v", i+2, o[0])
		}
	}
	ctl = &pb.ControlMessage{Ihave: []*pb.ControlIHave{ihave(topics[0], "over"), ihave(topics[1], "over2")}}
	for i, o := range h.a.HandleControl(h.now, p, ctl, &h.out, nil) {
		if o != OutcomeIHaveBudgetExceeded {
			t.Fatalf("RPC 11, entry %d = %v; want OutcomeIHaveBudgetExceeded", i, o)
		}
	}
}

// MaxIDontWantMessages counts RPCs too: an RPC with many IDONTWANT
// entries is one, and the budget's last RPC is processed whole.
func TestIDontWantBudgetCountsRPCs(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxIDontWantMessages = 2 })
	p := h.add(1, wire.ProtocolMeshsub12, false)
	rpc := func(ids ...string) []Outcome {
		ctl := &pb.ControlMessage{}
		for _, id := range ids {
			ctl.Idontwant = append(ctl.Idontwant, idontwant(id))
		}
		return h.a.HandleControl(h.now, p, ctl, &h.out, nil)
	}
	for i, o := range rpc("a", "b", "c", "d", "e") {
		if o != OutcomeIDontWantRecorded {
			t.Fatalf("RPC 1, entry %d = %v", i, o)
		}
	}
	if o := rpc("f", "g"); o[0] != OutcomeIDontWantRecorded || o[1] != OutcomeIDontWantRecorded {
		t.Fatalf("RPC 2 = %v", o)
	}
	if o := rpc("h"); o[0] != OutcomeIDontWantBudgetExceeded {
		t.Fatalf("RPC 3 (budget 2) = %v", o)
	}
	if n := len(h.a.peers[p].dontWant); n != 7 {
		t.Fatalf("%d ids remembered, want 7", n)
	}
}

func TestBrokenPromisePenalisedAfterFollowup(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	liar := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	honest := h.add(2, wire.ProtocolMeshsub12, false, topicA)
	h.a.HandleIHave(h.now, liar, ihave(topicA, "lie"), &h.out)
	m, id := msg(pid(9), topicA, 10)
	h.a.HandleIHave(h.now, honest, ihave(topicA, id), &h.out)
	if o := h.a.HandleMessage(h.now.Add(time.Second), honest, m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("message = %v", o)
	}
	followup := h.a.cfg.IWantFollowupTime
	start := h.now
	for h.now.Before(start.Add(followup)) {
		h.reset()
		h.heartbeat()
		if h.now.Before(start.Add(followup)) && len(FactPeerPenalized.In(&h.out)) > 0 {
			t.Fatalf("penalty at +%v, before the followup time", h.now.Sub(start))
		}
	}
	got := penalties(&h.out, events.PenaltyBrokenPromise)
	if got[liar] != 1 || got[honest] != 0 {
		t.Fatalf("broken promises = %v", got)
	}
	h.reset()
	h.heartbeat()
	if len(FactPeerPenalized.In(&h.out)) != 0 {
		t.Fatal("promise penalised twice")
	}
}

func TestIWantServesOnlyAdvertisedWithinRetransmission(t *testing.T) {
	h := newHarness(t, nil)
	p := gossipedTo(h)
	ih := h.rpc(p).GetControl().GetIhave()[0]
	id := string(ih.GetMessageIDs()[0])
	h.reset()
	if o := h.a.HandleIWant(h.now, p, iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("iwant = %v", o)
	}
	s := h.out.SendTo(p)
	if len(s.RPC.GetPublish()) != 1 || s.IDs[0] != id {
		t.Fatalf("served %v %v", s.RPC.GetPublish(), s.IDs)
	}
	// A peer that was never offered the id gets nothing.
	other := h.add(7, wire.ProtocolMeshsub12, false, topicA)
	if o := h.a.HandleIWant(h.now, other, iwant(id), &h.out); o != OutcomeIWantNothingServed {
		t.Fatalf("unadvertised iwant = %v", o)
	}
	// IDONTWANT wins over IWANT.
	h.a.HandleIDontWant(h.now, p, idontwant(id), &h.out)
	if o := h.a.HandleIWant(h.now, p, iwant(id), &h.out); o != OutcomeIWantNothingServed {
		t.Fatalf("iwant after idontwant = %v", o)
	}
}

func TestIWantBudgetPerHeartbeat(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxIHaveLength = 3 })
	p := gossipedTo(h)
	h.reset()
	if o := h.a.HandleIWant(h.now, p, iwant("a", "b", "c", "d"), &h.out); o != OutcomeIWantBudgetExceeded {
		t.Fatalf("iwant over budget = %v", o)
	}
	if penalties(&h.out, events.PenaltyIWantSpam)[p] != 1 {
		t.Fatalf("penalties %+v", FactPeerPenalized.In(&h.out))
	}
}

func TestIDontWantSuppressesForwarding(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 6, topicA)
	h.join(topicA)
	src, quiet := ps[0], ps[1]
	m, id := msg(pid(50), topicA, 10)
	h.reset()
	if o := h.a.HandleIDontWant(h.now, quiet, idontwant(id), &h.out); o != OutcomeIDontWantRecorded {
		t.Fatalf("idontwant = %v", o)
	}
	if len(h.out.Cancels) != 0 {
		t.Fatal("cancel for a message we never had")
	}
	h.a.HandleMessage(h.now, src, m, id, true, &h.out)
	h.reset()
	if o := h.a.Validated(h.now, id, ValidationAccept, &h.out); o != OutcomeDelivered {
		t.Fatalf("validated = %v", o)
	}
	for _, p := range ps {
		got := h.out.SendTo(p) != nil
		want := p != src && p != quiet
		if got != want {
			t.Errorf("peer %s forwarded=%v, want %v", p, got, want)
		}
	}
	if len(FactMessageDelivered.In(&h.out)) != 1 || FactMessageDelivered.In(&h.out)[0].From != src || FactMessageDelivered.In(&h.out)[0].Author != pid(50) {
		t.Fatalf("delivered = %+v", FactMessageDelivered.In(&h.out))
	}
	// An IDONTWANT for a cached (possibly queued) message asks for a cancel.
	h.reset()
	h.a.HandleIDontWant(h.now, ps[2], idontwant(id), &h.out)
	if len(h.out.Cancels) != 1 || h.out.Cancels[0] != (Cancel{Peer: ps[2], ID: id, Reason: CancelIDontWant}) {
		t.Fatalf("cancels = %v", h.out.Cancels)
	}
	// IDONTWANTs expire after HistoryLength heartbeats.
	for range h.a.cfg.HistoryLength {
		h.heartbeat()
	}
	if n := len(h.a.peers[quiet].dontWant); n != 0 {
		t.Fatalf("%d IDONTWANT ids left after the history window", n)
	}
}

// idontwantMesh joins topicA with a mesh of four v1.2 peers and one v1.1
// peer, and returns the v1.2 peers, the first of them as the sender of the
// messages to come, and a count of the IDONTWANT ids in the Output, failing
// the test for any sent to the sender or to the v1.1 peer.
func idontwantMesh(t *testing.T, h *harness) (v12 []peer.ID, src peer.ID, count func() int) {
	t.Helper()
	v12 = h.addN(1, 4, topicA)
	v11 := h.add(10, wire.ProtocolMeshsub11, false, topicA)
	h.join(topicA)
	if len(h.mesh(topicA)) != 5 {
		t.Fatalf("mesh = %v", h.mesh(topicA))
	}
	src = v12[0]
	count = func() (n int) {
		for _, s := range h.out.Sends {
			k := len(s.RPC.GetControl().GetIdontwant())
			if k > 0 && (s.To == src || s.To == v11) {
				t.Errorf("IDONTWANT sent to %s", s.To)
			}
			n += k
		}
		return n
	}
	return v12, src, count
}

func TestIDontWantSentForLargeMessages(t *testing.T) {
	h := newHarness(t, nil)
	v12, src, count := idontwantMesh(t, h)
	small, sid := msg(pid(50), topicA, 10)
	h.reset()
	h.a.HandleMessage(h.now, src, small, sid, true, &h.out)
	if n := count(); n != 0 {
		t.Fatalf("%d IDONTWANT for a small message", n)
	}
	big, bid := msg(pid(50), topicA, 2000)
	h.reset()
	h.a.HandleMessage(h.now, src, big, bid, true, &h.out)
	if n := count(); n != 3 { // v1.2 mesh peers minus the sender
		t.Fatalf("%d IDONTWANT, want 3", n)
	}
	// The threshold is on the data field alone (as go-libp2p-pubsub
	// measures it): 1023 data bytes plus from, seqno and topic stay below.
	edge, eid := msg(pid(50), topicA, h.a.cfg.IDontWantThreshold-1)
	h.reset()
	h.a.HandleMessage(h.now, src, edge, eid, true, &h.out)
	if n := count(); n != 0 {
		t.Fatalf("%d IDONTWANT for %d data bytes, threshold %d", n, len(edge.Data), h.a.cfg.IDontWantThreshold)
	}
	// Not on publish: peers do not send a message back to its author.
	own, oid := msg(pid(0), topicA, 2000)
	h.reset()
	h.a.Publish(h.now, own, oid, &h.out)
	n := 0
	for _, p := range v12 {
		n += len(h.rpc(p).GetControl().GetIdontwant())
	}
	if n != 0 {
		t.Fatalf("%d IDONTWANT on publish, want 0", n)
	}
}

// idontwantsTo counts the IDONTWANT ids for id in the Output, per peer.
func idontwantsTo(out *Output, id string) map[peer.ID]int {
	n := map[peer.ID]int{}
	for _, s := range out.Sends {
		for _, e := range s.RPC.GetControl().GetIdontwant() {
			for _, raw := range e.GetMessageIDs() {
				if string(raw) == id {
					n[s.To]++
				}
			}
		}
	}
	return n
}

// IDONTWANT goes out at the unchecked look, before the signature check,
// and only once per id: not again when the check passes, nor for a second
// copy arriving before it finished.
func TestIDontWantBeforeSignatureCheck(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 4, topicA)
	h.join(topicA)
	src := ps[0]
	m, id := msg(pid(50), topicA, 2000)
	h.reset()
	if o := h.a.HandleMessage(h.now, src, m, id, false, &h.out); o != OutcomeNeedsSignatureCheck {
		t.Fatalf("unchecked = %v", o)
	}
	got := idontwantsTo(&h.out, id)
	if len(got) != 3 || got[src] != 0 {
		t.Fatalf("IDONTWANT before the check = %v, want one to each mesh peer but the sender", got)
	}
	h.reset()
	if o := h.a.HandleMessage(h.now, ps[1], m, id, false, &h.out); o != OutcomeNeedsSignatureCheck {
		t.Fatalf("second unchecked copy = %v", o)
	}
	if n := len(idontwantsTo(&h.out, id)); n != 0 {
		t.Fatalf("IDONTWANT again for a second copy before the check: %d peers", n)
	}
	h.reset()
	if o := h.a.HandleMessage(h.now, src, m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("checked = %v", o)
	}
	if n := len(idontwantsTo(&h.out, id)); n != 0 {
		t.Fatalf("IDONTWANT again after the check: %d peers", n)
	}
	if len(h.a.announced) != 0 {
		t.Fatalf("announced set holds %d ids after the check", len(h.a.announced))
	}

	// A copy that fails its check is forgotten: a later copy with the same
	// id (the genuine one) is announced again.
	m2, id2 := msg(pid(51), topicA, 2000)
	h.reset()
	h.a.HandleMessage(h.now, src, m2, id2, false, &h.out)
	h.a.Reject(h.now, src, topicA, id2, events.RejectInvalidSignature, &h.out)
	if len(h.a.announced) != 0 {
		t.Fatal("a rejected copy stays announced")
	}
	h.reset()
	h.a.HandleMessage(h.now, ps[1], m2, id2, false, &h.out)
	if n := len(idontwantsTo(&h.out, id2)); n != 3 {
		t.Fatalf("IDONTWANT for the copy after a rejected one: %d peers, want 3", n)
	}

	// Our own message coming back is not announced.
	own, oid := msg(pid(0), topicA, 2000)
	h.reset()
	h.a.HandleMessage(h.now, src, own, oid, false, &h.out)
	if n := len(idontwantsTo(&h.out, oid)); n != 0 {
		t.Fatalf("IDONTWANT for our own message: %d peers", n)
	}
}

// A duplicate from a peer we forwarded the message to cancels the copy
// still queued for it.
func TestDuplicateCancelsQueuedCopy(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 4, topicA)
	h.join(topicA)
	src, late := ps[0], ps[1]
	m, id := msg(pid(50), topicA, 10)
	h.reset()
	h.a.HandleMessage(h.now, src, m, id, true, &h.out)
	// While pending, a copy from late keeps it out of the forward: no
	// cancel needed.
	h.reset()
	if o := h.a.HandleMessage(h.now, ps[2], m, id, false, &h.out); o != OutcomeAlreadySeen {
		t.Fatalf("duplicate while pending = %v", o)
	}
	if len(h.out.Cancels) != 0 {
		t.Fatalf("cancels while pending = %v", h.out.Cancels)
	}
	h.reset()
	h.a.Validated(h.now, id, ValidationAccept, &h.out)
	if h.out.SendTo(late) == nil || h.out.SendTo(ps[2]) != nil {
		t.Fatal("forward: want late, not the peer that sent a copy while pending")
	}
	h.reset()
	if o := h.a.HandleMessage(h.now, late, m, id, false, &h.out); o != OutcomeAlreadySeen {
		t.Fatalf("duplicate after forwarding = %v", o)
	}
	want := Cancel{Peer: late, ID: id, Reason: CancelReceived}
	if len(h.out.Cancels) != 1 || h.out.Cancels[0] != want {
		t.Fatalf("cancels = %v, want [%v]", h.out.Cancels, want)
	}
	if got := CancelReceived.String() + "," + CancelIDontWant.String(); got != "received,idontwant" {
		t.Fatalf("reason labels %q", got)
	}
}

func TestPXAcceptedOnlyAboveThreshold(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PeerExchange = true })
	h.join(topicA)
	low := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	high := h.add(2, wire.ProtocolMeshsub12, false, topicA)
	h.scores(events.ScoreThresholds{AcceptPX: 5}, low, 3.0, high, 6.0)
	h.reset()
	if o := h.a.HandlePrune(h.now, low, prune(topicA, 60, pid(30), pid(31)), &h.out); o != OutcomePXIgnored {
		t.Fatalf("low-score PX = %v", o)
	}
	if len(FactPeerExchange.In(&h.out)) != 0 {
		t.Fatal("PX reported from low-score peer")
	}
	if _, ok := h.a.Backoff(topicA, low); !ok {
		t.Fatal("ignored PX must still apply the prune's backoff")
	}
	bad := &pb.PeerInfo{PeerID: []byte("not a peer id")}
	pr := prune(topicA, 60, pid(30), pid(31))
	pr.Peers = append(pr.Peers, bad, &pb.PeerInfo{PeerID: []byte(pid(0))}) // junk and ourselves are dropped
	if o := h.a.HandlePrune(h.now, high, pr, &h.out); o != OutcomePXAccepted {
		t.Fatalf("high-score PX = %v", o)
	}
	if len(FactPeerExchange.In(&h.out)) != 1 {
		t.Fatalf("px events %v", FactPeerExchange.In(&h.out))
	}
	ev := FactPeerExchange.In(&h.out)[0]
	if ev.From != high || ev.Topic != topicA || len(ev.Records) != 2 ||
		ev.Records[0].Peer != pid(30) || string(ev.Records[0].SignedPeerRecord) != "rec-"+string(pid(30)) {
		t.Fatalf("px event %+v", ev)
	}
}

// TestScoreOfPeerAddedAfterSnapshot: a peer the scorer already scored when
// the snapshot came, but that the router adds only afterwards (identify
// finishes after the scorer saw the connection), starts from its snapshot
// score, not 0: its PX is accepted, and a graylisted peer that reconnects
// stays graylisted.
func TestScoreOfPeerAddedAfterSnapshot(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PeerExchange = true })
	h.join(topicA)
	th := events.ScoreThresholds{Graylist: -80, AcceptPX: 100}
	h.scores(th, pid(1), 100.0, pid(2), -90.0)
	trusted := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	if s := h.a.Score(trusted); s != 100 {
		t.Fatalf("score of a peer added after the snapshot = %v, want 100", s)
	}
	h.reset()
	if o := h.a.HandlePrune(h.now, trusted, prune(topicA, 60, pid(30)), &h.out); o != OutcomePXAccepted {
		t.Fatalf("PX from a trusted peer added after the snapshot = %v", o)
	}
	if o := h.a.AddPeer(h.now, PeerSpec{ID: pid(2), Protocol: wire.ProtocolMeshsub12}, &h.out); o != OutcomePeerAdded {
		t.Fatalf("AddPeer = %v", o)
	}
	if o := h.a.HandleSubscription(h.now, pid(2), topicA, true, &h.out); o != OutcomeGraylisted {
		t.Fatalf("subscription from a graylisted peer added after the snapshot = %v, want graylisted", o)
	}
	h.scores(th, pid(2), -90.0) // the next snapshot no longer scores pid(1)
	if s := h.a.Score(trusted); s != 0 {
		t.Fatalf("score absent from the latest snapshot = %v, want 0", s)
	}
}

// TestPXRefusedBeforeFirstSnapshot: with the scorer's thresholds in the
// Config, they are in force from New on: before any snapshot every peer
// scores 0, which is below AcceptPX, so PX is refused; without them (no
// scoring) the thresholds are 0 and PX is accepted, as before.
func TestPXRefusedBeforeFirstSnapshot(t *testing.T) {
	th := events.ScoreThresholds{Gossip: -10, Publish: -50, Graylist: -80, AcceptPX: 100, OpportunisticGraft: 3}
	h := newHarness(t, func(c *Config) { c.PeerExchange = true; c.ScoreThresholds = th })
	if got := h.a.Thresholds(); got != th {
		t.Fatalf("thresholds before any snapshot = %+v, want %+v", got, th)
	}
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	h.reset()
	if o := h.a.HandlePrune(h.now, p, prune(topicA, 60, pid(30), pid(31)), &h.out); o != OutcomePXIgnored {
		t.Fatalf("PX from a score-0 peer before the first snapshot = %v, want %v", o, OutcomePXIgnored)
	}
	if evs := FactPeerExchange.In(&h.out); len(evs) != 0 {
		t.Fatalf("PX reported before the first snapshot: %+v", evs)
	}
	if _, ok := h.a.Backoff(topicA, p); !ok {
		t.Fatal("the PRUNE's backoff must apply even when its PX is refused")
	}
	// A snapshot that scores the peer above AcceptPX lets its PX in.
	h.scores(th, p, 150.0)
	h.reset()
	if o := h.a.HandlePrune(h.now, p, prune(topicA, 60, pid(32)), &h.out); o != OutcomePXAccepted {
		t.Fatalf("PX from a peer scored 150 = %v", o)
	}

	// No thresholds configured: a router without scoring takes PX from
	// anyone (score 0 >= AcceptPX 0).
	h = newHarness(t, func(c *Config) { c.PeerExchange = true })
	h.join(topicA)
	p = h.add(1, wire.ProtocolMeshsub12, false, topicA)
	h.reset()
	if o := h.a.HandlePrune(h.now, p, prune(topicA, 60, pid(30)), &h.out); o != OutcomePXAccepted {
		t.Fatalf("PX without scoring = %v, want %v", o, OutcomePXAccepted)
	}
}

func TestPXSentWithRecords(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PeerExchange = true; c.PrunePeers = 3 })
	h.join(topicA)
	ps := h.addN(1, 8, topicA)
	for _, p := range ps {
		h.a.UpdatePeerRecord(p, []byte("rec-"+string(p)))
	}
	h.reset()
	h.a.Leave(h.now, topicA, &h.out)
	for _, s := range h.out.Sends {
		for _, pr := range s.RPC.GetControl().GetPrune() {
			if len(pr.GetPeers()) != 3 {
				t.Fatalf("PX of %d peers, want PrunePeers=3", len(pr.GetPeers()))
			}
			for _, pi := range pr.GetPeers() {
				if peer.ID(pi.GetPeerID()) == s.To || string(pi.GetSignedPeerRecord()) != "rec-"+string(pi.GetPeerID()) {
					t.Fatalf("bad PX entry %v to %s", pi, s.To)
				}
			}
		}
	}
}

func TestFloodsubPeerGetsMessagesNoControl(t *testing.T) {
	h := newHarness(t, nil)
	fl := h.add(1, wire.ProtocolFloodsub, false, topicA)
	gs := h.addN(2, 3, topicA)
	h.join(topicA)
	if hasPeer(h.mesh(topicA), fl) {
		t.Fatal("floodsub peer in mesh")
	}
	m, id := msg(gs[0], topicA, 10)
	h.a.HandleMessage(h.now, gs[0], m, id, true, &h.out)
	h.a.Validated(h.now, id, ValidationAccept, &h.out)
	own, oid := msg(pid(0), topicA, 10)
	h.a.Publish(h.now, own, oid, &h.out)
	for range 3 {
		h.heartbeat()
	}
	// Leave and PX-carrying paths must not talk control to it either.
	h.a.Leave(h.now, topicA, &h.out)
	s := h.out.SendTo(fl)
	if s == nil || len(s.RPC.GetPublish()) != 2 {
		t.Fatalf("floodsub peer got %v", s)
	}
	if s.RPC.GetControl() != nil {
		t.Fatalf("control sent to floodsub peer: %v", s.RPC.GetControl())
	}
}

func TestV10PeerGetsPruneWithoutBackoffOrPX(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PeerExchange = true })
	v10 := h.add(1, wire.ProtocolMeshsub10, false, topicA)
	v11 := h.add(2, wire.ProtocolMeshsub11, false, topicA)
	h.addN(3, 4, topicA)
	h.join(topicA)
	h.reset()
	h.a.Leave(h.now, topicA, &h.out)
	p10 := prunesIn(h.rpc(v10), topicA)
	if len(p10) != 1 || p10[0].Backoff != nil || len(p10[0].GetPeers()) != 0 {
		t.Fatalf("v1.0 PRUNE = %v", p10)
	}
	p11 := prunesIn(h.rpc(v11), topicA)
	if len(p11) != 1 || p11[0].GetBackoff() != 10 || len(p11[0].GetPeers()) == 0 {
		t.Fatalf("v1.1 PRUNE = %v", p11)
	}
	// And a v1.0 peer's PX is ignored even if one arrives.
	h.join(topicA)
	if o := h.a.HandlePrune(h.now, v10, prune(topicA, 0, pid(40)), &h.out); o != OutcomePXIgnored {
		t.Fatalf("v1.0 PX = %v", o)
	}
}

func TestGossipEmission(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 40, topicA)
	h.join(topicA)
	fl := h.add(100, wire.ProtocolFloodsub, false, topicA)
	h.a.AddPeer(h.now, PeerSpec{ID: pid(101), Protocol: wire.ProtocolMeshsub12, Direct: true}, &h.out)
	h.a.HandleSubscription(h.now, pid(101), topicA, true, &h.out)
	low := ps[len(ps)-1]
	h.scores(events.ScoreThresholds{Gossip: -1, Publish: -2, Graylist: -3}, low, -1.5)
	m, id := msg(pid(0), topicA, 10)
	h.a.Publish(h.now, m, id, &h.out)
	h.reset()
	h.heartbeat()
	mesh := h.mesh(topicA)
	targets := 0
	for _, s := range h.out.Sends {
		if len(s.RPC.GetControl().GetIhave()) == 0 {
			continue
		}
		targets++
		if hasPeer(mesh, s.To) || s.To == fl || s.To == pid(101) || s.To == low {
			t.Errorf("IHAVE to ineligible peer %s", s.To)
		}
		if ids := s.RPC.GetControl().GetIhave()[0].GetMessageIDs(); len(ids) != 1 || string(ids[0]) != id {
			t.Errorf("IHAVE ids %q", ids)
		}
	}
	eligible := 40 - len(mesh) - 1
	want := max(h.a.cfg.Dlazy, int(h.a.cfg.GossipFactor*float64(eligible)))
	if targets != want {
		t.Fatalf("gossiped to %d peers, want %d", targets, want)
	}
	// After HistoryGossip heartbeats the message is no longer advertised.
	for range h.a.cfg.HistoryGossip {
		h.reset()
		h.heartbeat()
	}
	for _, s := range h.out.Sends {
		if len(s.RPC.GetControl().GetIhave()) > 0 {
			t.Fatalf("still gossiping after %d heartbeats", h.a.cfg.HistoryGossip)
		}
	}
}

func TestDirectPeers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FloodPublish = false })
	h.a.AddPeer(h.now, PeerSpec{ID: pid(1), Protocol: wire.ProtocolMeshsub12, Direct: true}, &h.out)
	h.a.HandleSubscription(h.now, pid(1), topicA, true, &h.out)
	ps := h.addN(2, 10, topicA)
	h.join(topicA)
	if hasPeer(h.mesh(topicA), pid(1)) {
		t.Fatal("direct peer grafted")
	}
	h.scores(events.ScoreThresholds{Gossip: -1, Publish: -2, Graylist: -300}, pid(1), -100.0)
	m, id := msg(ps[0], topicA, 10)
	h.a.HandleMessage(h.now, ps[0], m, id, true, &h.out)
	h.reset()
	h.a.Validated(h.now, id, ValidationAccept, &h.out)
	if h.out.SendTo(pid(1)) == nil {
		t.Fatal("message not forwarded to direct peer")
	}
	own, oid := msg(pid(0), topicA, 10)
	h.reset()
	h.a.Publish(h.now, own, oid, &h.out)
	if h.out.SendTo(pid(1)) == nil {
		t.Fatal("publish skipped the direct peer")
	}
	if len(h.out.Sends) != h.a.cfg.D+1 {
		t.Fatalf("non-flood publish went to %d peers, want mesh+direct=%d", len(h.out.Sends), h.a.cfg.D+1)
	}
}

func TestFloodPublishRespectsPublishThreshold(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 20, topicA)
	h.join(topicA)
	h.scores(events.ScoreThresholds{Gossip: -1, Publish: -2, Graylist: -3}, ps[0], -2.5)
	m, id := msg(pid(0), topicA, 10)
	h.reset()
	h.a.Publish(h.now, m, id, &h.out)
	if len(h.out.Sends) != 19 || h.out.SendTo(ps[0]) != nil {
		t.Fatalf("flood publish to %d peers (want 19, not the low scorer)", len(h.out.Sends))
	}
	if ev := FactMessagePublished.In(&h.out)[0]; ev.Peers != 19 || ev.ID != id || ev.Topic != topicA {
		t.Fatalf("published event %+v", ev)
	}
	if o := h.a.Publish(h.now, m, id, &h.out); o != OutcomeAlreadySeen {
		t.Fatalf("republish = %v", o)
	}
}

func TestValidatedRejectReportsEverySender(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 4, topicA)
	h.join(topicA)
	m, id := msg(pid(50), topicA, 10)
	h.a.HandleMessage(h.now, ps[0], m, id, true, &h.out)
	h.reset()
	for _, p := range ps[1:3] {
		if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeAlreadySeen {
			t.Fatalf("dup = %v", o)
		}
	}
	if len(FactMessageDuplicated.In(&h.out)) != 2 {
		t.Fatalf("duplicates %v", FactMessageDuplicated.In(&h.out))
	}
	h.reset()
	h.a.Validated(h.now, id, ValidationReject, &h.out)
	if len(FactMessageRejected.In(&h.out)) != 3 || len(h.out.Sends) != 0 {
		t.Fatalf("rejected %v, sends %d", FactMessageRejected.In(&h.out), len(h.out.Sends))
	}
	for _, r := range FactMessageRejected.In(&h.out) {
		if r.Reason != events.RejectValidationFailed || !r.Reason.Invalid() {
			t.Fatalf("reason %v", r.Reason)
		}
	}
}

func TestGraylistedMessageRejected(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	h.scores(events.ScoreThresholds{Gossip: -1, Publish: -2, Graylist: -3}, p, -4.0)
	m, id := msg(p, topicA, 1)
	if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeGraylisted {
		t.Fatal(o)
	}
	if FactMessageRejected.In(&h.out)[0].Reason != events.RejectGraylisted || h.a.Seen(id) {
		t.Fatal("graylisted message must be rejected and not marked seen")
	}
	// Every RPC part is ignored.
	if o := h.a.HandleSubscription(h.now, p, "x", true, &h.out); o != OutcomeGraylisted {
		t.Fatal(o)
	}
	for _, o := range h.a.HandleControl(h.now, p, &pb.ControlMessage{
		Ihave: []*pb.ControlIHave{ihave(topicA, "a")}, Iwant: []*pb.ControlIWant{iwant("a")},
		Prune: []*pb.ControlPrune{prune(topicA, 0)}, Idontwant: []*pb.ControlIDontWant{idontwant("a")},
	}, &h.out, nil) {
		if o != OutcomeGraylisted {
			t.Fatalf("control outcome %v", o)
		}
	}
}

func TestSeenAndPendingExpire(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SeenTTL = 5 * time.Second })
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	m, id := msg(p, topicA, 1)
	h.a.HandleMessage(h.now, p, m, id, true, &h.out) // never validated
	for range 5 {
		h.heartbeat()
	}
	if h.a.Seen(id) || len(h.a.pending) != 0 || h.a.pendingOrder.len() != 0 {
		t.Fatalf("seen=%v pending=%d after SeenTTL", h.a.Seen(id), len(h.a.pending))
	}
	if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("message after seen expiry = %v", o)
	}
}

func TestSeenCacheBounded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSeen = 100 })
	for i := range 1000 {
		m, id := msg(pid(0), topicA, 1)
		_ = i
		h.a.Publish(h.now, m, id, &h.out)
		h.reset()
	}
	if s := h.a.Sizes(); s.Seen != 100 || s.SeenQueue != 100 {
		t.Fatalf("seen %d queue %d, want 100", s.Seen, s.SeenQueue)
	}
}

func TestHandleControlOrderAndOutputMerging(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 10, topicA)
	h.join(topicA)
	h.reset()
	p := ps[9]
	outs := h.a.HandleControl(h.now, p, &pb.ControlMessage{
		Graft: []*pb.ControlGraft{{TopicID: strp(topicA)}},
		Ihave: []*pb.ControlIHave{ihave(topicA, "x")},
	}, &h.out, nil)
	if len(outs) != 2 || outs[0] != OutcomeIWantSent || (outs[1] != OutcomeGraftAccepted && outs[1] != OutcomeAlreadyInMesh) {
		t.Fatalf("outcomes %v", outs)
	}
	if len(h.out.Sends) != 1 {
		t.Fatalf("%d sends, want 1 merged RPC", len(h.out.Sends))
	}
	h.out.Reset()
	if !h.out.Empty() || h.out.SendTo(p) != nil {
		t.Fatal("Reset left data")
	}
}

func strp(s string) *string { return &s }

func TestFactsDecisionOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	h.reset()
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	h.graftIn(p, topicA)
	h.a.HandlePrune(h.now, p, prune(topicA, 0), &h.out)
	var kinds []string
	h.out.ForEachFact(func(ev any) { kinds = append(kinds, fmt.Sprintf("%T", ev)) })
	want := []string{"events.EvtRouterPeerAdded", "events.EvtPeerSubscribed", "events.EvtPeerGrafted", "events.EvtPeerPruned"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("facts %v, want %v", kinds, want)
	}
	if h.out.Fact(Fact{Kind: FactPeerPruned.Kind(), Index: 5}) != nil || h.out.Fact(Fact{Kind: 200}) != nil {
		t.Fatal("out-of-range fact must be nil")
	}
}

func TestGossipMarks(t *testing.T) {
	var g gossipMarks
	if g.any(0, 100) {
		t.Fatal("empty marks match")
	}
	g.mark(5)
	g.mark(7)
	for _, c := range []struct {
		lo, hi uint64
		want   bool
	}{{1, 4, false}, {5, 5, true}, {6, 6, false}, {6, 9, true}, {8, 20, false}, {3, 5, true}} {
		if got := g.any(c.lo, c.hi); got != c.want {
			t.Errorf("any(%d, %d) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	g.mark(3) // ticks never go back: ignored
	if g.any(3, 3) {
		t.Error("backwards mark recorded")
	}
	g.mark(100) // more than 64 ticks later: old marks forgotten
	if g.any(5, 7) || !g.any(100, 100) {
		t.Error("marks not rolled over")
	}
}

func TestIWantRefusedAfterGossipWindow(t *testing.T) {
	h := newHarness(t, nil)
	p := gossipedTo(h) // advertised at the first heartbeat after publishing
	id := h.a.mcache.windows[1][0].id
	h.a.cfg.HistoryGossip = 1
	// The message is still cached (window 1 of 5) and was advertised: served.
	if o := h.a.HandleIWant(h.now, p, iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("iwant = %v", o)
	}
	// A peer that only got IHAVE for the topic later never saw this id.
	q := h.add(8, wire.ProtocolMeshsub12, false, topicA)
	g := gossipMarks{}
	g.mark(h.a.ticks + 5)
	h.a.peers[q].gossiped = map[string]gossipMarks{topicA: g}
	if o := h.a.HandleIWant(h.now, q, iwant(id), &h.out); o != OutcomeIWantNothingServed {
		t.Fatalf("iwant from late peer = %v", o)
	}
}

// When an IHAVE is truncated to MaxIHaveLength ids, IWANT is served for the
// ids it named and for nothing else the peer was not offered.
func TestIWantServesOnlyIdsOfTruncatedIHave(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxIHaveLength = 2 })
	h.a.cfg.D, h.a.cfg.Dlo, h.a.cfg.Dout, h.a.cfg.Dscore = 1, 1, 0, 1
	h.join(topicA)
	h.graftIn(h.add(2, wire.ProtocolMeshsub12, false, topicA), topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	var all []string
	for i := 0; i < 5; i++ {
		m, id := msg(pid(0), topicA, 10+i)
		h.a.Publish(h.now, m, id, &h.out)
		all = append(all, id)
	}
	h.reset()
	h.heartbeat()
	ih := h.rpc(p).GetControl().GetIhave()
	if len(ih) != 1 || len(ih[0].GetMessageIDs()) != 2 {
		t.Fatalf("IHAVE %v, want one truncated to 2 ids", ih)
	}
	offered := map[string]bool{}
	for _, id := range ih[0].GetMessageIDs() {
		offered[string(id)] = true
	}
	for _, id := range all {
		h.reset()
		o := h.a.HandleIWant(h.now, p, iwant(id), &h.out)
		if want := map[bool]Outcome{true: OutcomeIWantServed, false: OutcomeIWantNothingServed}[offered[id]]; o != want {
			t.Errorf("IWANT for %s id (offered=%v) = %v, want %v", id[len(id)-2:], offered[id], o, want)
		}
		h.a.peers[p].iwantIn = 0 // the IWANT budget is MaxIHaveLength per heartbeat
	}
}

// A promise is kept when the message reaches us through another peer in
// time: only messages that arrive from nobody count as broken promises.
func TestPromiseKeptWhenAnotherPeerDelivers(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	slow := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	fast := h.add(2, wire.ProtocolMeshsub12, false, topicA)
	m, id := msg(pid(9), topicA, 10)
	h.a.HandleIHave(h.now, slow, ihave(topicA, id), &h.out) // we IWANT it from slow
	h.a.HandleMessage(h.now.Add(time.Second), fast, m, id, true, &h.out)
	for start := h.now; !h.now.After(start.Add(2 * h.a.cfg.IWantFollowupTime)); {
		h.reset()
		h.heartbeat()
		if got := penalties(&h.out, events.PenaltyBrokenPromise); got[slow] != 0 {
			t.Fatalf("slow peer penalised at +%v though the message arrived from another peer", h.now.Sub(start))
		}
	}
}

// TestIDontWantAtMessageHead: the head of a large message sends IDONTWANT
// to the v1.2 mesh peers but the sender, once; the whole message then
// sends none again, and is handled as usual.
func TestIDontWantAtMessageHead(t *testing.T) {
	h := newHarness(t, nil)
	v12, src, count := idontwantMesh(t, h)
	big, bid := msg(pid(50), topicA, 2000)
	h.reset()
	if o := h.a.HandleMessageHead(h.now, src, "", bid, len(big.Data), &h.out); o != OutcomeEarlyIDontWantSent {
		t.Fatalf("head = %v", o)
	}
	if n := count(); n != 3 { // v1.2 mesh peers minus the sender
		t.Fatalf("%d IDONTWANT at the head, want 3", n)
	}
	if h.a.Seen(bid) {
		t.Fatal("a head marked the message seen")
	}
	h.reset()
	if o := h.a.HandleMessageHead(h.now, v12[1], "", bid, len(big.Data), &h.out); o != OutcomeEarlyIDontWantSkipped {
		t.Fatalf("second head = %v", o)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d IDONTWANT at a second head", n)
	}
	h.reset()
	if o := h.a.HandleMessage(h.now, src, big, bid, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("message = %v", o)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d IDONTWANT for a message whose head sent them", n)
	}
	h.reset()
	if o := h.a.HandleMessageHead(h.now, v12[2], "", bid, len(big.Data), &h.out); o != OutcomeAlreadySeen {
		t.Fatalf("head of a seen message = %v", o)
	}
	// Below the threshold, a topic not joined, an unknown sender: nothing.
	small, sid := msg(pid(50), topicA, 10)
	h.reset()
	if o := h.a.HandleMessageHead(h.now, src, "", sid, len(small.Data), &h.out); o != OutcomeEarlyIDontWantSkipped {
		t.Fatalf("small head = %v", o)
	}
	if o := h.a.HandleMessageHead(h.now, src, "other", "x", 4096, &h.out); o != OutcomeTopicNotJoined {
		t.Fatalf("head of an unjoined topic = %v", o)
	}
	if o := h.a.HandleMessageHead(h.now, pid(99), "", "x", 4096, &h.out); o != OutcomeUnknownPeer {
		t.Fatalf("head from an unknown peer = %v", o)
	}
	if o := h.a.HandleMessageHead(h.now, src, "", "", 4096, &h.out); o != OutcomeInvalidInput {
		t.Fatalf("head with an empty id = %v", o)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d IDONTWANT sent for heads that should send none", n)
	}
}

// TestEarlySetBounded: the ids remembered for heads stay bounded, oldest
// forgotten first.
func TestEarlySetBounded(t *testing.T) {
	var s earlySet
	for i := range maxEarly + 10 {
		s.entry(fmt.Sprint(i)).from = []peer.ID{pid(1)}
	}
	if len(s.ids) != maxEarly {
		t.Fatalf("%d ids remembered, want %d", len(s.ids), maxEarly)
	}
	if s.sentBy("0", pid(1)) || s.sentBy("9", pid(1)) || !s.sentBy("10", pid(1)) || !s.sentBy(fmt.Sprint(maxEarly+9), pid(1)) {
		t.Fatal("not the oldest forgotten first")
	}
}

// TestNoForwardToHeadSender: a peer whose copy of a message started
// arriving (its head) while the message was arriving from another peer, or
// being validated, does not get the message forwarded.
func TestNoForwardToHeadSender(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 5, topicA)
	h.join(topicA)
	if len(h.mesh(topicA)) != 5 {
		t.Fatalf("mesh = %v", h.mesh(topicA))
	}
	big, bid := msg(pid(50), topicA, 2000)
	// ps[1]'s copy starts arriving before ps[0]'s is in; ps[2]'s while we
	// validate ps[0]'s.
	h.a.HandleMessageHead(h.now, ps[1], "", bid, len(big.Data), &h.out)
	if o := h.a.HandleMessage(h.now, ps[0], big, bid, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("message = %v", o)
	}
	if o := h.a.HandleMessageHead(h.now, ps[2], "", bid, len(big.Data), &h.out); o != OutcomeAlreadySeen {
		t.Fatalf("head while validating = %v", o)
	}
	h.reset()
	if o := h.a.Validated(h.now, bid, ValidationAccept, &h.out); o != OutcomeDelivered {
		t.Fatalf("validated = %v", o)
	}
	var got []peer.ID
	for _, s := range h.out.Sends {
		if len(s.RPC.GetPublish()) > 0 {
			got = append(got, s.To)
		}
	}
	slices.Sort(got)
	want := []peer.ID{ps[3], ps[4]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("forwarded to %v, want %v (not the sender, nor the peers whose copy was arriving)", got, want)
	}
}

// A peer that sends us partial messages on a topic (SetPeerPartsFrom) gets
// no IDONTWANT for that topic's messages, on either path (after the
// message, at its head), and gets them again once the record is cleared;
// the other v1.2 mesh peers get theirs throughout. Records of unknown
// peers are refused, and removing a peer forgets its record.
func TestNoIDontWantToPartsSender(t *testing.T) {
	h := newHarness(t, nil)
	v12, src, count := idontwantMesh(t, h)
	parts := v12[1]
	if o := h.a.SetPeerPartsFrom(parts, []string{"other", topicA}); o != OutcomePeerFeaturesSet {
		t.Fatalf("SetPeerPartsFrom = %v", o)
	}
	if o := h.a.SetPeerPartsFrom(pid(99), []string{topicA}); o != OutcomeUnknownPeer {
		t.Fatalf("SetPeerPartsFrom of an unknown peer = %v", o)
	}
	check := func(what string, wantParts int) {
		t.Helper()
		if n := count(); n != 2+wantParts {
			t.Fatalf("%s: %d IDONTWANT, want %d", what, n, 2+wantParts)
		}
		for _, s := range h.out.Sends {
			if got := len(s.RPC.GetControl().GetIdontwant()); s.To == parts && got != wantParts {
				t.Fatalf("%s: %d IDONTWANT to the parts sender, want %d", what, got, wantParts)
			}
		}
	}
	whole, wid := msg(pid(50), topicA, 2000)
	h.reset()
	h.a.HandleMessage(h.now, src, whole, wid, true, &h.out)
	check("after the message", 0)
	head, hid := msg(pid(51), topicA, 2000)
	h.reset()
	if o := h.a.HandleMessageHead(h.now, src, "", hid, len(head.Data), &h.out); o != OutcomeEarlyIDontWantSent {
		t.Fatalf("head = %v", o)
	}
	check("at the head", 0)
	h.a.SetPeerPartsFrom(parts, nil)
	again, aid := msg(pid(52), topicA, 2000)
	h.reset()
	h.a.HandleMessage(h.now, src, again, aid, true, &h.out)
	check("after clearing", 1)
	h.a.SetPeerPartsFrom(parts, []string{topicA})
	if h.a.partsPeers != 1 {
		t.Fatalf("partsPeers = %d, want 1", h.a.partsPeers)
	}
	h.a.RemovePeer(h.now, parts, &h.out)
	if h.a.partsPeers != 0 {
		t.Fatalf("partsPeers = %d after the peer left, want 0", h.a.partsPeers)
	}
}
