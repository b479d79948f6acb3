package router

// Peer lifecycle: which peers the router tracks, their writers, stream
// failures and retries, and the inputs readers and writers report.

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// peerConn is the driver's record of one peer: its queue and writer.
type peerConn struct {
	id           peer.ID
	q            *sendQueue
	cancel       context.CancelFunc
	proto        protocol.ID
	gen          int  // generation of the current writer; inputs of older writers are stale
	added        bool // the automaton tracks it
	retrying     bool // its writer failed and a retry is scheduled
	drops        int  // queue drops not yet reported
	overflowSent bool // EvtPeerQueueOverflowed already emitted this heartbeat
}

type netKind uint8

const (
	netInboundOpened  netKind = iota + 1 // a reader accepted a stream
	netRPC                               // a reader decoded an RPC
	netBadInput                          // a reader cut a stream for bad input
	netOutboundOpened                    // a writer negotiated its stream
	netOutboundFailed                    // a writer could not open or write
	netRetry                             // a stream retry delay elapsed
	netMessageHead                       // a reader read a large message's head
	netCopiesDone                        // a writer wrote (or skipped) staggered copies
)

// maxStreamRetries bounds the reopening of a failed outbound stream to a
// peer that is still connected (after 1 s, 2 s, 4 s); a successful open
// resets the count. Meanwhile the peer keeps its state (subscriptions, mesh)
// and its queue; when the retries run out it is removed.
const maxStreamRetries = 3

// netInput is what reader and writer goroutines tell the driver. Readers use
// one channel for stream openings and RPCs, so the driver always sees a
// stream's opening before its first RPC.
type netInput struct {
	kind  netKind
	peer  peer.ID
	proto protocol.ID
	pc    *peerConn // writer inputs: which peer and writer generation
	gen   int
	rpc   *pb.RPC
	// ids are the ids of rpc's messages, in order, computed by the reader
	// with the id functions of idv (the joined topics' view it read): the
	// driver uses them while that view is current, and computes them
	// again otherwise (a topic joined or left in between).
	// netCopiesDone: the ids of the staggered copies the writer wrote or
	// skipped (the slice is the driver's).
	ids   []string
	idv   *map[string]wire.MsgIDFunc
	first bool // netRPC: the first RPC of its stream (gossipsub v1.3 Extensions)
	bad   badInput
	err   error
	head  messageHead // netMessageHead
}

// report hands in to the driver; false when the router is closing.
func (r *Router) report(in netInput) bool {
	select {
	case r.inbox <- in:
		return true
	case <-r.ctx.Done():
		return false
	}
}

func speaksPubsub(ps []protocol.ID) bool {
	return slices.ContainsFunc(ps, wire.IsPubsub)
}

func (r *Router) connected(p peer.ID) bool {
	return r.host.Network().Connectedness(p) == network.Connected
}

// scheduleRetry reopens pc's stream later, with exponential backoff on the
// injected clock (a stream reset by the remote is not a disconnect; other
// implementations reopen too). It reports false when no retry is left.
func (r *Router) scheduleRetry(pc *peerConn) bool {
	n := r.failures[pc.id]
	if n >= maxStreamRetries || !r.connected(pc.id) {
		return false
	}
	r.failures[pc.id] = n + 1
	if t := r.retries[pc.id]; t != nil {
		t.Stop()
	}
	p := pc.id
	pc.retrying = true
	r.retries[p] = r.clk.AfterFunc(time.Second<<n, func() { r.report(netInput{kind: netRetry, peer: p}) })
	return true
}

func (r *Router) handleConnectedness(ev events.EvtPeerConnectednessChanged) {
	if ev.Connectedness == network.NotConnected {
		r.aut.ForgetPeerRecord(ev.Peer)
		delete(r.failures, ev.Peer)
		if t := r.retries[ev.Peer]; t != nil {
			t.Stop()
			delete(r.retries, ev.Peer)
		}
		if pc := r.peers[ev.Peer]; pc != nil {
			r.removePeer(pc)
		}
	}
}

func (r *Router) handleIdentify(ev events.EvtPeerIdentificationCompleted) {
	// The automaton holds the peer records, of peers it tracks and of
	// connected peers it will track.
	if ev.SignedPeerRecord != nil {
		if b, err := ev.SignedPeerRecord.Marshal(); err == nil {
			r.m.outcome(r.aut.UpdatePeerRecord(ev.Peer, b))
		}
	}
	if speaksPubsub(ev.Protocols) && r.connected(ev.Peer) {
		r.ensurePeer(ev.Peer)
	}
}

func (r *Router) handleProtocols(ev events.EvtPeerProtocolsUpdated) {
	if speaksPubsub(ev.Added) && r.connected(ev.Peer) {
		r.ensurePeer(ev.Peer)
	}
}

// ensurePeer makes sure p has a peerConn with a writer opening the outbound
// stream.
func (r *Router) ensurePeer(p peer.ID) *peerConn {
	if pc := r.peers[p]; pc != nil {
		return pc
	}
	if p == r.self {
		return nil
	}
	pc := &peerConn{id: p, q: newSendQueue(r.cfg.dataQueue, r.cfg.controlQueue)}
	r.peers[p] = pc
	r.mu.Lock()
	r.queues[p] = pc.q
	r.mu.Unlock()
	r.startWriter(pc)
	return pc
}

