package automaton

import (
	"errors"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// receiveBy makes src deliver a new message of author in topic-a, of
// size bytes, and returns its id; h.out holds what followed.
func (h *harness) receiveBy(src, author peer.ID, size int) string {
	h.t.Helper()
	_, id := h.receiveFrom(src, author, topicA, size)
	return id
}

// joinWithAuthorOutsideMesh joins topic-b, which author subscribes to
// after the join, so that it is not in our mesh there.
func (h *harness) joinWithAuthorOutsideMesh(author peer.ID) {
	h.t.Helper()
	h.join(topicB)
	if o := h.a.HandleSubscription(h.now, author, topicB, true, &h.out); o != OutcomeSubscribed {
		h.t.Fatalf("subscribe = %v", o)
	}
	if slices.Contains(h.mesh(topicB), author) {
		h.t.Fatalf("the author is in topic-b's mesh: %v", h.mesh(topicB))
	}
}

// skipEntries returns the authors p was asked to skip and unskip in h.out.
func (h *harness) skipEntries(p peer.ID) (skip, unskip []peer.ID) {
	c := h.rpc(p).GetChoke()
	for _, raw := range c.GetSkipAuthors() {
		skip = append(skip, peer.ID(raw))
	}
	for _, raw := range c.GetUnskipAuthors() {
		unskip = append(unskip, peer.ID(raw))
	}
	return skip, unskip
}

// allPeers is every peer of h's automaton but except.
func (h *harness) allPeers(except peer.ID) []peer.ID {
	var ps []peer.ID
	for _, p := range h.a.peerOrder.items {
		if p != except {
			ps = append(ps, p)
		}
	}
	return ps
}

// An author whose SkipAuthorsAfter-th message in a row came first
// straight from it is skipped: every other peer with the extension is
// asked, once. The first of its messages to come first from another peer
// releases it (every peer told), and the count starts again; it is not
// asked again before the next heartbeat.
func TestAuthorSkipAskedAndReleased(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	author, other := mesh[0], mesh[1]
	after := h.a.cfg.Choke.SkipAuthorsAfter
	for i := range after - 1 {
		h.receiveBy(author, author, 100)
		for _, p := range h.allPeers("") {
			if s, u := h.skipEntries(p); len(s)+len(u) != 0 {
				t.Fatalf("message %d: %s sent skip %v unskip %v before %d in a row", i+1, p, s, u, after)
			}
		}
	}
	h.receiveBy(author, author, 100)
	for _, p := range h.allPeers(author) {
		if s, u := h.skipEntries(p); !slices.Equal(s, []peer.ID{author}) || len(u) != 0 {
			t.Fatalf("%s: skip %v unskip %v, want skip [author]", p, s, u)
		}
	}
	if s, _ := h.skipEntries(author); len(s) != 0 {
		t.Fatalf("the author itself was asked to skip %v", s)
	}
	if got := h.a.AuthorSkips(); !slices.Equal(got, []peer.ID{author}) {
		t.Fatalf("AuthorSkips = %v", got)
	}
	h.receiveBy(author, author, 100)
	if s, _ := h.skipEntries(other); len(s) != 0 {
		t.Fatalf("asked again: %v", s)
	}

	// A copy of its message that came first from someone else.
	h.receiveBy(other, author, 100)
	for _, p := range h.allPeers(author) {
		if s, u := h.skipEntries(p); len(s) != 0 || !slices.Equal(u, []peer.ID{author}) {
			t.Fatalf("%s: skip %v unskip %v, want unskip [author]", p, s, u)
		}
	}
	if got := h.a.AuthorSkips(); len(got) != 0 {
		t.Fatalf("AuthorSkips = %v after the release", got)
	}
	for range after - 1 {
		h.receiveBy(author, author, 100)
	}
	if got := h.a.AuthorSkips(); len(got) != 0 {
		t.Fatalf("asked again after %d in a row: the count did not restart", after-1)
	}
	// A released author is not asked again before the next heartbeat.
	h.receiveBy(author, author, 100)
	if got := h.a.AuthorSkips(); len(got) != 0 {
		t.Fatalf("asked again within the heartbeat interval of its release: %v", got)
	}
	h.heartbeat()
	h.receiveBy(author, author, 100)
	if got := h.a.AuthorSkips(); !slices.Equal(got, []peer.ID{author}) {
		t.Fatalf("AuthorSkips = %v after the heartbeat, want the author again", got)
	}
}

// An author's disconnection releases its skip; a peer that negotiates the
// extension later is told the skips at the next heartbeat.
func TestAuthorSkipLifecycle(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	author := mesh[0]
	for range h.a.cfg.Choke.SkipAuthorsAfter {
		h.receiveBy(author, author, 100)
	}
	late := h.add(20, wire.ProtocolMeshsub13, true, topicA)
	h.reset()
	h.a.SetPeerChoke(late, true)
	h.heartbeat()
	if s, _ := h.skipEntries(late); !slices.Equal(s, []peer.ID{author}) {
		t.Fatalf("late peer told %v at the heartbeat, want [author]", s)
	}
	h.reset()
	h.heartbeat()
	if s, _ := h.skipEntries(late); len(s) != 0 {
		t.Fatalf("told again at the next heartbeat: %v", s)
	}
	h.reset()
	if o := h.a.RemovePeer(h.now, author, &h.out); o != OutcomePeerRemoved {
		t.Fatalf("RemovePeer = %v", o)
	}
	for _, p := range h.allPeers("") {
		if _, u := h.skipEntries(p); !slices.Equal(u, []peer.ID{author}) {
			t.Fatalf("%s: unskip %v after the author left", p, u)
		}
	}
	if h.a.skipAsked != 0 {
		t.Fatalf("skipAsked = %d after the author left", h.a.skipAsked)
	}
}

// A peer that asked us to skip an author gets that author's forwarded
// messages of at most MaxData bytes as IHAVE entries in its batch; larger
// ones, other authors' and everything after the unskip go as messages.
// (Staggered forwarding off: the large message goes to every peer at once.)
func TestAuthorSkipHonoured(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Stagger = StaggerConfig{} })
	src, asker := mesh[0], mesh[1]
	author := pid(99) // not a peer: it reached us through src
	if o := h.a.HandleAuthorSkip(h.now, asker, [][]byte{[]byte(author)}, nil, &h.out); o != OutcomeAuthorSkipRecorded {
		t.Fatalf("HandleAuthorSkip = %v", o)
	}
	id := h.receiveBy(src, author, 100)
	if h.gotMessage(asker, id) {
		t.Fatal("the asker got the skipped author's message")
	}
	for _, p := range mesh[2:] {
		if !h.gotMessage(p, id) {
			t.Fatalf("mesh peer %s did not get the message", p)
		}
	}
	h.reset()
	h.a.FlushLazy(h.now, &h.out)
	if !h.gotIHave(asker, id) {
		t.Fatal("the skipped message was not announced to the asker")
	}
	big := h.receiveBy(src, author, h.a.cfg.Choke.MaxData+1)
	if !h.gotMessage(asker, big) {
		t.Fatal("a message over MaxData was skipped")
	}
	if id := h.receiveBy(src, pid(98), 100); !h.gotMessage(asker, id) {
		t.Fatal("another author's message was skipped")
	}
	if o := h.a.HandleAuthorSkip(h.now, asker, nil, [][]byte{[]byte(author)}, &h.out); o != OutcomeAuthorSkipRecorded {
		t.Fatalf("HandleAuthorSkip(unskip) = %v", o)
	}
	if id := h.receiveBy(src, author, 100); !h.gotMessage(asker, id) {
		t.Fatal("the message was skipped after the unskip")
	}
}

