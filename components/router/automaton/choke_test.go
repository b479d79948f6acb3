package automaton

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// chokeHarness: the choke extension on (Unchoked 2, no narrow topics,
// MinFirsts and FirstFirsts 5, no exploring unless mut says so), learned IDONTWANT off (every IDONTWANT
// goes), 8 /meshsub/1.3.0 peers subscribed to topicA that advertised the
// extension, each 1 ms away (under MaxRTT), joined: a mesh of D = 6.
func chokeHarness(t *testing.T, mut func(*Config)) (*harness, []peer.ID) {
	return chokeHarnessRTT(t, mut)
}

// chokeTestConfig sets what the choke harnesses share: the extension
// on with decisions from 5 first deliveries, Unchoked 2 eager at every
// decision (no narrow topics: choke_narrow_test.go covers MinUnchoked),
// no exploring, and learned IDONTWANT off (every IDONTWANT goes).
func chokeTestConfig(c *Config) {
	c.Choke = DefaultChokeConfig()
	c.Choke.MinUnchoked = 0
	c.Choke.MinFirsts = 5
	c.Choke.FirstFirsts = 5
	c.Choke.ExploreEvery = 0
	c.IDontWantLearn.Below = 0
}

// chokeHarnessRTT is chokeHarness where the mesh peers at the indexes
// unknownRTT have no RTT.
func chokeHarnessRTT(t *testing.T, mut func(*Config), unknownRTT ...int) (*harness, []peer.ID) {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		chokeTestConfig(c)
		if mut != nil {
			mut(c)
		}
	})
	var peers []peer.ID
	for i := 1; i <= 8; i++ {
		p := h.add(i, wire.ProtocolMeshsub13, i%2 == 0, topicA)
		if o := h.a.SetPeerChoke(p, true); o != OutcomePeerFeaturesSet {
			t.Fatalf("SetPeerChoke = %v", o)
		}
		peers = append(peers, p)
	}
	h.join(topicA)
	mesh := h.mesh(topicA)
	if len(mesh) != 6 {
		t.Fatalf("mesh = %d peers, want 6", len(mesh))
	}
	for _, p := range peers {
		if i := slices.Index(mesh, p); i < 0 || !slices.Contains(unknownRTT, i) {
			h.rtt(p, time.Millisecond)
		}
	}
	h.reset()
	return h, mesh
}

// rtt tells the automaton p's round-trip time is d.
func (h *harness) rtt(p peer.ID, d time.Duration) {
	h.t.Helper()
	if o := h.a.HandlePeerRTT(h.now, p, d, &h.out); o != OutcomeRTTRecorded {
		h.t.Fatalf("HandlePeerRTT = %v", o)
	}
}

// chokeEntries returns the choke and unchoke topics p was sent in h.out.
func (h *harness) chokeEntries(p peer.ID) (choke, unchoke []string) {
	c := h.rpc(p).GetChoke()
	return c.GetChokeTopics(), c.GetUnchokeTopics()
}

// firsts makes mesh[i] bring n messages first, for each i in srcs.
func firsts(h *harness, n int, srcs ...peer.ID) {
	h.t.Helper()
	for range n {
		for _, p := range srcs {
			h.receive(p, 100)
		}
	}
}

// The peers that brought the most messages first stay eager; the other
// mesh peers are choked at the topic's first decision (its FirstFirsts-th
// first delivery), get no IDONTWANT, and one that then brings a message
// first (its IHAVE beat the eager peers) is unchoked at once.
func TestChokeKeepsTheFastest(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 2, mesh[0], mesh[1])
	if ours, _ := h.a.Choked(topicA); len(ours) != 0 {
		t.Fatalf("choked %v on 4 first deliveries, FirstFirsts 5", ours)
	}
	h.reset()
	firsts(h, 1, mesh[2])
	for _, p := range mesh[:2] {
		if c, u := h.chokeEntries(p); len(c)+len(u) != 0 {
			t.Fatalf("fastest peer %s sent choke %q unchoke %q", p, c, u)
		}
	}
	for _, p := range mesh[2:] {
		if c, _ := h.chokeEntries(p); !slices.Equal(c, []string{topicA}) {
			t.Fatalf("slow peer %s: choke entries %q, want [%s]", p, c, topicA)
		}
	}
	evs := FactPeerChoked.In(&h.out)
	if len(evs) != 4 {
		t.Fatalf("EvtPeerChoked %+v, want 4", evs)
	}
	for _, e := range evs {
		if !e.ByUs || !e.Choked || e.Topic != topicA || !slices.Contains(mesh[2:], e.Peer) {
			t.Fatalf("EvtPeerChoked %+v", e)
		}
	}
	ours, theirs := h.a.Choked(topicA)
	want := slices.Clone(mesh[2:])
	slices.Sort(want)
	if !slices.Equal(ours, want) || len(theirs) != 0 {
		t.Fatalf("Choked = %v, %v; want %v, none", ours, theirs, want)
	}
	// IDONTWANT (the message is over IDontWantThreshold) goes to the eager
	// peer only.
	_, id := h.receive(mesh[0], 2048)
	if got := idontwantsTo(&h.out, id); len(got) != 1 || got[mesh[1]] != 1 {
		t.Fatalf("IDONTWANT to %v, want only %s", got, mesh[1])
	}
	// Over MaxData a choked peer still sends the message: it gets
	// IDONTWANT.
	h.a.cfg.Choke.MaxData = 1024
	_, id = h.receive(mesh[0], 2048)
	if got := idontwantsTo(&h.out, id); len(got) != 5 || got[mesh[3]] != 1 {
		t.Fatalf("IDONTWANT over MaxData to %v, want every mesh peer but the source", got)
	}
	// A choked peer first (answering our IWANT): after the two eager firsts
	// above, its first and second wins are no majority; the third makes
	// choked peers the majority, and it is unchoked at once.
	for i := range 3 {
		h.lazyWin(mesh[4])
		_, u := h.chokeEntries(mesh[4])
		if want := i == 2; want != slices.Equal(u, []string{topicA}) {
			t.Fatalf("win %d: unchoke entries %q", i+1, u)
		}
	}
	if ours, _ := h.a.Choked(topicA); slices.Contains(ours, mesh[4]) || len(ours) != 3 {
		t.Fatalf("Choked after the unchoke = %v", ours)
	}
	// Its own messages do not count: an author is always first.
	h.reset()
	m, id := msg(mesh[5], topicA, 100)
	if o := h.a.HandleMessage(h.now, mesh[5], m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("HandleMessage = %v", o)
	}
	if c, u := h.chokeEntries(mesh[5]); len(c)+len(u) != 0 {
		t.Fatalf("author sent choke %q unchoke %q for its own message", c, u)
	}
}

