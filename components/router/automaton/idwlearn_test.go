package automaton

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/wire"
)

// idwHarness is a joined topic with four v1.2 mesh peers: src sends every
// message first, p is the peer whose IDONTWANTs are learned, and other is
// a mesh peer that never answers.
type idwHarness struct {
	*harness
	src, p, other peer.ID
}

func newIDWHarness(t *testing.T, mut func(*Config)) *idwHarness {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		c.MaxPendingValidation = 1 << 16
		if mut != nil {
			mut(c)
		}
	})
	ps := h.addN(1, 4, topicA)
	h.join(topicA)
	if len(h.mesh(topicA)) != 4 {
		t.Fatalf("mesh = %v", h.mesh(topicA))
	}
	return &idwHarness{harness: h, src: ps[0], p: ps[1], other: ps[2]}
}

// deliver has src send a new message of size data bytes, checked, and
// reports whether p and other got IDONTWANT for it.
func (h *idwHarness) deliver(size int) (id string, toP, toOther bool) {
	h.t.Helper()
	m, id := msg(pid(50), topicA, size)
	h.reset()
	if o := h.a.HandleMessage(h.now, h.src, m, id, true, &h.out); o != OutcomeNeedsValidation {
		h.t.Fatalf("HandleMessage = %v", o)
	}
	n := idontwantsTo(&h.out, id)
	return id, n[h.p] > 0, n[h.other] > 0
}

// copyFrom has q send its copy of id (a duplicate).
func (h *idwHarness) copyFrom(q peer.ID, id string) {
	h.t.Helper()
	m := h.a.heldCopy(id)
	if m == nil {
		h.t.Fatalf("no held copy of %q", id)
	}
	if o := h.a.HandleMessage(h.now, q, m, id, true, &h.out); o != OutcomeAlreadySeen {
		h.t.Fatalf("copy from %s = %v", q, o)
	}
}

// suppress makes every IDONTWANT to p late until p is suppressed, and
// returns how many messages that took.
func (h *idwHarness) suppress() int {
	h.t.Helper()
	for i := 1; i <= 1000; i++ {
		id, toP, _ := h.deliver(2000)
		if toP {
			h.copyFrom(h.p, id)
		}
		if h.out.IDontWant.Quieted == 1 {
			return i
		}
		h.advance(time.Millisecond)
	}
	h.t.Fatal("p never suppressed")
	return 0
}

// Late copies from a peer stop its small-message IDONTWANTs after Window
// samples at SuppressAt; other peers' are unaffected.
func TestIDontWantLearnSuppressesLatePeer(t *testing.T) {
	h := newIDWHarness(t, nil)
	if n := h.suppress(); n != h.a.cfg.IDontWantLearn.Window {
		t.Fatalf("suppressed after %d late IDONTWANTs, want Window %d", n, h.a.cfg.IDontWantLearn.Window)
	}
	if s, share, n := h.a.IDontWantSuppressed(h.p); !s || share != 1 || n != 32 {
		t.Fatalf("IDontWantSuppressed = %v %v %d", s, share, n)
	}
	if s, _, n := h.a.IDontWantSuppressed(h.other); s || n != 0 {
		t.Fatalf("other peer: suppressed %v, %d samples", s, n) // it never answered: no sample
	}
	suppressed, probes := 0, 0
	for range 800 {
		_, toP, toOther := h.deliver(2000)
		if !toOther {
			t.Fatal("IDONTWANT to the other mesh peer stopped")
		}
		if toP {
			probes++
		}
		suppressed += h.out.IDontWant.Suppressed
		if h.out.IDontWant.Probes+h.out.IDontWant.Suppressed != 1 {
			t.Fatalf("counts %+v for one message to one suppressed peer", h.out.IDontWant)
		}
	}
	// One in ProbeEvery (8) is still sent: 100 expected of 800.
	if probes < 60 || probes > 140 || suppressed != 800-probes {
		t.Fatalf("%d probes, %d suppressed of 800", probes, suppressed)
	}
}

