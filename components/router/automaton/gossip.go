package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// HandleControl applies every part of a control message from one peer, in the
// order IDONTWANT, IMRECEIVING, PREAMBLE, IHAVE, IWANT, GRAFT, PRUNE
// (IDONTWANT and IMRECEIVING first so that IWANT answers already respect
// them), and appends one outcome per part to outcomes. IMRECEIVING and
// PREAMBLE (gossipsub v1.4) count only from a peer that advertised v1.4
// large-message handling (OutcomeLargeMessagesUnsupported otherwise).
// A nil ctl does nothing.
func (a *Automaton) HandleControl(now time.Time, from peer.ID, ctl *pb.ControlMessage, out *Output, outcomes []Outcome) []Outcome {
	if idws := ctl.GetIdontwant(); len(idws) > 0 {
		within := a.countIDontWantRPC(from)
		for _, m := range idws {
			outcomes = append(outcomes, a.handleIDontWant(now, from, m, within, out))
		}
	}
	for _, m := range ctl.GetImreceiving() {
		outcomes = append(outcomes, a.HandleImReceiving(now, from, m, out))
	}
	for _, m := range ctl.GetPreamble() {
		outcomes = append(outcomes, a.HandlePreamble(now, from, m, out))
	}
	if ihs := ctl.GetIhave(); len(ihs) > 0 {
		within := a.countIHaveRPC(from, ihs)
		for _, m := range ihs {
			outcomes = append(outcomes, a.handleIHave(now, from, m, within, out))
		}
	}
	for _, m := range ctl.GetIwant() {
		outcomes = append(outcomes, a.HandleIWant(now, from, m, out))
	}
	for _, m := range ctl.GetGraft() {
		outcomes = append(outcomes, a.HandleGraft(now, from, m.GetTopicID(), out))
	}
	for _, m := range ctl.GetPrune() {
		outcomes = append(outcomes, a.HandlePrune(now, from, m, out))
	}
	return outcomes
}

// HandleIHave answers a peer's IHAVE with an IWANT for the ids not seen yet,
// within the per-heartbeat budgets (MaxIHaveMessages RPCs with IHAVE and
// MaxIHaveLength requested ids per peer), and records a promise: one of the
// requested messages must arrive from the peer within IWantFollowupTime or
// the peer is penalised (PenaltyBrokenPromise, reported by Heartbeat). It
// counts ih as an RPC of its own; HandleControl counts an RPC's IHAVE
// entries, one per topic, as one (as go-libp2p-pubsub and js-libp2p do:
// a heartbeat's gossip for many topics is one RPC). From a mesh peer we
// choked (ChokeConfig), the ids we already have are reported as
// EvtChokedPeerAnnounced, which the scorer counts as mesh deliveries, and
// its entries for that topic count against a budget of their own
// (MaxIHaveMessages entries per topic and heartbeat interval), not the
// peer-wide one.
//
// Outcomes: OutcomeIWantSent, OutcomeNothingWanted,
// OutcomeIHaveBudgetExceeded, OutcomeBelowGossipThreshold,
// OutcomeTopicNotJoined, OutcomeUnknownPeer, OutcomeGraylisted,
// OutcomeUnsupportedByProtocol, OutcomeInvalidInput.
func (a *Automaton) HandleIHave(now time.Time, from peer.ID, ih *pb.ControlIHave, out *Output) Outcome {
	return a.handleIHave(now, from, ih, a.countIHaveRPC(from, []*pb.ControlIHave{ih}), out)
}

// countIHaveRPC counts an RPC's IHAVE entries ihs from from against its
// peer-wide budget, once, unless every entry is for a topic where we
// choked it (those have the topic's budget: chokeIHaveIn), and reports
// whether the RPC is within it.
func (a *Automaton) countIHaveRPC(from peer.ID, ihs []*pb.ControlIHave) bool {
	ps := a.peers[from]
	if ps == nil {
		return false // handleIHave refuses it
	}
	for _, ih := range ihs {
		if !a.chokedTopic(ih.GetTopicID(), from) {
			ps.ihaveIn++
			return ps.ihaveIn <= a.cfg.MaxIHaveMessages
		}
	}
	return true
}

// chokedTopic reports whether topic is joined and we choked from there.
func (a *Automaton) chokedTopic(topic string, from peer.ID) bool {
	t := a.topics[topic]
	return t != nil && t.joined && t.choking(from)
}

