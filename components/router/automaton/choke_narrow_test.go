package automaton

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// narrowHarness is chokeHarness with narrow topics (narrowConfig).
func narrowHarness(t *testing.T) (*harness, []peer.ID) {
	return chokeHarness(t, narrowConfig)
}

// narrowConfig turns narrow topics on (MinUnchoked 1) for topics whose
// decision counted at least 3 first deliveries in the topic: a topic
// widens when choked peers brought at least two and a quarter of its
// first deliveries, for 3 heartbeats.
func narrowConfig(c *Config) {
	c.Choke.MinUnchoked = 1
	c.Choke.NarrowFirsts = 3
	c.Choke.WidenAt = 0.25
	c.Choke.WidenHold = 3
}

// eager returns the mesh peers of topicA we have not choked, in mesh
// order.
func (h *harness) eager(mesh []peer.ID) []peer.ID {
	ours, _ := h.a.Choked(topicA)
	var e []peer.ID
	for _, p := range mesh {
		if !slices.Contains(ours, p) {
			e = append(e, p)
		}
	}
	return e
}

// lazyWin makes choked peer p bring a message first (its IHAVE and our
// IWANT beat the eager peers), leaving the copy's output in h.out.
func (h *harness) lazyWin(p peer.ID) {
	h.t.Helper()
	m, id := msg(pid(99), topicA, 100)
	h.reset()
	if o := h.a.HandleIHave(h.now, p, ihave(topicA, id), &h.out); o != OutcomeIWantSent {
		h.t.Fatalf("HandleIHave = %v", o)
	}
	h.reset()
	if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeNeedsValidation {
		h.t.Fatalf("HandleMessage = %v", o)
	}
}

// A narrow topic keeps only the peer that brought the most first eager,
// and its heartbeats do not add a second one back (the refill up to the
// number kept after mesh churn counts MinUnchoked, not Unchoked).
func TestChokeNarrowKeepsOne(t *testing.T) {
	h, mesh := narrowHarness(t)
	firsts(h, 2, mesh[0], mesh[1])
	firsts(h, 1, mesh[0]) // the fifth: the first decision
	if e := h.eager(mesh); !slices.Equal(e, mesh[:1]) {
		t.Fatalf("eager after the first decision = %v, want only %s", e, mesh[0])
	}
	for i := range 4 {
		if i%2 == 0 {
			firsts(h, 5, mesh[0]) // a decision at this heartbeat
		} // else none: the heartbeat's refill alone
		h.reset()
		h.heartbeat()
		if e := h.eager(mesh); !slices.Equal(e, mesh[:1]) {
			t.Fatalf("heartbeat %d: eager = %v, want only %s", i, e, mesh[0])
		}
		for _, p := range mesh {
			if _, u := h.chokeEntries(p); len(u) != 0 {
				t.Fatalf("heartbeat %d: unchoke entries %q for %s", i, u, p)
			}
		}
	}
}

// Choked peers bringing messages first widen a narrow topic at once: the
// second win (a quarter of the first deliveries since the decision)
// unchokes the winner without waiting for the heartbeat; the topic's
// decisions keep Unchoked eager for WidenHold heartbeats, then one again.
// A single win is no evidence and widens nothing.
func TestChokeNarrowWidens(t *testing.T) {
	h, mesh := narrowHarness(t)
	firsts(h, 5, mesh[0]) // the first decision: mesh[0] alone eager
	firsts(h, 2, mesh[0])
	h.lazyWin(mesh[2]) // 1 of 3: over WidenAt, but one win, and no majority
	if _, u := h.chokeEntries(mesh[2]); len(u) != 0 {
		t.Fatalf("one win: unchoke entries %q", u)
	}
	firsts(h, 4, mesh[0])
	h.lazyWin(mesh[2]) // 2 of 8: a quarter
	if _, u := h.chokeEntries(mesh[2]); !slices.Equal(u, []string{topicA}) {
		t.Fatalf("second win: unchoke entries %q, want [%s]", u, topicA)
	}
	if e := h.eager(mesh); !slices.Equal(e, []peer.ID{mesh[0], mesh[2]}) {
		t.Fatalf("eager after widening = %v", e)
	}
	widened := h.a.ticks
	// Each interval mesh[0] brings 3 first and mesh[2] 2: the decisions
	// keep both while the topic is wide, then choke mesh[2].
	for {
		firsts(h, 3, mesh[0])
		firsts(h, 2, mesh[2])
		h.reset()
		h.heartbeat()
		wide := h.a.ticks < widened+3
		want := []peer.ID{mesh[0], mesh[2]}
		if !wide {
			want = mesh[:1]
		}
		if e := h.eager(mesh); !slices.Equal(e, want) {
			t.Fatalf("tick %d (widened at %d): eager = %v, want %v", h.a.ticks, widened, e, want)
		}
		if !wide {
			if c, _ := h.chokeEntries(mesh[2]); !slices.Equal(c, []string{topicA}) {
				t.Fatalf("narrowing: choke entries %q for %s", c, mesh[2])
			}
			break
		}
	}
}

// The share of lazy wins that widens a narrow topic is taken of at least
// the deliveries its last decision counted: two wins early in an interval
// (two of six deliveries, over WidenAt 0.25) widen nothing after a
// decision on 20; five (a quarter of 20) do.
func TestChokeNarrowWidenShareOfLastDecision(t *testing.T) {
	h, mesh := narrowHarness(t)
	firsts(h, 5, mesh[0]) // the first decision: mesh[0] alone eager
	firsts(h, 20, mesh[0])
	h.heartbeat() // a decision on 20 first deliveries
	if e := h.eager(mesh); !slices.Equal(e, mesh[:1]) {
		t.Fatalf("eager after the heartbeat = %v", e)
	}
	for i := range 4 {
		firsts(h, 2, mesh[0])
		h.lazyWin(mesh[2])
		if _, u := h.chokeEntries(mesh[2]); len(u) != 0 {
			t.Fatalf("win %d of %d deliveries widened: unchoke entries %q", i+1, 3*(i+1), u)
		}
	}
	h.lazyWin(mesh[2]) // 5 of 13, a quarter of the last decision's 20
	if _, u := h.chokeEntries(mesh[2]); !slices.Equal(u, []string{topicA}) {
		t.Fatalf("fifth win: unchoke entries %q, want [%s]", u, topicA)
	}
}