// A single lazy win right after a decision is a majority of one delivery,
// and no evidence: it unchokes nobody; a second win while choked peers
// still bring most messages first does.
func TestChokeOneWinAfterADecision(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 5, mesh[0]) // the first decision (FirstFirsts 5), on the fifth: the counts start again
	if ours, _ := h.a.Choked(topicA); len(ours) != 4 || !slices.Contains(ours, mesh[4]) {
		t.Fatalf("choked %v, want 4 mesh peers, %s among them", ours, mesh[4])
	}
	h.lazyWin(mesh[4])
	if _, u := h.chokeEntries(mesh[4]); len(u) != 0 {
		t.Fatalf("one win, the first delivery since the decision: unchoke entries %q", u)
	}
	h.lazyWin(mesh[4])
	if _, u := h.chokeEntries(mesh[4]); !slices.Equal(u, []string{topicA}) {
		t.Fatalf("second win of two: unchoke entries %q, want [%s]", u, topicA)
	}
}

// A copy a choked peer pushed without our asking (sent before our choke
// reached it, or over MaxData) is a first delivery like any other, but no
// lazy win: right after a decision such copies are most of the handful of
// deliveries, and counting them unchoked the peers just choked. The same
// peer's copy of an id we asked it for is a win.
func TestChokePushedCopyIsNoLazyWin(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 5, mesh[0]) // the first decision (FirstFirsts 5): mesh[4] choked
	if ours, _ := h.a.Choked(topicA); !slices.Contains(ours, mesh[4]) {
		t.Fatalf("choked %v, want %s among them", ours, mesh[4])
	}
	firsts(h, 3, mesh[4]) // three of three since the decision, none asked for
	if _, u := h.chokeEntries(mesh[4]); len(u) != 0 {
		t.Fatalf("pushed copies: unchoke entries %q", u)
	}
	h.a.cfg.Choke.MaxData = 64
	firsts(h, 1, mesh[4]) // over MaxData: choked peers push it
	h.a.cfg.Choke.MaxData = DefaultChokeConfig().MaxData
	if ours, _ := h.a.Choked(topicA); !slices.Contains(ours, mesh[4]) {
		t.Fatalf("choked %v after pushed copies, want %s still among them", ours, mesh[4])
	}
	// Asked for (its IHAVE, our IWANT), its copies are wins; the pushed
	// ones still count as first deliveries: two wins of six are no
	// majority.
	h.lazyWin(mesh[4])
	h.lazyWin(mesh[4])
	if ours, _ := h.a.Choked(topicA); !slices.Contains(ours, mesh[4]) {
		t.Fatalf("choked %v after two wins of six, want %s still among them", ours, mesh[4])
	}
	// The decision at the heartbeat ranks every first delivery: mesh[4]
	// brought all six since the first decision.
	h.reset()
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); slices.Contains(ours, mesh[4]) {
		t.Fatalf("choked %v at the heartbeat, want %s eager", ours, mesh[4])
	}
}

// The first decision after we joined a topic needs FirstFirsts first
// deliveries, the later ones MinFirsts.
func TestChokeFirstDecisionNeedsFirstFirsts(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.FirstFirsts = 3 })
	firsts(h, 2, mesh[0])
	if ours, _ := h.a.Choked(topicA); len(ours) != 0 {
		t.Fatalf("choked %v on 2 first deliveries, FirstFirsts 3", ours)
	}
	firsts(h, 1, mesh[0])
	if ours, _ := h.a.Choked(topicA); len(ours) != 4 {
		t.Fatalf("choked %v on the third, want 4", ours)
	}
	// Later decisions wait for the heartbeat and MinFirsts (5): four of
	// mesh[2]'s are not enough to rank it eager, five are.
	firsts(h, 4, mesh[2])
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); !slices.Contains(ours, mesh[2]) {
		t.Fatalf("choked %v after 4 of MinFirsts 5, want %s still choked", ours, mesh[2])
	}
	firsts(h, 1, mesh[2])
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); slices.Contains(ours, mesh[2]) {
		t.Fatalf("choked %v after 5, want %s eager", ours, mesh[2])
	}
}

// A topic's first decision comes at its FirstFirsts-th first delivery, not
// at the heartbeat, and again after we left the topic and joined it anew.
func TestChokeFirstDecisionEarly(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	for round := range 2 {
		firsts(h, 4, mesh[0])
		if ours, _ := h.a.Choked(topicA); len(ours) != 0 {
			t.Fatalf("round %d: choked %v on 4 first deliveries, FirstFirsts 5", round, ours)
		}
		h.reset()
		firsts(h, 1, mesh[0])
		ours, _ := h.a.Choked(topicA)
		if len(ours) != 4 || slices.Contains(ours, mesh[0]) {
			t.Fatalf("round %d: choked %v at the fifth first delivery, want 4 peers but %s", round, ours, mesh[0])
		}
		for _, p := range ours {
			if c, _ := h.chokeEntries(p); !slices.Equal(c, []string{topicA}) {
				t.Fatalf("round %d: choke entries %q for %s", round, c, p)
			}
		}
		if o := h.a.Leave(h.now, topicA, &h.out); o != OutcomeLeft {
			t.Fatalf("Leave = %v", o)
		}
		h.advance(h.a.cfg.UnsubscribeBackoff + time.Second)
		h.join(topicA)
		if mesh = h.mesh(topicA); len(mesh) != 6 {
			t.Fatalf("mesh after rejoining = %d peers, want 6", len(mesh))
		}
	}
}

