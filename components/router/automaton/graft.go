package automaton

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// HandleGraft applies a peer's GRAFT for topic (GossipSub v1.1 rules).
// Accepting emits EvtPeerGrafted (Outbound false). Refusing sends a PRUNE and
// emits EvtPeerPruned with PruneReasonGraftRejected; a GRAFT during backoff
// also emits EvtPeerPenalized and extends the backoff.
//
// Outcomes: OutcomeGraftAccepted, OutcomeAlreadyInMesh, OutcomeGraftBackoff,
// OutcomeGraftFlood, OutcomeGraftDirectPeer, OutcomeGraftNegativeScore,
// OutcomeMeshFull (the mesh holds Dhi peers or more, or D with
// Config.GraftLimitD, and the peer is not outbound; PRUNE with PX),
// OutcomeTopicNotJoined (ignored, no PRUNE: we do not talk
// about topics we are not in), OutcomeNotSubscribed (the peer has not
// announced the topic; ignored), OutcomeUnknownPeer, OutcomeGraylisted,
// OutcomeUnsupportedByProtocol (floodsub peer), OutcomeInvalidInput.
func (a *Automaton) HandleGraft(now time.Time, from peer.ID, topic string, out *Output) Outcome {
	ps, refused := a.sender(from, featMesh)
	if ps == nil {
		return refused
	}
	if !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	t := a.topics[topic]
	if t == nil || !t.joined {
		return OutcomeTopicNotJoined
	}
	if t.mesh.has(from) {
		return OutcomeAlreadyInMesh
	}
	if !ps.topics.has(topic) {
		return OutcomeNotSubscribed
	}
	reject := func(pxAllowed bool) {
		a.sendPrune(now, t, ps, a.cfg.PruneBackoff, pxAllowed, out)
		FactPeerPruned.add(out, events.EvtPeerPruned{Peer: from, Topic: topic, Reason: events.PruneReasonGraftRejected, Backoff: a.cfg.PruneBackoff, At: now})
	}
	if ps.direct {
		reject(false)
		return OutcomeGraftDirectPeer
	}
	if b, ok := a.backoffs[backoffKey{topic, from}]; ok && now.Before(b.until) {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyGraftBackoff, Count: 1, At: now})
		outcome := OutcomeGraftBackoff
		if now.Before(b.at.Add(a.cfg.GraftFloodThreshold)) {
			FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyGraftFlood, Count: 1, At: now})
			outcome = OutcomeGraftFlood
		}
		reject(false)
		return outcome
	}
	if ps.score < 0 {
		reject(false)
		return OutcomeGraftNegativeScore
	}
	if a.meshFullFor(t, ps) {
		reject(true)
		return OutcomeMeshFull
	}
	t.mesh.add(from)
	delete(t.byRTT, from)
	a.chokeForget(t, from)
	FactPeerGrafted.add(out, events.EvtPeerGrafted{Peer: from, Topic: topic, Outbound: false, At: now})
	return OutcomeGraftAccepted
}

// meshFullFor reports whether t's mesh refuses an inbound GRAFT from ps:
// at Dhi peers or more unless ps is outbound (go-libp2p-pubsub's rule);
// with GraftLimitD, at D or more unless ps is outbound and the mesh holds
// fewer than Dout outbound peers (the exemption is there for the Dout
// quota).
func (a *Automaton) meshFullFor(t *topicState, ps *peerState) bool {
	if !a.cfg.GraftLimitD {
		return t.mesh.len() >= a.cfg.Dhi && !ps.outbound
	}
	if t.mesh.len() < a.cfg.D {
		return false
	}
	if !ps.outbound {
		return true
	}
	outbound := 0
	for _, p := range t.mesh.items {
		if a.peers[p].outbound {
			outbound++
		}
	}
	return outbound >= a.cfg.Dout
}

// HandlePrune applies a peer's PRUNE: the peer leaves the mesh (EvtPeerPruned,
// PruneReasonRemote) and a backoff is recorded, the one the PRUNE carries
// (clamped to MaxPruneBackoff) or PruneBackoff when it carries none. Its peer
// exchange records, if any, are reported in EvtPeerExchangeReceived when PX
// is enabled and the sender's score is at least the accept-PX threshold.
//
// Outcomes: OutcomePruned, OutcomeNotInMesh, OutcomePXAccepted and
// OutcomePXIgnored (both imply the PRUNE itself was applied),
// OutcomeTopicNotJoined, OutcomeUnknownPeer, OutcomeGraylisted,
// OutcomeUnsupportedByProtocol, OutcomeInvalidInput.
func (a *Automaton) HandlePrune(now time.Time, from peer.ID, prune *pb.ControlPrune, out *Output) Outcome {
	ps, refused := a.sender(from, featMesh)
	if ps == nil {
		return refused
	}
	topic := prune.GetTopicID()
	if !a.validTopic(topic) {
		return OutcomeInvalidInput
	}
	t := a.topics[topic]
	if t == nil || !t.joined {
		return OutcomeTopicNotJoined
	}
	backoff := a.cfg.PruneBackoff
	if secs := prune.GetBackoff(); secs > 0 {
		if secs >= uint64(a.cfg.MaxPruneBackoff/time.Second) {
			backoff = a.cfg.MaxPruneBackoff
		} else {
			backoff = time.Duration(secs) * time.Second
		}
	}
	outcome := OutcomeNotInMesh
	if t.mesh.remove(from) {
		delete(t.byRTT, from)
		a.chokeForget(t, from)
		FactPeerPruned.add(out, events.EvtPeerPruned{Peer: from, Topic: topic, Reason: events.PruneReasonRemote, Backoff: backoff, At: now})
		outcome = OutcomePruned
	}
	a.addBackoff(now, topic, from, backoff)
	if px := prune.GetPeers(); len(px) > 0 {
		if !a.cfg.PeerExchange || ps.feat&featBackoffPX == 0 || ps.score < a.thresholds.AcceptPX {
			return OutcomePXIgnored
		}
		recs := make([]events.PeerExchangeRecord, 0, min(len(px), a.cfg.PrunePeers))
		for _, pi := range px {
			if len(recs) >= a.cfg.PrunePeers {
				break
			}
			id, err := peer.IDFromBytes(pi.GetPeerID())
			if err != nil || id == a.self {
				continue
			}
			var rec []byte
			if r := pi.GetSignedPeerRecord(); len(r) > 0 {
				rec = append([]byte(nil), r...)
			}
			recs = append(recs, events.PeerExchangeRecord{Peer: id, SignedPeerRecord: rec})
		}
		if len(recs) == 0 {
			return OutcomePXIgnored
		}
		FactPeerExchange.add(out, events.EvtPeerExchangeReceived{From: from, Topic: topic, Records: recs, At: now})
		return OutcomePXAccepted
	}
	return outcome
}