// Leaving a topic ends its widening: joined again, it starts narrow.
func TestChokeNarrowAfterRejoin(t *testing.T) {
	h, mesh := narrowHarness(t)
	firsts(h, 5, mesh[0])
	firsts(h, 6, mesh[0])
	h.lazyWin(mesh[2])
	h.lazyWin(mesh[3])
	if e := h.eager(mesh); len(e) != 2 {
		t.Fatalf("eager after widening = %v, want 2 peers", e)
	}
	h.leaveAndRejoin(topicA)
	if mesh = h.mesh(topicA); len(mesh) != 6 {
		t.Fatalf("mesh after rejoining = %d peers, want 6", len(mesh))
	}
	firsts(h, 5, mesh[0])
	if e := h.eager(mesh); !slices.Equal(e, mesh[:1]) {
		t.Fatalf("eager after rejoining = %v, want only %s", e, mesh[0])
	}
}

// leaveAndRejoin leaves topic and joins it again after the unsubscribe
// backoff.
func (h *harness) leaveAndRejoin(topic string) {
	h.t.Helper()
	if o := h.a.Leave(h.now, topic, &h.out); o != OutcomeLeft {
		h.t.Fatalf("Leave = %v", o)
	}
	h.advance(h.a.cfg.UnsubscribeBackoff + time.Second)
	h.join(topic)
}

// Only a busy topic is narrow: topicA, deciding on five first deliveries
// of its own, keeps one peer eager; topicB, whose one message (fewer than
// NarrowFirsts) makes it decide on the first deliveries its mesh peers
// brought in every topic, keeps two (it would learn of a single path's
// misses too slowly).
func TestChokeNarrowOnlyBusy(t *testing.T) {
	h, peers := twoTopicHarnessWith(t, narrowConfig)
	for range 5 {
		h.receiveIn(peers[0], topicA, 100)
	}
	if ours, _ := h.a.Choked(topicA); len(ours) != 5 || slices.Contains(ours, peers[0]) {
		t.Fatalf("topicA: Choked = %v, want every peer but %s", ours, peers[0])
	}
	h.receiveIn(peers[1], topicB, 100)
	ours, _ := h.a.Choked(topicB)
	if len(ours) != 4 || slices.Contains(ours, peers[0]) || slices.Contains(ours, peers[1]) {
		t.Fatalf("topicB: Choked = %v, want every peer but %s and %s", ours, peers[0], peers[1])
	}
}

// When eager peers leave the mesh, the next heartbeat unchokes choked
// ones until the topic has as many eager as it keeps now, without a
// decision: two in a wide topic, one in a narrow one.
func TestChokeRefillAfterChurn(t *testing.T) {
	for _, narrow := range []bool{false, true} {
		h, mesh := chokeHarness(t, nil)
		want := 2
		if narrow {
			h, mesh = narrowHarness(t)
			want = 1
		}
		firsts(h, 2, mesh[0], mesh[1])
		firsts(h, 1, mesh[0]) // the first decision: mesh[0] (and, wide, mesh[1]) eager
		if e := h.eager(mesh); len(e) != want {
			t.Fatalf("narrow %v: eager = %v, want %d peers", narrow, e, want)
		}
		for _, p := range h.eager(mesh) {
			h.a.RemovePeer(h.now, p, &h.out)
		}
		mesh = h.mesh(topicA)
		if e := h.eager(mesh); len(e) != 0 || len(mesh) != 6-want {
			t.Fatalf("narrow %v: after removing the eager peers: mesh %d, eager %v", narrow, len(mesh), e)
		}
		h.reset()
		h.heartbeat() // no first deliveries since the decision: no decision
		mesh = h.mesh(topicA)
		if e := h.eager(mesh); len(e) != want {
			t.Fatalf("narrow %v: eager after the heartbeat = %v (mesh %d), want %d peers", narrow, e, len(mesh), want)
		}
	}
}

// A topic's first decision comes after FirstFirsts deliveries, fewer than
// NarrowFirsts: it is busy (narrow) when they came at a rate of at least
// NarrowFirsts a heartbeat interval, and keeps Unchoked eager otherwise.
func TestChokeFirstDecisionBusyByRate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gap    time.Duration // between two first deliveries
		narrow bool
	}{
		{"fast", 10 * time.Millisecond, true},         // 3 in 20 ms: 150 an interval
		{"slow", 600 * time.Millisecond, false},       // 3 in 1.2 s: 2.5 an interval
		{"at the rate", 500 * time.Millisecond, true}, // 3 in 1 s: exactly NarrowFirsts
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, mesh := chokeHarness(t, func(c *Config) {
				narrowConfig(c)
				c.Choke.NarrowFirsts = 3
				c.Choke.FirstFirsts = 3
			})
			for i := range 3 {
				if i > 0 {
					h.now = h.now.Add(tc.gap)
				}
				firsts(h, 1, mesh[0])
			}
			want := 2
			if tc.narrow {
				want = 1
			}
			if e := h.eager(mesh); len(e) != want || e[0] != mesh[0] {
				t.Fatalf("eager after the first decision %v, want %d with %s first", e, want, mesh[0])
			}
		})
	}
}