// startWriter starts a new writer generation for pc.
func (r *Router) startWriter(pc *peerConn) {
	ctx, cancel := context.WithCancel(r.ctx)
	pc.gen++
	pc.cancel = cancel
	r.wg.Add(1)
	go r.writeLoop(ctx, pc, pc.gen)
}

// addPeer registers pc with the automaton once its protocol is known.
func (r *Router) addPeer(pc *peerConn, proto protocol.ID) {
	if pc.added {
		return
	}
	_, direct := r.cfg.direct[pc.id]
	spec := automaton.PeerSpec{ID: pc.id, Protocol: proto, Outbound: r.outbound(pc.id), Direct: direct}
	o := r.aut.AddPeer(r.clk.Now(), spec, &r.out)
	r.m.outcome(o)
	switch o {
	case automaton.OutcomePeerAdded:
		r.part.core.AddPeer(pc.id)
		pc.added, pc.proto = true, proto
		if r.aut.HelloRPC() == nil {
			// Our hello is our subscriptions (AddPeer queued them), and
			// with none it is an empty RPC, sent all the same: go-libp2p
			// negotiates an outbound stream's protocol with its first
			// write, and the remote resets a stream still unnegotiated
			// after 10 s.
			pc.q.pushControlFront(&pb.RPC{})
		}
		if id, ok := mPeers[proto]; ok {
			r.m.v.AddGauge(id, 1)
		}
	case automaton.OutcomePeerAlreadyAdded:
		pc.added = true
	default:
		r.rl.warn("addpeer:"+o.String(), "pubsub peer refused", "peer", pc.id, "outcome", o.String())
		r.removePeer(pc)
	}
}

// removePeer forgets pc: the automaton removes it from every mesh and topic,
// its writer stops and resets the outbound stream.
func (r *Router) removePeer(pc *peerConn) {
	if pc.added {
		r.part.core.RemovePeer(pc.id)
		r.largeRemovePeer(pc.id)
		r.m.outcome(r.aut.RemovePeer(r.clk.Now(), pc.id, &r.out))
		if id, ok := mPeers[pc.proto]; ok {
			r.m.v.AddGauge(id, -1)
		}
		pc.added = false
	}
	pc.cancel()
	if r.peers[pc.id] == pc {
		delete(r.peers, pc.id)
	}
	pc.q.removed.Store(true)
	r.mu.Lock()
	if r.queues[pc.id] == pc.q {
		delete(r.queues, pc.id)
	}
	r.mu.Unlock()
	if t := r.retries[pc.id]; t != nil {
		t.Stop()
		delete(r.retries, pc.id)
	}
}

func (r *Router) outbound(p peer.ID) bool {
	for _, c := range r.host.Network().ConnsToPeer(p) {
		if c.Stat().Direction == network.DirOutbound {
			return true
		}
	}
	return false
}

// current reports whether a writer's input comes from pc's current writer.
func (r *Router) current(in netInput) bool {
	return r.peers[in.pc.id] == in.pc && in.gen == in.pc.gen
}

func (r *Router) handleNet(in netInput) {
	switch in.kind {
	case netInboundOpened:
		if !r.connected(in.peer) {
			return
		}
		if pc := r.ensurePeer(in.peer); pc != nil {
			r.addPeer(pc, in.proto)
		}
	case netOutboundOpened:
		if r.current(in) {
			delete(r.failures, in.pc.id)
			r.addPeer(in.pc, in.proto)
		}
	case netOutboundFailed:
		if r.current(in) {
			r.m.v.Inc(mStreamFailures)
			r.rl.warn("stream:"+string(in.pc.id), "pubsub stream to peer failed", "peer", in.pc.id, "err", in.err)
			in.pc.cancel()
			if !in.pc.added || !r.scheduleRetry(in.pc) {
				r.removePeer(in.pc)
			}
		}
	case netRetry:
		delete(r.retries, in.peer)
		pc := r.peers[in.peer]
		switch {
		case pc == nil || !pc.retrying: // stale: the peer was removed meanwhile
		case !r.connected(in.peer):
			r.removePeer(pc)
		default:
			// The remote may have forgotten us: say hello again, first
			// (an empty RPC when we have no subscriptions, see addPeer).
			hello := r.aut.HelloRPC()
			if hello == nil {
				hello = &pb.RPC{}
			}
			r.decorate(hello)
			pc.q.pushControlFront(hello)
			pc.retrying = false
			r.startWriter(pc)
		}
	case netBadInput:
		r.rl.warn("bad:"+in.bad.String(), "cut pubsub stream on bad input", "peer", in.peer, "reason", in.bad.String(), "err", in.err)
		r.m.outcome(r.aut.HandleBadRPC(r.clk.Now(), in.peer, in.bad.penalty(), &r.out))
	case netRPC:
		r.handleRPC(in)
	case netMessageHead:
		h := in.head
		if h.frag && (!r.large.on || !r.aut.PeerLargeMessages(in.peer)) {
			return // its fragments will be refused (handleFragments)
		}
		r.m.outcome(r.aut.HandleMessageHead(r.clk.Now(), in.peer, h.topic, h.id, h.dataLen, &r.out))
	case netCopiesDone:
		now := r.clk.Now()
		for _, id := range in.ids {
			r.m.outcome(r.aut.HandleCopyDone(now, in.peer, id, &r.out))
		}
	}
}