// A choked mesh peer's IHAVE of messages we have is reported for the
// scorer (EvtChokedPeerAnnounced); the ids we lack are asked for as from
// anyone; an eager peer's IHAVE reports nothing.
func TestChokedPeerAnnouncementsReported(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 3, mesh[0], mesh[1])
	h.heartbeat()
	_, have := h.receive(mesh[0], 100)
	h.reset()
	if o := h.a.HandleIHave(h.now, mesh[3], ihave(topicA, have, "missing"), &h.out); o != OutcomeIWantSent {
		t.Fatalf("HandleIHave = %v", o)
	}
	evs := FactChokedAnnounced.In(&h.out)
	if len(evs) != 1 || evs[0].From != mesh[3] || evs[0].Topic != topicA || !slices.Equal(evs[0].IDs, []string{have}) {
		t.Fatalf("facts %+v", evs)
	}
	h.reset()
	if o := h.a.HandleIHave(h.now, mesh[1], ihave(topicA, have), &h.out); o != OutcomeNothingWanted {
		t.Fatalf("eager peer's IHAVE = %v", o)
	}
	if evs := FactChokedAnnounced.In(&h.out); len(evs) != 0 {
		t.Fatalf("eager peer's IHAVE reported: %+v", evs)
	}
	// An id of another topic's message, announced in topic-a, is no
	// delivery the choked peer would have made there: no credit (the
	// scorer counts it in the IHAVE's topic).
	h.join(topicB)
	_, elsewhere := h.receiveFrom(mesh[0], pid(77), topicB, 100)
	h.reset()
	h.a.HandleIHave(h.now, mesh[3], ihave(topicA, elsewhere), &h.out)
	if evs := FactChokedAnnounced.In(&h.out); len(evs) != 0 {
		t.Fatalf("credit in topic-a for a topic-b message: %+v", evs)
	}
}

// At a decision the ranking covers choked peers too: one that brought
// more messages first than an eager one is unchoked, and the eager one
// choked.
func TestChokeDecisionSwaps(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 2, mesh[0], mesh[1])
	firsts(h, 1, mesh[0]) // the fifth: the first decision
	h.heartbeat()         // nothing new: no decision
	// mesh[0] 3 firsts, mesh[2] (choked) 2, mesh[1] 1: 6 >= MinFirsts.
	h.reset()
	firsts(h, 3, mesh[0])
	firsts(h, 1, mesh[1])
	for range 2 {
		m, id := msg(pid(99), topicA, 100)
		h.a.HandleMessage(h.now, mesh[2], m, id, true, &h.out)
	}
	// Decisions after the first wait for the heartbeat.
	if c, u := h.chokeEntries(mesh[2]); len(c)+len(u) != 0 {
		t.Fatalf("before the heartbeat: choke %q unchoke %q", c, u)
	}
	h.reset()
	h.heartbeat()
	if _, u := h.chokeEntries(mesh[2]); !slices.Equal(u, []string{topicA}) {
		t.Fatalf("faster choked peer: unchoke entries %q", u)
	}
	if c, _ := h.chokeEntries(mesh[1]); !slices.Equal(c, []string{topicA}) {
		t.Fatalf("slower eager peer: choke entries %q", c)
	}
	ours, _ := h.a.Choked(topicA)
	if slices.Contains(ours, mesh[0]) || slices.Contains(ours, mesh[2]) || !slices.Contains(ours, mesh[1]) || len(ours) != 4 {
		t.Fatalf("Choked = %v", ours)
	}
}

// No decision before MinFirsts first deliveries; peers without the
// extension are never choked and count among the eager ones.
func TestChokeNeedsEvidenceAndTheExtension(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 4, mesh[0])
	h.reset()
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); len(ours) != 0 {
		t.Fatalf("choked %v on 4 first deliveries, MinFirsts 5", ours)
	}
	// mesh[3] stops advertising it (a new stream): never choked.
	h.a.SetPeerChoke(mesh[3], false)
	firsts(h, 1, mesh[3])
	h.reset()
	h.heartbeat()
	ours, _ := h.a.Choked(topicA)
	if len(ours) != 4 || slices.Contains(ours, mesh[3]) || slices.Contains(ours, mesh[0]) {
		t.Fatalf("Choked = %v; want 4, neither %s nor %s", ours, mesh[0], mesh[3])
	}
}

// A peer that cannot be choked (here: without the extension) and brought
// nothing first takes no place among the Unchoked: with one peer bringing
// every message first, the best chokable peer after it stays eager too,
// rather than a silent peer that is eager anyway.
func TestChokeSilentUnchokableTakesNoSlot(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	h.a.SetPeerChoke(mesh[1], false)
	h.a.SetPeerChoke(mesh[2], false)
	firsts(h, 5, mesh[0])
	h.reset()
	h.heartbeat()
	ours, _ := h.a.Choked(topicA)
	want := []peer.ID{mesh[4], mesh[5]}
	slices.Sort(want)
	if !slices.Equal(ours, want) {
		t.Fatalf("Choked = %v, want %v (%s kept eager beside %s)", ours, want, mesh[3], mesh[0])
	}
}

// Only peers whose RTT is known and at most MaxRTT are choked: a peer
// with an unknown or larger RTT stays eager (it counts among the eager
// ones), and a choked peer whose RTT grows past MaxRTT is unchoked at the
// next heartbeat, with or without a decision. MaxRTT 0 chokes any peer.
func TestChokeMaxRTT(t *testing.T) {
	h, mesh := chokeHarnessRTT(t, nil, 3)
	far, unknown := mesh[2], mesh[3]
	h.rtt(far, 19*time.Millisecond+2) // smoothed: (1 + 19) / 2 ms, just over
	firsts(h, 3, mesh[0], mesh[1])
	h.reset()
	h.heartbeat()
	ours, _ := h.a.Choked(topicA)
	if slices.Contains(ours, far) || slices.Contains(ours, unknown) || len(ours) != 2 {
		t.Fatalf("Choked = %v; want 2, neither the far %s nor the unknown %s", ours, far, unknown)
	}
	// A choked peer's RTT grows past MaxRTT: unchoked at the next
	// heartbeat, though no decision is due (no first deliveries).
	slow := ours[0]
	h.rtt(slow, 50*time.Millisecond) // smoothed: (1 + 50) / 2 ms
	h.reset()
	h.heartbeat()
	if _, u := h.chokeEntries(slow); !slices.Equal(u, []string{topicA}) {
		t.Fatalf("slowed peer: unchoke entries %q", u)
	}
	if ours, _ := h.a.Choked(topicA); slices.Contains(ours, slow) || len(ours) != 1 {
		t.Fatalf("Choked = %v after %s slowed", ours, slow)
	}
	evs := FactPeerChoked.In(&h.out)
	if len(evs) != 1 || !evs[0].ByUs || evs[0].Choked || evs[0].Peer != slow {
		t.Fatalf("EvtPeerChoked %+v", evs)
	}

	// MaxRTT 0: the far and the unknown peers are choked too.
	h, mesh = chokeHarness(t, func(c *Config) { c.Choke.MaxRTT = 0 })
	h.rtt(mesh[2], time.Second)
	firsts(h, 3, mesh[0], mesh[1])
	h.reset()
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); len(ours) != 4 || !slices.Contains(ours, mesh[2]) {
		t.Fatalf("MaxRTT 0: Choked = %v; want 4 with %s", ours, mesh[2])
	}
}