// A peer we asked to skip an author gets no IDONTWANT for that author's
// messages of at most MaxData bytes (it announces them instead of sending
// them); larger ones, and other authors', still get one.
func TestAuthorSkipSparesIDontWant(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	author := mesh[0]
	for range h.a.cfg.Choke.SkipAuthorsAfter {
		h.receiveBy(author, author, 100)
	}
	id := h.receiveBy(author, author, 2048) // over IDontWantThreshold, under MaxData
	if got := idontwantsTo(&h.out, id); len(got) != 0 {
		t.Fatalf("IDONTWANT to %v for a skipped author's message", got)
	}
	id = h.receiveBy(author, author, h.a.cfg.Choke.MaxData+1)
	if got := idontwantsTo(&h.out, id); len(got) != len(mesh)-1 {
		t.Fatalf("IDONTWANT over MaxData to %v, want every mesh peer but the author", got)
	}
	id = h.receiveBy(mesh[1], pid(99), 2048)
	if got := idontwantsTo(&h.out, id); len(got) != len(mesh)-1 {
		t.Fatalf("IDONTWANT for another author's message to %v, want every mesh peer but the source", got)
	}
}

// Our IHAVE of a skipped author's message from a mesh peer counts as a
// mesh delivery (EvtChokedPeerAnnounced), as a choked peer's does; an
// IHAVE of another author's message does not, nor one from outside the
// mesh.
func TestAuthorSkipCredit(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	author, fwd := mesh[0], mesh[1]
	var last string
	for range h.a.cfg.Choke.SkipAuthorsAfter {
		last = h.receiveBy(author, author, 100)
	}
	otherID := h.receiveBy(mesh[2], pid(99), 100)
	h.reset()
	h.a.HandleIHave(h.now, fwd, ihave(topicA, last, otherID), &h.out)
	evs := FactChokedAnnounced.In(&h.out)
	if len(evs) != 1 || evs[0].From != fwd || !slices.Equal(evs[0].IDs, []string{last}) {
		t.Fatalf("EvtChokedPeerAnnounced %+v, want one from the forwarder with the skipped author's id", evs)
	}
	// A peer outside the mesh owes us no deliveries: no credit.
	var outside peer.ID
	for _, p := range h.allPeers("") {
		if !slices.Contains(mesh, p) {
			outside = p
		}
	}
	h.reset()
	h.a.HandleIHave(h.now, outside, ihave(topicA, last), &h.out)
	if evs := FactChokedAnnounced.In(&h.out); len(evs) != 0 {
		t.Fatalf("credit for a non-mesh peer's IHAVE: %+v", evs)
	}
	// Nor for a mesh peer without the extension: it was never asked to
	// skip, so its announcement replaces no delivery.
	if o := h.a.SetPeerChoke(mesh[3], false); o != OutcomePeerFeaturesSet {
		t.Fatalf("SetPeerChoke = %v", o)
	}
	h.reset()
	h.a.HandleIHave(h.now, mesh[3], ihave(topicA, last), &h.out)
	if evs := FactChokedAnnounced.In(&h.out); len(evs) != 0 {
		t.Fatalf("credit for a peer without the extension: %+v", evs)
	}
}

