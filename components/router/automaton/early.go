package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// HandleMessageHead takes the head of a message still arriving from a peer:
// its id (which the driver computed from the first bytes of the message's
// data, where the id function allows that), the length of its data, and its
// topic when the frame's first bytes named it (topic "" otherwise). If the
// message is new and its data at least IDontWantThreshold bytes, IDONTWANT
// for it goes at once to the /meshsub/1.2.0 mesh peers of the topic (of
// every joined topic when the topic is not known yet) except the sender
// and the peers we told IMRECEIVING for it (gossipsub v1.4: they already
// skip us; PreambleCounts.IDontWantSpared), as HandleMessage would send
// it once the whole message has arrived, but earlier by the time the
// rest of the message takes to arrive: a mesh peer that gets the
// IDONTWANT before it forwards its own copy does not send it.
// HandleMessage then sends no second IDONTWANT for the id. For data under
// IDontWantLearn.Below, learned IDONTWANT decides per peer, as in
// HandleMessage, and a head from a peer we sent IDONTWANT for the id is
// a late sample of that peer (IDontWantLearnConfig). Nothing else
// changes: the message is not marked seen, and the head is no promise that
// the message will arrive (if it does not, the message can still come by
// gossip: IDONTWANT stops forwards, not IWANT answers).
//
// Outcomes: OutcomeEarlyIDontWantSent, OutcomeEarlyIDontWantSkipped (data
// under the threshold, IDONTWANT already sent for the id, or no mesh peer
// to tell), OutcomeAlreadySeen, OutcomeTopicNotJoined, OutcomeGraylisted,
// OutcomeUnknownPeer, OutcomeInvalidInput (bad id or topic).
func (a *Automaton) HandleMessageHead(now time.Time, from peer.ID, topic, id string, dataLen int, out *Output) Outcome {
	ps := a.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if !a.validID(id) || topic != "" && !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	if a.graylisted(ps) {
		return OutcomeGraylisted
	}
	if topic != "" {
		if t := a.topics[topic]; t == nil || !t.joined {
			return OutcomeTopicNotJoined
		}
	}
	if a.headsDistrusted(now, ps) {
		return OutcomeHeadDistrusted
	}
	if len(a.pre.in) > 0 {
		a.arrivedIncoming(id) // announced by PREAMBLE: the wait is over
	}
	seen := a.seen.has(id)
	if seen && ps.idw.n > 0 {
		a.idwCopy(ps, id, out) // an IDONTWANT of ours it came after was late
	}
	// The sender has the message: a forward of ours to it would only cross
	// its copy on the way (once forwarded, there is nothing left to skip).
	if seen && a.pending[id] == nil {
		a.staggerPeerHas(now, from, id, out)
		return OutcomeAlreadySeen
	}
	e := a.early.entry(id)
	if len(e.from) < maxDupSenders && !containsPeer(e.from, from) {
		e.from = append(e.from, from)
	}
	if seen {
		return OutcomeAlreadySeen
	}
	if e.head == "" {
		e.head = from
	}
	if dataLen < a.cfg.IDontWantThreshold || e.idwSent {
		return OutcomeEarlyIDontWantSkipped
	}
	k, learn := a.idwLearned(id, dataLen)
	quiet := false // a peer's IDONTWANT was suppressed (IDontWantLearnConfig) or spared (told IMRECEIVING)
	// The distinct mesh peers first (with the topic unknown, a peer may be
	// in several meshes), then one decision per peer: a peer in two meshes
	// is counted, sampled and sent to once.
	mesh := a.scratchPeers[:0]
	for _, name := range a.localOrder.items {
		t := a.topics[name]
		if t == nil || !t.joined || topic != "" && name != topic {
			continue
		}
		for _, p := range t.mesh.items {
			if p == from || containsPeer(mesh, p) || a.chokeSpares(t, p, dataLen) {
				continue
			}
			if a.partsPeers > 0 {
				if ps := a.peers[p]; ps != nil && ps.sendsParts(name) {
					continue // it sends us this topic's messages as parts
				}
			}
			mesh = append(mesh, p)
		}
	}
	to := mesh[:0] // filtered in place
	for _, p := range mesh {
		if containsPeer(e.told, p) {
			out.Preamble.IDontWantSpared++
			quiet = true
			continue
		}
		if mp := a.peers[p]; mp != nil && mp.feat&featIDontWant != 0 {
			if learn && !a.idwSends(now, mp, k, out) {
				quiet = true
				continue
			}
			to = append(to, p)
		}
	}
	clear(mesh[len(to):])
	a.scratchPeers = to[:0]
	if len(to) == 0 {
		e.idwSent = quiet // decided: HandleMessage does not decide again
		return OutcomeEarlyIDontWantSkipped
	}
	raw := []byte(id) // shared (read-only) by every IDONTWANT
	for _, p := range to {
		out.sendIDontWant(p, raw)
	}
	if a.announces(dataLen) {
		e.idwTo = append(e.idwTo[:0], to...)
	}
	clear(to)
	e.idwSent = true
	return OutcomeEarlyIDontWantSent
}