// topicB is the second topic of twoTopicHarness.
const topicB = "topic-b"

// twoTopicHarness: the choke extension on (Unchoked 2, MinFirsts 5, no
// exploring), learned IDONTWANT off, 6 /meshsub/1.3.0 peers 1 ms away
// that advertised the extension, subscribed to topicA and topicB, both
// joined (6 is D: every peer is in both meshes), and one heartbeat done,
// from which the pooled counts start.
func twoTopicHarness(t *testing.T) (*harness, []peer.ID) {
	t.Helper()
	return twoTopicHarnessWith(t, nil)
}

// twoTopicHarnessWith is twoTopicHarness with mut applied to the config
// after chokeTestConfig.
func twoTopicHarnessWith(t *testing.T, mut func(*Config)) (*harness, []peer.ID) {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		chokeTestConfig(c)
		if mut != nil {
			mut(c)
		}
	})
	var peers []peer.ID
	for i := 1; i <= 6; i++ {
		p := h.add(i, wire.ProtocolMeshsub13, false, topicA, topicB)
		h.a.SetPeerChoke(p, true)
		peers = append(peers, p)
	}
	h.join(topicA)
	h.join(topicB)
	for _, p := range peers {
		h.rtt(p, time.Millisecond)
	}
	h.heartbeat()
	return h, peers
}

// A topic with too few first deliveries of its own decides on its mesh
// peers' first deliveries in every topic, once it has seen a message
// since its last decision: topicB's one message would have waited for
// MinFirsts (5), its copies going eagerly to every mesh peer meanwhile.
// A topic that saw nothing since does not decide.
func TestChokePooledEvidence(t *testing.T) {
	h, peers := twoTopicHarness(t)
	for range 3 {
		h.receiveIn(peers[0], topicA, 100)
		h.receiveIn(peers[1], topicA, 100)
	}
	h.receiveIn(peers[2], topicB, 100)
	h.reset()
	h.heartbeat()
	want := slices.Clone(peers[2:])
	slices.Sort(want)
	for _, tp := range []string{topicA, topicB} {
		if ours, _ := h.a.Choked(tp); !slices.Equal(ours, want) {
			t.Fatalf("%s: Choked = %v; want %v (the first two brought the most first in both topics)", tp, ours, want)
		}
	}

	// Only topicA sees messages now, brought first by two peers choked
	// there; topicB saw none and does not decide (were it to, the pooled
	// counts would unchoke those two there too).
	for range 3 {
		h.receiveIn(peers[2], topicA, 100)
		h.receiveIn(peers[3], topicA, 100)
	}
	h.reset()
	h.heartbeat()
	if ours, _ := h.a.Choked(topicB); !slices.Equal(ours, want) {
		t.Fatalf("topicB decided without a message since its last decision: Choked = %v, was %v", ours, want)
	}
	if ours, _ := h.a.Choked(topicA); slices.Contains(ours, peers[2]) || slices.Contains(ours, peers[3]) {
		t.Fatalf("topicA: Choked = %v; %s and %s brought its messages first", ours, peers[2], peers[3])
	}
}

// A topic's first decision may rest on pooled evidence too: topicB,
// without a message yet, does not decide on topicA's first deliveries;
// at its first message it decides at once, without the heartbeat.
func TestChokeFirstDecisionPooled(t *testing.T) {
	h, peers := twoTopicHarness(t)
	for range 3 {
		h.receiveIn(peers[0], topicA, 100)
		h.receiveIn(peers[1], topicA, 100)
	}
	if ours, _ := h.a.Choked(topicB); len(ours) != 0 {
		t.Fatalf("topicB decided without a message of its own: Choked = %v", ours)
	}
	h.receiveIn(peers[2], topicB, 100)
	want := slices.Clone(peers[2:])
	slices.Sort(want)
	if ours, _ := h.a.Choked(topicB); !slices.Equal(ours, want) {
		t.Fatalf("topicB after its first message: Choked = %v; want %v", ours, want)
	}
}

// A topic with MinFirsts of its own ranks on them alone: two peers that
// bring most messages first in another topic, and none in this one, do
// not keep their place here on the other topic's evidence.
func TestChokeBusyTopicRanksOnItsOwn(t *testing.T) {
	h, peers := twoTopicHarness(t)
	for range 10 {
		h.receiveIn(peers[0], topicA, 100)
		h.receiveIn(peers[1], topicA, 100)
	}
	for range 3 {
		h.receiveIn(peers[2], topicB, 100)
		h.receiveIn(peers[3], topicB, 100)
	}
	h.reset()
	h.heartbeat()
	ours, _ := h.a.Choked(topicB)
	if slices.Contains(ours, peers[2]) || slices.Contains(ours, peers[3]) || len(ours) != 4 {
		t.Fatalf("%s: Choked = %v; want 4, not %s and %s (they brought its messages first)", topicB, ours, peers[2], peers[3])
	}
}