// Requests are bounded: a peer keeps at most MaxSkipAuthors authors;
// entries that are not peer ids are ignored; past 8 entries per author
// (MaxSkipAuthors, but at least the default 64, so that an honest peer
// with the default is never taken for a flood) in a heartbeat interval
// the rest is ignored and the peer pays PenaltyChokeFlood; a peer without
// the extension is not listened to.
func TestAuthorSkipBounded(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.MaxSkipAuthors = 3 })
	p := mesh[1]
	skip := [][]byte{[]byte("not a peer id"), []byte(pid(90)), []byte(pid(91)), []byte(pid(92)), []byte(pid(93))}
	if o := h.a.HandleAuthorSkip(h.now, p, skip, nil, &h.out); o != OutcomeAuthorSkipRecorded {
		t.Fatalf("HandleAuthorSkip = %v", o)
	}
	if n := len(h.a.peers[p].skipAuthors); n != 3 {
		t.Fatalf("%d authors kept, want MaxSkipAuthors 3 (the bad entry ignored)", n)
	}
	// 5 entries so far: 507 more reach the bound of 8 x 64, the 513th is
	// a flood.
	var more [][]byte
	for i := range 507 {
		more = append(more, []byte(pid(100+i)))
	}
	if o := h.a.HandleAuthorSkip(h.now, p, nil, more, &h.out); o != OutcomeAuthorSkipRecorded {
		t.Fatalf("up to the bound = %v", o)
	}
	h.reset()
	if o := h.a.HandleAuthorSkip(h.now, p, nil, [][]byte{[]byte(pid(92))}, &h.out); o != OutcomeChokeFlood {
		t.Fatalf("the 513th entry in a heartbeat = %v, want OutcomeChokeFlood", o)
	}
	pen := FactPeerPenalized.In(&h.out)
	if len(pen) != 1 || pen[0].Peer != p || pen[0].Reason != events.PenaltyChokeFlood {
		t.Fatalf("penalties %+v", pen)
	}
	if !h.a.peers[p].skips(pid(92)) {
		t.Fatal("the entry past the bound was applied")
	}
	h.heartbeat()
	if o := h.a.HandleAuthorSkip(h.now, p, nil, [][]byte{[]byte(pid(92))}, &h.out); o != OutcomeAuthorSkipRecorded {
		t.Fatalf("after the heartbeat = %v", o)
	}
	if h.a.peers[p].skips(pid(92)) {
		t.Fatal("unskip not applied")
	}
	h.a.SetPeerChoke(p, false)
	if o := h.a.HandleAuthorSkip(h.now, p, skip, nil, &h.out); o != OutcomeChokeNotNegotiated {
		t.Fatalf("without the extension = %v", o)
	}
	if h.a.peers[p].skips(pid(90)) {
		t.Fatal("skips kept after the peer dropped the extension")
	}
	if o := h.a.HandleAuthorSkip(h.now, pid(77), skip, nil, &h.out); o != OutcomeUnknownPeer {
		t.Fatalf("unknown peer = %v", o)
	}
}