// graft adds ps to t's mesh on our initiative: GRAFT sent, EvtPeerGrafted.
func (a *Automaton) graft(now time.Time, t *topicState, ps *peerState, out *Output) {
	t.mesh.add(ps.id)
	delete(t.byRTT, ps.id)
	a.chokeForget(t, ps.id)
	out.sendGraft(ps.id, t.name)
	FactPeerGrafted.add(out, events.EvtPeerGrafted{Peer: ps.id, Topic: t.name, Outbound: true, At: now})
}

// canGraft reports whether we may graft ps into t ourselves: a gossipsub
// peer, not direct, not in the mesh, score >= 0, and out of backoff
// including the slack.
func (a *Automaton) canGraft(now time.Time, t *topicState, ps *peerState) bool {
	return ps.feat&featMesh != 0 && !ps.direct && !t.mesh.has(ps.id) &&
		ps.score >= 0 && !a.inBackoff(now, t.name, ps.id)
}

// inBackoff reports whether the backoff for (topic, p), extended by the
// slack, is still running.
func (a *Automaton) inBackoff(now time.Time, topic string, p peer.ID) bool {
	b, ok := a.backoffs[backoffKey{topic, p}]
	if !ok {
		return false
	}
	slack := time.Duration(a.cfg.BackoffSlackHeartbeats) * a.cfg.HeartbeatInterval
	return now.Before(b.until.Add(slack))
}

// addBackoff records that (topic, p) may not graft until now+d; an existing
// longer backoff is kept. When MaxBackoffs records exist, the one expiring
// first is dropped to make room.
func (a *Automaton) addBackoff(now time.Time, topic string, p peer.ID, d time.Duration) {
	k := backoffKey{topic, p}
	until := now.Add(d)
	if b, ok := a.backoffs[k]; ok {
		if b.until.After(until) {
			until = b.until
		}
		a.backoffs[k] = backoffEntry{until: until, at: now}
		return
	}
	if len(a.backoffs) >= a.cfg.MaxBackoffs {
		a.evictBackoff()
	}
	a.backoffs[k] = backoffEntry{until: until, at: now}
}

// evictBackoff drops the record that expires first (ties broken by key, so
// the choice does not depend on map order).
func (a *Automaton) evictBackoff() {
	var (
		victim backoffKey
		first  backoffEntry
		found  bool
	)
	for k, b := range a.backoffs {
		if !found || b.until.Before(first.until) ||
			(b.until.Equal(first.until) && (k.topic < victim.topic || (k.topic == victim.topic && k.peer < victim.peer))) {
			victim, first, found = k, b, true
		}
	}
	if found {
		delete(a.backoffs, victim)
	}
}

// sendPrune sends ps a PRUNE for t (feature-gated: no control to floodsub
// peers, no backoff or PX to /meshsub/1.0.0 peers), records the backoff
// locally, and attaches up to PrunePeers PX records when PX is enabled and
// allowed for this prune.
func (a *Automaton) sendPrune(now time.Time, t *topicState, ps *peerState, backoff time.Duration, pxAllowed bool, out *Output) {
	a.addBackoff(now, t.name, ps.id, backoff)
	if ps.feat&featMesh == 0 {
		return
	}
	v11 := ps.feat&featBackoffPX != 0
	var px []*pb.PeerInfo
	if v11 && pxAllowed && a.cfg.PeerExchange && a.cfg.PrunePeers > 0 {
		for _, cand := range a.pickPeers(t, a.cfg.PrunePeers, func(c *peerState) bool {
			return c.id != ps.id && c.feat&featMesh != 0 && c.score >= 0
		}) {
			px = append(px, &pb.PeerInfo{PeerID: []byte(cand.id), SignedPeerRecord: cand.record})
		}
	}
	out.sendPrune(ps.id, t.name, uint64(backoff/time.Second), v11, px)
}

// pickPeers returns up to n random peers of t that satisfy keep.
func (a *Automaton) pickPeers(t *topicState, n int, keep func(*peerState) bool) []*peerState {
	if n <= 0 {
		return nil
	}
	cands := a.candidates(t, keep)
	return cands[:min(n, len(cands))]
}

// candidates returns the peers of t that satisfy keep, in random order.
func (a *Automaton) candidates(t *topicState, keep func(*peerState) bool) []*peerState {
	var cands []*peerState
	for _, p := range t.peers.items {
		if ps := a.peers[p]; ps != nil && keep(ps) {
			cands = append(cands, ps)
		}
	}
	a.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	return cands
}