// MaxRTT has a band: a choked peer stays choked while its RTT is within a
// quarter over MaxRTT, and only past it is unchoked; a peer is choked only
// within MaxRTT itself. An RTT hovering at MaxRTT does not flap.
func TestChokeMaxRTTBand(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	firsts(h, 3, mesh[0], mesh[1])
	h.reset()
	h.heartbeat()
	ours, _ := h.a.Choked(topicA)
	if len(ours) != 4 {
		t.Fatalf("Choked = %v; want 4", ours)
	}
	hover, fresh := ours[0], ours[1]
	h.rtt(hover, 21*time.Millisecond) // smoothed: (1 + 21) / 2 = 11 ms, in the band
	h.reset()
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); !slices.Contains(ours, hover) || len(ours) != 4 {
		t.Fatalf("Choked = %v; %s at 11 ms (MaxRTT 10 ms) should stay choked", ours, hover)
	}
	if c, u := h.chokeEntries(hover); c != nil || u != nil {
		t.Fatalf("peer in the band was sent choke %q unchoke %q", c, u)
	}

	// Past the band (smoothed (11 + 15) / 2 = 13 ms > 12.5 ms): unchoked.
	h.rtt(hover, 15*time.Millisecond)
	h.reset()
	h.heartbeat()
	if _, u := h.chokeEntries(hover); !slices.Equal(u, []string{topicA}) {
		t.Fatalf("peer past the band: unchoke entries %q", u)
	}

	// In the band but not choked: a decision does not choke it. Another
	// choked peer is unchoked for its first deliveries so that the
	// decision has a choked slot to fill.
	h.rtt(hover, 9*time.Millisecond) // smoothed: (13 + 9) / 2 = 11 ms
	firsts(h, 3, mesh[0], fresh)
	h.reset()
	h.heartbeat()
	ours, _ = h.a.Choked(topicA)
	if slices.Contains(ours, hover) {
		t.Fatalf("Choked = %v; %s at 11 ms was choked again (MaxRTT 10 ms)", ours, hover)
	}
	if slices.Contains(ours, fresh) || len(ours) != 3 {
		t.Fatalf("Choked = %v; want 3, not %s (it brought messages first) nor %s", ours, fresh, hover)
	}
}

// Choked IHAVEs have a budget per topic, not the peer-wide one: a peer we
// choked in three topics may send MaxIHaveMessages entries in each per
// heartbeat interval (30 here, against 10 for the peer), and a peer that
// choked us in three topics gets half that in each (15 batched IHAVEs,
// where the peer-wide lazy budget allows 5) before messages go eagerly.
func TestChokeIHaveBudgetPerTopic(t *testing.T) {
	topics := []string{topicA, "topic-b", "topic-c"}
	h := newHarness(t, func(c *Config) {
		c.Choke = DefaultChokeConfig()
		c.Choke.MinFirsts, c.Choke.FirstFirsts, c.Choke.ExploreEvery, c.Choke.MaxRTT = 5, 5, 0, 0
		c.IDontWantLearn.Below = 0
	})
	var peers []peer.ID
	for i := 1; i <= 8; i++ {
		p := h.add(i, wire.ProtocolMeshsub13, i%2 == 0, topics...)
		h.a.SetPeerChoke(p, true)
		peers = append(peers, p)
	}
	for _, tp := range topics {
		h.join(tp)
	}
	// q: a peer in every topic's mesh; fast: two others in each.
	var q peer.ID
	for _, p := range peers {
		in := 0
		for _, tp := range topics {
			if slices.Contains(h.mesh(tp), p) {
				in++
			}
		}
		if in == len(topics) {
			q = p
			break
		}
	}
	if q == "" {
		t.Fatal("no peer in every mesh")
	}
	for _, tp := range topics {
		var fast []peer.ID
		for _, p := range h.mesh(tp) {
			if p != q && len(fast) < 2 {
				fast = append(fast, p)
			}
		}
		for range 3 {
			for _, p := range fast {
				h.receiveIn(p, tp, 100)
			}
		}
	}
	h.reset()
	h.heartbeat()
	for _, tp := range topics {
		if ours, _ := h.a.Choked(tp); !slices.Contains(ours, q) {
			t.Fatalf("%s: q not choked (%v)", tp, ours)
		}
	}

	// In: 10 entries per topic from q, 30 in all, each answered.
	ihave := func(from peer.ID, tp string, n int) Outcome {
		return h.a.HandleIHave(h.now, from, &pb.ControlIHave{TopicID: &tp, MessageIDs: [][]byte{fmt.Appendf(nil, "ih-%s-%d", tp, n)}}, &h.out)
	}
	for n := range 10 {
		for _, tp := range topics {
			if o := ihave(q, tp, n); o != OutcomeIWantSent {
				t.Fatalf("choked peer's IHAVE %d in %s: %v", n, tp, o)
			}
		}
	}
	if o := ihave(q, topicA, 10); o != OutcomeIHaveBudgetExceeded {
		t.Fatalf("11th entry in one topic: %v", o)
	}
	// A peer we did not choke has the peer-wide budget.
	var r peer.ID
	for _, p := range h.mesh(topicA) {
		if ours, _ := h.a.Choked(topicA); !slices.Contains(ours, p) {
			r = p
		}
	}
	for n := range 10 {
		if o := ihave(r, topicA, 100+n); o != OutcomeIWantSent {
			t.Fatalf("unchoked peer's IHAVE %d: %v", n, o)
		}
	}
	if o := ihave(r, topicA, 110); o != OutcomeIHaveBudgetExceeded {
		t.Fatalf("unchoked peer's 11th IHAVE: %v", o)
	}

	// Out: q chokes us in every topic; each round forwards one message
	// per topic and flushes. Five rounds go as IHAVEs, the sixth eagerly.
	h.heartbeat() // new budgets
	if o := h.a.HandleChoke(h.now, q, topics, nil, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("HandleChoke = %v", o)
	}
	src := r
	for round := 1; round <= 6; round++ {
		var ids []string
		for _, tp := range topics {
			from := src
			if !slices.Contains(h.mesh(tp), from) {
				for _, p := range h.mesh(tp) {
					if p != q {
						from = p
					}
				}
			}
			_, id := h.receiveIn(from, tp, 100)
			if got := h.gotMessage(q, id); got != (round == 6) {
				t.Fatalf("round %d, %s: message to q %v", round, tp, got)
			}
			ids = append(ids, id)
		}
		h.reset()
		h.a.FlushLazy(h.now, &h.out)
		if round < 6 {
			for i, tp := range topics {
				if !h.gotIHaveIn(q, tp, ids[i]) {
					t.Fatalf("round %d, %s: no IHAVE to q", round, tp)
				}
			}
		}
	}
}

