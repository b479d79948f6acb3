package router

import (
	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/events"
)

// The driver loop: the one goroutine that owns the automaton.

// run is the driver goroutine.
func (r *Router) run(peerEvents <-chan any, scores <-chan events.EvtPeerScoresUpdated, rtts <-chan events.EvtPeerRTTMeasured) {
	defer close(r.done)
	ticker := r.clk.Ticker(r.cfg.gossip.HeartbeatInterval)
	defer ticker.Stop()
	// Batched lazy IHAVEs (LazyConfig.FlushInterval, and the IHAVEs to
	// peers that choked us: ChokeConfig.FlushInterval): flushed on the
	// interval's ticks while a batch waits (flushTimer).
	lazy := newFlushTimer(r.clk, r.cfg.gossip.FlushInterval())
	defer lazy.stop()
	// Staggered forwarding (GossipConfig.Stagger) and gossipsub v1.4
	// PREAMBLE (GossipConfig.Preamble): one timer, armed at the earlier of
	// the automaton's StaggerDeadline and PreambleDeadline after every
	// input; a stale fire only makes ReleaseDue and ExpirePreambles find
	// nothing due.
	stagger := alarm{clk: r.clk}
	defer stagger.stop()
	for {
		select {
		case <-r.ctx.Done():
			r.shutdown()
			return
		case req := <-r.reqs:
			req.serve(r)
		case in := <-r.inbox:
			r.handleNet(in)
		case v := <-r.valDone:
			r.finishValidation(v.m, v.res)
		case ev, ok := <-peerEvents:
			if !ok {
				peerEvents = nil
				continue
			}
			switch ev := ev.(type) {
			case events.EvtPeerConnectednessChanged:
				r.handleConnectedness(ev)
			case events.EvtPeerIdentificationCompleted:
				r.handleIdentify(ev)
			case events.EvtPeerProtocolsUpdated:
				r.handleProtocols(ev)
			}
		case ev, ok := <-scores:
			if !ok {
				scores = nil
				continue
			}
			r.m.outcome(r.aut.UpdateScores(r.clk.Now(), ev.Scores, ev.Thresholds, &r.out))
		case ev, ok := <-rtts:
			if !ok {
				rtts = nil
				continue
			}
			r.m.outcome(r.aut.HandlePeerRTT(r.clk.Now(), ev.Peer, ev.RTT, &r.out))
		case <-ticker.C:
			r.heartbeat()
		case <-lazy.C():
			lazy.fired()
			r.m.outcome(r.aut.FlushLazy(r.clk.Now(), &r.out))
		case <-stagger.C():
			stagger.fired()
			now := r.clk.Now()
			r.m.outcome(r.aut.ReleaseDue(now, &r.out))
			if pd, ok := r.aut.PreambleDeadline(); ok && !pd.After(now) {
				r.m.outcome(r.aut.ExpirePreambles(now, &r.out))
			}
		}
		r.flush()
		lazy.set(r.clk.Now(), r.aut.LazyPending())
		d, ok := r.aut.StaggerDeadline()
		if pd, pok := r.aut.PreambleDeadline(); pok && (!ok || pd.Before(d)) {
			d, ok = pd, true
		}
		if ok {
			stagger.arm(r.clk.Now(), d)
		} else {
			stagger.disarm() // every staggered or awaited message finished before its deadline
		}
		r.deliverLocal()
	}
}

// shutdown ends every subscription; writers and readers stop on the
// cancelled context and reset streams.
func (r *Router) shutdown() {
	for _, t := range r.retries {
		t.Stop()
	}
	for _, ts := range r.topics {
		for _, s := range ts.subs {
			s.end()
		}
		r.m.mesh.remove(ts.name)
		ts.handle.closed.Store(true)
	}
	for _, pt := range r.part.topics {
		for _, s := range pt.subs {
			s.end()
		}
	}
	r.out.Reset()
}

func (r *Router) heartbeat() {
	now := r.clk.Now()
	r.m.outcome(r.aut.Heartbeat(now, &r.out))
	for _, pc := range r.peers {
		pc.overflowSent = false
		if pc.drops > 0 {
			r.emitOverflow(pc, now)
		}
	}
	for name, ts := range r.topics {
		ts.mesh.Store(int64(len(r.aut.Mesh(name))))
	}
	r.partialHeartbeat()
	r.largeHeartbeat(now)
}

// flush turns the Output into actions: queue sends, cancel queued copies,
// count, emit facts in decision order; then resets it. Staggered copies
// found done while queueing (not queued: see enqueue) are then reported
// to the automaton, and what it releases is carried out the same way.
func (r *Router) flush() {
	r.queued, r.dropped = 0, 0
	r.carryOut()
	for len(r.copiesDone) > 0 {
		now := r.clk.Now()
		done := r.copiesDone
		r.copiesDone = nil
		for _, c := range done {
			r.m.outcome(r.aut.HandleCopyDone(now, c.peer, c.id, &r.out))
		}
		r.carryOut()
	}
}

// carryOut is one round of flush.
func (r *Router) carryOut() {
	o := &r.out
	if o.IDontWant != (automaton.IDontWantCounts{}) {
		r.m.idontwant(o.IDontWant)
		o.IDontWant = automaton.IDontWantCounts{}
	}
	if o.Preamble != (automaton.PreambleCounts{}) {
		r.m.preamble(o.Preamble)
		o.Preamble = automaton.PreambleCounts{}
	}
	if o.Empty() {
		return
	}
	for i := range o.Sends {
		r.enqueue(&o.Sends[i])
	}
	for _, c := range o.Cancels {
		if pc := r.peers[c.Peer]; pc != nil && pc.q.cancel(c.ID) && int(c.Reason) < len(mCancelled) && c.Reason > 0 {
			r.m.v.Inc(mCancelled[c.Reason])
		}
	}
	r.m.v.Add(mPublished, uint64(len(automaton.FactMessagePublished.In(o))))
	r.m.v.Add(mDuplicates, uint64(len(automaton.FactMessageDuplicated.In(o))))
	for _, e := range automaton.FactMessageRejected.In(o) {
		r.m.reject(e.Reason)
		// Bad input from the network is a warning; the rest (validators'
		// verdicts, unjoined topics, graylisting) is routine.
		if e.Reason.Invalid() && e.Reason != events.RejectValidationFailed {
			r.rl.warn("reject:"+e.Reason.String(), "rejected message", "reason", e.Reason.String(), "from", e.From, "topic", e.Topic)
		} else {
			r.rl.debug("reject:"+e.Reason.String(), "message not delivered", "reason", e.Reason.String(), "from", e.From, "topic", e.Topic)
		}
	}
	for _, e := range automaton.FactPeerPenalized.In(o) {
		r.m.penalty(e)
		if e.Reason >= events.PenaltyInvalidSignature {
			r.rl.warn("penalty:"+e.Reason.String(), "peer penalised for bad input", "peer", e.Peer, "reason", e.Reason.String())
		}
	}
	if grafted, pruned := automaton.FactPeerGrafted.In(o), automaton.FactPeerPruned.In(o); len(grafted) > 0 || len(pruned) > 0 {
		for _, e := range grafted {
			r.updateMesh(e.Topic)
		}
		for _, e := range pruned {
			r.updateMesh(e.Topic)
		}
	}
	r.em.emitFacts(o)
	o.Reset()
}

func (r *Router) updateMesh(topic string) {
	if ts := r.topics[topic]; ts != nil {
		ts.mesh.Store(int64(len(r.aut.Mesh(topic))))
	}
}
