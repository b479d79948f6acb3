package automaton

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// HandleMessage takes a message received from a peer, with the id the
// driver computed for it. The automaton is the one owner of the seen-cache
// and decides here which copies need a signature check:
//
//   - a copy byte-identical (same wire.Fingerprint) to the copy accepted
//     under a seen id is a duplicate and needs no check: its verdict could
//     only be the same (EvtMessageDuplicated, OutcomeAlreadySeen);
//   - any other copy, when checked is false, returns
//     OutcomeNeedsSignatureCheck and changes nothing in the seen-cache: the
//     driver applies the signature policy to the message's own bytes, then
//     calls HandleMessage again with checked true, or Reject with the
//     reason. If the id is not seen yet and the data is at least
//     IDontWantThreshold bytes, IDONTWANT for it is output here already,
//     before the check, to the /meshsub/1.2.0 mesh peers except the sender
//     and, for data under IDontWantLearn.Below, except the peers learned
//     IDONTWANT has quieted (IDontWantLearnConfig; see announceEarly); the
//     driver should carry it out before it runs the check;
//   - with checked true, a copy under a seen id is a duplicate too (a valid
//     but different copy: it is neither delivered nor forwarded), and a new
//     message is marked seen with its fingerprint and held until the driver
//     calls Validated with the same id. If its IDONTWANT did not go out
//     before the check (a driver that calls with checked true only), it is
//     sent now, before validation.
//
// No IDONTWANT goes out for an id HandleMessageHead sent it for already,
// at the message's head.
//
// A copy of a seen message from a peer we sent IDONTWANT for it (for data
// under IDontWantLearn.Below) is a late sample of that peer
// (IDontWantLearnConfig; counted in out.IDontWant).
//
// A duplicate of a message we have forwarded (it is in the message cache)
// also outputs a Cancel (CancelReceived) for the sender: a copy still
// queued for it need not be written.
//
// Senders the automaton ignores (unknown, graylisted), malformed messages
// and messages of topics the node has not joined are refused before any
// signature check. A copy from a peer that promised it (IHAVE answered by
// our IWANT) fulfils the promise.
//
// The automaton keeps msg (in the pending set and then the message cache)
// and shares it with the RPCs it outputs: nobody may modify it afterwards.
//
// Facts: EvtMessageDuplicated, or EvtMessageRejected (graylisted, topic not
// joined, self origin, validation queue full, malformed); a malformed
// message also costs the sender EvtPeerPenalized (PenaltyMalformedMessage).
//
// Outcomes: OutcomeNeedsSignatureCheck, OutcomeNeedsValidation,
// OutcomeAlreadySeen, OutcomeSelfOrigin, OutcomeValidationQueueFull,
// OutcomeTopicNotJoined, OutcomeGraylisted, OutcomeUnknownPeer,
// OutcomeInvalidInput (nil message, bad id, or missing or over-long topic:
// reported as RejectMalformed).
func (a *Automaton) HandleMessage(now time.Time, from peer.ID, msg *pb.Message, id string, checked bool, out *Output) Outcome {
	ps := a.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if msg == nil || !a.validID(id) || !a.validTopic(msg.GetTopic()) {
		a.Reject(now, from, msg.GetTopic(), id, events.RejectMalformed, out)
		return OutcomeInvalidInput
	}
	topic := msg.GetTopic()
	reject := func(r events.RejectReason) {
		FactMessageRejected.add(out, events.EvtMessageRejected{Topic: topic, ID: id, From: from, Reason: r, At: now})
	}
	if a.graylisted(ps) {
		reject(events.RejectGraylisted)
		return OutcomeGraylisted
	}
	t := a.topics[topic]
	if t == nil || !t.joined {
		reject(events.RejectTopicNotJoined)
		a.brokenHead(now, ps, id, out)
		return OutcomeTopicNotJoined
	}
	if len(a.pre.in) > 0 {
		a.arrivedIncoming(id) // announced by PREAMBLE: the wait is over
	}
	sv, seen := a.seen.get(id)
	if seen && ps.idw.n > 0 {
		a.idwCopy(ps, id, out) // an IDONTWANT of ours it came after was late
	}
	// A copy equal to the accepted copy we still hold (pending or cached)
	// is identical without hashing it; otherwise the fingerprints decide.
	var fp wire.Fingerprint
	identical := seen && wire.SameMessage(a.heldCopy(id), msg)
	if seen && !identical {
		fp = wire.FingerprintOf(msg)
		identical = sv.fp == fp
	}
	if !identical && !checked {
		if !seen {
			a.announceEarly(now, t, from, msg, id, out)
		}
		return OutcomeNeedsSignatureCheck
	}
	a.fulfilPromise(ps, id)
	if seen {
		a.forgetAnnounced(id)
		// Only a byte-identical copy shares the pending message's fate:
		// a different copy must not be blamed for its rejection.
		if pm := a.pending[id]; identical && pm != nil && pm.from != from && len(pm.dupFrom) < maxDupSenders {
			pm.dupFrom = append(pm.dupFrom, from)
		}
		// The sender has the message: a copy still queued for it (we
		// forwarded before its copy reached us) need not be written.
		if cid, ok := a.mcache.key(id); ok {
			out.Cancels = append(out.Cancels, Cancel{Peer: from, ID: cid, Reason: CancelReceived})
		}
		a.staggerPeerHas(now, from, id, out)
		a.lazyEvidence(from, id, lazyEvCopy)
		FactMessageDuplicated.add(out, events.EvtMessageDuplicated{Topic: topic, ID: id, From: from, At: now})
		return OutcomeAlreadySeen
	}
	early := a.forgetAnnounced(id)
	a.seen.add(id, wire.FingerprintOf(msg), now.Add(a.cfg.SeenTTL), a.cfg.MaxSeen)
	if peer.ID(msg.GetFrom()) == a.self {
		reject(events.RejectSelfOrigin)
		return OutcomeSelfOrigin
	}
	a.chokeFirst(now, t, from, peer.ID(msg.GetFrom()), id, out)
	a.skipLearn(t, from, peer.ID(msg.GetFrom()), out)
	if len(a.pending) >= a.cfg.MaxPendingValidation {
		reject(events.RejectValidationThrottled)
		return OutcomeValidationQueueFull
	}
	size := proto.Size(msg)
	a.pending[id] = &pendingMsg{msg: msg, id: id, topic: topic, from: from, size: size, at: now}
	a.pendingOrder.push(pendingRef{id: id, at: now})
	a.compactPendingOrder()
	if !early {
		a.sendIDontWants(now, t, from, msg, id, out)
	}
	return OutcomeNeedsValidation
}

