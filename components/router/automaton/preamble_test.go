package automaton

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// v14Harness is a node with 8 /meshsub/1.3.0 peers subscribed to topicA
// and a mesh of 6 (default config: stagger K 1, MaxWait 50 ms; PREAMBLE
// on); the mesh peers at the indices in v14 support gossipsub v1.4.
func v14Harness(t *testing.T, mut func(*Config), v14 ...int) (*harness, []peer.ID) {
	t.Helper()
	h := newHarness(t, mut)
	for i := 1; i <= 8; i++ {
		h.add(i, wire.ProtocolMeshsub13, i%2 == 0, topicA)
	}
	h.join(topicA)
	h.reset()
	mesh := h.mesh(topicA)
	if len(mesh) != 6 {
		t.Fatalf("mesh = %d peers, want 6", len(mesh))
	}
	for _, i := range v14 {
		if o := h.a.SetPeerLargeMessages(mesh[i], true); o != OutcomePeerFeaturesSet {
			t.Fatalf("SetPeerLargeMessages = %v", o)
		}
	}
	return h, mesh
}

func preamble(id, topic string, size uint64) *pb.ControlPreamble {
	return &pb.ControlPreamble{MessageID: []byte(id), MessageSize: proto.Uint64(size), TopicID: proto.String(topic)}
}

func imreceiving(id string) *pb.ControlImReceiving {
	return &pb.ControlImReceiving{MessageID: []byte(id)}
}

// preamblesTo lists the peers h.out sends a PREAMBLE for id to.
func (h *harness) preamblesTo(id string) []peer.ID {
	var ps []peer.ID
	for _, s := range h.out.Sends {
		for _, pr := range s.RPC.GetControl().GetPreamble() {
			if string(pr.GetMessageID()) == id {
				ps = append(ps, s.To)
			}
		}
	}
	return ps
}

// controlTo lists the peers h.out sends an IMRECEIVING (imr), IDONTWANT
// (idw) or IWANT (iwant) for id to.
func (h *harness) controlTo(kind, id string) []peer.ID {
	var ps []peer.ID
	for _, s := range h.out.Sends {
		c := s.RPC.GetControl()
		var lists [][][]byte
		switch kind {
		case "imr":
			for _, e := range c.GetImreceiving() {
				lists = append(lists, [][]byte{e.GetMessageID()})
			}
		case "idw":
			for _, e := range c.GetIdontwant() {
				lists = append(lists, e.GetMessageIDs())
			}
		case "iwant":
			for _, e := range c.GetIwant() {
				lists = append(lists, e.GetMessageIDs())
			}
		}
		for _, l := range lists {
			for _, raw := range l {
				if string(raw) == id && !slices.Contains(ps, s.To) {
					ps = append(ps, s.To)
				}
			}
		}
	}
	return ps
}

// copiesTo lists the peers h.out sends message id to (paced or not).
func (h *harness) copiesTo(id string) []peer.ID {
	var ps []peer.ID
	for _, s := range h.out.Sends {
		if slices.Contains(s.IDs, id) {
			ps = append(ps, s.To)
		}
	}
	return ps
}

// v14Outsider returns one of v14Harness's subscribed peers outside the
// mesh, marked as supporting v1.4: a peer a node sent nothing to when it
// chose a source or saw a head.
func (h *harness) v14Outsider(mesh []peer.ID) peer.ID {
	h.t.Helper()
	for i := 1; i <= 8; i++ {
		if p := pid(i); !slices.Contains(mesh, p) {
			h.a.SetPeerLargeMessages(p, true)
			return p
		}
	}
	h.t.Fatal("every peer is in the mesh")
	return ""
}

func samePeers(a, b []peer.ID) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// A forwarded large message is announced with PREAMBLE to the v1.4 mesh
// peers only; their copies wait for the announce window, the others' go
// as staggering says; a peer that answers IMRECEIVING or IDONTWANT within
// the window is never sent the message, and the answered IMRECEIVING is
// counted.
func TestPreambleHoldsV14CopiesAndSkipsAnswered(t *testing.T) {
	h, mesh := v14Harness(t, nil, 1, 2, 3)
	src, v14, old := mesh[0], mesh[1:4], mesh[4:]
	m, id := h.receive(src, 64<<10)
	if got := h.preamblesTo(id); !samePeers(got, v14) {
		t.Fatalf("PREAMBLE to %v, want %v", got, v14)
	}
	for _, s := range h.out.Sends {
		for _, pr := range s.RPC.GetControl().GetPreamble() {
			if got, want := pr.GetMessageSize(), uint64(proto.Size(m)); got != want || pr.GetTopicID() != topicA {
				t.Fatalf("PREAMBLE size %d topic %q, want the encoded size %d and %q", got, pr.GetTopicID(), want, topicA)
			}
		}
	}
	if h.out.Preamble.Sent != 3 || h.out.Preamble.Held != 1 {
		t.Fatalf("counts %+v", h.out.Preamble)
	}
	first := h.copiesTo(id)
	if len(first) != 1 || !slices.Contains(old, first[0]) {
		t.Fatalf("first copies to %v, want one of the non-v1.4 peers %v", first, old)
	}
	d, ok := h.a.StaggerDeadline()
	if !ok || !d.Equal(h.now.Add(h.a.cfg.Preamble.WindowUnknown)) {
		t.Fatalf("StaggerDeadline = %v %v, want the WindowUnknown window (RTTs unknown)", d, ok)
	}
	// Answers within the window.
	h.reset()
	if o := h.a.HandleImReceiving(h.now, v14[0], imreceiving(id), &h.out); o != OutcomeImReceivingRecorded {
		t.Fatalf("HandleImReceiving = %v", o)
	}
	if h.out.Preamble.Skipped != 1 {
		t.Fatalf("Skipped = %d, want 1", h.out.Preamble.Skipped)
	}
	if o := h.a.HandleIDontWant(h.now, v14[1], idontwant(id), &h.out); o != OutcomeIDontWantRecorded {
		t.Fatalf("HandleIDontWant = %v", o)
	}
	// The non-v1.4 copy is written; the rest of the old peers go one at a
	// time, the v1.4 peer after the window.
	var got []peer.ID
	flying := first
	for range 20 {
		if len(flying) == 0 {
			h.reset()
			h.advance(time.Millisecond)
			h.a.ReleaseDue(h.now, &h.out)
			flying = h.copiesTo(id)
			got = append(got, flying...)
			if h.a.Staggered() == 0 && len(flying) == 0 {
				break
			}
			continue
		}
		p := flying[0]
		flying = flying[1:]
		rel := h.done(p, id, h.tracked())
		got = append(got, rel...)
		flying = append(flying, rel...)
	}
	want := append(slices.Clone(old[1:]), v14[2])
	if !samePeers(append(got, first...), append(want, first[0])) {
		t.Fatalf("copies to %v (+%v), want %v", got, first, want)
	}
	if h.a.Staggered() != 0 {
		t.Fatalf("%d messages still staggered", h.a.Staggered())
	}
}