// A peer that choked us gets forwarded messages as ids in a batched IHAVE
// (served on IWANT), except messages over MaxData and our own; unchoked,
// it gets them again.
func TestChokeObeyed(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.MaxData = 1000 })
	p := mesh[2]
	h.reset()
	if o := h.a.HandleChoke(h.now, p, []string{topicA}, nil, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("HandleChoke = %v", o)
	}
	if _, theirs := h.a.Choked(topicA); !slices.Equal(theirs, []peer.ID{p}) {
		t.Fatalf("choked us: %v", theirs)
	}
	if evs := FactPeerChoked.In(&h.out); len(evs) != 1 || evs[0].ByUs || !evs[0].Choked || evs[0].Peer != p {
		t.Fatalf("EvtPeerChoked %+v", evs)
	}
	h.reset()
	if o := h.a.HandleChoke(h.now, p, []string{topicA}, nil, &h.out); o != OutcomeChokeRecorded || len(FactPeerChoked.In(&h.out)) != 0 {
		t.Fatalf("repeated choke: %v, events %+v", o, FactPeerChoked.In(&h.out))
	}
	_, id := h.receive(mesh[0], 100)
	if h.gotMessage(p, id) || h.a.LazyQueued(p) != 1 {
		t.Fatalf("choking peer: sent the message %v, %d queued", h.gotMessage(p, id), h.a.LazyQueued(p))
	}
	if !h.gotMessage(mesh[1], id) {
		t.Fatal("other mesh peer not sent the message")
	}
	_, big := h.receive(mesh[0], 1001)
	if !h.gotMessage(p, big) {
		t.Fatal("message over MaxData not sent eagerly")
	}
	h.reset()
	own, ownID := msg(pid(0), topicA, 100)
	if o := h.a.Publish(h.now, own, ownID, &h.out); o != OutcomePublished {
		t.Fatalf("Publish = %v", o)
	}
	if !h.gotMessage(p, ownID) {
		t.Fatal("own message not sent eagerly to the choking peer")
	}
	h.reset()
	if o := h.a.FlushLazy(h.now, &h.out); o != OutcomeLazyFlushed {
		t.Fatalf("FlushLazy = %v", o)
	}
	if e := h.ihaveIDs(p); len(e) != 1 || !slices.Equal(e[0], []string{id}) {
		t.Fatalf("IHAVE entries %q, want [[%s]]", e, id)
	}
	h.reset()
	if o := h.a.HandleIWant(h.now, p, iwant(id), &h.out); o != OutcomeIWantServed || !h.gotMessage(p, id) {
		t.Fatalf("IWANT after the IHAVE = %v, answered %v", o, h.gotMessage(p, id))
	}
	if o := h.a.HandleChoke(h.now, p, nil, []string{topicA}, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("unchoke = %v", o)
	}
	if _, id := h.receive(mesh[0], 100); !h.gotMessage(p, id) {
		t.Fatal("unchoked peer not sent the message")
	}
}

// Choke entries are ignored from a peer without the extension, for a
// topic we have not joined or where the sender is not in our mesh; past
// MaxPerHeartbeat entries they cost PenaltyChokeFlood, and the budget is
// renewed at the heartbeat.
func TestChokeInputChecks(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.MaxPerHeartbeat = 3 })
	if o := h.a.HandleChoke(h.now, pid(50), []string{topicA}, nil, &h.out); o != OutcomeUnknownPeer {
		t.Fatalf("unknown peer: %v", o)
	}
	plain := h.add(20, wire.ProtocolMeshsub12, false, topicA)
	if o := h.a.SetPeerChoke(plain, true); o != OutcomePeerFeaturesSet {
		t.Fatalf("SetPeerChoke = %v", o)
	}
	if o := h.a.HandleChoke(h.now, plain, []string{topicA}, nil, &h.out); o != OutcomeChokeNotNegotiated {
		t.Fatalf("v1.2 peer (no Extensions): %v", o)
	}
	var outside peer.ID
	for i := 1; i <= 8; i++ {
		if !slices.Contains(mesh, pid(i)) {
			outside = pid(i)
		}
	}
	if o := h.a.HandleChoke(h.now, outside, []string{topicA, "other"}, nil, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("non-mesh peer: %v", o)
	}
	if _, theirs := h.a.Choked(topicA); len(theirs) != 0 {
		t.Fatalf("non-mesh peer's choke applied: %v", theirs)
	}
	h.reset()
	p := mesh[0]
	if o := h.a.HandleChoke(h.now, p, []string{topicA, topicA, topicA, topicA}, nil, &h.out); o != OutcomeChokeFlood {
		t.Fatalf("4 entries with MaxPerHeartbeat 3: %v", o)
	}
	if n := penalties(&h.out, events.PenaltyChokeFlood)[p]; n != 1 {
		t.Fatalf("PenaltyChokeFlood = %d, want 1", n)
	}
	h.heartbeat()
	if o := h.a.HandleChoke(h.now, p, nil, []string{topicA}, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("after the heartbeat: %v", o)
	}
	// Reopening its stream without the extension and again with it does
	// not renew the budget before the heartbeat does.
	if o := h.a.HandleChoke(h.now, p, []string{topicA}, []string{topicA}, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("3 entries: %v", o)
	}
	h.a.SetPeerChoke(p, false)
	h.a.SetPeerChoke(p, true)
	h.reset()
	if o := h.a.HandleChoke(h.now, p, []string{topicA}, nil, &h.out); o != OutcomeChokeFlood {
		t.Fatalf("a 4th entry after the stream reopened: %v", o)
	}
	// Entries that apply to no mesh of ours share one budget: the fourth
	// is a flood.
	h.reset()
	if o := h.a.HandleChoke(h.now, outside, []string{"x", "y", topicA}, nil, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("3 entries outside our meshes: %v", o)
	}
	if o := h.a.HandleChoke(h.now, outside, nil, []string{"z"}, &h.out); o != OutcomeChokeFlood {
		t.Fatalf("a 4th entry outside our meshes: %v", o)
	}
	// With the extension off nothing is negotiated.
	off := newHarness(t, func(c *Config) { c.Choke = ChokeConfig{} })
	q := off.add(1, wire.ProtocolMeshsub13, false, topicA)
	off.a.SetPeerChoke(q, true)
	if o := off.a.HandleChoke(off.now, q, []string{topicA}, nil, &off.out); o != OutcomeChokeNotNegotiated {
		t.Fatalf("extension off: %v", o)
	}
}

