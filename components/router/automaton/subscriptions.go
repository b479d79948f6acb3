package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// HandleSubscription applies one SUBSCRIBE (subscribe true) or UNSUBSCRIBE
// from a peer. Subscribing emits EvtPeerSubscribed; unsubscribing removes the
// peer from the mesh (EvtPeerPruned, PruneReasonUnsubscribed, no PRUNE sent)
// and fanout, then emits EvtPeerUnsubscribed.
//
// Outcomes: OutcomeSubscribed, OutcomeAlreadySubscribed, OutcomeUnsubscribed,
// OutcomeNotSubscribed, OutcomeTooManyTopics, OutcomeUnknownPeer,
// OutcomeGraylisted, OutcomeInvalidInput.
func (a *Automaton) HandleSubscription(now time.Time, from peer.ID, topic string, subscribe bool, out *Output) Outcome {
	ps, refused := a.sender(from, 0)
	if ps == nil {
		return refused
	}
	if !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	if !subscribe {
		if !ps.topics.has(topic) {
			return OutcomeNotSubscribed
		}
		a.peerLeavesTopic(now, ps, topic, events.PruneReasonUnsubscribed, out)
		return OutcomeUnsubscribed
	}
	if ps.topics.has(topic) {
		return OutcomeAlreadySubscribed
	}
	if ps.topics.len() >= a.cfg.MaxTopicsPerPeer {
		return OutcomeTooManyTopics
	}
	ps.topics.add(topic)
	t := a.topic(topic)
	t.peers.add(from)
	if ps.feat&featMesh == 0 || ps.direct {
		t.extra.add(from)
	}
	FactPeerSubscribed.add(out, events.EvtPeerSubscribed{Peer: from, Topic: topic, At: now})
	return OutcomeSubscribed
}

// topic returns the state of name, creating it.
func (a *Automaton) topic(name string) *topicState {
	t := a.topics[name]
	if t == nil {
		t = &topicState{name: name}
		a.topics[name] = t
	}
	return t
}

// Join subscribes the local node to topic: it announces the subscription to
// every peer, emits EvtTopicJoined, ends the topic's fanout
// (EvtFanoutPeerRemoved, FanoutReasonJoined, for each peer), and builds the
// mesh (fanout peers first, then random eligible topic peers, up to D),
// sending GRAFTs and emitting EvtPeerGrafted for each.
//
// Outcomes: OutcomeJoined, OutcomeAlreadyJoined, OutcomeTooManyTopics,
// OutcomeInvalidInput.
func (a *Automaton) Join(now time.Time, topic string, out *Output) Outcome {
	if !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	t := a.topics[topic]
	if t != nil && t.joined {
		return OutcomeAlreadyJoined
	}
	if (t == nil || !t.hasFan) && a.localOrder.len() >= a.cfg.MaxTopics {
		return OutcomeTooManyTopics
	}
	t = a.topic(topic)
	t.joined = true
	a.localOrder.add(topic)
	FactTopicJoined.add(out, events.EvtTopicJoined{Topic: topic, At: now})
	for _, p := range a.peerOrder.items {
		out.sendSub(p, topic, true)
	}
	if t.hasFan {
		for _, p := range t.fanout.items {
			FactFanoutPeerRemoved.add(out, events.EvtFanoutPeerRemoved{Peer: p, Topic: topic, Reason: events.FanoutReasonJoined, At: now})
		}
		for _, p := range t.fanout.items {
			if t.mesh.len() >= a.cfg.D {
				break
			}
			if ps := a.peers[p]; ps != nil && a.canGraft(now, t, ps) {
				a.graft(now, t, ps, out)
			}
		}
		t.fanout.clear()
		t.hasFan = false
	}
	if need := a.cfg.D - t.mesh.len(); need > 0 {
		picked, random := a.pickMesh(t, need, func(ps *peerState) bool { return a.canGraft(now, t, ps) })
		a.graftPicked(now, t, picked, random, out)
	}
	return OutcomeJoined
}

// Leave unsubscribes the local node from topic: every mesh peer gets a PRUNE
// with UnsubscribeBackoff (EvtPeerPruned, PruneReasonLeave), every peer the
// unsubscription, then EvtTopicLeft is emitted.
//
// Outcomes: OutcomeLeft, OutcomeTopicNotJoined, OutcomeInvalidInput.
func (a *Automaton) Leave(now time.Time, topic string, out *Output) Outcome {
	if !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	t := a.topics[topic]
	if t == nil || !t.joined {
		return OutcomeTopicNotJoined
	}
	for _, p := range t.mesh.items {
		if ps := a.peers[p]; ps != nil {
			a.sendPrune(now, t, ps, a.cfg.UnsubscribeBackoff, true, out)
		}
		FactPeerPruned.add(out, events.EvtPeerPruned{Peer: p, Topic: topic, Reason: events.PruneReasonLeave, Backoff: a.cfg.UnsubscribeBackoff, At: now})
	}
	t.mesh.clear()
	clear(t.byRTT)
	t.chokeClear()
	t.joined = false
	a.localOrder.remove(topic)
	for _, p := range a.peerOrder.items {
		out.sendSub(p, topic, false)
		delete(a.peers[p].floodsUs, topic) // author skip's evidence is per joined topic
	}
	FactTopicLeft.add(out, events.EvtTopicLeft{Topic: topic, At: now})
	a.dropTopicIfUnused(t)
	return OutcomeLeft
}