// With no v1.4 peer, nothing changes: no PREAMBLE, the first copy at once.
// Our own messages are never announced.
func TestPreambleNotSentToOldPeersNorForOwnMessages(t *testing.T) {
	h, mesh := v14Harness(t, nil)
	_, id := h.receive(mesh[0], 64<<10)
	if got := h.preamblesTo(id); len(got) != 0 || h.out.Preamble != (PreambleCounts{}) {
		t.Fatalf("PREAMBLE to %v, counts %+v", got, h.out.Preamble)
	}
	if got := h.copiesTo(id); len(got) != 1 {
		t.Fatalf("first copies %v, want 1 (stagger K 1)", got)
	}

	h2, _ := v14Harness(t, nil, 0, 1, 2, 3, 4, 5)
	m, pid := msg(pid(0), topicA, 64<<10)
	if o := h2.a.Publish(h2.now, m, pid, &h2.out); o != OutcomePublished {
		t.Fatalf("Publish = %v", o)
	}
	if got := h2.preamblesTo(pid); len(got) != 0 {
		t.Fatalf("own message announced to %v", got)
	}
	// Small messages are not announced either.
	h2.reset()
	_, sid := h2.receive(h2.mesh(topicA)[0], 1024)
	if got := h2.preamblesTo(sid); len(got) != 0 {
		t.Fatalf("1 KiB message announced to %v", got)
	}
}

// The announce window follows the announced peers' largest RTT (2 RTTs +
// 1 ms here), capped at WindowMax; without staggering the held copies all
// go at the window's end.
func TestPreambleWindowFromRTT(t *testing.T) {
	h, mesh := v14Harness(t, func(c *Config) {
		c.Stagger = StaggerConfig{}
		c.Preamble.WindowBase = time.Millisecond
		c.Preamble.Immediate = 0
	}, 0, 1, 2, 3, 4, 5)
	h.a.HandlePeerRTT(h.now, mesh[1], 4*time.Millisecond, &h.out)
	for _, p := range mesh[2:] {
		h.a.HandlePeerRTT(h.now, p, 2*time.Millisecond, &h.out)
	}
	_, id := h.receive(mesh[0], 20<<10)
	if got := h.copiesTo(id); len(got) != 0 {
		t.Fatalf("copies before the window to %v", got)
	}
	d, _ := h.a.StaggerDeadline()
	if want := h.now.Add(9 * time.Millisecond); !d.Equal(want) {
		t.Fatalf("window ends %v, want %v", d.Sub(h.now), want.Sub(h.now))
	}
	h.reset()
	h.advance(9 * time.Millisecond)
	if o := h.a.ReleaseDue(h.now, &h.out); o != OutcomeCopiesReleased {
		t.Fatalf("ReleaseDue = %v", o)
	}
	if got := h.copiesTo(id); !samePeers(got, mesh[1:]) {
		t.Fatalf("copies after the window to %v, want %v", got, mesh[1:])
	}
	// A slow peer: the window is capped.
	h.a.HandlePeerRTT(h.now, mesh[1], time.Second, &h.out)
	h.reset()
	_, id2 := h.receive(mesh[0], 20<<10)
	if d, _ := h.a.StaggerDeadline(); !d.Equal(h.now.Add(h.a.cfg.Preamble.WindowMax)) {
		t.Fatalf("window %v, want the %v cap", d.Sub(h.now), h.a.cfg.Preamble.WindowMax)
	}
	_ = id2
}

// A largest known RTT of at least ImmediateRTT lets Immediate copies go at
// once (the first in the stagger's order); the rest wait for the window. A
// shorter RTT, or Immediate 0, holds every v1.4 copy.
func TestPreambleImmediateCopyOnLongWindow(t *testing.T) {
	for _, c := range []struct {
		name      string
		rtt       time.Duration
		immediate int
		want      int // copies before the window ends
	}{
		{"slow link", 10 * time.Millisecond, 1, 1},     // at least ImmediateRTT
		{"fast link", time.Millisecond, 1, 0},          // under it
		{"immediate off", 10 * time.Millisecond, 0, 0}, // held
		{"two immediate", 10 * time.Millisecond, 2, 1}, // K 1: one in flight at a time
	} {
		t.Run(c.name, func(t *testing.T) {
			h, mesh := v14Harness(t, func(cf *Config) { cf.Preamble.Immediate = c.immediate }, 0, 1, 2, 3, 4, 5)
			for _, p := range mesh {
				h.a.HandlePeerRTT(h.now, p, c.rtt, &h.out)
			}
			h.reset()
			_, id := h.receive(mesh[0], 64<<10)
			got := h.copiesTo(id)
			if len(got) != c.want {
				t.Fatalf("copies before the window to %v, want %d", got, c.want)
			}
			if len(got) == 1 && !slices.Contains(mesh[1:], got[0]) {
				t.Fatalf("immediate copy to %v, not a mesh peer other than the sender", got[0])
			}
			if len(h.preamblesTo(id)) != len(mesh)-1 {
				t.Fatalf("PREAMBLE to %v, want every v1.4 mesh peer but the sender", h.preamblesTo(id))
			}
		})
	}
}