// sendIDontWants sends IDONTWANT for id to t's /meshsub/1.2.0 mesh peers
// except from and those we told IMRECEIVING for it, if msg's data is at
// least IDontWantThreshold bytes (the data field alone, as
// go-libp2p-pubsub measures it) and HandleMessageHead did not send it
// already; under IDontWantLearn.Below bytes, learned
// IDONTWANT decides per peer (idwSends). It reports whether it decided
// (true even when every peer was skipped).
func (a *Automaton) sendIDontWants(now time.Time, t *topicState, from peer.ID, msg *pb.Message, id string, out *Output) bool {
	if len(msg.GetData()) < a.cfg.IDontWantThreshold || a.early.idwSent(id) {
		return false // small, or already sent at the message's head
	}
	var raw []byte // the id's bytes, shared (read-only) by every IDONTWANT
	k, learn := a.idwLearned(id, len(msg.GetData()))
	told := a.early.told(id)
	note := a.announces(len(msg.GetData())) // PREAMBLE may announce it: note the recipients
	author := peer.ID(msg.GetFrom())
	skipped := len(msg.GetData()) <= a.cfg.Choke.MaxData && a.skipping(author) // askers get none
	var e *earlyEntry
	for _, p := range t.mesh.items {
		if p == from {
			continue
		}
		if containsPeer(told, p) {
			out.Preamble.IDontWantSpared++
			continue
		}
		if a.chokeSpares(t, p, len(msg.GetData())) {
			continue
		}
		if mp := a.peers[p]; mp != nil && mp.feat&featIDontWant != 0 && !mp.sendsParts(t.name) {
			if skipped && p != author && mp.feat&featChoke != 0 {
				continue
			}
			if learn && !a.idwSends(now, mp, k, out) {
				continue
			}
			if raw == nil {
				raw = []byte(id)
			}
			out.sendIDontWant(p, raw)
			if note {
				if e == nil {
					e = a.early.entry(id) // only when someone is sent one
				}
				e.idwTo = append(e.idwTo, p)
			}
		}
	}
	return true
}