// SkipAuthorsAfter 0 never asks; MaxSkipAuthors 0 neither asks nor
// honours.
func TestAuthorSkipOff(t *testing.T) {
	h, mesh := chokeHarness(t, func(c *Config) { c.Choke.SkipAuthorsAfter = 0 })
	for range 20 {
		h.receiveBy(mesh[0], mesh[0], 100)
	}
	if got := h.a.AuthorSkips(); len(got) != 0 {
		t.Fatalf("SkipAuthorsAfter 0 asked %v", got)
	}
	if o := h.a.HandleAuthorSkip(h.now, mesh[1], [][]byte{[]byte(pid(99))}, nil, &h.out); o != OutcomeAuthorSkipRecorded {
		t.Fatalf("SkipAuthorsAfter 0 refused a request: %v", o)
	}
	h2, mesh2 := chokeHarness(t, func(c *Config) { c.Choke.SkipAuthorsAfter, c.Choke.MaxSkipAuthors = 0, 0 })
	if o := h2.a.HandleAuthorSkip(h2.now, mesh2[1], [][]byte{[]byte(pid(99))}, nil, &h2.out); o != OutcomeChokeNotNegotiated {
		t.Fatalf("MaxSkipAuthors 0 = %v", o)
	}
}

func TestAuthorSkipConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(*ChokeConfig)
	}{
		{"negative SkipAuthorsAfter", func(c *ChokeConfig) { c.SkipAuthorsAfter = -1 }},
		{"negative MaxSkipAuthors", func(c *ChokeConfig) { c.MaxSkipAuthors = -1 }},
		{"SkipAuthorsAfter without MaxSkipAuthors", func(c *ChokeConfig) { c.MaxSkipAuthors = 0 }},
	} {
		cc := DefaultChokeConfig()
		c.mut(&cc)
		if err := cc.validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: validate = %v, want ErrInvalidConfig", c.name, err)
		}
	}
	cc := DefaultChokeConfig()
	cc.SkipAuthorsAfter, cc.MaxSkipAuthors = 0, 0
	if err := cc.validate(); err != nil {
		t.Errorf("author skip off: %v", err)
	}
}

// Within one RPC the last skip or unskip entry for an author wins (the
// receiver applies skips before unskips, so both would mean unskip).
func TestSendSkipLastWins(t *testing.T) {
	var o Output
	p, author, other := pid(1), pid(2), pid(3)
	o.sendSkip(p, author, true)
	o.sendSkip(p, other, true)
	o.sendSkip(p, author, false)
	c := o.SendTo(p).RPC.GetChoke()
	if len(c.GetSkipAuthors()) != 1 || peer.ID(c.GetSkipAuthors()[0]) != other ||
		len(c.GetUnskipAuthors()) != 1 || peer.ID(c.GetUnskipAuthors()[0]) != author {
		t.Fatalf("skip %q unskip %q, want skip [other] unskip [author]", c.GetSkipAuthors(), c.GetUnskipAuthors())
	}
	o.sendSkip(p, author, true)
	if c := o.SendTo(p).RPC.GetChoke(); len(c.GetUnskipAuthors()) != 0 || len(c.GetSkipAuthors()) != 2 {
		t.Fatalf("skip %q unskip %q after asking again", c.GetSkipAuthors(), c.GetUnskipAuthors())
	}
}

