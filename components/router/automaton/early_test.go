package automaton

import (
	"strconv"
	"testing"
	"time"

	"github.com/meshbus/meshbus/events"
)

// A head we acted on (IDONTWANT to the meshes) whose message then comes on
// a topic we have not joined was false: up to MissAllowance of them in a
// row are allowed (a message in flight when we left its topic), each
// further one costs PenaltyBrokenHead, and the peer's heads stop acting
// early until MissMemory passes without one. A head followed by its
// message on a joined topic counts nothing.
func TestBrokenHeadsCostAndStopActing(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 4, topicA)
	h.join(topicA)
	p := ps[0]
	allow := h.a.cfg.Preamble.MissAllowance

	// An honest head: its message comes on topic-a.
	m, id := msg(p, topicA, 4096)
	h.reset()
	if o := h.a.HandleMessageHead(h.now, p, "", id, 4096, &h.out); o != OutcomeEarlyIDontWantSent {
		t.Fatalf("honest head = %v", o)
	}
	if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("its message = %v", o)
	}
	if n := h.a.peers[p].misses.heads.n; n != 0 {
		t.Fatalf("an honest head counted %d misses", n)
	}

	// False heads: the message comes on a topic we have not joined, once
	// as a whole message and then as fragments.
	falseHead := func(i int) {
		t.Helper()
		id := "false-" + strconv.Itoa(i)
		h.reset()
		if o := h.a.HandleMessageHead(h.now, p, "", id, 4096, &h.out); o != OutcomeEarlyIDontWantSent {
			t.Fatalf("false head %d = %v", i, o)
		}
		if i == 0 {
			m, _ := msg(p, "not-joined", 4096)
			if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeTopicNotJoined {
				t.Fatalf("its message = %v", o)
			}
			return
		}
		if o := h.a.FragmentNotJoined(h.now, p, id, &h.out); o != OutcomeTopicNotJoined {
			t.Fatalf("its fragment = %v", o)
		}
	}
	for i := range allow {
		falseHead(i)
		if n := penalties(&h.out, events.PenaltyBrokenHead)[p]; n != 0 {
			t.Fatalf("false head %d within the allowance: %d penalties", i, n)
		}
	}
	falseHead(allow)
	if n := penalties(&h.out, events.PenaltyBrokenHead)[p]; n != 1 {
		t.Fatalf("false head past the allowance: %d penalties, want 1", n)
	}
	if h.out.Preamble.BrokenHeads != 1 {
		t.Fatalf("BrokenHeads = %d, want 1 in this Output", h.out.Preamble.BrokenHeads)
	}
	// Its next head does nothing: no IDONTWANT goes to our meshes.
	h.reset()
	if o := h.a.HandleMessageHead(h.now, p, "", "next", 4096, &h.out); o != OutcomeHeadDistrusted {
		t.Fatalf("head after the allowance = %v, want OutcomeHeadDistrusted", o)
	}
	if n := len(idontwantsTo(&h.out, "next")); n != 0 {
		t.Fatalf("IDONTWANT to %d peers for a distrusted head", n)
	}
	// Another peer's heads still act.
	h.reset()
	if o := h.a.HandleMessageHead(h.now, ps[1], "", "other", 4096, &h.out); o != OutcomeEarlyIDontWantSent {
		t.Fatalf("another peer's head = %v", o)
	}
	// Once MissMemory passes without a false head, its heads act again.
	h.advance(h.a.cfg.Preamble.MissMemory + time.Second)
	h.reset()
	if o := h.a.HandleMessageHead(h.now, p, "", "later", 4096, &h.out); o != OutcomeEarlyIDontWantSent {
		t.Fatalf("head after MissMemory = %v", o)
	}
}

// A peer's misses and demotion outlive its connection: reconnecting does
// not make its heads trusted again (nor a PREAMBLE source undemoted); they
// are forgotten when they no longer count.
func TestMissesSurviveReconnect(t *testing.T) {
	h := newHarness(t, nil)
	ps := h.addN(1, 4, topicA)
	h.join(topicA)
	p := ps[0]
	for i := range h.a.cfg.Preamble.MissAllowance + 1 {
		id := "false-" + strconv.Itoa(i)
		h.a.HandleMessageHead(h.now, p, "", id, 4096, &h.out)
		h.a.FragmentNotJoined(h.now, p, id, &h.out)
	}
	reconnect := func() {
		t.Helper()
		if o := h.a.RemovePeer(h.now, p, &h.out); o != OutcomePeerRemoved {
			t.Fatalf("RemovePeer = %v", o)
		}
		h.add(1, h.a.peers[ps[1]].proto, false, topicA)
	}
	reconnect()
	if o := h.a.HandleMessageHead(h.now, p, "", "after", 4096, &h.out); o != OutcomeHeadDistrusted {
		t.Fatalf("head after reconnecting = %v, want OutcomeHeadDistrusted", o)
	}
	// Once they no longer count, the heartbeat forgets them.
	if o := h.a.RemovePeer(h.now, p, &h.out); o != OutcomePeerRemoved {
		t.Fatalf("RemovePeer = %v", o)
	}
	if len(h.a.misses) != 1 {
		t.Fatalf("%d saved miss records, want 1", len(h.a.misses))
	}
	h.heartbeat()
	if len(h.a.misses) != 1 {
		t.Fatalf("a heartbeat within MissMemory forgot the misses")
	}
	h.advance(h.a.cfg.Preamble.MissMemory + time.Second)
	h.heartbeat()
	if len(h.a.misses) != 0 {
		t.Fatalf("%d saved miss records after MissMemory", len(h.a.misses))
	}
}
