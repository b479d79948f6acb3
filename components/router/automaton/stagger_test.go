package automaton

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

const bigData = 20 << 10 // over DefaultStaggerConfig's MinData

// staggerHarness is a node with 8 v1.2 peers subscribed to topicA and a
// mesh of 6, staggering with K 2, PublishK 1 and MaxWait 50 ms.
func staggerHarness(t *testing.T) (*harness, []peer.ID) {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		c.Stagger = StaggerConfig{MinData: 16 << 10, K: 2, PublishK: 1, MaxWait: 50 * time.Millisecond}
	})
	h.addN(1, 8, topicA)
	h.join(topicA)
	h.reset()
	mesh := h.mesh(topicA)
	if len(mesh) != 6 {
		t.Fatalf("mesh = %d peers, want 6", len(mesh))
	}
	return h, mesh
}

// sentTo lists the peers h.out sends message id to, in Output order, and
// checks that every copy of a message of bigData bytes is paced.
func (h *harness) sentTo(id string) []peer.ID {
	h.t.Helper()
	var ps []peer.ID
	for _, s := range h.out.Sends {
		for i, sid := range s.IDs {
			if sid != id {
				continue
			}
			if s.Paced == nil || !s.Paced[i] {
				h.t.Fatalf("copy of %s for %s not paced", id, s.To)
			}
			ps = append(ps, s.To)
		}
	}
	return ps
}

// done reports p's copy of id written and returns the peers it released.
func (h *harness) done(p peer.ID, id string, want Outcome) []peer.ID {
	h.t.Helper()
	h.reset()
	if o := h.a.HandleCopyDone(h.now, p, id, &h.out); o != want {
		h.t.Fatalf("HandleCopyDone(%s) = %v, want %v", p, o, want)
	}
	return h.sentTo(id)
}

// tracked is what HandleCopyDone answers for a copy in flight: copies
// hold something back only while a staggered message has peers waiting.
func (h *harness) tracked() Outcome {
	if h.a.Staggered() > 0 {
		return OutcomeCopyDone
	}
	return OutcomeCopyNotTracked
}

// A forwarded large message goes to K mesh peers at a time, highest score
// first; each copy reported done releases exactly one more, until every
// mesh peer but the sender has had it.
func TestStaggerOrderAndAtMostK(t *testing.T) {
	h, mesh := staggerHarness(t)
	src := mesh[0]
	// Scores 5, 4, 3, 2, 1 for mesh[1:]: the release order.
	h.scores(events.ScoreThresholds{}, mesh[1], 1.0, mesh[2], 5.0, mesh[3], 3.0, mesh[4], 4.0, mesh[5], 2.0)
	want := []peer.ID{mesh[2], mesh[4], mesh[3], mesh[5], mesh[1]}
	_, id := h.receive(src, bigData)
	first := h.sentTo(id)
	if !slices.Equal(first, want[:2]) {
		t.Fatalf("first copies to %v, want %v", first, want[:2])
	}
	if h.a.Staggered() != 1 {
		t.Fatalf("Staggered = %d, want 1", h.a.Staggered())
	}
	flying := slices.Clone(first)
	var order []peer.ID
	order = append(order, first...)
	for len(flying) > 0 {
		p := flying[0]
		flying = flying[1:]
		got := h.done(p, id, h.tracked())
		if len(got) > 1 {
			t.Fatalf("one copy done released %v", got)
		}
		flying = append(flying, got...)
		order = append(order, got...)
		if len(flying) > 2 {
			t.Fatalf("%d copies in flight, K is 2", len(flying))
		}
		if len(got) == 0 && len(order) < len(want) {
			t.Fatalf("nothing released after %v", order)
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if h.a.Staggered() != 0 {
		t.Fatalf("Staggered = %d after the last release", h.a.Staggered())
	}
	if _, ok := h.a.StaggerDeadline(); ok {
		t.Fatal("a deadline with nothing staggered")
	}
	// Reports of copies that no longer hold anything back are stale.
	h.done(want[4], id, OutcomeCopyNotTracked)
	h.done(src, "no-such-id", OutcomeCopyNotTracked)
}

// Under MinData, or with staggering off, every mesh peer gets its copy at
// once, not paced.
func TestStaggerSmallAndOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		min  int
		size int
	}{{"small", 16 << 10, 1000}, {"off", 0, bigData}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Stagger.MinData = tc.min })
			h.addN(1, 8, topicA)
			h.join(topicA)
			mesh := h.mesh(topicA)
			_, id := h.receive(mesh[0], tc.size)
			for _, p := range mesh[1:] {
				s := h.out.SendTo(p)
				if !h.gotMessage(p, id) || s.Paced != nil {
					t.Fatalf("%s: sent %v, paced %v", p, h.gotMessage(p, id), s.Paced)
				}
			}
			if h.a.Staggered() != 0 {
				t.Fatal("message staggered")
			}
		})
	}
}