// A skip names the author alone, so it is asked only while the author
// sends us its messages itself in every joined topic it subscribes to: in
// topic-b, where the author is not in our mesh, nothing says it does until
// one of its messages there comes first straight from it (it floods).
func TestAuthorSkipNeedsCoverInEveryTopic(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	author, other := mesh[0], mesh[1]
	h.joinWithAuthorOutsideMesh(author)
	after := h.a.cfg.Choke.SkipAuthorsAfter
	for range after + 2 {
		h.receiveFrom(author, author, topicA, 100)
		if s, _ := h.skipEntries(other); len(s) != 0 {
			t.Fatalf("skip %v asked though the author does not send us topic-b's messages", s)
		}
	}
	if got := h.a.AuthorSkips(); len(got) != 0 {
		t.Fatalf("AuthorSkips = %v", got)
	}
	// Its message in topic-b came first straight from it: it floods.
	h.receiveFrom(author, author, topicB, 100)
	if s, _ := h.skipEntries(other); !slices.Equal(s, []peer.ID{author}) {
		t.Fatalf("skip %v, want [author] once it covers every topic", s)
	}
	// One in topic-b from someone else releases it, and topic-b is
	// uncovered again: SkipAuthorsAfter in a row in topic-a do not ask.
	h.receiveFrom(other, author, topicB, 100)
	if _, u := h.skipEntries(other); !slices.Equal(u, []peer.ID{author}) {
		t.Fatalf("unskip %v, want [author]", u)
	}
	// A backoff keeps the heartbeat from grafting the author into
	// topic-b's mesh (which would cover it).
	h.a.HandlePrune(h.now, author, prune(topicB, 60), &h.out)
	h.heartbeat()
	if slices.Contains(h.mesh(topicB), author) {
		t.Fatalf("the author was grafted into topic-b's mesh: %v", h.mesh(topicB))
	}
	for range after + 2 {
		h.receiveFrom(author, author, topicA, 100)
	}
	if got := h.a.AuthorSkips(); len(got) != 0 {
		t.Fatalf("AuthorSkips = %v with topic-b uncovered", got)
	}
}

// An author skipped while in our mesh is released at the heartbeat after
// it left the mesh, and a topic we join where it is not in our mesh
// releases it the same way. Its count of direct copies starts again: once
// it covers us again (it floods the uncovered topic), it is not asked
// before SkipAuthorsAfter more in a row.
func TestAuthorSkipReleasedWhenCoverEnds(t *testing.T) {
	for _, c := range []struct {
		name  string
		leave func(h *harness, author peer.ID)
		topic string // the topic it no longer covers
	}{
		{"pruned", func(h *harness, author peer.ID) {
			if o := h.a.HandlePrune(h.now, author, prune(topicA, 60), &h.out); o != OutcomePruned {
				h.t.Fatalf("HandlePrune = %v", o)
			}
		}, topicA},
		{"joined a topic", (*harness).joinWithAuthorOutsideMesh, topicB},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, mesh := chokeHarness(t, nil)
			author, other := mesh[0], mesh[1]
			for range h.a.cfg.Choke.SkipAuthorsAfter {
				h.receiveBy(author, author, 100)
			}
			if got := h.a.AuthorSkips(); !slices.Equal(got, []peer.ID{author}) {
				t.Fatalf("AuthorSkips = %v, want the author", got)
			}
			h.reset()
			c.leave(h, author)
			if _, u := h.skipEntries(other); len(u) != 0 {
				t.Fatalf("released before the heartbeat: %v", u)
			}
			h.heartbeat()
			if _, u := h.skipEntries(other); !slices.Equal(u, []peer.ID{author}) {
				t.Fatalf("unskip %v at the heartbeat, want [author]", u)
			}
			if got := h.a.AuthorSkips(); len(got) != 0 {
				t.Fatalf("AuthorSkips = %v after the heartbeat", got)
			}
			h.heartbeat() // past the hold after a release
			h.receiveFrom(author, author, c.topic, 100)
			if got := h.a.AuthorSkips(); len(got) != 0 {
				t.Fatalf("asked again on one direct copy after the release: %v", got)
			}
		})
	}
}

