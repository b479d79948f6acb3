package automaton

import (
	"cmp"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// Heartbeat runs the periodic upkeep; the driver calls it every
// Config.HeartbeatInterval. In order:
//
//   - per peer: broken promises (an IWANTed message that arrived from nobody within IWantFollowupTime)
//     are reported as EvtPeerPenalized(PenaltyBrokenPromise); per-heartbeat
//     gossip budgets are reset; old IDONTWANT ids expire; a peer that
//     negotiated the choke extension is told our author skips once, and an
//     author we skip that no longer covers us is released (skipCovered);
//   - per joined topic: mesh peers with a negative score are pruned; a mesh
//     below Dlo is grafted up to D; a mesh above Dhi is pruned to D keeping
//     the Dscore best-scoring peers and at least Dout outbound peers; a mesh
//     with fewer than Dout outbound peers grafts outbound ones; every
//     OpportunisticGraftTicks heartbeats, if the median mesh score is below
//     the opportunistic-graft threshold, up to OpportunisticGraftPeers peers
//     scoring above the median are grafted; then IHAVE gossip goes to
//     max(Dlazy, GossipFactor × eligible) non-mesh peers;
//   - per fanout topic: expired after FanoutTTL, otherwise refilled to D and gossiped;
//   - learned lazy forwarding: queued lazy ids are flushed first (FlushLazy,
//     within the interval ending), and observations due are closed (LazyConfig);
//   - learned IDONTWANT: our IDONTWANTs older than its Timeout are settled
//     (IDontWantLearnConfig);
//   - the message cache shifts one window; seen ids, backoffs and pending
//     messages older than SeenTTL expire.
//
// Our own grafts respect backoffs plus BackoffSlackHeartbeats heartbeats.
// GRAFTs and PRUNEs for one peer are merged into one RPC in out.
//
// Outcomes: OutcomeHeartbeatDone.
func (a *Automaton) Heartbeat(now time.Time, out *Output) Outcome {
	a.ticks++
	history := uint64(a.cfg.HistoryLength)
	if len(a.lazy.pending) > 0 {
		a.FlushLazy(now, out) // spends this interval's budget, before the renewal
	}
	a.skipAsksBeat = 0
	if len(a.misses) > 0 {
		a.sweepMisses(now)
	}
	for _, p := range a.peerOrder.items {
		ps := a.peers[p]
		ps.ihaveIn, ps.iasked, ps.iwantIn, ps.idwIn = 0, 0, 0, 0
		ps.preIn, ps.imrIn, ps.chokeIn, ps.skipIn = 0, 0, 0, 0
		if !ps.skipTold && ps.feat&featChoke != 0 {
			ps.skipTold = true
			a.skipTell(ps, out)
		}
		if ps.skipAsked && !a.skipCovered(ps) {
			// Left our mesh in a topic, or we joined one where it is
			// not in our mesh: its messages there reach us only through
			// others.
			a.skipRelease(ps, out)
		}
		ps.lazy.ihaves, ps.lazy.idsHB = 0, 0
		broken := 0
		kept := ps.promises[:0]
		for _, pr := range ps.promises {
			switch {
			case now.Before(pr.deadline):
				kept = append(kept, pr)
			case !a.seen.has(pr.id):
				// Nobody delivered it in time. A message that reached us
				// through anyone fulfils every promise of it, as in other
				// implementations: a slow but honest peer is not penalised.
				broken++
			}
		}
		clear(ps.promises[len(kept):])
		ps.promises = kept
		if broken > 0 {
			FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: p, Reason: events.PenaltyBrokenPromise, Count: broken, At: now})
		}
		// Deleting while ranging is safe and the order does not show in any output.
		for id, tick := range ps.dontWant {
			if tick&^imrMark+history <= a.ticks {
				delete(ps.dontWant, id)
			}
		}
	}

	// localOrder may shrink while iterating (fanout expiry): iterate a copy.
	local := append(a.scratchTopics[:0], a.localOrder.items...)
	for _, name := range local {
		t := a.topics[name]
		if t == nil {
			continue
		}
		if t.joined {
			a.maintainMesh(now, t, out)
			if a.cfg.Choke.Enabled {
				a.chokeHeartbeat(now, t, out)
			}
			a.emitGossip(t, &t.mesh, out)
		} else if t.hasFan {
			if a.maintainFanout(now, t, out) {
				a.emitGossip(t, &t.fanout, out)
			}
		}
	}
	clear(local)
	a.scratchTopics = local[:0]

	if len(a.pre.in) > 0 {
		a.ExpirePreambles(now, out) // in case the driver's timer is late
	}
	a.closeLazy(now, false)
	a.idwHeartbeat(now, out)
	a.mcache.shift()
	a.seen.expire(now)
	a.expireBackoffs(now)
	a.expirePending(now)
	return OutcomeHeartbeatDone
}

