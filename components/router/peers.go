package router

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
	bad   badInput
	err   error
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
	// The automaton holds the record of every peer it tracks; a peer added
	// later gets its record from the host's peerstore (see peerRecord).
	if pc := r.peers[ev.Peer]; ev.SignedPeerRecord != nil && pc != nil && pc.added {
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
	spec := automaton.PeerSpec{ID: pc.id, Protocol: proto, Outbound: r.outbound(pc.id), Direct: direct, SignedRecord: r.peerRecord(pc.id)}
	o := r.aut.AddPeer(r.clk.Now(), spec, &r.out)
	r.m.outcome(o)
	switch o {
	case automaton.OutcomePeerAdded:
		pc.added, pc.proto = true, proto
		if g := r.m.peers[proto]; g != nil {
			g.Inc()
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
		r.m.outcome(r.aut.RemovePeer(r.clk.Now(), pc.id, &r.out))
		if g := r.m.peers[pc.proto]; g != nil {
			g.Dec()
		}
		pc.added = false
	}
	pc.cancel()
	if r.peers[pc.id] == pc {
		delete(r.peers, pc.id)
	}
	if t := r.retries[pc.id]; t != nil {
		t.Stop()
		delete(r.retries, pc.id)
	}
}

// peerRecord returns p's signed peer record, marshalled, from the host's
// peerstore (identify stores it there); nil if there is none. The driver
// keeps no record table: the automaton holds the records of its peers.
func (r *Router) peerRecord(p peer.ID) []byte {
	cab, ok := peerstore.GetCertifiedAddrBook(r.host.Peerstore())
	if !ok {
		return nil
	}
	env := cab.GetPeerRecord(p)
	if env == nil {
		return nil
	}
	b, err := env.Marshal()
	if err != nil {
		return nil
	}
	return b
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
			r.m.streamFailures.Inc()
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
			// The remote may have forgotten us: say hello again, first.
			if hello := r.aut.HelloRPC(); hello != nil {
				pc.q.pushControlFront(hello)
			}
			pc.retrying = false
			r.startWriter(pc)
		}
	case netBadInput:
		r.rl.warn("bad:"+in.bad.String(), "cut pubsub stream on bad input", "peer", in.peer, "reason", in.bad.String(), "err", in.err)
		r.m.outcome(r.aut.HandleBadRPC(r.clk.Now(), in.peer, in.bad.penalty(), &r.out))
	case netRPC:
		r.handleRPC(in)
	}
}

// handleRPC feeds one received RPC to the automaton: subscriptions, then
// messages, then control, as other implementations process them.
func (r *Router) handleRPC(in netInput) {
	now := r.clk.Now()
	p := in.peer
	for _, s := range in.rpc.GetSubscriptions() {
		r.m.outcome(r.aut.HandleSubscription(now, p, s.GetTopicid(), s.GetSubscribe(), &r.out))
	}
	for _, msg := range in.rpc.GetPublish() {
		r.handleMessage(now, p, msg)
	}
	if c := in.rpc.GetControl(); c != nil {
		r.outcomes = r.aut.HandleControl(now, p, c, &r.out, r.outcomes[:0])
		for _, o := range r.outcomes {
			r.m.outcome(o)
		}
	}
}

// handleMessage feeds one received message to the automaton. The automaton
// owns the seen-cache and says whether the message needs a signature check
// (anything but a byte-identical copy of a message it accepted); the check
// runs here, on the message's own bytes, before the automaton takes the
// message as new. Nothing else skips or caches checks.
func (r *Router) handleMessage(now time.Time, p peer.ID, msg *pb.Message) {
	id := r.msgIDFor(msg.GetTopic())(msg)
	o := r.aut.HandleMessage(now, p, msg, id, false, &r.out)
	switch o {
	case automaton.OutcomeAlreadySeen:
		r.m.sigSkipped.Inc()
	case automaton.OutcomeNeedsSignatureCheck:
		r.m.outcome(o)
		r.m.sigChecked.Inc()
		if err := wire.CheckPolicy(msg, r.cfg.signPolicy); err != nil {
			o = r.aut.Reject(now, p, msg.GetTopic(), id, rejectReason(err), &r.out)
		} else {
			o = r.aut.HandleMessage(now, p, msg, id, true, &r.out)
		}
	}
	r.m.outcome(o)
	if o == automaton.OutcomeNeedsValidation {
		r.validate(p, msg, id)
	}
}