// Either side leaving a topic forgets which authors flooded us there:
// the evidence is per joined topic, so a long-lived node that joins and
// leaves many topics keeps none of theirs, and an author back in a topic
// covers us there only on new evidence (a skip is not asked on the old).
func TestAuthorSkipEvidenceForgottenOnLeave(t *testing.T) {
	for _, c := range []struct {
		name  string
		leave func(t *testing.T, h *harness, author peer.ID)
	}{
		{"we leave", func(t *testing.T, h *harness, _ peer.ID) {
			if o := h.a.Leave(h.now, topicB, &h.out); o != OutcomeLeft {
				t.Fatalf("Leave = %v", o)
			}
		}},
		{"the author leaves", func(t *testing.T, h *harness, author peer.ID) {
			if o := h.a.HandleSubscription(h.now, author, topicB, false, &h.out); o != OutcomeUnsubscribed {
				t.Fatalf("unsubscribe = %v", o)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, mesh := chokeHarness(t, nil)
			author := mesh[0]
			h.joinWithAuthorOutsideMesh(author)
			h.receiveFrom(author, author, topicB, 100)
			if _, ok := h.a.peers[author].floodsUs[topicB]; !ok {
				t.Fatalf("no flood evidence for topic-b: %v", h.a.peers[author].floodsUs)
			}
			c.leave(t, h, author)
			if n := len(h.a.peers[author].floodsUs); n != 0 {
				t.Fatalf("flood evidence kept: %v", h.a.peers[author].floodsUs)
			}
		})
	}
	// Back in topic-b and outside our mesh there, the author does not
	// cover us on the evidence it had.
	h, mesh := chokeHarness(t, nil)
	author := mesh[0]
	h.joinWithAuthorOutsideMesh(author)
	h.receiveFrom(author, author, topicB, 100)
	h.a.HandleSubscription(h.now, author, topicB, false, &h.out)
	if o := h.a.HandleSubscription(h.now, author, topicB, true, &h.out); o != OutcomeSubscribed {
		t.Fatalf("subscribe = %v", o)
	}
	if h.a.skipCovered(h.a.peers[author]) {
		t.Fatal("the author counts as covering us on old evidence")
	}
}

// Authors that come and go each earn a skip and release it on leaving;
// we ask at most skipAsksPerHeartbeat skips per heartbeat interval, so a
// forwarder never gets more entries from us than its flood bound, and
// asking resumes after the heartbeat.
func TestAuthorSkipAsksBoundedUnderChurn(t *testing.T) {
	h, mesh := chokeHarness(t, nil)
	fwd := mesh[1]
	skips, unskips := 0, 0
	count := func() {
		s, u := h.skipEntries(fwd)
		skips, unskips = skips+len(s), unskips+len(u)
	}
	churn := func(first, n int) {
		for i := range n {
			author := h.add(first+i, wire.ProtocolMeshsub13, false, topicA)
			for range h.a.cfg.Choke.SkipAuthorsAfter {
				h.receiveBy(author, author, 100)
				count()
			}
			h.reset()
			if o := h.a.RemovePeer(h.now, author, &h.out); o != OutcomePeerRemoved {
				t.Fatalf("RemovePeer = %v", o)
			}
			count()
		}
	}
	churn(200, 3*skipAsksPerHeartbeat)
	if skips != skipAsksPerHeartbeat || unskips != skipAsksPerHeartbeat {
		t.Fatalf("%d skips and %d unskips in one interval, want %d each", skips, unskips, skipAsksPerHeartbeat)
	}
	if bound := skipEntriesPerAuthor * defaultMaxSkipAuthors; skips+unskips > bound/2 {
		t.Fatalf("%d entries in one interval: two such intervals would pass a peer's bound of %d", skips+unskips, bound)
	}
	h.heartbeat()
	skips, unskips = 0, 0
	churn(400, 1)
	if skips != 1 || unskips != 1 {
		t.Fatalf("after the heartbeat: %d skips, %d unskips, want 1 each", skips, unskips)
	}
}