// A waiting peer that sends IDONTWANT, a copy of the message or its
// copy's head is never sent it; an in-flight peer that does frees its
// slot (and its queued copy is cancelled).
func TestStaggerPeerHasIt(t *testing.T) {
	for _, how := range []string{"idontwant", "copy", "head"} {
		t.Run(how, func(t *testing.T) {
			h, mesh := staggerHarness(t)
			m, id := h.receive(mesh[0], bigData)
			flying := h.sentTo(id)
			var waiting []peer.ID
			for _, p := range mesh[1:] {
				if !slices.Contains(flying, p) {
					waiting = append(waiting, p)
				}
			}
			has := func(p peer.ID) {
				h.reset()
				switch how {
				case "idontwant":
					h.a.HandleIDontWant(h.now, p, idontwant(id), &h.out)
				case "copy":
					h.a.HandleMessage(h.now, p, m, id, false, &h.out)
				case "head":
					h.a.HandleMessageHead(h.now, p, topicA, id, bigData, &h.out)
				}
			}
			// Two of the three waiting peers have it: not sent, nothing released.
			has(waiting[0])
			has(waiting[1])
			if got := h.sentTo(id); len(got) != 0 {
				t.Fatalf("released %v while K copies are in flight", got)
			}
			// An in-flight peer has it: its slot goes to the last waiting peer.
			has(flying[0])
			if got := h.sentTo(id); !slices.Equal(got, waiting[2:]) {
				t.Fatalf("released %v, want %v", got, waiting[2:])
			}
			if how != "head" && !slices.ContainsFunc(h.out.Cancels, func(c Cancel) bool { return c.Peer == flying[0] && c.ID == id }) {
				t.Fatalf("no Cancel for the in-flight copy: %v", h.out.Cancels)
			}
			if h.a.Staggered() != 0 {
				t.Fatalf("Staggered = %d with nothing left to release", h.a.Staggered())
			}
		})
	}
}

