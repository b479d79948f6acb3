package router

import (
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/fragment"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// Inbound: one reader goroutine per inbound stream decodes frames and hands
// them to the driver; the driver feeds them to the automaton.

// handleRPC feeds one received RPC to the automaton: subscriptions, then
// messages, then control, as other implementations process them.
func (r *Router) handleRPC(in netInput) {
	now := r.clk.Now()
	p := in.peer
	if in.first {
		r.recordLargeMessages(in)
		r.m.outcome(r.aut.SetPeerChoke(p, in.rpc.GetControl().GetExtensions().GetMeshbusChoke()))
	}
	r.partialRPCIn(in)
	defer r.partialRPCAfter(in)
	for _, s := range in.rpc.GetSubscriptions() {
		r.m.outcome(r.aut.HandleSubscription(now, p, s.GetTopicid(), s.GetSubscribe(), &r.out))
	}
	r.handleMessages(now, p, in.rpc.GetPublish(), in.ids, in.idv)
	if fr := in.rpc.GetLargeMessageFragments(); len(fr) > 0 {
		r.handleFragments(now, p, fr)
	}
	if c := in.rpc.GetControl(); c != nil {
		r.outcomes = r.aut.HandleControl(now, p, c, &r.out, r.outcomes[:0])
		for _, o := range r.outcomes {
			r.m.outcome(o)
		}
	}
	if c := in.rpc.GetChoke(); c != nil {
		r.outcomes = r.aut.HandleChokeExtension(now, p, c, &r.out, r.outcomes[:0])
		for _, o := range r.outcomes {
			r.m.outcome(o)
		}
	}
}

// toCheck is a received message waiting for its signature check.
type toCheck struct {
	msg *pb.Message
	id  string
}

// handleMessages feeds one RPC's messages to the automaton, in two passes.
// The automaton owns the seen-cache and says whether a message needs a
// signature check (anything but a byte-identical copy of a message it
// accepted). The first pass shows it every message unchecked: duplicates
// end there, and new messages output their IDONTWANT, which is queued for
// the writers at once (flush), so that it travels while this goroutine
// checks signatures. The second pass runs the checks, on each message's own
// bytes, before the automaton takes the message as new. Nothing else skips
// or caches checks.
//
// ids are the messages' ids as the reader computed them with the id
// functions of idv; they are computed again here if the joined topics'
// view changed since.
func (r *Router) handleMessages(now time.Time, p peer.ID, msgs []*pb.Message, ids []string, idv *map[string]wire.MsgIDFunc) {
	if len(msgs) == 0 {
		return
	}
	if len(ids) != len(msgs) || idv != r.topicIDs.Load() {
		ids = nil
	}
	checks := r.checks[:0]
	for i, msg := range msgs {
		var id string
		if ids != nil {
			id = ids[i]
		} else {
			id = r.msgIDFor(msg.GetTopic())(msg)
		}
		if t := r.cfg.tracer; t != nil {
			t.Stage(StageReceived, id, p)
		}
		o := r.aut.HandleMessage(now, p, msg, id, false, &r.out)
		r.m.outcome(o)
		switch o {
		case automaton.OutcomeAlreadySeen:
			r.m.v.Inc(mSigSkipped)
		case automaton.OutcomeNeedsSignatureCheck:
			checks = append(checks, toCheck{msg: msg, id: id})
		}
	}
	if len(checks) == 0 {
		r.checks = checks
		return
	}
	if len(r.out.Sends) > 0 {
		r.flush() // the IDONTWANTs go before the checks
	}
	for i, c := range checks {
		if i > 0 {
			// An earlier check of this RPC may have accepted the same id
			// (a copy repeated in one RPC must not cost a check each):
			// ask again.
			o := r.aut.HandleMessage(now, p, c.msg, c.id, false, &r.out)
			if o != automaton.OutcomeNeedsSignatureCheck {
				r.m.outcome(o)
				if o == automaton.OutcomeAlreadySeen {
					r.m.v.Inc(mSigSkipped)
				}
				continue
			}
		}
		r.checkMessage(now, p, c.msg, c.id)
	}
	clear(checks)
	r.checks = checks[:0]
}

// checkMessage applies the signature policy to a message the automaton
// asked to check, and gives it the result.
func (r *Router) checkMessage(now time.Time, p peer.ID, msg *pb.Message, id string) {
	r.m.v.Inc(mSigChecked)
	var o automaton.Outcome
	if err := r.verifier.CheckPolicy(msg, r.cfg.signPolicy); err != nil {
		o = r.aut.Reject(now, p, msg.GetTopic(), id, rejectReason(err), &r.out)
	} else {
		o = r.aut.HandleMessage(now, p, msg, id, true, &r.out)
	}
	r.m.outcome(o)
	if o == automaton.OutcomeNeedsValidation {
		r.validate(p, msg, id)
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

// inboundStream is a peer's current inbound stream and the channel its
// reader closes when it has exited (every RPC it read handed to the driver).
type inboundStream struct {
	s    network.Stream
	done chan struct{}
}

// trackStream registers an inbound stream for Close to reset. A peer keeps
// one inbound pubsub stream, as in other implementations: a newer one
// replaces (resets) the older, so no peer can hold more than one reader
// goroutine of ours reading. It returns the older stream's done channel
// (nil when there was none): the new stream's reader waits on it before it
// reports anything, so the driver sees every RPC of the older stream before
// the newer one's opening and first RPC (the gossipsub v1.3 Extensions of
// a reopened stream, its hello), never a stale one after them.
func (r *Router) trackStream(s network.Stream, done chan struct{}) (prev <-chan struct{}, ok bool) {
	p := s.Conn().RemotePeer()
	r.mu.Lock()
	if r.state != stateStarted {
		r.mu.Unlock()
		return nil, false
	}
	old, had := r.inbound[p]
	r.inbound[p] = inboundStream{s: s, done: done}
	r.streams[s] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	if had {
		r.m.v.Inc(mStreamsReplaced)
		_ = old.s.Reset() // its reader sees the error and exits
		return old.done, true
	}
	return nil, true
}

func (r *Router) untrackStream(s network.Stream, done chan struct{}) {
	r.mu.Lock()
	delete(r.streams, s)
	if p := s.Conn().RemotePeer(); r.inbound[p].s == s {
		delete(r.inbound, p)
	}
	r.mu.Unlock()
	close(done)
	r.wg.Done()
}

// handleStream serves one inbound pubsub stream (libp2p calls it on a
// goroutine of its own, which becomes the stream's reader).
func (r *Router) handleStream(s network.Stream) {
	done := make(chan struct{})
	prev, ok := r.trackStream(s, done)
	if !ok {
		_ = s.Reset()
		return
	}
	defer r.untrackStream(s, done)
	if prev != nil {
		// The older reader was reset: it exits as soon as it has handed
		// the driver the RPC it holds, if any (the driver never waits on
		// readers), or at once when the router closes.
		select {
		case <-prev:
		case <-r.ctx.Done():
			_ = s.Reset()
			return
		}
	}
	rd := &reader{s: s, peer: s.Conn().RemotePeer(), rd: wire.NewReader(s, r.cfg.maxRPCSize)}
	rd.run(r)
}

// reader is the state of one inbound stream's goroutine, owned by it alone:
// the stream, its peer, and the frame reader with its reused buffer. It
// reads and decodes frames and hands the RPCs to the driver, which decides
// everything else (ids, signature checks, duplicates). Bad input (an
// oversized or undecodable frame) resets the stream and is reported to the
// driver, which penalises the peer.
type reader struct {
	s      network.Stream
	peer   peer.ID
	rd     *wire.Reader
	q      *sendQueue // the peer's send queue, once the driver made one
	hashes []uint64   // noteUnwanted's scratch
}

// noteUnwanted records in the peer's send queue what rpc shows the peer
// does not need (ids are its messages' ids, then its IDONTWANT and
// IMRECEIVING ids), so that its writer skips those copies at once, and
// forgets the ids it asks for with IWANT (see noteUnwanted).
func (rd *reader) noteUnwanted(r *Router, rpc *pb.RPC, ids []string) {
	if c := rpc.GetControl(); len(ids) == 0 && len(c.GetIdontwant()) == 0 && len(c.GetImreceiving()) == 0 && len(c.GetIwant()) == 0 && len(rpc.GetLargeMessageFragments()) == 0 {
		return
	}
	if q := rd.queue(r); q != nil {
		rd.hashes = noteUnwanted(&q.unwanted, rpc, ids, rd.hashes)
	}
}

// messageIDs computes the ids of rpc's messages with the joined topics'
// id functions, and returns them with the view it read them from. The
// driver takes both with the RPC (netInput.ids, idv), so each id is
// computed once per received copy.
func messageIDs(r *Router, rpc *pb.RPC) ([]string, *map[string]wire.MsgIDFunc) {
	msgs := rpc.GetPublish()
	if len(msgs) == 0 {
		return nil, nil
	}
	idv := r.topicIDs.Load()
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		fn := (*idv)[m.GetTopic()]
		if fn == nil {
			fn = r.cfg.msgID
		}
		ids[i] = fn(m)
	}
	return ids, idv
}

// queue returns the peer's send queue, looking it up again once the driver
// has made or replaced it; nil while it has none.
func (rd *reader) queue(r *Router) *sendQueue {
	if rd.q == nil || rd.q.removed.Load() {
		r.mu.Lock()
		rd.q = r.queues[rd.peer]
		r.mu.Unlock()
	}
	return rd.q
}

func (rd *reader) run(r *Router) {
	if !r.report(netInput{kind: netInboundOpened, peer: rd.peer, proto: rd.s.Protocol()}) {
		_ = rd.s.Reset()
		return
	}
	started := false
	var peek func([]byte)
	if r.cfg.idPrefix > 0 || !r.cfg.msgIDSet || r.large.on {
		peek = func(head []byte) { rd.peek(r, head) }
	}
	for {
		var rpc *pb.RPC
		var err error
		if peek != nil {
			rpc, err = rd.rd.ReadRPCHead(EarlyHeadMinFrame, earlyHeadLen, peek)
		} else {
			rpc, err = rd.rd.ReadRPC()
		}
		if err != nil {
			bad, isBad := classify(err)
			if !isBad {
				if errors.Is(err, io.EOF) {
					_ = rd.s.Close()
				} else {
					_ = rd.s.Reset()
				}
				return
			}
			r.m.v.Inc(mInvalid[bad])
			_ = rd.s.Reset()
			r.report(netInput{kind: netBadInput, peer: rd.peer, bad: bad, err: err})
			return
		}
		r.m.v.Inc(mRPCsIn)
		ids, idv := messageIDs(r, rpc)
		if t := r.cfg.tracer; t != nil {
			traceIDs(t, StageRead, ids, rd.peer)
		}
		rd.noteUnwanted(r, rpc, ids)
		first := !started
		started = true
		if !r.report(netInput{kind: netRPC, peer: rd.peer, proto: rd.s.Protocol(), rpc: rpc, ids: ids, idv: idv, first: first}) {
			_ = rd.s.Reset()
			return
		}
	}
}

// EarlyHeadMinFrame is the smallest frame whose head a reader looks at
// before the rest arrives (with WithMessageIDPrefix or the default id): a frame that takes a
// while to arrive (16 KiB: 2.6 ms at 50 Mbit/s, longer on a shared link).
const EarlyHeadMinFrame = 16 << 10

// earlyHeadLen is how much of such a frame the reader waits for before it
// looks: enough for a subscription or two, the message's from and seqno
// fields and the start of its data, and less than one TCP segment.
const earlyHeadLen = 512

// messageHead is what a reader tells the driver of a large message still
// arriving: its id, computed from the head of its data, the length of its
// data, and its topic when the frame named it first ("" otherwise).
type messageHead struct {
	id      string
	topic   string
	dataLen int
	// frag: the head of a gossipsub v1.4 fragment of index 0 (id and size
	// as the fragment claims them: the driver acts on it only for a peer
	// marked v1.4).
	frag bool
}

// peek looks at the head of a large frame: if it starts a message whose id
// can be computed from the head, it tells the driver (netMessageHead),
// which may send IDONTWANT for it before the rest of the message arrives.
// With WithMessageIDPrefix the id is computed from the data present; with
// the default id (wire.DefaultMsgID, from || seqno) from the from and
// seqno fields when the sender put them before the data (meshbus's
// wire.Writer does for a large message; encoders in field order put seqno
// after the data, and then the id waits for the whole message). It runs
// on the reader's goroutine, while the frame is being read.
func (rd *reader) peek(r *Router, head []byte) {
	h, ok := wire.PeekMessageHead(head)
	if !ok {
		rd.peekFragment(r, head)
		return
	}
	if r.ownIDTopics.Load() != 0 || (r.cfg.idPrefix == 0 && r.cfg.msgIDSet) {
		return
	}
	var id string
	if n := r.cfg.idPrefix; n > 0 {
		if h.DataLen < n || len(h.DataPrefix) < n {
			return
		}
		m := pb.Message{Data: h.DataPrefix[:n:n]}
		if h.HasTopic {
			m.Topic = &h.Topic
		}
		id = r.cfg.msgID(&m)
	} else {
		if h.From == nil || h.Seqno == nil {
			return
		}
		id = wire.DefaultMsgID(&pb.Message{From: h.From, Seqno: h.Seqno})
	}
	// The peer is sending us the message: no copy of ours need be written
	// to it (as for the messages of a decoded RPC, see noteUnwanted).
	if q := rd.queue(r); q != nil {
		q.unwanted.add(wire.IDHash(id))
	}
	r.report(netInput{kind: netMessageHead, peer: rd.peer, head: messageHead{id: id, topic: h.Topic, dataLen: h.DataLen}})
}

// peekFragment looks at the head of a large frame that starts with a
// gossipsub v1.4 fragment of index 0: the first fragment of a message the
// peer is sending us. As for a whole message's head (peek), its id goes to
// the peer's unwanted ring and the driver hears of it (netMessageHead,
// frag), before the rest of the frame arrives. The id is the one the
// fragment claims, as the reassembly will check.
func (rd *reader) peekFragment(r *Router, head []byte) {
	if !r.large.on {
		return
	}
	h, ok := wire.PeekFragmentHead(head)
	if !ok || h.Index != 0 || h.Total == 0 || len(h.ID) == 0 {
		return
	}
	id := string(h.ID)
	if q := rd.queue(r); q != nil {
		q.unwanted.add(wire.IDHash(id))
	}
	size := uint64(h.DataLen) * min(h.Total, fragment.HardMaxFragments)
	r.report(netInput{kind: netMessageHead, peer: rd.peer, head: messageHead{id: id, topic: h.Topic, dataLen: int(min(size, uint64(r.cfg.maxRPCSize))), frag: true}})
}