// The entry budget is per topic: a peer that chokes us in 40 topics in one
// heartbeat (its decisions fell together) is obeyed in each and not taken
// for a flood; a peer-wide budget of 32 penalised it and ignored the rest,
// and the two sides' states parted.
func TestChokeEntriesPerTopic(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Choke = DefaultChokeConfig() })
	var topics []string
	for i := range 40 {
		topics = append(topics, fmt.Sprintf("topic-%02d", i))
	}
	var peers []peer.ID
	for i := 1; i <= 4; i++ { // fewer than D: every peer is in every mesh
		p := h.add(i, wire.ProtocolMeshsub13, false, topics...)
		h.a.SetPeerChoke(p, true)
		peers = append(peers, p)
	}
	for _, tp := range topics {
		h.join(tp)
	}
	h.reset()
	p := peers[0]
	if o := h.a.HandleChoke(h.now, p, topics, nil, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("one entry in each of 40 topics: %v", o)
	}
	if n := len(penalties(&h.out, events.PenaltyChokeFlood)); n != 0 {
		t.Fatalf("%d PenaltyChokeFlood", n)
	}
	for _, tp := range topics {
		if _, theirs := h.a.Choked(tp); !slices.Equal(theirs, []peer.ID{p}) {
			t.Fatalf("%s: choked by %v, want %s", tp, theirs, p)
		}
	}
	// Within one topic the budget holds: MaxPerHeartbeat (8) entries, then
	// a flood.
	h.reset()
	var again []string
	for range h.a.cfg.Choke.MaxPerHeartbeat - 1 { // one spent above
		again = append(again, topics[0])
	}
	if o := h.a.HandleChoke(h.now, p, nil, again, &h.out); o != OutcomeChokeRecorded {
		t.Fatalf("%d more entries in %s: %v", len(again), topics[0], o)
	}
	if o := h.a.HandleChoke(h.now, p, []string{topics[0]}, nil, &h.out); o != OutcomeChokeFlood {
		t.Fatalf("entry %d in %s: %v", h.a.cfg.Choke.MaxPerHeartbeat+1, topics[0], o)
	}
}

// Leaving the mesh unchokes both ways; when choked peers leave eager ones
// short of Unchoked, the heartbeat unchokes the one choked longest; with
// ExploreEvery it unchokes one in turn.
func TestChokeMeshChanges(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.ExploreEvery = 2 })
	p := mesh[2]
	h.a.HandleChoke(h.now, p, []string{topicA}, nil, &h.out)
	if o := h.a.HandlePrune(h.now, p, prune(topicA, 0), &h.out); o != OutcomePruned {
		t.Fatalf("HandlePrune = %v", o)
	}
	if _, theirs := h.a.Choked(topicA); len(theirs) != 0 {
		t.Fatalf("pruned peer still choking us: %v", theirs)
	}
	h, mesh = chokeHarness(t, func(c *Config) { c.Choke.ExploreEvery = 2 })
	firsts(h, 3, mesh[0], mesh[1])
	h.reset()
	h.heartbeat()
	if ours, _ := h.a.Choked(topicA); len(ours) != 4 {
		t.Fatalf("choked %v, want 4", ours)
	}
	// Exploring: the next heartbeat (2 since the last) unchokes one.
	h.reset()
	h.heartbeat()
	var unchoked []peer.ID
	for _, q := range mesh {
		if _, u := h.chokeEntries(q); len(u) > 0 {
			unchoked = append(unchoked, q)
		}
	}
	if ours, _ := h.a.Choked(topicA); len(unchoked) != 1 || len(ours) != 3 || slices.Contains(ours, unchoked[0]) {
		t.Fatalf("exploring unchoked %v, choked %v", unchoked, ours)
	}
	// The eager peers leave: choked ones are unchoked to keep 2 eager.
	for _, q := range mesh[:2] {
		h.a.RemovePeer(h.now, q, &h.out)
	}
	h.reset()
	h.heartbeat()
	eager := 0
	ours, _ := h.a.Choked(topicA)
	for _, q := range h.mesh(topicA) {
		if !slices.Contains(ours, q) {
			eager++
		}
	}
	if eager < 2 {
		t.Fatalf("%d eager mesh peers after the fastest left, want >= 2 (choked %v)", eager, ours)
	}
	// Leaving the topic clears everything.
	h.a.Leave(h.now, topicA, &h.out)
	if ours, theirs := h.a.Choked(topicA); ours != nil || theirs != nil {
		t.Fatalf("after Leave: %v, %v", ours, theirs)
	}
}

// An RPC applies chokes before unchokes, so a later entry for a topic
// replaces an earlier one of the other kind in the same output.
func TestSendChokeLastWins(t *testing.T) {
	var out Output
	p := pid(1)
	out.sendChoke(p, "a", false)
	out.sendChoke(p, "b", true)
	out.sendChoke(p, "a", true)
	out.sendChoke(p, "b", false)
	c := out.SendTo(p).RPC.GetChoke()
	if !slices.Equal(c.GetChokeTopics(), []string{"a"}) || !slices.Equal(c.GetUnchokeTopics(), []string{"b"}) {
		t.Fatalf("choke %q unchoke %q", c.GetChokeTopics(), c.GetUnchokeTopics())
	}
}