// Two PREAMBLEs for one message: the first sender is its source and the
// other v1.4 mesh peers (the second sender too) get IMRECEIVING; the
// second sender, told already (its PREAMBLE crossed our IMRECEIVING), is
// not answered again, while a later announcer we had not told is answered
// IMRECEIVING. The message's head clears the record, and forwarding skips
// the announcers.
func TestPreambleChoosesOneSource(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1, 2, 3)
	x, y := mesh[0], mesh[1]
	z := h.v14Outsider(mesh) // not told at the choice
	m, id := msg(pid(99), topicA, 64<<10)
	if o := h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleSourceChosen {
		t.Fatalf("HandlePreamble(x) = %v", o)
	}
	if got := h.controlTo("imr", id); !samePeers(got, mesh[1:4]) {
		t.Fatalf("IMRECEIVING to %v, want the other v1.4 mesh peers %v", got, mesh[1:4])
	}
	if src, ok := h.a.PreambleSource(id); !ok || src != x {
		t.Fatalf("source %v %v, want %v", src, ok, x)
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, y, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleOtherSource {
		t.Fatalf("HandlePreamble(y) = %v", o)
	}
	if got := h.controlTo("imr", id); len(got) != 0 || h.out.Preamble.AnswersSpared != 1 {
		t.Fatalf("IMRECEIVING to %v (spared %d), want none: %v was told at the choice", got, h.out.Preamble.AnswersSpared, y)
	}
	if o := h.a.HandlePreamble(h.now, y, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleRepeated {
		t.Fatalf("repeated = %v", o)
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, z, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleOtherSource {
		t.Fatalf("HandlePreamble(z) = %v", o)
	}
	if got := h.controlTo("imr", id); !slices.Equal(got, []peer.ID{z}) {
		t.Fatalf("IMRECEIVING to %v, want %v", got, z)
	}
	if src, _ := h.a.PreambleSource(id); src != x || h.a.Incoming() != 1 {
		t.Fatalf("source %v, %d incoming", src, h.a.Incoming())
	}
	h.reset()
	h.a.HandleMessageHead(h.now, x, topicA, id, 64<<10, &h.out)
	if h.a.Incoming() != 0 {
		t.Fatalf("%d incoming after the head", h.a.Incoming())
	}
	h.reset()
	if o := h.a.HandleMessage(h.now, x, m, id, true, &h.out); o != OutcomeNeedsValidation {
		t.Fatalf("HandleMessage = %v", o)
	}
	h.a.Validated(h.now, id, ValidationAccept, &h.out)
	if got := h.preamblesTo(id); slices.Contains(got, x) || slices.Contains(got, y) || slices.Contains(got, z) {
		t.Fatalf("announcers %v were announced the message they have: %v", []peer.ID{x, y, z}, got)
	}
	if got := h.copiesTo(id); slices.Contains(got, x) || slices.Contains(got, y) || slices.Contains(got, z) {
		t.Fatalf("announcers sent the message: %v", got)
	}
}

// A PREAMBLE for a message we have is answered with IDONTWANT (unless the
// announcer was sent one when the message arrived), and a copy of ours
// waiting for the announcer is dropped.
func TestPreambleForSeenMessage(t *testing.T) {
	h, mesh := v14Harness(t, nil, 1, 2)
	z := h.v14Outsider(mesh) // sent no IDONTWANT
	_, id := h.receive(mesh[0], 64<<10)
	h.reset()
	if o := h.a.HandlePreamble(h.now, z, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleHave {
		t.Fatalf("HandlePreamble(z) = %v", o)
	}
	if got := h.controlTo("idw", id); !slices.Equal(got, []peer.ID{z}) || h.out.Preamble.IDontWantSent != 1 {
		t.Fatalf("IDONTWANT to %v (%+v)", got, h.out.Preamble)
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, mesh[1], preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleHave {
		t.Fatalf("HandlePreamble = %v", o)
	}
	if got := h.controlTo("idw", id); len(got) != 0 || h.out.Preamble.AnswersSpared != 1 {
		t.Fatalf("IDONTWANT to %v (%+v), want none: sent one on arrival", got, h.out.Preamble)
	}
	// Past the window, mesh[1] is not sent it; mesh[2] is.
	var got []peer.ID
	for range 10 {
		h.reset()
		h.advance(60 * time.Millisecond)
		h.a.ReleaseDue(h.now, &h.out)
		got = append(got, h.copiesTo(id)...)
	}
	if slices.Contains(got, mesh[1]) || !slices.Contains(got, mesh[2]) {
		t.Fatalf("copies to %v", got)
	}
}

// A PREAMBLE for a message whose head is arriving is answered with
// IMRECEIVING, unless its sender was sent IDONTWANT at the head (the two
// crossed).
func TestPreambleWhileArriving(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1)
	z := h.v14Outsider(mesh) // sent nothing at the head
	_, id := msg(pid(99), topicA, 64<<10)
	h.a.HandleMessageHead(h.now, mesh[0], topicA, id, 64<<10, &h.out)
	if !slices.Contains(h.controlTo("idw", id), mesh[1]) {
		t.Fatalf("no IDONTWANT to %v at the head", mesh[1])
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, z, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleOtherSource {
		t.Fatalf("HandlePreamble = %v", o)
	}
	if got := h.controlTo("imr", id); !slices.Equal(got, []peer.ID{z}) {
		t.Fatalf("IMRECEIVING to %v", got)
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, mesh[1], preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleOtherSource {
		t.Fatalf("HandlePreamble = %v", o)
	}
	if got := h.controlTo("imr", id); len(got) != 0 || h.out.Preamble.AnswersSpared != 1 {
		t.Fatalf("IMRECEIVING to %v (spared %d), want none", got, h.out.Preamble.AnswersSpared)
	}
}

// The source misses its deadline: IWANT goes to the other announcer, which
// becomes the source (and answers: IWANT after IMRECEIVING is served); the
// late source is demoted, not chosen for DemoteFor. With no announcer
// left the record is forgotten.
func TestPreambleDeadlineFallbackAndDemotion(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1, 2, 3)
	x, y, z := mesh[0], mesh[1], mesh[2]
	_, id := msg(pid(99), topicA, 64<<10)
	h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out)
	h.a.HandlePreamble(h.now, y, preamble(id, topicA, 64<<10), &h.out)
	d, ok := h.a.PreambleDeadline()
	if !ok || !d.Equal(h.now.Add(250*time.Millisecond)) {
		t.Fatalf("PreambleDeadline = %v %v", d, ok)
	}
	h.reset()
	h.advance(249 * time.Millisecond)
	if o := h.a.ExpirePreambles(h.now, &h.out); o != OutcomeNothingDue {
		t.Fatalf("ExpirePreambles early = %v", o)
	}
	h.advance(time.Millisecond)
	if o := h.a.ExpirePreambles(h.now, &h.out); o != OutcomePreamblesExpired {
		t.Fatalf("ExpirePreambles = %v", o)
	}
	if got := h.controlTo("iwant", id); !slices.Equal(got, []peer.ID{y}) || h.out.Preamble.Fallbacks != 1 {
		t.Fatalf("IWANT to %v (%+v), want %v", got, h.out.Preamble, y)
	}
	if src, _ := h.a.PreambleSource(id); src != y {
		t.Fatalf("source %v, want %v", src, y)
	}
	if n := len(penalties(&h.out, events.PenaltyPreambleBroken)); n != 0 {
		t.Fatal("one late copy penalised")
	}
	// x is demoted: a new message announced by x first gets no source...
	h.reset()
	_, id2 := msg(pid(99), topicA, 64<<10)
	if o := h.a.HandlePreamble(h.now, x, preamble(id2, topicA, 64<<10), &h.out); o != OutcomePreambleSourceDemoted {
		t.Fatalf("HandlePreamble(demoted) = %v", o)
	}
	if got := h.controlTo("imr", id2); len(got) != 0 {
		t.Fatalf("IMRECEIVING for a demoted source to %v", got)
	}
	// ... until z announces it.
	if o := h.a.HandlePreamble(h.now, z, preamble(id2, topicA, 64<<10), &h.out); o != OutcomePreambleSourceChosen {
		t.Fatalf("HandlePreamble(z) = %v", o)
	}
	if got := h.controlTo("imr", id2); !slices.Contains(got, x) || slices.Contains(got, z) {
		t.Fatalf("IMRECEIVING to %v: want the demoted announcer told, not the source", got)
	}
	// y does not deliver either: nobody left, the record goes.
	h.reset()
	h.advance(250 * time.Millisecond)
	h.a.ExpirePreambles(h.now, &h.out)
	if _, ok := h.a.PreambleSource(id); ok || h.out.Preamble.Expired != 1 {
		t.Fatalf("record of %q kept (%+v)", id, h.out.Preamble)
	}
	// After DemoteFor, x may be a source again.
	h.advance(10 * time.Second)
	_, id3 := msg(pid(99), topicA, 64<<10)
	if o := h.a.HandlePreamble(h.now, x, preamble(id3, topicA, 64<<10), &h.out); o != OutcomePreambleSourceChosen {
		t.Fatalf("HandlePreamble after demotion = %v", o)
	}
}

// A source that keeps missing its deadline pays PenaltyPreambleBroken from
// its (MissAllowance+1)th miss in a row; misses further apart than
// MissMemory start over.
func TestPreambleBrokenPenalty(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1)
	x := mesh[0]
	miss := func() int {
		h.t.Helper()
		_, id := msg(pid(99), topicA, 64<<10)
		h.reset()
		if o := h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleSourceChosen {
			h.t.Fatalf("HandlePreamble = %v", o)
		}
		h.advance(250 * time.Millisecond)
		h.a.ExpirePreambles(h.now, &h.out)
		h.advance(10 * time.Second) // past DemoteFor
		return penalties(&h.out, events.PenaltyPreambleBroken)[x]
	}
	for i := 1; i <= 3; i++ {
		if n := miss(); n != 0 {
			t.Fatalf("miss %d penalised", i)
		}
	}
	if n := miss(); n != 1 {
		t.Fatalf("4th miss in a row: penalty %d, want 1", n)
	}
	h.advance(2 * time.Minute) // forgotten
	if n := miss(); n != 0 {
		t.Fatal("miss after MissMemory penalised")
	}
}

// Hostile and malformed PREAMBLEs are bounded and, when only the sender
// can be at fault, penalised.
func TestPreambleBoundsAndPenalties(t *testing.T) {
	h, mesh := v14Harness(t, func(c *Config) {
		c.Preamble.MaxIncoming = 5
		c.Preamble.MaxIncomingPerPeer = 3
		c.Preamble.MaxPerHeartbeat = 10
	}, 0, 1, 2)
	x, y := mesh[0], mesh[1]
	abuse := func() int { return penalties(&h.out, events.PenaltyPreambleAbuse)[x] }
	for i := range 3 {
		_, id := msg(pid(99), topicA, 64<<10)
		if o := h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleSourceChosen {
			t.Fatalf("PREAMBLE %d = %v", i, o)
		}
	}
	_, id := msg(pid(99), topicA, 64<<10)
	if o := h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleFlood || abuse() != 1 {
		t.Fatalf("over MaxIncomingPerPeer = %v, penalties %d", o, abuse())
	}
	for range 2 {
		_, id := msg(pid(99), topicA, 64<<10)
		h.a.HandlePreamble(h.now, y, preamble(id, topicA, 64<<10), &h.out)
	}
	h.reset()
	_, id = msg(pid(99), topicA, 64<<10)
	if o := h.a.HandlePreamble(h.now, mesh[2], preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleTableFull || len(h.out.Facts) != 0 {
		t.Fatalf("table full = %v, facts %d", o, len(h.out.Facts))
	}
	if s := h.a.Sizes(); s.Incoming != 5 || s.MaxIncomingPerPeer != 3 {
		t.Fatalf("sizes %+v", s)
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, x, preamble(id, topicA, 2<<20), &h.out); o != OutcomePreambleOversized || abuse() != 1 {
		t.Fatalf("oversized = %v, penalties %d", o, abuse())
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, x, preamble("", topicA, 10), &h.out); o != OutcomeInvalidInput || abuse() != 1 {
		t.Fatalf("empty id = %v, penalties %d", o, abuse())
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, x, preamble(id, "other", 10), &h.out); o != OutcomeTopicNotJoined || abuse() != 0 {
		t.Fatalf("unjoined topic = %v, penalties %d", o, abuse())
	}
	// Per-heartbeat budget: 10 processed (7 so far), the rest penalised.
	h.reset()
	for range 6 {
		h.a.HandlePreamble(h.now, x, preamble(id, "other", 10), &h.out)
	}
	if abuse() != 3 {
		t.Fatalf("over MaxPerHeartbeat: %d penalties, want 3", abuse())
	}
	h.reset()
	h.heartbeat()
	if o := h.a.HandlePreamble(h.now, x, preamble(id, "other", 10), &h.out); o != OutcomeTopicNotJoined {
		t.Fatalf("after the heartbeat = %v", o)
	}
	// Every record expires; the deadline queue stays bounded.
	h.advance(time.Second)
	h.a.ExpirePreambles(h.now, &h.out)
	if s := h.a.Sizes(); s.Incoming != 0 || s.IncomingQueue != 0 || s.MaxIncomingPerPeer != 0 {
		t.Fatalf("after expiry: %+v", s)
	}
}

// PREAMBLE and IMRECEIVING from a peer without v1.4 support, or on a
// protocol before v1.3, are ignored and counted.
func TestPreambleFromOldPeersIgnored(t *testing.T) {
	h, mesh := v14Harness(t, nil)
	_, id := h.receive(mesh[0], 64<<10)
	if o := h.a.HandlePreamble(h.now, mesh[1], preamble(id, topicA, 10), &h.out); o != OutcomeLargeMessagesUnsupported {
		t.Fatalf("PREAMBLE from a v1.3 peer = %v", o)
	}
	if o := h.a.HandleImReceiving(h.now, mesh[1], imreceiving(id), &h.out); o != OutcomeLargeMessagesUnsupported {
		t.Fatalf("IMRECEIVING from a v1.3 peer = %v", o)
	}
	p := h.add(20, wire.ProtocolMeshsub12, false, topicA)
	h.a.SetPeerLargeMessages(p, true)
	if o := h.a.HandleImReceiving(h.now, p, imreceiving(id), &h.out); o != OutcomeLargeMessagesUnsupported {
		t.Fatalf("IMRECEIVING on /meshsub/1.2.0 = %v", o)
	}
	q := h.add(21, wire.ProtocolMeshsub11, false, topicA)
	h.a.SetPeerLargeMessages(q, true)
	if o := h.a.HandlePreamble(h.now, q, preamble(id, topicA, 10), &h.out); o != OutcomeUnsupportedByProtocol {
		t.Fatalf("PREAMBLE on /meshsub/1.1.0 = %v", o)
	}
}

// IMRECEIVING shares the IDONTWANT set's bounds, its per-heartbeat budget
// is MaxIDontWantMessages, and the sender's later IWANT for the message
// (its source failed) is served, unlike after IDONTWANT.
func TestImReceivingBoundsAndIWant(t *testing.T) {
	h, mesh := v14Harness(t, func(c *Config) {
		c.MaxIDontWant = 3
		c.MaxIDontWantMessages = 4
	}, 1, 2)
	_, id := h.receive(mesh[0], 64<<10) // PREAMBLE to mesh[1], mesh[2]
	h.reset()
	if o := h.a.HandleImReceiving(h.now, mesh[1], imreceiving(id), &h.out); o != OutcomeImReceivingRecorded {
		t.Fatalf("IMRECEIVING = %v", o)
	}
	if len(h.out.Cancels) != 1 || h.out.Cancels[0].Reason != CancelImReceiving {
		t.Fatalf("cancels %v", h.out.Cancels)
	}
	h.reset()
	if o := h.a.HandleIWant(h.now, mesh[1], iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("IWANT after IMRECEIVING = %v", o)
	}
	h.reset()
	h.a.HandleIDontWant(h.now, mesh[2], idontwant(id), &h.out)
	if o := h.a.HandleIWant(h.now, mesh[2], iwant(id), &h.out); o != OutcomeIWantNothingServed {
		t.Fatalf("IWANT after IDONTWANT = %v", o)
	}
	// IDONTWANT after IMRECEIVING is definitive.
	h.a.HandleIDontWant(h.now, mesh[1], idontwant(id), &h.out)
	if o := h.a.HandleIWant(h.now, mesh[1], iwant(id), &h.out); o != OutcomeIWantNothingServed {
		t.Fatalf("IWANT after IMRECEIVING then IDONTWANT = %v", o)
	}
	// Bounds: 3 ids remembered in all; 4 IMRECEIVINGs per heartbeat.
	for i := range 2 {
		h.a.HandleImReceiving(h.now, mesh[1], imreceiving(string(rune('a'+i))), &h.out)
	}
	if o := h.a.HandleImReceiving(h.now, mesh[1], imreceiving("z"), &h.out); o != OutcomeImReceivingBudgetExceeded {
		t.Fatalf("over MaxIDontWant = %v", o)
	}
	if o := h.a.HandleImReceiving(h.now, mesh[1], imreceiving(id), &h.out); o != OutcomeImReceivingBudgetExceeded {
		t.Fatalf("over MaxIDontWantMessages = %v", o)
	}
	if s := h.a.Sizes(); s.MaxDontWant > 3 {
		t.Fatalf("IDONTWANT set %d > 3", s.MaxDontWant)
	}
	// IMRECEIVING entries expire like IDONTWANT's.
	for range h.a.cfg.HistoryLength {
		h.heartbeat()
	}
	if s := h.a.Sizes(); s.MaxDontWant != 0 {
		t.Fatalf("IDONTWANT set %d after HistoryLength heartbeats", s.MaxDontWant)
	}
}

// Choosing sources off (MinData 0): nothing is announced or held, a
// PREAMBLE for a message we lack is ignored, IMRECEIVING still honoured.
func TestPreambleOff(t *testing.T) {
	h, mesh := v14Harness(t, func(c *Config) { c.Preamble = PreambleConfig{} }, 0, 1, 2)
	_, id := h.receive(mesh[0], 64<<10)
	if got := h.preamblesTo(id); len(got) != 0 {
		t.Fatalf("PREAMBLE to %v", got)
	}
	_, id2 := msg(pid(99), topicA, 64<<10)
	if o := h.a.HandlePreamble(h.now, mesh[1], preamble(id2, topicA, 10), &h.out); o != OutcomePreambleIgnored {
		t.Fatalf("HandlePreamble = %v", o)
	}
	if o := h.a.HandleImReceiving(h.now, mesh[2], imreceiving(id), &h.out); o != OutcomeImReceivingRecorded {
		t.Fatalf("HandleImReceiving = %v", o)
	}
}

func TestPreambleConfigValidate(t *testing.T) {
	for _, mut := range []func(*PreambleConfig){
		func(c *PreambleConfig) { c.MinData = -1 },
		func(c *PreambleConfig) { c.WindowMax = 0 },
		func(c *PreambleConfig) { c.SourceTimeout = 0 },
		func(c *PreambleConfig) { c.MaxIncoming = 0 },
		func(c *PreambleConfig) { c.MaxIncomingPerPeer = 0 },
		func(c *PreambleConfig) { c.MaxPerHeartbeat = 0 },
		func(c *PreambleConfig) { c.MaxMessageSize = 0 },
		func(c *PreambleConfig) { c.WindowBase = -1 },
		func(c *PreambleConfig) { c.MissMemory = 0 },
		func(c *PreambleConfig) { c.Immediate = -1 },
		func(c *PreambleConfig) { c.ImmediateRTT = -1 },
	} {
		c := DefaultConfig()
		mut(&c.Preamble)
		if err := c.Validate(); err == nil {
			t.Fatalf("invalid %+v accepted", c.Preamble)
		}
	}
	c := DefaultConfig()
	c.Preamble = PreambleConfig{}
	if err := c.Validate(); err != nil {
		t.Fatalf("off: %v", err)
	}
}

// Peers told IMRECEIVING for a message (the other v1.4 mesh peers when its
// source was chosen, and a later announcer answered IMRECEIVING) get no
// IDONTWANT when its head, or the whole message, arrives: they already
// skip us. The mesh peers without v1.4 still get it, and the spared ones
// are counted.
func TestImReceivingSparesIDontWant(t *testing.T) {
	for _, head := range []bool{true, false} {
		h, mesh := v14Harness(t, nil, 0, 1, 2, 3)
		x, y := mesh[0], mesh[4] // y: no v1.4, not told
		m, id := msg(pid(99), topicA, 64<<10)
		h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out)
		told := h.controlTo("imr", id)
		if !samePeers(told, mesh[1:4]) {
			t.Fatalf("IMRECEIVING to %v, want %v", told, mesh[1:4])
		}
		h.reset()
		if head {
			if o := h.a.HandleMessageHead(h.now, x, topicA, id, 64<<10, &h.out); o != OutcomeEarlyIDontWantSent {
				t.Fatalf("HandleMessageHead = %v", o)
			}
		} else if o := h.a.HandleMessage(h.now, x, m, id, true, &h.out); o != OutcomeNeedsValidation {
			t.Fatalf("HandleMessage = %v", o)
		}
		got := h.controlTo("idw", id)
		if want := []peer.ID{y, mesh[5]}; !samePeers(got, want) {
			t.Fatalf("head %v: IDONTWANT to %v, want only the peers not told IMRECEIVING %v", head, got, want)
		}
		if h.out.Preamble.IDontWantSpared != 3 {
			t.Fatalf("head %v: IDontWantSpared = %d, want 3", head, h.out.Preamble.IDontWantSpared)
		}
		if head {
			// The whole message then sends no second IDONTWANT.
			h.reset()
			h.a.HandleMessage(h.now, x, m, id, true, &h.out)
			if got := h.controlTo("idw", id); len(got) != 0 || h.out.Preamble.IDontWantSpared != 0 {
				t.Fatalf("second IDONTWANT to %v, spared %d", got, h.out.Preamble.IDontWantSpared)
			}
		}
	}
}

// However many peers announce a message after its source was chosen, the
// list of peers told IMRECEIVING stays within a full mesh plus
// maxDupSenders; every announcer is still answered.
func TestImReceivingToldBounded(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1, 2, 3)
	_, id := msg(pid(99), topicA, 64<<10)
	h.a.HandlePreamble(h.now, mesh[0], preamble(id, topicA, 64<<10), &h.out)
	for i := 100; i < 160; i++ {
		p := h.add(i, wire.ProtocolMeshsub13, false, topicA)
		if o := h.a.SetPeerLargeMessages(p, true); o != OutcomePeerFeaturesSet {
			t.Fatalf("SetPeerLargeMessages = %v", o)
		}
		h.reset()
		if o := h.a.HandlePreamble(h.now, p, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleOtherSource {
			t.Fatalf("announcer %d: %v", i, o)
		}
		if got := h.controlTo("imr", id); !slices.Equal(got, []peer.ID{p}) {
			t.Fatalf("announcer %d answered %v", i, got)
		}
	}
	rec := h.a.pre.in[id]
	if rec == nil || len(rec.told) != h.a.maxTold() {
		t.Fatalf("told %d peers, want the cap %d", len(rec.told), h.a.maxTold())
	}
}

// A head whose topic is not known yet tells every joined topic's mesh;
// a peer in two of those meshes is decided once: a told peer counts as
// one IDONTWANT spared, another gets one IDONTWANT.
func TestHeadOfUnknownTopicDecidesEachPeerOnce(t *testing.T) {
	h := newHarness(t, nil)
	for i := 1; i <= 6; i++ {
		h.add(i, wire.ProtocolMeshsub13, i%2 == 0, topicA, topicB)
	}
	h.join(topicA)
	h.join(topicB)
	meshA, meshB := h.mesh(topicA), h.mesh(topicB)
	if !samePeers(meshA, meshB) || len(meshA) != 6 {
		t.Fatalf("meshes %v and %v, want the same 6 peers", meshA, meshB)
	}
	for _, p := range meshA {
		h.a.SetPeerLargeMessages(p, true)
	}
	h.reset()
	_, id := msg(pid(99), topicA, 64<<10)
	x := meshA[0]
	h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out)
	told := h.controlTo("imr", id)
	if len(told) != 5 {
		t.Fatalf("IMRECEIVING to %v, want the 5 other mesh peers", told)
	}
	// A peer told IMRECEIVING leaves; a fresh one (not told) takes no part.
	h.reset()
	if o := h.a.HandleMessageHead(h.now, x, "", id, 64<<10, &h.out); o != OutcomeEarlyIDontWantSkipped {
		t.Fatalf("HandleMessageHead = %v, want skipped (every mesh peer was told)", o)
	}
	if got := h.out.Preamble.IDontWantSpared; got != len(told) {
		t.Fatalf("IDontWantSpared = %d, want %d (each told peer once, though it is in two meshes)", got, len(told))
	}
	if got := h.controlTo("idw", id); len(got) != 0 {
		t.Fatalf("IDONTWANT to %v", got)
	}

	// Without PREAMBLE: every mesh peer but the sender gets one IDONTWANT.
	h.reset()
	_, id2 := msg(pid(98), topicA, 64<<10)
	if o := h.a.HandleMessageHead(h.now, x, "", id2, 64<<10, &h.out); o != OutcomeEarlyIDontWantSent {
		t.Fatalf("HandleMessageHead = %v", o)
	}
	n := 0
	for _, s := range h.out.Sends {
		for _, e := range s.RPC.GetControl().GetIdontwant() {
			n += len(e.GetMessageIDs())
		}
	}
	if n != 5 {
		t.Fatalf("%d IDONTWANT ids sent, want 5 (one per peer)", n)
	}
}

// With Pull (the default), choosing a source also asks it for the message
// with IWANT, once; a later announcer gets IMRECEIVING and no IWANT.
// Pull off: no IWANT.
func TestPreamblePullAsksTheSource(t *testing.T) {
	for _, pull := range []bool{true, false} {
		h, mesh := v14Harness(t, func(c *Config) { c.Preamble.Pull = pull }, 0, 1, 2, 3)
		x, y := mesh[0], mesh[1]
		_, id := msg(pid(99), topicA, 64<<10)
		if o := h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleSourceChosen {
			t.Fatalf("HandlePreamble(x) = %v", o)
		}
		h.a.HandlePreamble(h.now, y, preamble(id, topicA, 64<<10), &h.out)
		got, want := h.controlTo("iwant", id), []peer.ID{x}
		if !pull {
			want = nil
		}
		if !slices.Equal(got, want) || h.out.Preamble.PullsSent != len(want) {
			t.Fatalf("pull %v: IWANT to %v (PullsSent %d), want %v", pull, got, h.out.Preamble.PullsSent, want)
		}
		if imr := h.controlTo("imr", id); !samePeers(imr, mesh[1:4]) {
			t.Fatalf("pull %v: IMRECEIVING to %v, want %v", pull, imr, mesh[1:4])
		}
	}
}

// A held copy goes at once to the announced peer that asks for it with
// IWANT, whatever the window and K; its second IWANT is answered as any
// IWANT (within GossipRetransmission). A copy released by the window's
// end makes that peer's first IWANT (a pull that crossed it) go
// unanswered, and its next one answered. After IMRECEIVING, which
// cancels the released copy if still queued, the peer's IWANT is answered.
func TestPreamblePullReleasesHeldCopy(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1, 2, 3, 4, 5)
	_, id := h.receive(mesh[0], 64<<10)
	if got := h.copiesTo(id); len(got) != 0 {
		t.Fatalf("copies before any answer to %v (RTTs unknown: nothing goes at once)", got)
	}
	puller := mesh[2]
	h.reset()
	if o := h.a.HandleIWant(h.now, puller, iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("pull = %v", o)
	}
	if got := h.copiesTo(id); !slices.Equal(got, []peer.ID{puller}) || h.out.Preamble.Pulled != 1 {
		t.Fatalf("copies to %v (Pulled %d), want %v at once", got, h.out.Preamble.Pulled, puller)
	}
	if s := h.out.Sends[0]; len(s.Paced) != 1 || !s.Paced[0] {
		t.Fatalf("pulled copy not paced: %+v", s.Paced)
	}
	// K 1 does not hold a second pull back while the first is in flight.
	h.reset()
	if o := h.a.HandleIWant(h.now, mesh[3], iwant(id), &h.out); o != OutcomeIWantServed || !slices.Equal(h.copiesTo(id), []peer.ID{mesh[3]}) {
		t.Fatalf("second peer's pull = %v, copies to %v", o, h.copiesTo(id))
	}
	// The puller asks again: an ordinary IWANT answer.
	h.reset()
	if o := h.a.HandleIWant(h.now, puller, iwant(id), &h.out); o != OutcomeIWantServed || h.out.Preamble.Pulled != 0 {
		t.Fatalf("repeated IWANT = %v, Pulled %d", o, h.out.Preamble.Pulled)
	}
	// The window ends: the rest go one at a time (K 1).
	h.reset()
	h.advance(h.a.cfg.Preamble.WindowUnknown)
	h.a.HandleCopyDone(h.now, puller, id, &h.out)
	h.a.HandleCopyDone(h.now, mesh[3], id, &h.out)
	h.a.ReleaseDue(h.now, &h.out)
	rel := h.copiesTo(id)
	if len(rel) != 1 || !slices.Contains([]peer.ID{mesh[1], mesh[4], mesh[5]}, rel[0]) {
		t.Fatalf("after the window copies to %v, want one of %v", rel, []peer.ID{mesh[1], mesh[4], mesh[5]})
	}
	late := rel[0]
	h.reset()
	if o := h.a.HandleIWant(h.now, late, iwant(id), &h.out); o != OutcomeIWantNothingServed {
		t.Fatalf("pull crossing the released copy = %v, want nothing served", o)
	}
	if o := h.a.HandleIWant(h.now, late, iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("next IWANT = %v, want served", o)
	}
	// IMRECEIVING after the release: a later IWANT is answered.
	next := h.done(late, id, h.tracked())
	if len(next) != 1 {
		t.Fatalf("copies after the first was done: %v", next)
	}
	h.reset()
	h.a.HandleImReceiving(h.now, next[0], imreceiving(id), &h.out)
	if len(h.out.Cancels) != 1 {
		t.Fatalf("cancels %v, want the released copy's", h.out.Cancels)
	}
	if o := h.a.HandleIWant(h.now, next[0], iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("IWANT after IMRECEIVING = %v, want served", o)
	}
}