// maxAnnounced bounds the ids announced early (IDONTWANT sent before the
// signature check) whose check has not finished. The driver finishes every
// check in the same RPC, so the set holds at most one RPC's messages; when
// it is full it is emptied, which at worst sends an IDONTWANT twice.
const maxAnnounced = 1024

// announceEarly sends IDONTWANT for a message not seen before as soon as it
// arrives, before its signature check, as the v1.2 spec suggests ("prior to
// the message validation") and other implementations do, so that mesh
// peers learn it before they forward their own copy; the signature check
// (tens of microseconds per message, several per RPC) no longer delays it.
// Our own messages coming back are not announced. The id is remembered
// until HandleMessage with checked true or Reject finishes it, so that it
// is announced once.
//
// An IDONTWANT for a copy that then fails its check costs only that the
// mesh peers do not forward a valid message with that id to us; it still
// arrives by gossip (the id is not marked seen).
func (a *Automaton) announceEarly(now time.Time, t *topicState, from peer.ID, msg *pb.Message, id string, out *Output) {
	if peer.ID(msg.GetFrom()) == a.self {
		return
	}
	k := keyOf(id)
	if _, ok := a.announced[k]; ok {
		return
	}
	if !a.sendIDontWants(now, t, from, msg, id, out) {
		return
	}
	if len(a.announced) >= maxAnnounced {
		clear(a.announced)
	}
	a.announced[k] = struct{}{}
}

// forgetAnnounced drops id from the early-announced set and reports
// whether it was there.
func (a *Automaton) forgetAnnounced(id string) bool {
	if len(a.announced) == 0 {
		return false
	}
	k := keyOf(id)
	if _, ok := a.announced[k]; !ok {
		return false
	}
	delete(a.announced, k)
	return true
}

// heldCopy returns the accepted copy of id the automaton still holds (the
// pending one, else the cached one), or nil. Either passed the signature
// check (or is our own), so a copy equal to it needs none.
func (a *Automaton) heldCopy(id string) *pb.Message {
	if pm := a.pending[id]; pm != nil {
		return pm.msg
	}
	if e := a.mcache.get(id); e != nil {
		return e.msg
	}
	return nil
}

// compactPendingOrder drops stale queue entries when they outnumber live
// ones, so the queue stays bounded even without heartbeats.
func (a *Automaton) compactPendingOrder() {
	if a.pendingOrder.len() <= 2*a.cfg.MaxPendingValidation {
		return
	}
	live := a.pendingOrder.items[:0]
	for _, r := range a.pendingOrder.items[a.pendingOrder.head:] {
		if pm := a.pending[r.id]; pm != nil && pm.at.Equal(r.at) {
			live = append(live, r)
		}
	}
	clear(a.pendingOrder.items[len(live):])
	a.pendingOrder.items = live
	a.pendingOrder.head = 0
}

func (a *Automaton) fulfilPromise(ps *peerState, id string) {
	for i, pr := range ps.promises {
		if pr.id == id {
			ps.promises = append(ps.promises[:i], ps.promises[i+1:]...)
			return
		}
	}
}

