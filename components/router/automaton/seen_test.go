package automaton

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"testing"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// TestSignatureCheckDecidedBySeenCache: the automaton alone decides which
// copies skip the signature check: only a byte-identical copy of the copy
// accepted under a seen id; every other copy (new, different bytes under a
// seen id, or any copy once the id expired) needs a check.
func TestSignatureCheckDecidedBySeenCache(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	p1 := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	p2 := h.add(2, wire.ProtocolMeshsub12, false, topicA)
	m, id := msg(pid(9), topicA, 10)
	h.reset()
	if o := h.a.HandleMessage(h.now, p1, m, id, false, &h.out); o != OutcomeNeedsSignatureCheck {
		t.Fatalf("new unchecked message: %v", o)
	}
	if h.a.Seen(id) || !h.out.Empty() {
		t.Fatal("an unchecked message changed the state or produced output")
	}
	if o := h.a.HandleMessage(h.now, p1, m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("checked message: %v", o)
	}
	// A byte-identical copy (another decoding of the same bytes) skips the check.
	same := &pb.Message{From: m.From, Seqno: m.Seqno, Topic: m.Topic, Data: append([]byte(nil), m.Data...)}
	if o := h.a.HandleMessage(h.now, p2, same, id, false, &h.out); o != OutcomeAlreadySeen {
		t.Fatalf("identical copy: %v", o)
	}
	// A copy with other data under the same id must be checked.
	forged := &pb.Message{From: m.From, Seqno: m.Seqno, Topic: m.Topic, Data: []byte("forged")}
	if o := h.a.HandleMessage(h.now, p2, forged, id, false, &h.out); o != OutcomeNeedsSignatureCheck {
		t.Fatalf("different copy under a seen id: %v", o)
	}
	// So must one that only adds a signature field.
	signed := &pb.Message{From: m.From, Seqno: m.Seqno, Topic: m.Topic, Data: m.Data, Signature: []byte{1}}
	if o := h.a.HandleMessage(h.now, p2, signed, id, false, &h.out); o != OutcomeNeedsSignatureCheck {
		t.Fatalf("copy with a signature added: %v", o)
	}
	if o := h.a.Validated(h.now, id, ValidationAccept, &h.out); o != OutcomeDelivered {
		t.Fatalf("Validated: %v", o)
	}
	// Once the id expires, even the identical copy is checked again.
	h.advance(h.a.cfg.SeenTTL)
	h.heartbeat()
	if h.a.Seen(id) {
		t.Fatal("id still seen after SeenTTL")
	}
	if o := h.a.HandleMessage(h.now, p2, same, id, false, &h.out); o != OutcomeNeedsSignatureCheck {
		t.Fatalf("identical copy after expiry: %v", o)
	}
}

// TestUncheckedRefusalsCostNoCheck: unknown and graylisted senders,
// malformed messages and unjoined topics are refused before the driver is
// asked for a signature check.
func TestUncheckedRefusalsCostNoCheck(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA, "other")
	h.reset()
	m, id := msg(pid(9), "other", 10)
	if o := h.a.HandleMessage(h.now, p, m, id, false, &h.out); o != OutcomeTopicNotJoined {
		t.Fatalf("unjoined topic: %v", o)
	}
	empty, eid := msg(pid(9), "", 10)
	if o := h.a.HandleMessage(h.now, p, empty, eid, false, &h.out); o != OutcomeInvalidInput {
		t.Fatalf("empty topic: %v", o)
	}
	if got := penaltyFacts(&h.out); len(got) != 1 || got[0].Reason != events.PenaltyMalformedMessage || got[0].Peer != p {
		t.Fatalf("penalties %+v, want one malformed_message for the sender", got)
	}
}

// TestRejectPenalisesBadInputOnly: reasons that prove the sender sent bad
// input cost a behaviour penalty; the others do not.
func TestRejectPenalisesBadInputOnly(t *testing.T) {
	h := newHarness(t, nil)
	p := h.add(1, wire.ProtocolMeshsub12, false)
	want := map[events.RejectReason]events.PenaltyReason{
		events.RejectInvalidSignature:    events.PenaltyInvalidSignature,
		events.RejectMissingSignature:    events.PenaltyMissingSignature,
		events.RejectUnexpectedSignature: events.PenaltyUnexpectedSignature,
		events.RejectMalformed:           events.PenaltyMalformedMessage,
		events.RejectTooLarge:            events.PenaltyOversizedMessage,
		events.RejectValidationFailed:    0,
		events.RejectValidationIgnored:   0,
		events.RejectValidationThrottled: 0,
		events.RejectSelfOrigin:          0,
		events.RejectTopicNotJoined:      0,
		events.RejectGraylisted:          0,
	}
	for r, pen := range want {
		h.reset()
		if o := h.a.Reject(h.now, p, topicA, "id", r, &h.out); o != OutcomeRejected {
			t.Fatalf("Reject(%s) = %v", r, o)
		}
		got := penaltyFacts(&h.out)
		switch {
		case pen == 0 && len(got) != 0:
			t.Errorf("%s: penalised %+v", r, got)
		case pen != 0 && (len(got) != 1 || got[0].Reason != pen || got[0].Count != 1):
			t.Errorf("%s: penalties %+v, want one %s", r, got, pen)
		}
	}
	for _, pen := range []events.PenaltyReason{events.PenaltyUndecodableRPC, events.PenaltyOversizedRPC} {
		h.reset()
		if o := h.a.HandleBadRPC(h.now, p, pen, &h.out); o != OutcomeRejected {
			t.Fatalf("HandleBadRPC(%s) = %v", pen, o)
		}
		if got := penaltyFacts(&h.out); len(got) != 1 || got[0].Reason != pen {
			t.Errorf("HandleBadRPC(%s): %+v", pen, got)
		}
	}
	if o := h.a.HandleBadRPC(h.now, p, events.PenaltyGraftFlood, &h.out); o != OutcomeInvalidInput {
		t.Fatalf("HandleBadRPC(graft_flood) = %v", o)
	}
}

func penaltyFacts(o *Output) []events.EvtPeerPenalized {
	var out []events.EvtPeerPenalized
	o.ForEachFact(func(ev any) {
		if e, ok := ev.(events.EvtPeerPenalized); ok {
			out = append(out, e)
		}
	})
	return out
}

// TestPeerRecordBeforeAddPeer: a record that arrives before the peer is
// added (identify before the pubsub stream) is the automaton's to keep and
// is used by AddPeer; ForgetPeerRecord drops it.
func TestPeerRecordBeforeAddPeer(t *testing.T) {
	h := newHarness(t, nil)
	p := pid(1)
	if o := h.a.UpdatePeerRecord(p, []byte("rec")); o != OutcomeRecordUpdated {
		t.Fatalf("UpdatePeerRecord = %v", o)
	}
	h.add(1, wire.ProtocolMeshsub12, false)
	if got := string(h.a.peers[p].record); got != "rec" {
		t.Fatalf("record %q after AddPeer, want rec", got)
	}
	q := pid(2)
	h.a.UpdatePeerRecord(q, []byte("x"))
	h.a.ForgetPeerRecord(q)
	if _, ok := h.a.records[q]; ok {
		t.Fatal("ForgetPeerRecord kept the record")
	}
}