// handleIHave is HandleIHave for one entry of an RPC whose peer-wide
// IHAVE budget check (countIHaveRPC) gave rpcWithin.
func (a *Automaton) handleIHave(now time.Time, from peer.ID, ih *pb.ControlIHave, rpcWithin bool, out *Output) Outcome {
	ps, refused := a.sender(from, featMesh)
	if ps == nil {
		return refused
	}
	if ps.score < a.thresholds.Gossip {
		return OutcomeBelowGossipThreshold
	}
	topic := ih.GetTopicID()
	t := a.topics[topic]
	// A mesh peer we choked in the topic announces what we asked it to:
	// its entries there count against the topic's budget (chokeIHaveIn),
	// not the peer-wide one.
	choked := t != nil && t.joined && t.choking(from)
	within := rpcWithin
	if choked {
		within = a.chokeIHaveIn(t, from)
	}
	if !within || ps.iasked >= a.cfg.MaxIHaveLength {
		return OutcomeIHaveBudgetExceeded
	}
	if !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	if t == nil || !t.joined {
		return OutcomeTopicNotJoined
	}
	budget := a.cfg.MaxIHaveLength - ps.iasked
	want := a.scratchIDs[:0]
	var had []string // the ids a peer we choked announced that we have
	// A mesh peer we did not choke announces what we asked it to when we
	// asked it to skip the message's author (skippedID): only a peer that
	// speaks the extension, to which the request went.
	credit := !choked && a.skipAsked > 0 && ps.feat&featChoke != 0 && t.mesh.has(from)
	for _, raw := range ih.GetMessageIDs() {
		if len(raw) == 0 || len(raw) > a.cfg.MaxIDLength {
			continue
		}
		if a.seen.has(string(raw)) {
			if (choked || credit && a.skippedID(string(raw))) && len(had) < a.cfg.MaxIHaveLength && a.cachedIn(string(raw), topic) {
				if had == nil { // one slice for the IHAVE: the event owns it
					had = make([]string, 0, min(len(ih.GetMessageIDs()), a.cfg.MaxIHaveLength))
				}
				had = append(had, string(raw))
			}
			continue
		}
		if _, dup := a.scratchSet[string(raw)]; dup {
			continue
		}
		id := string(raw)
		a.scratchSet[id] = struct{}{}
		want = append(want, id)
		if len(want) >= budget {
			break
		}
	}
	clear(a.scratchSet)
	a.scratchIDs = want[:0]
	if len(had) > 0 {
		FactChokedAnnounced.add(out, events.EvtChokedPeerAnnounced{Topic: topic, From: from, IDs: had, At: now})
	}
	if len(want) == 0 {
		return OutcomeNothingWanted
	}
	a.rng.Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
	ps.iasked += len(want)
	ids := make([][]byte, len(want))
	for i, id := range want {
		ids[i] = []byte(id)
		if choked {
			a.lazyAsked.add(id, from)
		}
	}
	out.sendIWant(from, ids)
	ps.promises = append(ps.promises, promise{id: want[0], deadline: now.Add(a.cfg.IWantFollowupTime)})
	clear(want)
	return OutcomeIWantSent
}

// HandleIWant answers a peer's IWANT with the requested messages that we
// advertised to it and still cache, skipping ids it sent IDONTWANT for and
// ids already sent to it GossipRetransmission times (an id it sent only
// IMRECEIVING for is answered: the peer asks because its source failed;
// an id announced to it with PREAMBLE counts as advertised). A copy of a
// staggered or held message waiting for the peer goes at once instead
// (PreambleCounts.Pulled); the first IWANT of a peer announced the
// message whose held copy already went is not answered with a second
// copy (PreambleConfig.Pull). Asking beyond the
// per-heartbeat budget (MaxIHaveLength ids) or beyond GossipRetransmission
// emits EvtPeerPenalized (PenaltyIWantSpam).
//
// Outcomes: OutcomeIWantServed, OutcomeIWantNothingServed,
// OutcomeIWantBudgetExceeded, OutcomeBelowGossipThreshold,
// OutcomeUnknownPeer, OutcomeGraylisted, OutcomeUnsupportedByProtocol.
func (a *Automaton) HandleIWant(now time.Time, from peer.ID, iw *pb.ControlIWant, out *Output) Outcome {
	ps, refused := a.sender(from, featMesh)
	if ps == nil {
		return refused
	}
	if ps.score < a.thresholds.Gossip {
		return OutcomeBelowGossipThreshold
	}
	served, spam, overBudget := 0, 0, false
	for _, raw := range iw.GetMessageIDs() {
		if ps.iwantIn >= a.cfg.MaxIHaveLength {
			overBudget = true
			break
		}
		ps.iwantIn++
		a.lazyEvidence(from, string(raw), lazyEvIWant)
		e := a.mcache.get(string(raw))
		if e == nil || !a.advertised(ps, e) {
			continue
		}
		if v, ok := ps.dontWant[keyOf(string(raw))]; ok && v&imrMark == 0 {
			continue
		}
		if handled, sent := a.staggerPull(from, e, out); handled {
			if sent {
				out.Preamble.Pulled++
				served++
			}
			continue
		}
		if e.sent[from] >= a.cfg.GossipRetransmission {
			spam++
			continue
		}
		if e.sent == nil {
			e.sent = make(map[peer.ID]int)
		}
		e.sent[from]++
		out.sendMessage(from, string(raw), e.msg)
		served++
	}
	if overBudget {
		spam++
	}
	if spam > 0 {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyIWantSpam, Count: spam, At: now})
		return OutcomeIWantBudgetExceeded
	}
	if served > 0 {
		return OutcomeIWantServed
	}
	return OutcomeIWantNothingServed
}

