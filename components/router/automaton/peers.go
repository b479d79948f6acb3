package automaton

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// AddPeer starts tracking a peer that speaks a pubsub protocol. It emits
// EvtRouterPeerAdded and puts the hello RPC (our subscriptions) for the peer
// in out.
//
// Outcomes: OutcomePeerAdded, OutcomePeerAlreadyAdded,
// OutcomeUnsupportedProtocol, OutcomeTooManyPeers, OutcomeInvalidInput
// (empty id or the local id).
func (a *Automaton) AddPeer(now time.Time, spec PeerSpec, out *Output) Outcome {
	if spec.ID == "" || spec.ID == a.self {
		return OutcomeInvalidInput
	}
	if _, ok := a.peers[spec.ID]; ok {
		return OutcomePeerAlreadyAdded
	}
	feat, ok := protocolFeatures(spec.Protocol)
	if !ok {
		return OutcomeUnsupportedProtocol
	}
	if len(a.peers) >= a.cfg.MaxPeers {
		return OutcomeTooManyPeers
	}
	if spec.SignedRecord == nil {
		spec.SignedRecord = a.records[spec.ID]
	}
	delete(a.records, spec.ID)
	ps := &peerState{
		id:       spec.ID,
		proto:    spec.Protocol,
		feat:     feat,
		outbound: spec.Outbound,
		direct:   spec.Direct,
		record:   slices.Clone(spec.SignedRecord),
		score:    a.lastScores[spec.ID],
	}
	a.restoreMisses(ps)
	a.peers[spec.ID] = ps
	a.peerOrder.add(spec.ID)
	FactPeerAdded.add(out, events.EvtRouterPeerAdded{Peer: spec.ID, Protocol: spec.Protocol, Direct: spec.Direct, At: now})
	for _, name := range a.localOrder.items {
		if a.topics[name].joined {
			out.sendSub(spec.ID, name, true)
		}
	}
	return OutcomePeerAdded
}

// SetPeerLargeMessages records whether p advertised gossipsub v1.4
// large-message handling (the largeMessageHandling flag of the Extensions
// control message that opened its stream). The driver calls it when the
// peer's extensions are known; until then, and for a peer that never
// advertises it, the peer is treated as not supporting v1.4. On a protocol
// without that control message (before /meshsub/1.3.0) it is always off.
// It emits nothing.
//
// Outcomes: OutcomePeerFeaturesSet, OutcomeUnknownPeer.
func (a *Automaton) SetPeerLargeMessages(p peer.ID, on bool) Outcome {
	ps := a.peers[p]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if on && wire.HasExtensions(ps.proto) {
		ps.feat |= featLargeMessages
	} else {
		ps.feat &^= featLargeMessages
	}
	return OutcomePeerFeaturesSet
}

// SetPeerPartsFrom records the topics on which p sends us partial messages
// instead of full ones (the partial-messages extension, kept by the
// driver's partial core: we requested partial messages there and p
// supports sending them). p gets no IDONTWANT for a message of those
// topics, on any path (after the message, at its head, for a copy skipped
// at publish): it sends us none of them whole. topics replaces what was
// recorded (nil or empty clears it); the automaton copies it. It emits
// nothing.
//
// Outcomes: OutcomePeerFeaturesSet, OutcomeUnknownPeer.
func (a *Automaton) SetPeerPartsFrom(p peer.ID, topics []string) Outcome {
	ps := a.peers[p]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if len(ps.partsFrom) > 0 {
		a.partsPeers--
	}
	ps.partsFrom = nil
	if len(topics) > 0 {
		ps.partsFrom = slices.Clone(topics)
		a.partsPeers++
	}
	return OutcomePeerFeaturesSet
}

// sendsParts reports whether the peer sends us partial messages of topic
// instead of full ones (SetPeerPartsFrom).
func (ps *peerState) sendsParts(topic string) bool {
	return len(ps.partsFrom) > 0 && slices.Contains(ps.partsFrom, topic)
}

// PeerLargeMessages reports whether p is known to support gossipsub v1.4
// large-message handling (SetPeerLargeMessages).
func (a *Automaton) PeerLargeMessages(p peer.ID) bool {
	ps := a.peers[p]
	return ps != nil && ps.feat&featLargeMessages != 0
}