// A message holds its waiting copies back for MaxWait at most: then all
// go at once, whatever is in flight.
func TestStaggerBoundedWait(t *testing.T) {
	h, mesh := staggerHarness(t)
	_, id := h.receive(mesh[0], bigData)
	start := h.now
	first := h.sentTo(id)
	if len(first) != 2 {
		t.Fatalf("first copies %v", first)
	}
	d, ok := h.a.StaggerDeadline()
	if !ok || !d.Equal(start.Add(50*time.Millisecond)) {
		t.Fatalf("deadline %v %v, want %v", d, ok, start.Add(50*time.Millisecond))
	}
	// One copy done before the deadline releases one more, as usual.
	h.advance(10 * time.Millisecond)
	second := h.done(first[0], id, OutcomeCopyDone)
	if len(second) != 1 {
		t.Fatalf("released %v", second)
	}
	if d2, _ := h.a.StaggerDeadline(); !d2.Equal(d) {
		t.Fatalf("deadline moved to %v", d2)
	}
	h.advance(39 * time.Millisecond)
	h.reset()
	if o := h.a.ReleaseDue(h.now, &h.out); o != OutcomeNothingDue || len(h.sentTo(id)) != 0 {
		t.Fatalf("ReleaseDue before the deadline = %v, sent %v", o, h.sentTo(id))
	}
	h.advance(time.Millisecond)
	h.reset()
	if o := h.a.ReleaseDue(h.now, &h.out); o != OutcomeCopiesReleased {
		t.Fatalf("ReleaseDue at the deadline = %v", o)
	}
	rest := h.sentTo(id)
	all := append(append(append([]peer.ID{mesh[0]}, first...), second...), rest...)
	for _, p := range mesh {
		if !slices.Contains(all, p) {
			t.Fatalf("%s never sent the message: first %v, then %v, at the deadline %v", p, first, second, rest)
		}
	}
	if len(all) != 6 {
		t.Fatalf("copies: first %v, then %v, at the deadline %v", first, second, rest)
	}
	if h.a.Staggered() != 0 {
		t.Fatal("still staggered")
	}
	if _, ok := h.a.StaggerDeadline(); ok {
		t.Fatal("a deadline with nothing staggered")
	}
	// The copies still in flight report late: nothing left to release.
	h.done(first[1], id, OutcomeCopyNotTracked)
}

// Our own large message goes to PublishK peers at a time (mesh peers
// first), and a removed peer's slot goes to the next one.
func TestStaggerPublishAndRemovedPeer(t *testing.T) {
	h, mesh := staggerHarness(t)
	h.a.cfg.FloodPublish = false
	m, id := msg(pid(0), topicA, bigData)
	if o := h.a.Publish(h.now, m, id, &h.out); o != OutcomePublished {
		t.Fatalf("Publish = %v", o)
	}
	if pub := FactMessagePublished.In(&h.out); len(pub) != 1 || pub[0].Peers != 6 {
		t.Fatalf("published %+v, want 6 peers", pub)
	}
	first := h.sentTo(id)
	if len(first) != 1 || !slices.Contains(mesh, first[0]) {
		t.Fatalf("first copy to %v", first)
	}
	h.reset()
	h.a.RemovePeer(h.now, first[0], &h.out)
	next := h.sentTo(id)
	if len(next) != 1 || next[0] == first[0] || !slices.Contains(mesh, next[0]) {
		t.Fatalf("after removal, copy to %v", next)
	}
	seen := []peer.ID{first[0], next[0]}
	for p := next[0]; ; {
		got := h.done(p, id, h.tracked())
		if len(got) == 0 {
			break
		}
		p = got[0]
		seen = append(seen, p)
	}
	if len(seen) != 6 {
		t.Fatalf("sent to %d peers, want the 6 of the mesh: %v", len(seen), seen)
	}
}

// PublishK 0 sends our own messages at once; flood publish staggers over
// every topic peer, mesh peers first.
func TestStaggerPublishK(t *testing.T) {
	h, mesh := staggerHarness(t)
	h.a.cfg.Stagger.PublishK = 0
	m, id := msg(pid(0), topicA, bigData)
	h.a.Publish(h.now, m, id, &h.out)
	for _, s := range h.out.Sends {
		if s.Paced != nil {
			t.Fatalf("own copy to %s paced with PublishK 0", s.To)
		}
	}
	h.reset()
	h.a.cfg.Stagger.PublishK = 3
	m, id = msg(pid(0), topicA, bigData)
	h.a.Publish(h.now, m, id, &h.out) // FloodPublish: all 8 topic peers
	order := h.sentTo(id)
	for len(order) < 8 {
		got := h.done(order[len(order)-3], id, OutcomeCopyDone)
		if len(got) != 1 {
			t.Fatalf("released %v after %v", got, order)
		}
		order = append(order, got...)
	}
	for i, p := range order {
		if slices.Contains(mesh, p) != (i < 6) {
			t.Fatalf("order %v: mesh peers not first", order)
		}
	}
}