// Validated finishes a message HandleMessage returned OutcomeNeedsValidation
// for. Accept: the message enters the message cache, EvtMessageDelivered is
// emitted (the driver delivers it to local subscribers) and it is forwarded
// to the mesh, floodsub and direct peers of the topic, except its sender,
// its author, peers that sent a copy meanwhile (or started to: see
// HandleMessageHead) and peers that sent IDONTWANT.
// Reject: EvtMessageRejected (RejectValidationFailed) for the sender and for
// every peer that sent a copy while it was pending. Ignore and throttled:
// EvtMessageRejected for the sender only, nothing forwarded.
//
// Outcomes: OutcomeDelivered, OutcomeRejected, OutcomeIgnored,
// OutcomeTopicNotJoined (the node left the topic meanwhile),
// OutcomeUnknownMessage, OutcomeInvalidInput (unknown verdict).
func (a *Automaton) Validated(now time.Time, id string, res ValidationResult, out *Output) Outcome {
	pm := a.pending[id]
	if pm == nil {
		return OutcomeUnknownMessage
	}
	if res < ValidationAccept || res > ValidationThrottled {
		return OutcomeInvalidInput
	}
	delete(a.pending, id)
	reject := func(p peer.ID, r events.RejectReason) {
		FactMessageRejected.add(out, events.EvtMessageRejected{Topic: pm.topic, ID: id, From: p, Reason: r, At: now})
	}
	switch res {
	case ValidationReject:
		reject(pm.from, events.RejectValidationFailed)
		for _, p := range pm.dupFrom {
			reject(p, events.RejectValidationFailed)
		}
		return OutcomeRejected
	case ValidationIgnore:
		reject(pm.from, events.RejectValidationIgnored)
		return OutcomeIgnored
	case ValidationThrottled:
		reject(pm.from, events.RejectValidationThrottled)
		return OutcomeIgnored
	}
	t := a.topics[pm.topic]
	if t == nil || !t.joined {
		reject(pm.from, events.RejectTopicNotJoined)
		return OutcomeTopicNotJoined
	}
	a.mcache.put(id, pm.topic, pm.msg, a.ticks)
	author := peer.ID(pm.msg.GetFrom())
	FactMessageDelivered.add(out, events.EvtMessageDelivered{Topic: pm.topic, ID: id, From: pm.from, Author: author, Size: pm.size, At: now})
	a.forward(now, t, pm.msg, id, pm.from, author, pm.dupFrom, out)
	return OutcomeDelivered
}

// forward sends a validated message to t's mesh peers, floodsub peers at or
// above the publish threshold and direct peers, minus src, author, dups,
// peers whose copy of it started arriving (HandleMessageHead) and peers
// that sent IDONTWANT for it. It returns how many peers got it.
// Mesh peers come first, then floodsub and direct peers (never in a mesh,
// so nobody is sent the message twice). A message of at least
// Stagger.MinData bytes of data goes to the mesh peers Stagger.K at a time
// (see StaggerConfig; floodsub and direct peers get theirs at once); they
// count in the result. A message of at least Preamble.MinData bytes of
// data is announced with PREAMBLE to the v1.4 mesh peers, whose copies
// wait for the announce window (see PreambleConfig). With learned lazy forwarding
// (Config.Lazy) some mesh peers get an IHAVE for it instead (see
// LazyConfig), and so does a mesh peer that choked us (ChokeConfig); they
// do not count in the result.
func (a *Automaton) forward(now time.Time, t *topicState, msg *pb.Message, id string, src, author peer.ID, dups []peer.ID, out *Output) int {
	n := 0
	choking := len(t.ch.chokedUs) > 0
	key := keyOf(id)
	wanted := func(p peer.ID, ps *peerState) bool {
		if p == src || p == author || containsPeer(dups, p) || a.early.sentBy(id, p) {
			return false
		}
		var v uint64
		var unwanted bool
		if len(ps.dontWant) > 0 { // most peers sent none lately: no lookup
			v, unwanted = ps.dontWant[key]
		}
		if unwanted && v&imrMark != 0 {
			out.Preamble.Skipped++ // it is receiving the message from another peer
		}
		// A mesh peer that choked us, or asked us to skip the author,
		// gets an IHAVE instead (ChokeConfig).
		return !unwanted && !(choking && a.chokeSends(t, ps, id, len(msg.GetData()))) &&
			!a.skipSends(t, ps, author, id, len(msg.GetData()))
	}
	if a.cfg.Lazy.Enabled && len(msg.GetData()) <= a.cfg.Lazy.MaxData {
		cands := a.scratchLazy[:0]
		for _, p := range t.mesh.items {
			if ps := a.peers[p]; wanted(p, ps) {
				cands = append(cands, ps)
			}
		}
		if len(cands) > 0 {
			n += a.forwardMeshLazily(now, t, msg, id, cands, out)
		}
		clear(cands)
		a.scratchLazy = cands[:0]
	} else if k, announce := a.staggers(len(msg.GetData()), false), a.announces(len(msg.GetData())); k > 0 || announce {
		cands := a.scratchLazy[:0]
		for _, p := range t.mesh.items {
			if ps := a.peers[p]; wanted(p, ps) {
				cands = append(cands, ps)
			}
		}
		n += len(cands)
		a.startStagger(now, t, msg, id, cands, k, announce, out)
		clear(cands)
		a.scratchLazy = cands[:0]
	} else {
		for _, p := range t.mesh.items {
			if ps := a.peers[p]; wanted(p, ps) {
				out.sendMessage(p, id, msg)
				n++
			}
		}
	}
	for _, p := range t.extra.items {
		if ps := a.peers[p]; (ps.direct || ps.score >= a.thresholds.Publish) && wanted(p, ps) {
			out.sendMessage(p, id, msg)
			n++
		}
	}
	return n
}