func (a *Automaton) maintainMesh(now time.Time, t *topicState, out *Output) {
	// Negative scores first; iterate a copy since pruning mutates the mesh.
	mesh := append(a.scratchPeers[:0], t.mesh.items...)
	for _, p := range mesh {
		ps := a.peers[p]
		if ps.score < 0 {
			a.pruneFromMesh(now, t, ps, events.PruneReasonNegativeScore, false, out)
		}
	}
	clear(mesh)
	a.scratchPeers = mesh[:0]

	if n := t.mesh.len(); n < a.cfg.Dlo {
		picked, random := a.pickMesh(t, a.cfg.D-n, func(ps *peerState) bool { return a.canGraft(now, t, ps) })
		a.graftPicked(now, t, picked, random, out)
	}

	if n := t.mesh.len(); n > a.cfg.Dhi || (a.cfg.TrimAtDhi && n >= a.cfg.Dhi) {
		a.trimMesh(now, t, out)
	}

	if t.mesh.len() >= a.cfg.Dlo {
		outbound := 0
		for _, p := range t.mesh.items {
			if a.peers[p].outbound {
				outbound++
			}
		}
		if outbound < a.cfg.Dout {
			for _, ps := range a.pickPeers(t, a.cfg.Dout-outbound, func(ps *peerState) bool {
				return ps.outbound && a.canGraft(now, t, ps)
			}) {
				a.graft(now, t, ps, out)
			}
		}
	}

	if l := a.cfg.Latency; l.Enabled && l.SwapTicks > 0 && a.ticks%uint64(l.SwapTicks) == 0 && t.mesh.len() >= a.cfg.Dlo {
		a.swapSlowest(now, t, out)
	}

	if a.ticks%uint64(a.cfg.OpportunisticGraftTicks) == 0 && t.mesh.len() > 1 {
		scores := make([]float64, 0, t.mesh.len())
		for _, p := range t.mesh.items {
			scores = append(scores, a.peers[p].score)
		}
		slices.Sort(scores)
		median := scores[len(scores)/2]
		if median < a.thresholds.OpportunisticGraft {
			for _, ps := range a.pickPeers(t, a.cfg.OpportunisticGraftPeers, func(ps *peerState) bool {
				return ps.score > median && a.canGraft(now, t, ps)
			}) {
				a.graft(now, t, ps, out)
			}
		}
	}
}

// trimMesh prunes t's mesh down to D: the Dscore best-scoring peers stay,
// then enough outbound peers to reach Dout, then others in preference
// order. That order is random, or, with latency-aware selection on, a
// random ceil(D × RandomShare) first and the rest fastest first; it also
// breaks the ties among the best-scored. A kept peer is tagged as chosen
// for its RTT exactly when it is outside that random lead.
func (a *Automaton) trimMesh(now time.Time, t *topicState, out *Output) {
	order := make([]*peerState, 0, t.mesh.len())
	for _, p := range t.mesh.items {
		order = append(order, a.peers[p])
	}
	a.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	random := a.randomLead(order, a.cfg.D)
	byScore := slices.Clone(order)
	slices.SortStableFunc(byScore, func(x, y *peerState) int { return cmp.Compare(y.score, x.score) })
	kept := make(map[peer.ID]bool, a.cfg.D)
	n, outbound := 0, 0
	take := func(ps *peerState) {
		kept[ps.id] = true
		n++
		if ps.outbound {
			outbound++
		}
	}
	for _, ps := range byScore[:a.cfg.Dscore] {
		take(ps)
	}
	for _, ps := range order {
		if outbound >= a.cfg.Dout || n >= a.cfg.D {
			break
		}
		if !kept[ps.id] && ps.outbound {
			take(ps)
		}
	}
	for _, ps := range order {
		if n >= a.cfg.D {
			break
		}
		if !kept[ps.id] {
			take(ps)
		}
	}
	for i, ps := range order {
		switch {
		case !kept[ps.id]:
			a.pruneFromMesh(now, t, ps, events.PruneReasonOversubscribed, true, out)
		case i < random:
			delete(t.byRTT, ps.id)
		default:
			t.tagRTT(ps.id)
		}
	}
}

// pruneFromMesh removes ps from t's mesh on our initiative: PRUNE with
// PruneBackoff sent, backoff recorded, EvtPeerPruned.
func (a *Automaton) pruneFromMesh(now time.Time, t *topicState, ps *peerState, reason events.PruneReason, pxAllowed bool, out *Output) {
	t.mesh.remove(ps.id)
	a.chokeForget(t, ps.id)
	delete(t.byRTT, ps.id)
	a.sendPrune(now, t, ps, a.cfg.PruneBackoff, pxAllowed, out)
	FactPeerPruned.add(out, events.EvtPeerPruned{Peer: ps.id, Topic: t.name, Reason: reason, Backoff: a.cfg.PruneBackoff, At: now})
}