// enqueue puts one Send on its peer's queue: subscriptions and control as
// one control RPC, each message as one data entry (so IDONTWANT can cancel
// it).
func (r *Router) enqueue(s *automaton.Send) {
	pc := r.peers[s.To]
	if pc == nil {
		return
	}
	rpc := s.RPC
	// Receivers apply subscriptions before control within one RPC. A PRUNE
	// sent on leaving must arrive before the unsubscription (or the peer
	// sees an unsubscribed peer, not a prune with its backoff), so
	// unsubscriptions travel in a second RPC after the control.
	subs, unsubs := rpc.Subscriptions, []*pb.RPC_SubOpts(nil)
	for i, so := range rpc.Subscriptions {
		if !so.GetSubscribe() {
			subs = make([]*pb.RPC_SubOpts, 0, len(rpc.Subscriptions))
			subs = append(subs, rpc.Subscriptions[:i]...)
			for _, so := range rpc.Subscriptions[i:] {
				if so.GetSubscribe() {
					subs = append(subs, so)
				} else {
					unsubs = append(unsubs, so)
				}
			}
			break
		}
	}
	if len(subs) > 0 || rpc.Control != nil {
		r.pushControl(pc, &pb.RPC{Subscriptions: subs, Control: rpc.Control})
	}
	if len(unsubs) > 0 {
		r.pushControl(pc, &pb.RPC{Subscriptions: unsubs})
	}
	for i, m := range rpc.Publish {
		if !pc.q.pushData(s.IDs[i], m) {
			r.dropped++
			r.m.dataDrops.Inc()
			r.noteDrop(pc)
		} else {
			r.queued++
		}
	}
}

func (r *Router) pushControl(pc *peerConn, rpc *pb.RPC) {
	if !pc.q.pushControl(rpc) {
		r.m.controlDrops.Inc()
		r.noteDrop(pc)
	}
}

func (r *Router) noteDrop(pc *peerConn) {
	pc.drops++
	if !pc.overflowSent {
		r.emitOverflow(pc, r.clk.Now())
	}
}

func (r *Router) emitOverflow(pc *peerConn, now time.Time) {
	_ = r.em.queueOverflow.Emit(events.EvtPeerQueueOverflowed{Peer: pc.id, Dropped: pc.drops, At: now})
	r.rl.warn("overflow:"+string(pc.id), "peer send queue full, dropping", "peer", pc.id, "dropped", pc.drops)
	pc.drops = 0
	pc.overflowSent = true
}

// writeLoop opens pc's outbound stream, negotiating the most capable
// protocol, then writes whatever the driver queues, control first.
func (r *Router) writeLoop(ctx context.Context, pc *peerConn, gen int) {
	defer r.wg.Done()
	sctx, cancel := r.clk.WithTimeout(network.WithNoDial(ctx, "pubsub"), r.cfg.streamTimeout)
	s, err := r.host.NewStream(sctx, pc.id, wire.Protocols...)
	cancel()
	if err != nil {
		r.report(netInput{kind: netOutboundFailed, pc: pc, gen: gen, err: err})
		return
	}
	// A write blocked on a slow peer ends when the peer is dropped or the
	// router closes.
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if !r.report(netInput{kind: netOutboundOpened, pc: pc, gen: gen, proto: s.Protocol()}) {
		_ = s.Reset()
		return
	}
	w := wire.NewWriter(s, r.cfg.maxRPCSize)
	budget := min(r.cfg.maxRPCSize, dataBatchBytes) - 64
	var batch []*pb.Message
	for {
		select {
		case <-ctx.Done():
			_ = s.Reset()
			return
		case <-pc.q.wake:
		}
		for ctx.Err() == nil {
			if rpc := pc.q.popControl(); rpc != nil {
				err = r.write(w, rpc)
			} else if batch = pc.q.popData(batch[:0], budget, msgFieldSize); len(batch) > 0 {
				err = r.write(w, &pb.RPC{Publish: batch})
				clear(batch)
			} else {
				break
			}
			if err != nil {
				_ = s.Reset()
				if ctx.Err() == nil {
					r.report(netInput{kind: netOutboundFailed, pc: pc, gen: gen, err: err})
				}
				return
			}
		}
	}
}