func containsPeer(ps []peer.ID, p peer.ID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// Reject reports a received message the driver refused (bad signature,
// missing signature, unexpected signing fields, too large, malformed): it
// emits EvtMessageRejected with the reason so that the driver and the
// simulator report rejections through the same path. The id is not marked
// seen (an attacker could otherwise pre-empt a valid message with a forged
// copy). Reasons that only bad input from the sender itself can cause also
// emit EvtPeerPenalized (BadInputPenalty), so that the sender pays a
// behaviour penalty whatever the topic's score parameters: one such message
// costs little, a stream of them graylists the peer.
//
// Outcomes: OutcomeRejected, OutcomeInvalidInput (reason 0).
func (a *Automaton) Reject(now time.Time, from peer.ID, topic, id string, reason events.RejectReason, out *Output) Outcome {
	if reason == 0 {
		return OutcomeInvalidInput
	}
	a.forgetAnnounced(id)
	FactMessageRejected.add(out, events.EvtMessageRejected{Topic: topic, ID: id, From: from, Reason: reason, At: now})
	if pen := BadInputPenalty(reason); pen != 0 && from != "" {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: pen, Count: 1, At: now})
	}
	return OutcomeRejected
}

// BadInputPenalty maps a rejection reason to the behaviour penalty it costs
// the sender, or 0 for reasons that are no proof of misbehaviour (a
// validator's verdict, throttling, an unjoined topic, graylisting, a message
// of ours coming back).
func BadInputPenalty(r events.RejectReason) events.PenaltyReason {
	switch r {
	case events.RejectInvalidSignature:
		return events.PenaltyInvalidSignature
	case events.RejectMissingSignature:
		return events.PenaltyMissingSignature
	case events.RejectUnexpectedSignature:
		return events.PenaltyUnexpectedSignature
	case events.RejectMalformed:
		return events.PenaltyMalformedMessage
	case events.RejectTooLarge:
		return events.PenaltyOversizedMessage
	}
	return 0
}

// HandleBadRPC reports an RPC from p the driver could not take at all: a
// frame over the maximum RPC size (PenaltyOversizedRPC) or one that does not
// decode (PenaltyUndecodableRPC). It emits EvtPeerPenalized with the reason;
// the driver cuts the stream.
//
// Outcomes: OutcomeRejected, OutcomeInvalidInput (empty peer, or a reason
// that is not about an RPC).
func (a *Automaton) HandleBadRPC(now time.Time, p peer.ID, reason events.PenaltyReason, out *Output) Outcome {
	if p == "" || (reason != events.PenaltyOversizedRPC && reason != events.PenaltyUndecodableRPC) {
		return OutcomeInvalidInput
	}
	FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: p, Reason: reason, Count: 1, At: now})
	return OutcomeRejected
}