// Messages of Below bytes or more always get IDONTWANT, and so do all with
// learning off.
func TestIDontWantLearnLargeAlwaysSent(t *testing.T) {
	h := newIDWHarness(t, nil)
	h.suppress()
	below := h.a.cfg.IDontWantLearn.Below
	for range 50 {
		if _, toP, _ := h.deliver(below); !toP {
			t.Fatalf("no IDONTWANT for a %d-byte message to a suppressed peer", below)
		}
		if h.out.IDontWant != (IDontWantCounts{}) {
			t.Fatalf("a large message counted %+v", h.out.IDontWant)
		}
	}

	off := newIDWHarness(t, func(c *Config) { c.IDontWantLearn.Below = 0 })
	for range 100 {
		id, toP, _ := off.deliver(2000)
		if !toP {
			t.Fatal("learning off: IDONTWANT not sent")
		}
		off.copyFrom(off.p, id)
		if off.out.IDontWant != (IDontWantCounts{}) {
			t.Fatalf("learning off counted %+v", off.out.IDontWant)
		}
	}
}

// IDONTWANTs that arrive in time (the peer had the message, as its own
// IDONTWANT shows, and sent no copy within Timeout) bring a suppressed
// peer back; IDONTWANTs with neither answer are no sample.
func TestIDontWantLearnTimelyResumes(t *testing.T) {
	h := newIDWHarness(t, nil)
	h.suppress()
	_, _, before := h.a.IDontWantSuppressed(h.p)
	// Neither a copy nor an IDONTWANT from p: no sample, still suppressed.
	for i := range 200 {
		h.deliver(2000)
		h.advance(10 * time.Millisecond)
		if i%50 == 49 {
			h.heartbeat()
		}
	}
	if s, share, n := h.a.IDontWantSuppressed(h.p); !s || share != 1 || n != before {
		t.Fatalf("after unanswered probes: suppressed %v share %v samples %d", s, share, n)
	}
	resumed := false
	for i := range 2000 {
		id, _, _ := h.deliver(2000)
		h.a.HandleIDontWant(h.now, h.p, idontwant(id), &h.out) // p had it, sends no copy
		if h.out.IDontWant.Resumed == 1 {
			resumed = true
			break
		}
		h.advance(10 * time.Millisecond)
		if i%50 == 49 {
			h.heartbeat()
			if h.out.IDontWant.Resumed == 1 {
				resumed = true
				break
			}
		}
	}
	if !resumed {
		t.Fatal("never resumed")
	}
	s, share, _ := h.a.IDontWantSuppressed(h.p)
	if s || share >= h.a.cfg.IDontWantLearn.ResumeBelow {
		t.Fatalf("after resuming: suppressed %v share %v", s, share)
	}
	for range 20 {
		if _, toP, _ := h.deliver(2000); !toP {
			t.Fatal("IDONTWANT not sent after resuming")
		}
		if h.out.IDontWant.Suppressed+h.out.IDontWant.Probes != 0 {
			t.Fatalf("counts %+v after resuming", h.out.IDontWant)
		}
	}
}

// A copy after the Timeout does not count as late; a copy from a peer we
// sent no IDONTWANT (the first sender) is no sample.
func TestIDontWantLearnTimeout(t *testing.T) {
	h := newIDWHarness(t, nil)
	id, toP, _ := h.deliver(2000)
	if !toP {
		t.Fatal("no IDONTWANT")
	}
	h.a.HandleIDontWant(h.now, h.p, idontwant(id), &h.out)
	h.advance(h.a.cfg.IDontWantLearn.Timeout)
	h.deliver(2000) // settles the first: timely
	if h.out.IDontWant.Timely != 1 {
		t.Fatalf("counts %+v, want one timely", h.out.IDontWant)
	}
	h.reset()
	h.copyFrom(h.p, id) // too late to matter: already settled
	h.copyFrom(h.src, id)
	if h.out.IDontWant != (IDontWantCounts{}) {
		t.Fatalf("counts %+v after settling", h.out.IDontWant)
	}
	if _, share, n := h.a.IDontWantSuppressed(h.p); share != 0 || n != 1 {
		t.Fatalf("share %v over %d samples", share, n)
	}
}