func TestChokeConfigValidate(t *testing.T) {
	if err := (ChokeConfig{}).validate(); err != nil {
		t.Fatalf("off: %v", err)
	}
	if err := DefaultChokeConfig().validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	// Without narrow topics WidenAt and WidenHold are not used.
	c := DefaultChokeConfig()
	c.MinUnchoked, c.WidenAt, c.WidenHold, c.NarrowFirsts = 0, 0, 0, 0
	if err := c.validate(); err != nil {
		t.Fatalf("no narrow topics: %v", err)
	}
	for name, mut := range map[string]func(*ChokeConfig){
		"Unchoked":        func(c *ChokeConfig) { c.Unchoked = 0 },
		"MinUnchoked<0":   func(c *ChokeConfig) { c.MinUnchoked = -1 },
		"MinUnchoked>":    func(c *ChokeConfig) { c.MinUnchoked = c.Unchoked + 1 },
		"WidenAt=0":       func(c *ChokeConfig) { c.WidenAt = 0 },
		"WidenAt>1":       func(c *ChokeConfig) { c.WidenAt = 1.5 },
		"WidenHold":       func(c *ChokeConfig) { c.WidenHold = 0 },
		"NarrowFirsts":    func(c *ChokeConfig) { c.NarrowFirsts = 0 },
		"MinFirsts":       func(c *ChokeConfig) { c.MinFirsts = 0 },
		"FirstFirsts":     func(c *ChokeConfig) { c.FirstFirsts = -1 },
		"ExploreEvery":    func(c *ChokeConfig) { c.ExploreEvery = -1 },
		"MaxData":         func(c *ChokeConfig) { c.MaxData = -1 },
		"FlushInterval":   func(c *ChokeConfig) { c.FlushInterval = 0 },
		"MaxPerHeartbeat": func(c *ChokeConfig) { c.MaxPerHeartbeat = 0 },
		"MaxRTT":          func(c *ChokeConfig) { c.MaxRTT = -1 },
	} {
		c := DefaultChokeConfig()
		mut(&c)
		if err := c.validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The driver's flush interval is the shorter of the batching intervals
// that are on.
func TestConfigFlushInterval(t *testing.T) {
	c := DefaultConfig()
	if d := c.FlushInterval(); d != c.Choke.FlushInterval {
		t.Fatalf("defaults (choking on): %v", d)
	}
	c.Choke.Enabled = false
	if d := c.FlushInterval(); d != 0 {
		t.Fatalf("nothing batches: %v", d)
	}
	c.Choke = DefaultChokeConfig()
	c.Lazy = DefaultLazyConfig()
	c.Lazy.FlushInterval = c.Choke.FlushInterval / 2
	if d := c.FlushInterval(); d != c.Lazy.FlushInterval {
		t.Fatalf("both, lazy shorter: %v", d)
	}
	c.Choke.Enabled = false
	c.Lazy.FlushInterval = 0 // immediate IHAVEs: nothing to flush
	if d := c.FlushInterval(); d != 0 {
		t.Fatalf("lazy without batching: %v", d)
	}
}

// A choke extension RPC is applied part by part, chokes then author
// skips, each only when it has entries: one outcome per part.
func TestHandleChokeExtension(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	p := mesh[1]
	both := &pb.ChokeExtension{ChokeTopics: []string{topicA}, SkipAuthors: [][]byte{[]byte(pid(90))}}
	got := h.a.HandleChokeExtension(h.now, p, both, &h.out, nil)
	if !slices.Equal(got, []Outcome{OutcomeChokeRecorded, OutcomeAuthorSkipRecorded}) {
		t.Fatalf("both parts: %v", got)
	}
	if _, theirs := h.a.Choked(topicA); !slices.Contains(theirs, p) || !h.a.peers[p].skips(pid(90)) {
		t.Fatalf("choked by %v, skips %v", theirs, h.a.peers[p].skipAuthors)
	}
	got = h.a.HandleChokeExtension(h.now, p, &pb.ChokeExtension{UnskipAuthors: [][]byte{[]byte(pid(90))}}, &h.out, got[:0])
	if !slices.Equal(got, []Outcome{OutcomeAuthorSkipRecorded}) || h.a.peers[p].skips(pid(90)) {
		t.Fatalf("skips only: %v", got)
	}
	for _, c := range []*pb.ChokeExtension{nil, {}} {
		if got := h.a.HandleChokeExtension(h.now, p, c, &h.out, nil); len(got) != 0 {
			t.Fatalf("%v: outcomes %v", c, got)
		}
	}
}

// A choke flood ends the processing of the RPC's extension: its author
// skips are not applied, and the RPC costs one penalty.
func TestChokeFloodEndsTheExtension(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.MaxPerHeartbeat = 3 })
	p := mesh[0]
	h.reset()
	c := &pb.ChokeExtension{
		ChokeTopics: []string{topicA, topicA, topicA, topicA},
		SkipAuthors: [][]byte{[]byte(pid(90))},
	}
	outcomes := h.a.HandleChokeExtension(h.now, p, c, &h.out, nil)
	if !slices.Equal(outcomes, []Outcome{OutcomeChokeFlood}) {
		t.Fatalf("outcomes %v, want the flood alone", outcomes)
	}
	if h.a.peers[p].skips(pid(90)) {
		t.Fatal("a skip in the flooding RPC was applied")
	}
	if n := penalties(&h.out, events.PenaltyChokeFlood)[p]; n != 1 {
		t.Fatalf("PenaltyChokeFlood = %d, want 1", n)
	}
}

// Between decisions, a heartbeat unchokes when fewer than Unchoked eager
// paths are left. A mesh peer without the extension that brought nothing
// first is no eager path there, as it takes no slot at a decision: two
// such peers (sybils that forward nothing) must not hide that only one
// real eager path is left.
func TestChokeRefillIgnoresSilentPeers(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	for _, p := range mesh[4:] {
		h.a.SetPeerChoke(p, false)
	}
	firsts(h, 2, mesh[0], mesh[1])
	firsts(h, 1, mesh[0]) // the FirstFirsts-th first delivery: the first decision
	ours, _ := h.a.Choked(topicA)
	want := []peer.ID{mesh[2], mesh[3]}
	slices.Sort(want)
	if !slices.Equal(ours, want) {
		t.Fatalf("choked %v, want %v", ours, want)
	}
	h.a.HandlePrune(h.now, mesh[1], prune(topicA, 60), &h.out)
	h.reset()
	h.heartbeat()
	if m := h.mesh(topicA); len(m) != 5 {
		t.Fatalf("mesh %v after the prune, want the 5 left", m)
	}
	if ours, _ := h.a.Choked(topicA); len(ours) != 1 {
		t.Fatalf("choked %v after the refill, want one of %v unchoked", ours, want)
	}
}
