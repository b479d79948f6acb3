package router

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/clockctx"
)

// Outbound: the driver queues the automaton's sends per peer; one writer
// goroutine per peer opens the outbound stream and writes them.

// enqueue puts one Send on its peer's queue: subscriptions and control as
// one control RPC, each message as one data entry (so IDONTWANT can cancel
// it).
func (r *Router) enqueue(s *automaton.Send) {
	pc := r.peers[s.To]
	if pc == nil {
		return
	}
	rpc := s.RPC
	r.decorate(rpc)
	r.stripIHave(pc.id, rpc.Control)
	r.stripPreamble(pc.id, rpc.Control)
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
	if rpc.Choke != nil {
		r.pushControl(pc, &pb.RPC{Choke: rpc.Choke})
	}
	for i, m := range rpc.Publish {
		paced := s.Paced != nil && s.Paced[i]
		if r.skipFull(pc.id, m.GetTopic()) {
			if paced {
				r.copiesDone = append(r.copiesDone, copyDone{peer: pc.id, id: s.IDs[i]})
			}
			continue // it takes partial messages on this topic instead
		}
		if t := r.cfg.tracer; t != nil {
			// Before the push: its writer may take the copy at once.
			t.Stage(StageQueued, s.IDs[i], pc.id)
		}
		res := pc.q.pushData(s.IDs[i], m, paced)
		switch res {
		case pushFull:
			r.dropped++
			r.m.v.Inc(mDataDrops)
			r.noteDrop(pc)
		case pushUnwanted:
			r.m.v.Inc(mUnwantedSkips)
		default:
			r.queued++
		}
		if paced && res != pushQueued {
			// Not written: the automaton may release the next copy now.
			r.copiesDone = append(r.copiesDone, copyDone{peer: pc.id, id: s.IDs[i]})
		}
	}
}

// copyDone is a staggered copy the driver found done without its writer
// (not queued): the automaton hears of it after the Output is carried out.
type copyDone struct {
	peer peer.ID
	id   string
}