// A hostile peer's IWANTs for a held message get it at most
// GossipRetransmission times, then cost it an IWANT-spam penalty.
func TestPreamblePullBoundedByRetransmission(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1, 2, 3, 4, 5)
	_, id := h.receive(mesh[0], 64<<10)
	p := mesh[1]
	for i := range h.a.cfg.GossipRetransmission {
		h.reset()
		if o := h.a.HandleIWant(h.now, p, iwant(id), &h.out); o != OutcomeIWantServed {
			t.Fatalf("IWANT %d = %v", i, o)
		}
	}
	h.reset()
	if o := h.a.HandleIWant(h.now, p, iwant(id), &h.out); o != OutcomeIWantBudgetExceeded {
		t.Fatalf("IWANT past GossipRetransmission = %v", o)
	}
	if len(h.copiesTo(id)) != 0 {
		t.Fatalf("copies past GossipRetransmission: %v", h.copiesTo(id))
	}
}

// A PREAMBLE from a peer we sent IMRECEIVING or IDONTWANT for the message
// crossed it, and what we sent drops the copy the peer holds for us: it is
// not answered again, neither while the message arrives (IMRECEIVING) nor
// once we have it (IDONTWANT). A peer sent neither is answered.
func TestPreambleFromToldPeerNotAnsweredTwice(t *testing.T) {
	h, mesh := v14Harness(t, nil, 0, 1, 2, 3)
	x := mesh[0]
	z := h.v14Outsider(mesh) // never told
	m, id := msg(pid(99), topicA, 64<<10)
	h.a.HandlePreamble(h.now, x, preamble(id, topicA, 64<<10), &h.out)
	h.a.HandleMessageHead(h.now, x, topicA, id, 64<<10, &h.out)
	for _, c := range []struct {
		name string
		from peer.ID
		want Outcome
		kind string // the answer a peer not told gets
	}{
		{"arriving, told", mesh[1], OutcomePreambleOtherSource, ""},
		{"arriving, not told", z, OutcomePreambleOtherSource, "imr"},
	} {
		h.reset()
		if o := h.a.HandlePreamble(h.now, c.from, preamble(id, topicA, 64<<10), &h.out); o != c.want {
			t.Fatalf("%s: HandlePreamble = %v, want %v", c.name, o, c.want)
		}
		imr, idw := h.controlTo("imr", id), h.controlTo("idw", id)
		switch {
		case c.kind == "" && (len(imr)+len(idw) != 0 || h.out.Preamble.AnswersSpared != 1):
			t.Fatalf("%s: answered IMRECEIVING %v IDONTWANT %v (spared %d)", c.name, imr, idw, h.out.Preamble.AnswersSpared)
		case c.kind == "imr" && !slices.Equal(imr, []peer.ID{c.from}):
			t.Fatalf("%s: IMRECEIVING to %v", c.name, imr)
		}
	}
	h.a.HandleMessage(h.now, x, m, id, true, &h.out)
	h.a.Validated(h.now, id, ValidationAccept, &h.out)
	h.reset()
	if o := h.a.HandlePreamble(h.now, mesh[2], preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleHave {
		t.Fatalf("seen, told: HandlePreamble = %v", o)
	}
	if idw := h.controlTo("idw", id); len(idw) != 0 || h.out.Preamble.AnswersSpared != 1 || h.out.Preamble.IDontWantSent != 0 {
		t.Fatalf("seen, told: IDONTWANT to %v (%+v)", idw, h.out.Preamble)
	}
	// mesh[4] had no v1.4 at the choice, so it was sent IDONTWANT at the
	// head instead of IMRECEIVING.
	h.reset()
	h.a.SetPeerLargeMessages(mesh[4], true)
	if o := h.a.HandlePreamble(h.now, mesh[4], preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleHave {
		t.Fatalf("seen, sent IDONTWANT: HandlePreamble = %v", o)
	}
	if idw := h.controlTo("idw", id); len(idw) != 0 || h.out.Preamble.AnswersSpared != 1 {
		t.Fatalf("seen, sent IDONTWANT: IDONTWANT to %v (%+v)", idw, h.out.Preamble)
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, z, preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleHave {
		t.Fatalf("seen, sent neither: HandlePreamble = %v", o)
	}
	if idw := h.controlTo("idw", id); !slices.Equal(idw, []peer.ID{z}) {
		t.Fatalf("seen, sent neither: IDONTWANT to %v", idw)
	}
}

// The IDONTWANT sent when a large message arrives whole (no head seen)
// also counts: a PREAMBLE from its recipient crossed it and is not
// answered; a small message's recipients are not remembered.
func TestPreambleAfterWholeMessageIDontWant(t *testing.T) {
	h, mesh := v14Harness(t, nil, 1, 2)
	_, id := h.receive(mesh[0], 64<<10) // IDONTWANT to the other mesh peers
	if idw := h.controlTo("idw", id); !slices.Contains(idw, mesh[1]) {
		t.Fatalf("IDONTWANT to %v, want %v among them", idw, mesh[1])
	}
	h.reset()
	if o := h.a.HandlePreamble(h.now, mesh[1], preamble(id, topicA, 64<<10), &h.out); o != OutcomePreambleHave {
		t.Fatalf("HandlePreamble = %v", o)
	}
	if idw := h.controlTo("idw", id); len(idw) != 0 || h.out.Preamble.AnswersSpared != 1 {
		t.Fatalf("IDONTWANT to %v (%+v), want none", idw, h.out.Preamble)
	}
	_, small := h.receive(mesh[0], 2<<10)
	if h.a.early.ids[small] != nil {
		t.Fatalf("a 2 KiB message's IDONTWANT recipients were remembered")
	}
}