// RemovePeer forgets a peer: it leaves every mesh (EvtPeerPruned with
// PruneReasonPeerRemoved, no PRUNE sent), every topic (EvtPeerUnsubscribed)
// and fanout set, then EvtRouterPeerRemoved is emitted. Backoffs recorded for
// the peer survive, so a reconnect cannot skip them.
//
// Outcomes: OutcomePeerRemoved, OutcomeUnknownPeer.
func (a *Automaton) RemovePeer(now time.Time, p peer.ID, out *Output) Outcome {
	ps := a.peers[p]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if ps.record != nil && len(a.records) < a.cfg.MaxPeers {
		a.records[p] = ps.record // p may be re-added while connected
	}
	// Iterate a copy: unsubscribe mutates ps.topics.
	topics := slices.Clone(ps.topics.items)
	for _, name := range topics {
		a.peerLeavesTopic(now, ps, name, events.PruneReasonPeerRemoved, out)
	}
	if ps.lazy.pending { // its queued lazy ids go with it
		a.lazy.pending = slices.DeleteFunc(a.lazy.pending, func(q peer.ID) bool { return q == p })
	}
	if len(ps.partsFrom) > 0 {
		a.partsPeers--
	}
	a.skipForget(ps, out)
	a.saveMisses(now, ps)
	delete(a.peers, p)
	a.peerOrder.remove(p)
	a.staggerForget(now, p, out)
	FactPeerRemoved.add(out, events.EvtRouterPeerRemoved{Peer: p, At: now})
	return OutcomePeerRemoved
}

// peerLeavesTopic removes ps from topic name's subscribers, mesh and fanout,
// emitting EvtPeerPruned (if it was in the mesh), EvtFanoutPeerRemoved (if
// it was in the fanout) then EvtPeerUnsubscribed.
func (a *Automaton) peerLeavesTopic(now time.Time, ps *peerState, name string, reason events.PruneReason, out *Output) {
	ps.topics.remove(name)
	delete(ps.gossiped, name)
	delete(ps.floodsUs, name) // if it comes back, it floods us only on new evidence
	t := a.topics[name]
	if t == nil {
		return
	}
	delete(t.byRTT, ps.id)
	a.chokeForget(t, ps.id)
	if t.joined && t.mesh.remove(ps.id) {
		FactPeerPruned.add(out, events.EvtPeerPruned{Peer: ps.id, Topic: name, Reason: reason, At: now})
	}
	if t.hasFan && t.fanout.remove(ps.id) {
		FactFanoutPeerRemoved.add(out, events.EvtFanoutPeerRemoved{Peer: ps.id, Topic: name, Reason: events.FanoutReasonPeerLeft, At: now})
	}
	t.extra.remove(ps.id)
	if t.peers.remove(ps.id) {
		FactPeerUnsubscribed.add(out, events.EvtPeerUnsubscribed{Peer: ps.id, Topic: name, At: now})
	}
	a.dropTopicIfUnused(t)
}

// dropTopicIfUnused frees a topic's state when nothing refers to it.
func (a *Automaton) dropTopicIfUnused(t *topicState) {
	if t.joined || t.hasFan || t.peers.len() > 0 {
		return
	}
	delete(a.topics, t.name)
}

// UpdatePeerRecord stores p's signed peer record (the marshalled envelope),
// which PRUNEs we send with PX carry; nil forgets it. The bytes are copied.
// The automaton is the one owner of peer records: a record of a peer not
// tracked yet is kept (at most MaxPeers of them) until AddPeer or
// ForgetPeerRecord.
//
// Outcomes: OutcomeRecordUpdated, OutcomeTooManyPeers (the untracked
// records are full; dropped).
func (a *Automaton) UpdatePeerRecord(p peer.ID, record []byte) Outcome {
	if ps := a.peers[p]; ps != nil {
		ps.record = slices.Clone(record)
		return OutcomeRecordUpdated
	}
	if _, ok := a.records[p]; !ok && len(a.records) >= a.cfg.MaxPeers {
		return OutcomeTooManyPeers
	}
	a.records[p] = slices.Clone(record)
	return OutcomeRecordUpdated
}

// ForgetPeerRecord drops the record of p kept while p is not tracked (the
// driver calls it when p disconnects). A tracked peer's record goes with
// RemovePeer, which keeps it here while p may still be re-added.
//
// Outcomes: OutcomeRecordUpdated.
func (a *Automaton) ForgetPeerRecord(p peer.ID) Outcome {
	delete(a.records, p)
	return OutcomeRecordUpdated
}

// UpdateScores installs a score snapshot: every tracked peer gets its score
// from scores, and peers absent from it score 0. The snapshot is kept until
// the next one, and a peer added in between starts from its score in it. Thresholds apply from now on
// (mesh selection, gossip, publish, graylist, PX, opportunistic grafting).
// The slice is not retained. It emits nothing; the effects show at the next
// handler calls and heartbeat.
//
// Outcomes: OutcomeScoresUpdated.
func (a *Automaton) UpdateScores(now time.Time, scores []events.PeerScore, th events.ScoreThresholds, out *Output) Outcome {
	_ = now
	_ = out
	for _, ps := range a.peers {
		ps.score = 0
	}
	clear(a.lastScores)
	for _, s := range scores {
		v := sanitizeScore(s.Score)
		a.lastScores[s.Peer] = v
		if ps := a.peers[s.Peer]; ps != nil {
			ps.score = v
		}
	}
	a.thresholds = th
	return OutcomeScoresUpdated
}

// sanitizeScore maps NaN to 0 so that comparisons stay meaningful.
func sanitizeScore(s float64) float64 {
	if s != s {
		return 0
	}
	return s
}