func (r *Router) pushControl(pc *peerConn, rpc *pb.RPC) {
	if !pc.q.pushControl(rpc) {
		r.m.v.Inc(mControlDrops)
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

// dataBatchBytes caps the messages packed into one RPC by the writer. Some
// implementations accept much less than 1 MiB per RPC by default
// (rust-libp2p: 64 KiB), and other Go routers send one message per RPC, so
// batching stays under that; a larger message still goes, alone.
const dataBatchBytes = 64 << 10

func msgFieldSize(m *pb.Message) int {
	n := proto.Size(m)
	return protowire.SizeTag(2) + protowire.SizeBytes(n)
}

// maxIDontWantPerRPC caps the IDONTWANT ids the writer packs into one RPC:
// go-libp2p-pubsub reads at most 10 per RPC (its MaxIDontWantLength) and
// ignores the rest.
const maxIDontWantPerRPC = 10

// writer is the state of one peer's writer goroutine, owned by it alone:
// which peer and generation it writes for, its stream, its frame writer
// and the RPC it packs (reused from write to write). It shares only the
// peer's sendQueue with the driver (the queue's mutex guards slice
// operations, never I/O).
type writer struct {
	pc     *peerConn
	gen    int
	s      network.Stream
	w      *wire.Writer
	rpc    pb.RPC            // the packed RPC: gossip control and messages
	ctrl   pb.ControlMessage // rpc's control, when it has gossip
	budget int               // bytes of messages per data RPC
	ids    []string          // the ids of rpc.Publish, in order
	// big and bigIDs are the messages taken for the packed RPC that go to
	// this (gossipsub v1.4) peer as fragments instead, with their ids;
	// frags and fragRPC are writeFragments' scratch.
	big     []*pb.Message
	bigIDs  []string
	frags   []*pb.LargeMessageFragment
	fragRPC pb.RPC
	// done collects the ids of the paced (staggered) copies taken for the
	// packed RPC, reported to the driver once it is written.
	done []string
	// m counts queued messages not written because the peer meanwhile
	// showed it does not need them.
	m *metrics
}

// writeLoop runs pc's writer generation gen: it opens the outbound stream,
// negotiating the most capable protocol, then writes whatever the driver
// queues, control first.
func (r *Router) writeLoop(ctx context.Context, pc *peerConn, gen int) {
	defer r.wg.Done()
	wr := &writer{pc: pc, gen: gen, budget: min(r.cfg.maxRPCSize, dataBatchBytes) - 64, m: r.m}
	wr.run(ctx, r)
}

func (wr *writer) run(ctx context.Context, r *Router) {
	sctx, cancel := clockctx.WithTimeout(r.clk, network.WithNoDial(ctx, "pubsub"), r.cfg.streamTimeout)
	s, err := r.host.NewStream(sctx, wr.pc.id, wire.Protocols...)
	cancel()
	if err != nil {
		r.report(netInput{kind: netOutboundFailed, pc: wr.pc, gen: wr.gen, err: err})
		return
	}
	wr.s, wr.w = s, wire.NewWriter(s, r.cfg.maxRPCSize)
	// A write blocked on a slow peer ends when the peer is dropped or the
	// router closes.
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if !r.report(netInput{kind: netOutboundOpened, pc: wr.pc, gen: wr.gen, proto: s.Protocol()}) {
		_ = s.Reset()
		return
	}
	// gossipsub v1.3: the Extensions control message opens the stream.
	if ext := r.extensionsRPC(string(s.Protocol())); ext != nil {
		if err := wr.write(r, ext); err != nil {
			_ = s.Reset()
			if ctx.Err() == nil {
				r.report(netInput{kind: netOutboundFailed, pc: wr.pc, gen: wr.gen, err: err})
			}
			return
		}
	}
	q := wr.pc.q
	for {
		select {
		case <-ctx.Done():
			_ = s.Reset()
			return
		case <-q.wake:
		}
		for ctx.Err() == nil {
			rpc := wr.next(r, q)
			if rpc == nil {
				break
			}
			tr := r.cfg.tracer
			if tr != nil {
				traceIDs(tr, StageWriting, wr.ids, wr.pc.id)
			}
			if rpc != &wr.rpc || rpc.Control != nil || len(rpc.Publish) > 0 {
				err = wr.write(r, rpc) // (the packed RPC is empty when all its messages went to big)
			}
			if err == nil && len(wr.big) > 0 {
				err = wr.writeFragments(r)
			}
			if tr != nil && err == nil {
				traceIDs(tr, StageWritten, wr.ids, wr.pc.id)
			}
			wr.reset()
			if err == nil && len(wr.done) > 0 {
				// Staggered copies written (or skipped): the automaton
				// releases the next ones. The slice goes to the driver.
				if !r.report(netInput{kind: netCopiesDone, peer: wr.pc.id, ids: wr.done}) {
					return
				}
				wr.done = nil
			}
			if err != nil {
				_ = s.Reset()
				if ctx.Err() == nil {
					r.report(netInput{kind: netOutboundFailed, pc: wr.pc, gen: wr.gen, err: err})
				}
				return
			}
		}
	}
}

// next returns the next RPC to write, or nil when the queue is empty: a
// control RPC that travels alone (subscriptions, GRAFT, PRUNE, extensions,
// partial messages), or one packed RPC (wr.rpc) holding the gossip control
// RPCs queued in a row (IHAVE, IWANT, IDONTWANT, and gossipsub v1.4's
// PREAMBLE and IMRECEIVING; at most
// maxIDontWantPerRPC IDONTWANT ids) and then as many queued messages as fit
// the data budget. Packing sends one frame, one stream write, where the
// queue held several: under load that is most of the transport's work.
// Messages this peer takes as gossipsub v1.4 fragments are moved from the
// packed RPC to wr.big (setAside): the packed RPC may then be empty, and
// the caller writes the fragments after it.
func (wr *writer) next(r *Router, q *sendQueue) *pb.RPC {
	idwLeft := maxIDontWantPerRPC
	ctrlSize := 0
	for {
		rpc := q.popGossip(idwLeft)
		if rpc == nil {
			break
		}
		c := rpc.Control
		wr.ctrl.Ihave = append(wr.ctrl.Ihave, c.Ihave...)
		wr.ctrl.Iwant = append(wr.ctrl.Iwant, c.Iwant...)
		wr.ctrl.Idontwant = append(wr.ctrl.Idontwant, c.Idontwant...)
		wr.ctrl.Preamble = append(wr.ctrl.Preamble, c.Preamble...)
		wr.ctrl.Imreceiving = append(wr.ctrl.Imreceiving, c.Imreceiving...)
		idwLeft -= idontwantIDs(c)
		ctrlSize += proto.Size(c)
		if ctrlSize >= wr.budget/2 {
			break
		}
	}
	if ctrlSize == 0 {
		if rpc := q.popControl(); rpc != nil {
			return rpc // one that travels alone
		}
	} else {
		wr.rpc.Control = &wr.ctrl
	}
	budget := wr.budget - ctrlSize
	if budget > 0 {
		// Only a peer that takes fragments, with a threshold some message
		// can exceed, needs the ids and the size check of setAside.
		frag := r.large.fragmentOut && q.large.Load()
		var ids *[]string
		if frag || r.cfg.tracer != nil {
			ids = &wr.ids
		}
		var skipped int
		wr.rpc.Publish, skipped = q.popData(wr.rpc.Publish[:0], ids, &wr.done, budget, msgFieldSize)
		if skipped > 0 {
			wr.m.v.Add(mUnwantedSkips, uint64(skipped))
		}
		if frag {
			wr.setAside(r)
		}
	}
	if wr.rpc.Control == nil && len(wr.rpc.Publish) == 0 && len(wr.big) == 0 {
		return nil
	}
	return &wr.rpc
}

// reset clears the packed RPC for reuse, keeping its slices' capacity and
// dropping its references.
func (wr *writer) reset() {
	clear(wr.rpc.Publish)
	wr.rpc.Publish = wr.rpc.Publish[:0]
	wr.ids = wr.ids[:0]
	clear(wr.big)
	wr.big, wr.bigIDs = wr.big[:0], wr.bigIDs[:0]
	wr.rpc.Control = nil
	clear(wr.ctrl.Ihave)
	clear(wr.ctrl.Iwant)
	clear(wr.ctrl.Idontwant)
	clear(wr.ctrl.Preamble)
	clear(wr.ctrl.Imreceiving)
	wr.ctrl.Ihave, wr.ctrl.Iwant, wr.ctrl.Idontwant = wr.ctrl.Ihave[:0], wr.ctrl.Iwant[:0], wr.ctrl.Idontwant[:0]
	wr.ctrl.Preamble, wr.ctrl.Imreceiving = wr.ctrl.Preamble[:0], wr.ctrl.Imreceiving[:0]
}

// write splits rpc to the maximum size and writes the parts. A part that
// cannot be split small enough is dropped (and logged): it is our own
// output, so this is a bug, not the peer's fault.
func (wr *writer) write(r *Router, rpc *pb.RPC) error {
	if proto.Size(rpc) <= r.cfg.maxRPCSize {
		if err := wr.w.WriteRPC(rpc); err != nil {
			return err
		}
		r.m.v.Inc(mRPCsOut)
		return nil
	}
	parts, err := wire.Split(rpc, r.cfg.maxRPCSize)
	if err != nil {
		r.log.Error("dropping unsendable RPC", "err", err)
		return nil
	}
	for _, p := range parts {
		if err := wr.w.WriteRPC(p); err != nil {
			return err
		}
		r.m.v.Inc(mRPCsOut)
	}
	return nil
}