// Publish sends a message authored (and already validated and signed) by
// the local node. With FloodPublish it goes to every topic peer at or above
// the publish threshold; otherwise to the mesh (joined topic) or the fanout
// peers (unjoined topic; fanout is created with D peers and kept FanoutTTL
// after the last publish), plus floodsub and direct peers, and with latency
// selection the extras (LatencyConfig.PublishExtra); with
// LatencyConfig.PublishMeshSkip some mesh peers get an IDONTWANT for it
// instead. A message of at least Stagger.MinData bytes of data goes to the
// chosen peers Stagger.PublishK at a time (mesh peers first; see
// StaggerConfig) when PublishK is not 0. No other IDONTWANT is sent for it (as in other implementations:
// peers do not send a message back to its author). It is marked seen, with its fingerprint, and cached for
// IWANT. Emits EvtFanoutPeerAdded for each peer of a fanout it creates,
// then EvtMessagePublished.
//
// The automaton keeps msg and shares it with the RPCs it outputs: nobody may
// modify it afterwards.
//
// Outcomes: OutcomePublished, OutcomeNoPeers (recorded, sent to nobody),
// OutcomeAlreadySeen, OutcomeInvalidInput.
func (a *Automaton) Publish(now time.Time, msg *pb.Message, id string, out *Output) Outcome {
	if msg == nil || !a.validID(id) || !a.validTopic(msg.GetTopic()) {
		return OutcomeInvalidInput
	}
	if a.seen.has(id) {
		return OutcomeAlreadySeen
	}
	topic := msg.GetTopic()
	a.seen.add(id, wire.FingerprintOf(msg), now.Add(a.cfg.SeenTTL), a.cfg.MaxSeen)
	a.mcache.put(id, topic, msg, a.ticks)
	size := proto.Size(msg)
	t := a.topics[topic]
	if t == nil {
		t = &topicState{name: topic}
	}
	var fanout *orderedSet[peer.ID]
	if !t.joined {
		if !t.hasFan && a.localOrder.len() < a.cfg.MaxTopics {
			a.topics[topic] = t
			t.hasFan = true
			a.localOrder.add(topic)
			for _, ps := range a.pickPeers(t, a.cfg.D, a.fanoutEligible) {
				t.fanout.add(ps.id)
				FactFanoutPeerAdded.add(out, events.EvtFanoutPeerAdded{Peer: ps.id, Topic: topic, At: now})
			}
		}
		if t.hasFan {
			t.lastPub = now
			fanout = &t.fanout
		}
	}
	n := 0
	// Staggered (StaggerConfig.PublishK): the chosen peers are collected,
	// then sent to k at a time.
	k := a.staggers(len(msg.GetData()), true)
	chosen := a.scratchLazy[:0]
	extras := a.publishExtras(t, len(msg.GetData()))
	skips := a.publishSkips(t, len(extras))
	var raw []byte // the id's bytes, shared by every IDONTWANT to a skipped peer
	for _, p := range t.peers.items {
		ps := a.peers[p]
		if ps == nil || ps.score < a.thresholds.Publish && !ps.direct {
			continue
		}
		if slices.Contains(skips, ps) {
			if !ps.sendsParts(topic) {
				if raw == nil {
					raw = []byte(id)
				}
				out.sendIDontWant(p, raw)
			}
			continue
		}
		send := a.cfg.FloodPublish || ps.direct || ps.feat&featMesh == 0
		if !send {
			if t.joined {
				send = t.mesh.has(p) || slices.Contains(extras, ps)
			} else if fanout != nil {
				send = fanout.has(p)
			} else {
				// No room for fanout state: send to a random D like a fresh fanout would.
				send = a.fanoutEligible(ps) && n < a.cfg.D
			}
		}
		if send {
			if k > 0 {
				chosen = append(chosen, ps)
			} else {
				out.sendMessage(p, id, msg)
			}
			n++
		}
	}
	if len(chosen) > 0 {
		a.startStagger(now, t, msg, id, chosen, k, false, out)
		clear(chosen)
	}
	a.scratchLazy = chosen[:0]
	FactMessagePublished.add(out, events.EvtMessagePublished{Topic: topic, ID: id, Size: size, Peers: n, At: now})
	if n == 0 {
		return OutcomeNoPeers
	}
	return OutcomePublished
}

// fanoutEligible: a gossipsub, non-direct peer at or above the publish threshold.
func (a *Automaton) fanoutEligible(ps *peerState) bool {
	return ps.feat&featMesh != 0 && !ps.direct && ps.score >= a.thresholds.Publish
}