// maxEarly bounds the ids earlySet remembers: far more than the messages
// that can be arriving at once.
const maxEarly = 1024

// earlySet remembers, for the last maxEarly message ids whose head arrived
// (HandleMessageHead), the peers that started sending the message, so that
// Validated does not forward it to them, and whether IDONTWANT went out
// for it, so that HandleMessage does not send it a second time. The oldest
// id is forgotten first.
type earlySet struct {
	ids  map[string]*earlyEntry
	ring []string
	next int
}

type earlyEntry struct {
	idwSent bool
	// head is the peer whose head we acted on first (the early IDONTWANT,
	// the end of a PREAMBLE record): if its message then comes on a topic
	// we have not joined, the head was false (brokenHead).
	head peer.ID
	from []peer.ID // peers whose copy started arriving, at most maxDupSenders
	// told is the peers we sent IMRECEIVING for the id while it was
	// announced to us (incoming.told): they already skip us, so IDONTWANT
	// for it does not go to them.
	told []peer.ID
	// idwTo is the peers we sent IDONTWANT for the id, at its head or
	// arrival, when it is large enough to be announced with PREAMBLE: a
	// PREAMBLE from one of them crossed that IDONTWANT and needs no answer.
	idwTo []peer.ID
}

// toldOrSent reports whether p was sent IMRECEIVING or IDONTWANT for id
// (earlyEntry.told, earlyEntry.idwTo): it skips us, or will once that
// message arrives.
func (s *earlySet) toldOrSent(id string, p peer.ID) bool {
	e := s.ids[id]
	return e != nil && (containsPeer(e.told, p) || containsPeer(e.idwTo, p))
}

// told returns the peers sent IMRECEIVING for id (nil for most ids).
func (s *earlySet) told(id string) []peer.ID {
	if e := s.ids[id]; e != nil {
		return e.told
	}
	return nil
}

// idwSent reports whether IDONTWANT went out for id at its head.
func (s *earlySet) idwSent(id string) bool {
	e := s.ids[id]
	return e != nil && e.idwSent
}

// arriving reports whether a copy of id started arriving.
func (s *earlySet) arriving(id string) bool {
	e := s.ids[id]
	return e != nil && len(e.from) > 0
}

// sentBy reports whether p started sending id.
func (s *earlySet) sentBy(id string, p peer.ID) bool {
	e := s.ids[id]
	return e != nil && containsPeer(e.from, p)
}

// entry returns id's entry, creating it (and forgetting the oldest) if
// need be.
func (s *earlySet) entry(id string) *earlyEntry {
	if e := s.ids[id]; e != nil {
		return e
	}
	if s.ids == nil {
		s.ids = make(map[string]*earlyEntry, maxEarly)
		s.ring = make([]string, maxEarly)
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	e := &earlyEntry{}
	s.ring[s.next] = id
	s.ids[id] = e
	s.next = (s.next + 1) % maxEarly
	return e
}

// FragmentNotJoined tells the automaton that the driver dropped a
// fragment of message id from peer from because its topic is not joined
// (gossipsub v1.4 fragments never reach HandleMessage): if a head of that
// message from from made us act early, it was false (brokenHead).
//
// Outcomes: OutcomeTopicNotJoined, OutcomeUnknownPeer.
func (a *Automaton) FragmentNotJoined(now time.Time, from peer.ID, id string, out *Output) Outcome {
	ps := a.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	a.brokenHead(now, ps, id, out)
	return OutcomeTopicNotJoined
}

// headsDistrusted reports whether ps's heads no longer act early: more
// than MissAllowance of them, each within MissMemory of the previous,
// were broken (brokenHead).
func (a *Automaton) headsDistrusted(now time.Time, ps *peerState) bool {
	c := &a.cfg.Preamble
	return ps.misses.heads.beyond(now, c.MissAllowance, c.MissMemory)
}

// brokenHead is called when from's message id came on a topic we have not
// joined. If its head was the one we acted on (HandleMessageHead), the
// head was false: we told our meshes we were receiving a message that
// was not coming, and, without a topic in the head, told every mesh. It
// counts a miss against from, as PREAMBLE sources' misses are counted
// (PreambleConfig.MissAllowance in a row, each within MissMemory of the
// previous, are allowed: a message in flight when we left its topic is
// one); beyond them each costs PenaltyBrokenHead, and from's heads no
// longer act early until MissMemory passes without one. The IDONTWANT
// already sent cannot be taken back (docs/limits.md).
func (a *Automaton) brokenHead(now time.Time, ps *peerState, id string, out *Output) {
	e := a.early.ids[id]
	if e == nil || e.head != ps.id {
		return
	}
	e.head = ""
	c := &a.cfg.Preamble
	out.Preamble.BrokenHeads++
	if ps.misses.heads.add(now, c.MissMemory) > c.MissAllowance {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: ps.id, Reason: events.PenaltyBrokenHead, Count: 1, At: now})
	}
}