// dataBatchBytes caps the messages packed into one RPC by the writer. Some
// implementations accept much less than 1 MiB per RPC by default
// (rust-libp2p: 64 KiB), and other Go routers send one message per RPC, so
// batching stays under that; a larger message still goes, alone.
const dataBatchBytes = 64 << 10

func msgFieldSize(m *pb.Message) int {
	n := proto.Size(m)
	return protowire.SizeTag(2) + protowire.SizeBytes(n)
}

// write splits rpc to the maximum size and writes the parts. A part that
// cannot be split small enough is dropped (and logged): it is our own
// output, so this is a bug, not the peer's fault.
func (r *Router) write(w *wire.Writer, rpc *pb.RPC) error {
	parts, err := wire.Split(rpc, r.cfg.maxRPCSize)
	if err != nil {
		r.log.Error("dropping unsendable RPC", "err", err)
		return nil
	}
	for _, p := range parts {
		if err := w.WriteRPC(p); err != nil {
			return err
		}
		r.m.rpcsOut.Inc()
	}
	return nil
}

// handleStream serves one inbound pubsub stream: it reads and decodes
// frames and hands the RPCs to the driver, which decides everything else
// (ids, signature checks, duplicates). Bad input (an oversized or
// undecodable frame) resets the stream and is reported to the driver, which
// penalises the peer.
func (r *Router) handleStream(s network.Stream) {
	if !r.trackStream(s) {
		_ = s.Reset()
		return
	}
	defer r.untrackStream(s)
	p := s.Conn().RemotePeer()
	if !r.report(netInput{kind: netInboundOpened, peer: p, proto: s.Protocol()}) {
		_ = s.Reset()
		return
	}
	rd := wire.NewReader(s, r.cfg.maxRPCSize)
	for {
		rpc, err := rd.ReadRPC()
		if err != nil {
			bad, isBad := classify(err)
			if !isBad {
				if errors.Is(err, io.EOF) {
					_ = s.Close()
				} else {
					_ = s.Reset()
				}
				return
			}
			r.m.invalidRPCs[bad].Inc()
			_ = s.Reset()
			r.report(netInput{kind: netBadInput, peer: p, bad: bad, err: err})
			return
		}
		r.m.rpcsIn.Inc()
		if !r.report(netInput{kind: netRPC, peer: p, rpc: rpc}) {
			_ = s.Reset()
			return
		}
	}
}

func classify(err error) (badInput, bool) {
	switch {
	case errors.Is(err, wire.ErrFrameTooLarge):
		return badFrameTooLarge, true
	case errors.Is(err, wire.ErrBadLengthPrefix):
		return badLengthPrefix, true
	case errors.Is(err, wire.ErrDecode):
		return badUndecodable, true
	}
	return 0, false
}

func rejectReason(err error) events.RejectReason {
	switch {
	case errors.Is(err, wire.ErrMissingSignature):
		return events.RejectMissingSignature
	case errors.Is(err, wire.ErrInvalidSignature):
		return events.RejectInvalidSignature
	case errors.Is(err, wire.ErrUnexpectedSignature):
		return events.RejectUnexpectedSignature
	}
	return events.RejectMalformed
}

// trackStream registers an inbound stream for Close to reset. A peer keeps
// one inbound pubsub stream, as in other implementations: a newer one
// replaces (resets) the older, so no peer can hold more than one reader
// goroutine of ours.
func (r *Router) trackStream(s network.Stream) bool {
	p := s.Conn().RemotePeer()
	r.mu.Lock()
	if r.state != stateStarted {
		r.mu.Unlock()
		return false
	}
	old := r.inbound[p]
	r.inbound[p] = s
	r.streams[s] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	if old != nil {
		r.m.streamsReplaced.Inc()
		_ = old.Reset() // its reader sees the error and exits
	}
	return true
}

func (r *Router) untrackStream(s network.Stream) {
	r.mu.Lock()
	delete(r.streams, s)
	if p := s.Conn().RemotePeer(); r.inbound[p] == s {
		delete(r.inbound, p)
	}
	r.mu.Unlock()
	r.wg.Done()
}