// maintainFanout expires t's fanout after FanoutTTL without publish, else
// drops peers below the publish threshold and refills it to D, emitting
// EvtFanoutPeerRemoved and EvtFanoutPeerAdded. It reports whether the
// fanout is still alive.
func (a *Automaton) maintainFanout(now time.Time, t *topicState, out *Output) bool {
	if !now.Before(t.lastPub.Add(a.cfg.FanoutTTL)) {
		for _, p := range t.fanout.items {
			FactFanoutPeerRemoved.add(out, events.EvtFanoutPeerRemoved{Peer: p, Topic: t.name, Reason: events.FanoutReasonExpired, At: now})
		}
		t.fanout.clear()
		t.hasFan = false
		a.localOrder.remove(t.name)
		a.dropTopicIfUnused(t)
		return false
	}
	fan := append(a.scratchPeers[:0], t.fanout.items...)
	for _, p := range fan {
		if ps := a.peers[p]; ps == nil || ps.score < a.thresholds.Publish {
			t.fanout.remove(p)
			reason := events.FanoutReasonBelowPublish
			if ps == nil {
				reason = events.FanoutReasonPeerLeft
			}
			FactFanoutPeerRemoved.add(out, events.EvtFanoutPeerRemoved{Peer: p, Topic: t.name, Reason: reason, At: now})
		}
	}
	clear(fan)
	a.scratchPeers = fan[:0]
	if need := a.cfg.D - t.fanout.len(); need > 0 {
		for _, ps := range a.pickPeers(t, need, func(ps *peerState) bool {
			return !t.fanout.has(ps.id) && a.fanoutEligible(ps)
		}) {
			t.fanout.add(ps.id)
			FactFanoutPeerAdded.add(out, events.EvtFanoutPeerAdded{Peer: ps.id, Topic: t.name, At: now})
		}
	}
	return true
}

// emitGossip sends IHAVE for t's recent messages to max(Dlazy,
// GossipFactor × eligible) random gossipsub peers of t that are not in
// exclude (the mesh or fanout), not direct, and at or above the gossip
// threshold, marking the heartbeat in each peer's gossip record so that
// IWANT is served only for advertised messages.
func (a *Automaton) emitGossip(t *topicState, exclude *orderedSet[peer.ID], out *Output) {
	ids := a.mcache.gossipIDs(a.scratchIDs[:0], t.name, a.cfg.HistoryGossip)
	defer func() {
		clear(ids)
		a.scratchIDs = ids[:0]
	}()
	if len(ids) == 0 {
		return
	}
	var cands []*peerState
	for _, p := range t.peers.items {
		ps := a.peers[p]
		if ps != nil && !exclude.has(p) && ps.feat&featMesh != 0 && !ps.direct && ps.score >= a.thresholds.Gossip {
			cands = append(cands, ps)
		}
	}
	target := max(a.cfg.Dlazy, int(a.cfg.GossipFactor*float64(len(cands))))
	a.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	if len(cands) > target {
		cands = cands[:target]
	}
	if len(cands) == 0 {
		return
	}
	var shared [][]byte // one list shared by every peer when it needs no truncation
	if len(ids) <= a.cfg.MaxIHaveLength {
		shared = make([][]byte, len(ids))
		for i, id := range ids {
			shared[i] = []byte(id)
		}
	}
	for _, ps := range cands {
		list := shared
		if list == nil {
			// Truncated: a random subset, each id recorded as offered to
			// this peer, so that IWANT serves exactly what it was offered.
			a.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
			list = make([][]byte, a.cfg.MaxIHaveLength)
			for i, id := range ids[:a.cfg.MaxIHaveLength] {
				list[i] = []byte(id)
				if e := a.mcache.get(id); e != nil {
					if e.offered == nil {
						e.offered = make(map[peer.ID]struct{})
					}
					e.offered[ps.id] = struct{}{}
				}
			}
			out.sendIHave(ps.id, t.name, list)
			continue
		}
		// Untruncated: every id of the gossip windows was offered, which
		// one mark per heartbeat records for all of them.
		if ps.gossiped == nil {
			ps.gossiped = make(map[string]gossipMarks)
		}
		g := ps.gossiped[t.name]
		g.mark(a.ticks)
		ps.gossiped[t.name] = g
		out.sendIHave(ps.id, t.name, list)
	}
}

// expireBackoffs forgets backoffs that no longer matter (slack included).
func (a *Automaton) expireBackoffs(now time.Time) {
	slack := time.Duration(a.cfg.BackoffSlackHeartbeats) * a.cfg.HeartbeatInterval
	for k, b := range a.backoffs {
		if !now.Before(b.until.Add(slack)) {
			delete(a.backoffs, k)
		}
	}
}

// expirePending drops messages the driver never validated within SeenTTL.
func (a *Automaton) expirePending(now time.Time) {
	for {
		r, ok := a.pendingOrder.peek()
		if !ok {
			return
		}
		pm := a.pending[r.id]
		stale := pm == nil || !pm.at.Equal(r.at)
		if !stale && now.Before(r.at.Add(a.cfg.SeenTTL)) {
			return
		}
		a.pendingOrder.pop()
		if !stale {
			delete(a.pending, r.id)
		}
	}
}
