package router

import (
	"sync"
	"sync/atomic"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// sendQueue is one peer's bounded outbound queue. The driver pushes and
// cancels; the peer's writer goroutine pops. Control RPCs (subscriptions,
// GRAFT, PRUNE, IHAVE, IWANT, IDONTWANT) are always popped before messages,
// so gossip and mesh maintenance keep flowing to a peer that is behind on
// data. The mutex is held only for slice operations, never during I/O.
type sendQueue struct {
	mu      sync.Mutex
	ctrl    []*pb.RPC
	ctrlAt  int // index of the first unpopped control RPC
	data    []queuedMsg
	dataAt  int // index of the first unpopped message
	live    int // unpopped, uncancelled messages
	maxCtrl int
	maxData int
	wake    chan struct{} // capacity 1: "there is something to pop"
	// unwanted holds the ids the peer recently showed it does not need
	// (its reader adds them); messages with those ids are not queued, and
	// queued ones are skipped when popped.
	unwanted unwanted
	// removed is set when the driver forgets the peer: a reader holding
	// this queue looks the peer's current one up again.
	removed atomic.Bool
	// large mirrors the automaton's PeerLargeMessages for the writer: the
	// peer takes gossipsub v1.4 fragments. The driver writes it.
	large atomic.Bool
}

type queuedMsg struct {
	id    string
	hash  uint64      // wire.IDHash(id)
	msg   *pb.Message // nil once cancelled
	paced bool        // a staggered copy: the writer reports it done (popData's done)
}

func newSendQueue(maxData, maxCtrl int) *sendQueue {
	return &sendQueue{maxData: maxData, maxCtrl: maxCtrl, wake: make(chan struct{}, 1)}
}

// pushResult says what pushData did.
type pushResult uint8

const (
	pushQueued   pushResult = iota // queued for the writer
	pushFull                       // dropped: the data queue is full
	pushUnwanted                   // dropped: the peer showed it does not need it
)

func (q *sendQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushControl queues a control RPC; false (dropped) when the control queue is full.
func (q *sendQueue) pushControl(rpc *pb.RPC) bool {
	q.mu.Lock()
	if len(q.ctrl)-q.ctrlAt >= q.maxCtrl {
		q.mu.Unlock()
		return false
	}
	q.ctrl = append(q.ctrl, rpc)
	q.mu.Unlock()
	q.signal()
	return true
}

// pushControlFront puts rpc ahead of every queued control RPC, regardless of
// the bound (for the hello of a reopened stream).
func (q *sendQueue) pushControlFront(rpc *pb.RPC) {
	q.mu.Lock()
	if q.ctrlAt > 0 {
		q.ctrlAt--
		q.ctrl[q.ctrlAt] = rpc
	} else {
		q.ctrl = append([]*pb.RPC{rpc}, q.ctrl...)
	}
	q.mu.Unlock()
	q.signal()
}

// pushData queues a message, unless the queue is full or the peer has
// shown it does not need it (see unwanted). A paced message (a staggered
// copy, automaton.Send.Paced) is reported by popData when taken.
func (q *sendQueue) pushData(id string, m *pb.Message, paced bool) pushResult {
	h := wire.IDHash(id)
	if q.unwanted.has(h) {
		return pushUnwanted
	}
	q.mu.Lock()
	if q.live >= q.maxData {
		q.mu.Unlock()
		return pushFull
	}
	// Cancelled entries still occupy the slice until popped; compact when
	// they make up most of it so the slice stays bounded.
	if len(q.data)-q.dataAt >= 2*q.maxData {
		q.compactLocked()
	}
	q.data = append(q.data, queuedMsg{id: id, hash: h, msg: m, paced: paced})
	q.live++
	q.mu.Unlock()
	q.signal()
	return pushQueued
}

func (q *sendQueue) compactLocked() {
	kept := q.data[:0]
	for _, e := range q.data[q.dataAt:] {
		if e.msg != nil {
			kept = append(kept, e)
		}
	}
	clear(q.data[len(kept):])
	q.data, q.dataAt = kept, 0
}

// cancel drops the queued, unsent copy of message id; it reports whether
// there was one. It searches from the newest entry: a cancel concerns a
// message forwarded moments ago.
func (q *sendQueue) cancel(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := len(q.data) - 1; i >= q.dataAt; i-- {
		if q.data[i].msg != nil && q.data[i].id == id {
			q.data[i].msg = nil
			q.live--
			return true
		}
	}
	return false
}

// popControl returns the next control RPC, or nil.
func (q *sendQueue) popControl() *pb.RPC {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctrlAt == len(q.ctrl) {
		return nil
	}
	rpc := q.ctrl[q.ctrlAt]
	q.ctrl[q.ctrlAt] = nil
	q.ctrlAt++
	if q.ctrlAt == len(q.ctrl) {
		q.ctrl, q.ctrlAt = q.ctrl[:0], 0
	}
	return rpc
}

// popGossip returns the next control RPC if it carries only gossip (see
// gossipOnly) with at most idwLeft IDONTWANT ids, or nil (the queue is empty,
// or its head must go alone or does not fit).
func (q *sendQueue) popGossip(idwLeft int) *pb.RPC {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctrlAt == len(q.ctrl) {
		return nil
	}
	rpc := q.ctrl[q.ctrlAt]
	if !gossipOnly(rpc) || idontwantIDs(rpc.Control) > idwLeft {
		return nil
	}
	q.ctrl[q.ctrlAt] = nil
	q.ctrlAt++
	if q.ctrlAt == len(q.ctrl) {
		q.ctrl, q.ctrlAt = q.ctrl[:0], 0
	}
	return rpc
}

// gossipOnly reports whether rpc carries nothing but IHAVE, IWANT,
// IDONTWANT, PREAMBLE and IMRECEIVING (the writer packs exactly these
// lists: writer.next). Such RPCs can share one RPC with each other and with
// messages: a receiver applies each entry on its own, so their order and
// grouping do not matter. Subscriptions, GRAFT, PRUNE, the v1.3 extensions
// and partial messages keep an RPC of their own, in queue order (a PRUNE
// must reach the peer before the unsubscription queued after it).
func gossipOnly(rpc *pb.RPC) bool {
	c := rpc.GetControl()
	return c != nil && len(rpc.Subscriptions) == 0 && len(rpc.Publish) == 0 && rpc.Partial == nil && rpc.Choke == nil &&
		len(c.Graft) == 0 && len(c.Prune) == 0 && c.Extensions == nil &&
		len(rpc.ProtoReflect().GetUnknown()) == 0 && len(c.ProtoReflect().GetUnknown()) == 0
}

// idontwantIDs counts the message ids of c's IDONTWANT entries.
func idontwantIDs(c *pb.ControlMessage) int {
	n := 0
	for _, e := range c.GetIdontwant() {
		n += len(e.GetMessageIDs())
	}
	return n
}

// popData appends to dst queued messages whose summed size (as returned by
// size) stays within budget, always at least one, and returns it with the
// number of messages skipped because the peer meanwhile showed it does not
// need them (see unwanted). The ids of the paced messages it takes, written
// or skipped, are appended to *done (when done is not nil); the ids of the
// messages it appends to dst, to *ids in the same order (when ids is not
// nil).
func (q *sendQueue) popData(dst []*pb.Message, ids, done *[]string, budget int, size func(*pb.Message) int) ([]*pb.Message, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.unwanted.mu.Lock()
	defer q.unwanted.mu.Unlock()
	used, skipped := 0, 0
	for q.dataAt < len(q.data) {
		e := q.data[q.dataAt]
		if e.msg != nil && q.unwanted.hasLocked(e.hash) {
			q.live--
			skipped++
		} else if e.msg != nil {
			n := size(e.msg)
			if len(dst) > 0 && used+n > budget {
				break
			}
			used += n
			dst = append(dst, e.msg)
			if ids != nil {
				*ids = append(*ids, e.id)
			}
			q.live--
		}
		if e.msg != nil && e.paced && done != nil {
			*done = append(*done, e.id)
		}
		q.data[q.dataAt] = queuedMsg{}
		q.dataAt++
	}
	if q.dataAt == len(q.data) {
		q.data, q.dataAt = q.data[:0], 0
	}
	return dst, skipped
}

// lens returns the queued control RPCs and live messages.
func (q *sendQueue) lens() (ctrl, data int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ctrl) - q.ctrlAt, q.live
}