// A head of the message from the peer counts as its copy.
func TestIDontWantLearnHeadIsLate(t *testing.T) {
	h := newIDWHarness(t, nil)
	id, _, _ := h.deliver(2000)
	h.reset()
	h.a.HandleMessageHead(h.now, h.p, topicA, id, 2000, &h.out)
	if h.out.IDontWant.Late != 1 {
		t.Fatalf("counts %+v, want one late", h.out.IDontWant)
	}
	h.copyFrom(h.p, id) // the rest of the same copy: counted once
	if h.out.IDontWant.Late != 1 {
		t.Fatalf("counts %+v, want one late", h.out.IDontWant)
	}
}

// At most MaxTracked IDONTWANTs are remembered per peer; the state goes
// with the peer, and a peer added again starts afresh.
func TestIDontWantLearnBoundedAndForgotten(t *testing.T) {
	h := newIDWHarness(t, func(c *Config) { c.IDontWantLearn.MaxTracked = 5 })
	for range 20 {
		h.deliver(2000)
	}
	if s := h.a.Sizes(); s.MaxIDontWantTracked != 5 {
		t.Fatalf("tracked %d, want 5", s.MaxIDontWantTracked)
	}
	h.advance(h.a.cfg.IDontWantLearn.Timeout) // the five settle (no sample), making room
	h.suppress()
	if o := h.a.RemovePeer(h.now, h.p, &h.out); o != OutcomePeerRemoved {
		t.Fatalf("RemovePeer = %v", o)
	}
	if s, _, n := h.a.IDontWantSuppressed(h.p); s || n != 0 {
		t.Fatalf("removed peer: suppressed %v, %d samples", s, n)
	}
	h.add(2, wire.ProtocolMeshsub12, false, topicA)
	h.graftIn(h.p, topicA)
	for range 20 {
		if _, toP, _ := h.deliver(2000); !toP {
			t.Fatal("re-added peer not sent IDONTWANT")
		}
	}
}

func TestIDontWantLearnConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	off := DefaultConfig()
	off.IDontWantLearn = IDontWantLearnConfig{}
	if err := off.Validate(); err != nil {
		t.Fatalf("zero value (off): %v", err)
	}
	for name, mut := range map[string]func(*IDontWantLearnConfig){
		"Below":          func(c *IDontWantLearnConfig) { c.Below = -1 },
		"Window0":        func(c *IDontWantLearnConfig) { c.Window = 0 },
		"Window65":       func(c *IDontWantLearnConfig) { c.Window = 65 },
		"SuppressAt0":    func(c *IDontWantLearnConfig) { c.SuppressAt = 0 },
		"SuppressAt>1":   func(c *IDontWantLearnConfig) { c.SuppressAt = 1.5 },
		"ResumeBelow<0":  func(c *IDontWantLearnConfig) { c.ResumeBelow = -0.1 },
		"ResumeBelow=At": func(c *IDontWantLearnConfig) { c.ResumeBelow = c.SuppressAt },
		"ProbeEvery":     func(c *IDontWantLearnConfig) { c.ProbeEvery = 0 },
		"Timeout":        func(c *IDontWantLearnConfig) { c.Timeout = 0 },
		"MaxTracked0":    func(c *IDontWantLearnConfig) { c.MaxTracked = 0 },
		"MaxTracked big": func(c *IDontWantLearnConfig) { c.MaxTracked = 1025 },
	} {
		c := DefaultConfig()
		mut(&c.IDontWantLearn)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
}

// Window 64 uses the whole sample word.
func TestIDontWantLearnWindow64(t *testing.T) {
	h := newIDWHarness(t, func(c *Config) { c.IDontWantLearn.Window = 64 })
	if n := h.suppress(); n != 64 {
		t.Fatalf("suppressed after %d, want 64", n)
	}
}
