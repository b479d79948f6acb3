package router

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
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
		if r.skipFull(pc.id, m.GetTopic()) {
			continue // it takes partial messages on this topic instead
		}
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

// dataBatchBytes caps the messages packed into one RPC by the writer. Some
// implementations accept much less than 1 MiB per RPC by default
// (rust-libp2p: 64 KiB), and other Go routers send one message per RPC, so
// batching stays under that; a larger message still goes, alone.
const dataBatchBytes = 64 << 10

func msgFieldSize(m *pb.Message) int {
	n := proto.Size(m)
	return protowire.SizeTag(2) + protowire.SizeBytes(n)
}

// writer is the state of one peer's writer goroutine, owned by it alone:
// which peer and generation it writes for, its stream, its frame writer
// and its batch buffer. It shares only the peer's sendQueue with the driver
// (the queue's mutex guards slice operations, never I/O).
type writer struct {
	pc     *peerConn
	gen    int
	s      network.Stream
	w      *wire.Writer
	batch  []*pb.Message
	budget int // bytes of messages per data RPC
}

// writeLoop runs pc's writer generation gen: it opens the outbound stream,
// negotiating the most capable protocol, then writes whatever the driver
// queues, control first.
func (r *Router) writeLoop(ctx context.Context, pc *peerConn, gen int) {
	defer r.wg.Done()
	wr := &writer{pc: pc, gen: gen, budget: min(r.cfg.maxRPCSize, dataBatchBytes) - 64}
	wr.run(ctx, r)
}

func (wr *writer) run(ctx context.Context, r *Router) {
	sctx, cancel := r.clk.WithTimeout(network.WithNoDial(ctx, "pubsub"), r.cfg.streamTimeout)
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
			if rpc := q.popControl(); rpc != nil {
				err = wr.write(r, rpc)
			} else if wr.batch = q.popData(wr.batch[:0], wr.budget, msgFieldSize); len(wr.batch) > 0 {
				err = wr.write(r, &pb.RPC{Publish: wr.batch})
				clear(wr.batch)
			} else {
				break
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

// write splits rpc to the maximum size and writes the parts. A part that
// cannot be split small enough is dropped (and logged): it is our own
// output, so this is a bug, not the peer's fault.
func (wr *writer) write(r *Router, rpc *pb.RPC) error {
	parts, err := wire.Split(rpc, r.cfg.maxRPCSize)
	if err != nil {
		r.log.Error("dropping unsendable RPC", "err", err)
		return nil
	}
	for _, p := range parts {
		if err := wr.w.WriteRPC(p); err != nil {
			return err
		}
		r.m.rpcsOut.Inc()
	}
	return nil
}