func TestStaggerConfigValidate(t *testing.T) {
	ok := DefaultStaggerConfig()
	cases := map[string]func(*StaggerConfig){
		"MinData": func(c *StaggerConfig) { c.MinData = -1 },
		"K":       func(c *StaggerConfig) { c.K = 0 },
		"PublishK": func(c *StaggerConfig) {
			c.PublishK = -1
		},
		"MaxWait": func(c *StaggerConfig) { c.MaxWait = 0 },
	}
	for name, mut := range cases {
		cfg := DefaultConfig()
		c := ok
		mut(&c)
		cfg.Stagger = c
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Stagger = StaggerConfig{K: -5} // off: the rest is not looked at
	if err := cfg.Validate(); err != nil {
		t.Errorf("off: %v", err)
	}
}

// Output.Paced stays index-aligned when a peer's Send mixes paced and
// unpaced messages.
func TestOutputPacedAligned(t *testing.T) {
	var o Output
	p := pid(1)
	m := &pb.Message{}
	o.sendMessage(p, "a", m)
	o.sendPaced(p, "b", m)
	o.sendMessage(p, "c", m)
	s := o.SendTo(p)
	if !slices.Equal(s.IDs, []string{"a", "b", "c"}) || !slices.Equal(s.Paced, []bool{false, true, false}) {
		t.Fatalf("IDs %v Paced %v", s.IDs, s.Paced)
	}
	o.Reset()
	o.sendPaced(p, "x", m)
	if s := o.SendTo(p); !slices.Equal(s.Paced, []bool{true}) {
		t.Fatalf("Paced %v", s.Paced)
	}
}

// A peer whose copy was still in flight at its message's MaxWait comes
// last in the order of the next large messages, whatever its score, for
// 20 MaxWaits; then it is back in its place.
func TestStaggerSlowPeerDemoted(t *testing.T) {
	h, mesh := staggerHarness(t)
	h.a.cfg.Stagger.K = 1
	src := mesh[0]
	// Scores 5, 4, 3, 2, 1 for mesh[1:]: the release order.
	h.scores(events.ScoreThresholds{}, mesh[1], 1.0, mesh[2], 5.0, mesh[3], 3.0, mesh[4], 4.0, mesh[5], 2.0)
	best := mesh[2]

	_, id := h.receive(src, bigData)
	if first := h.sentTo(id); !slices.Equal(first, []peer.ID{best}) {
		t.Fatalf("first copy to %v, want the best-scored %s", first, best)
	}
	// best never reports its copy written: at MaxWait it is still in
	// flight, and every waiting copy goes.
	h.advance(50 * time.Millisecond)
	h.reset()
	if o := h.a.ReleaseDue(h.now, &h.out); o != OutcomeCopiesReleased {
		t.Fatalf("ReleaseDue = %v", o)
	}

	// The next large message from src: best comes last.
	order := func() []peer.ID {
		t.Helper()
		_, id := h.receive(src, bigData)
		got := h.sentTo(id)
		for len(got) > 0 {
			next := h.done(got[len(got)-1], id, h.tracked())
			if len(next) == 0 {
				break
			}
			got = append(got, next...)
		}
		return got
	}
	if got := order(); len(got) != 5 || got[4] != best || got[0] != mesh[4] {
		t.Fatalf("order after MaxWait %v, want %s (score 4) first and %s (slow) last", got, mesh[4], best)
	}
	// 20 MaxWaits after it was found slow, it is back in first place.
	h.advance(20 * 50 * time.Millisecond)
	if got := order(); len(got) != 5 || got[0] != best {
		t.Fatalf("order after the demotion %v, want %s first", got, best)
	}
}