// advertised reports whether e's id was offered to ps in an IHAVE: named
// in a truncated one, or covered by an untruncated one for e's topic sent
// while e was in the gossip windows (a message cached at tick k is
// advertised by the heartbeats k+1 .. k+HistoryGossip).
func (a *Automaton) advertised(ps *peerState, e *cacheEntry) bool {
	if _, ok := e.offered[ps.id]; ok {
		return true
	}
	g, ok := ps.gossiped[e.topic]
	return ok && g.any(e.tick+1, e.tick+uint64(a.cfg.HistoryGossip))
}

// HandleIDontWant records a /meshsub/1.2.0 peer's IDONTWANT: those messages
// are no longer forwarded or served to it, and for each id still in our
// message cache (so possibly queued for the peer) a Cancel is output. At
// most MaxIDontWant ids are remembered per peer (they expire after
// HistoryLength heartbeats), and at most MaxIDontWantMessages RPCs with
// IDONTWANT are processed per peer per heartbeat. It counts idw as an RPC
// of its own; HandleControl counts an RPC's IDONTWANT entries as one (as
// go-libp2p-pubsub does).
//
// Outcomes: OutcomeIDontWantRecorded, OutcomeIDontWantBudgetExceeded,
// OutcomeUnknownPeer, OutcomeGraylisted, OutcomeUnsupportedByProtocol.
func (a *Automaton) HandleIDontWant(now time.Time, from peer.ID, idw *pb.ControlIDontWant, out *Output) Outcome {
	return a.handleIDontWant(now, from, idw, a.countIDontWantRPC(from), out)
}

// countIDontWantRPC counts an RPC with IDONTWANT from from against its
// per-heartbeat budget and reports whether it is within it.
func (a *Automaton) countIDontWantRPC(from peer.ID) bool {
	ps := a.peers[from]
	if ps == nil {
		return false // handleIDontWant refuses it
	}
	ps.idwIn++
	return ps.idwIn <= a.cfg.MaxIDontWantMessages
}

// handleIDontWant is HandleIDontWant for one entry of an RPC whose budget
// check (countIDontWantRPC) gave rpcWithin.
func (a *Automaton) handleIDontWant(now time.Time, from peer.ID, idw *pb.ControlIDontWant, rpcWithin bool, out *Output) Outcome {
	ps, refused := a.sender(from, featIDontWant)
	if ps == nil {
		return refused
	}
	if !rpcWithin {
		return OutcomeIDontWantBudgetExceeded
	}
	for _, raw := range idw.GetMessageIDs() {
		if len(raw) == 0 || len(raw) > a.cfg.MaxIDLength {
			continue
		}
		a.lazyEvidence(from, string(raw), lazyEvIDW)
		a.staggerPeerHas(now, from, string(raw), out)
		k := keyOf(string(raw))
		if v, ok := ps.dontWant[k]; ok {
			if v&imrMark != 0 {
				ps.dontWant[k] = a.ticks // IDONTWANT after IMRECEIVING: definitive
			}
			continue
		}
		if len(ps.dontWant) >= a.cfg.MaxIDontWant {
			return OutcomeIDontWantBudgetExceeded
		}
		if ps.dontWant == nil {
			ps.dontWant = make(map[idKey]uint64)
		}
		ps.dontWant[k] = a.ticks
		if id, ok := a.mcache.key(string(raw)); ok {
			out.Cancels = append(out.Cancels, Cancel{Peer: from, ID: id, Reason: CancelIDontWant})
		}
	}
	return OutcomeIDontWantRecorded
}

// idKey is the 64-bit FNV-1a hash of a message id, the key of a peer's
// IDONTWANT set: 8 bytes instead of a copy of the id (about 50 bytes with
// its header), which is most of the memory the sets take at high rates. Two
// ids with the same key only mean that the peer which sent IDONTWANT for one
// is not sent the other (it still gets it by gossip or from other peers);
// ids chosen to collide affect only the peer that sent them.
type idKey uint64

// keyOf returns id's idKey.
func keyOf(id string) idKey { return idKey(wire.IDHash(id)) }

// cachedIn reports whether id is a cached message of topic: only such an
// id in a choked (or skip-asked) peer's IHAVE of topic is a delivery it
// would have made there, and earns it credit in that topic's score.
func (a *Automaton) cachedIn(id, topic string) bool {
	e := a.mcache.get(id)
	return e != nil && e.topic == topic
}
