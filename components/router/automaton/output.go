package automaton

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
)

// Send is one RPC for one peer. Within one Output there is at most one Send
// per peer: everything a batch of handler calls produced for that peer
// (subscriptions, messages, control) is merged into it.
//
// Ownership: the RPC is freshly allocated and belongs to the driver after the
// handler returns; the *pb.Message values in RPC.Publish are shared with the
// automaton's message cache and with other Sends, so nobody may modify them.
type Send struct {
	// To is the destination peer.
	To peer.ID
	// RPC is what to send; the driver only frames and writes it.
	RPC *pb.RPC
	// IDs are the message ids of RPC.Publish, index-aligned, so that the
	// driver can drop a queued copy when a Cancel for it arrives.
	IDs []string
	// Paced, when not nil, is index-aligned with IDs: true for a message
	// forwarded staggered (StaggerConfig), whose copy the driver reports
	// with HandleCopyDone once written or dropped unwritten. Nil when no
	// message of the Send is paced.
	Paced []bool
}

// Cancel asks the driver to drop a message still queued (not yet written) for
// a peer, because the peer sent IDONTWANT for it or sent us the message
// itself. The driver drops the copy only if its writer has not taken it yet.
type Cancel struct {
	// Peer is the peer the copy was queued for.
	Peer peer.ID
	// ID is the message id it does not want.
	ID string
	// Reason says how we learnt that Peer does not need the message.
	Reason CancelReason
}

// CancelReason says why a queued copy is cancelled.
type CancelReason uint8

// The cancel reasons.
const (
	// CancelIDontWant: the peer sent IDONTWANT for the message.
	CancelIDontWant CancelReason = iota + 1
	// CancelReceived: the peer sent us the message (a duplicate), or
	// announced it with a gossipsub v1.4 PREAMBLE, so it has it.
	CancelReceived
	// CancelImReceiving: the peer sent gossipsub v1.4 IMRECEIVING for the
	// message: it is receiving it from another peer.
	CancelImReceiving
)

// MaxCancelReason is the largest CancelReason (for metrics that index by
// reason).
const MaxCancelReason = CancelImReceiving

// String returns the reason's metric label: "idontwant", "received" or
// "imreceiving".
func (r CancelReason) String() string {
	switch r {
	case CancelIDontWant:
		return "idontwant"
	case CancelReceived:
		return "received"
	case CancelImReceiving:
		return "imreceiving"
	}
	return "unknown"
}

// Fact points at one event in an Output: Kind names its type (one
// FactType per event type, see facts.go), Index its position among the
// Output's events of that type. Output.Facts lists them in decision order.
type Fact struct {
	// Kind is the event's FactType kind.
	Kind FactKind
	// Index is the position among the Output's facts of that kind.
	Index int
}

// Output collects what handler calls decided: RPCs to send, sends to cancel,
// and facts (the events.* structs the driver emits on the bus as they are).
//
// The caller owns the Output and passes it to every handler, which appends to
// it; several handler calls may share one Output (for example all parts of one
// received RPC) and their sends are merged per peer. Reset empties it and
// keeps its buffers; after Reset the driver must no longer use slices it read
// from the Output, except the Send.RPC values and event slices it copied.
// The zero value is ready to use.
//
// Facts are stored unboxed, one typed slice per FactType: read one type's
// events with FactType.In, or all of them boxed with ForEachFact. Events
// are emitted as they are: the automaton fills every field, At included
// (the now given to the handler). Slices inside events (PX records) are
// fresh and may be handed to subscribers.
type Output struct {
	// Sends are the RPCs to send, in the order their peers first got output.
	Sends []Send
	// Cancels are queued messages the driver should drop, in decision order.
	Cancels []Cancel
	// Facts lists every event in decision order, across types.
	Facts []Fact
	// IDontWant counts what learned IDONTWANT did (IDontWantLearnConfig);
	// Empty ignores it, Reset zeroes it.
	IDontWant IDontWantCounts
	// Preamble counts what gossipsub v1.4 PREAMBLE and IMRECEIVING did
	// (PreambleConfig); Empty ignores it, Reset zeroes it.
	Preamble PreambleCounts

	lists   []factList // by FactKind-1, each created on first use
	sendIdx map[peer.ID]int
}

// keepCap is the largest capacity Reset keeps of a slice of the Output (a
// burst, such as joining a hundred topics or a peer subscribing to them,
// grows one far past what one input needs; keeping that for the node's
// life costs tens of kilobytes a node).
const keepCap = 256

// Reset empties the Output for reuse, keeping allocated capacity up to
// keepCap entries per slice (a larger one is dropped and grows again when
// needed).
func (o *Output) Reset() {
	clear(o.Sends) // drop references to RPCs the driver now owns
	o.Sends = trimmed(o.Sends)
	o.Cancels = trimmed(o.Cancels)
	o.Facts = trimmed(o.Facts)
	o.IDontWant = IDontWantCounts{}
	o.Preamble = PreambleCounts{}
	for _, l := range o.lists {
		if l != nil {
			l.reset()
		}
	}
	if len(o.sendIdx) > keepCap {
		o.sendIdx = nil
	}
	clear(o.sendIdx)
}

// trimmed empties s, dropping its array when it is larger than keepCap.
func trimmed[T any](s []T) []T {
	if cap(s) > keepCap {
		return nil
	}
	return s[:0]
}

// Empty reports whether the Output holds nothing to send, cancel or emit.
func (o *Output) Empty() bool {
	return len(o.Sends) == 0 && len(o.Cancels) == 0 && len(o.Facts) == 0
}

// SendTo returns the Send for peer p, or nil if the Output has none.
func (o *Output) SendTo(p peer.ID) *Send {
	if i, ok := o.sendIdx[p]; ok {
		return &o.Sends[i]
	}
	return nil
}

// Fact returns the event f points at, boxed (one allocation); nil if f is out
// of range. Drivers that want no boxing use FactType.In.
func (o *Output) Fact(f Fact) any {
	k := int(f.Kind) - 1
	if k < 0 || k >= len(o.lists) || o.lists[k] == nil {
		return nil
	}
	return o.lists[k].get(f.Index)
}

// ForEachFact calls fn with every event of the Output, boxed, in decision order.
func (o *Output) ForEachFact(fn func(ev any)) {
	for _, f := range o.Facts {
		if ev := o.Fact(f); ev != nil {
			fn(ev)
		}
	}
}

// FactKind numbers the fact types, from 1 in declaration order (facts.go).
type FactKind uint8

// FactType is one event type an Output carries. Declare each with
// newFactType in facts.go; the driver binds each to a bus emitter.
type FactType[T any] struct{ kind FactKind }

// factList is one fact type's events in an Output.
type factList interface {
	reset()
	get(i int) any
}

type typedFacts[T any] struct{ items []T }

func (l *typedFacts[T]) reset() { clear(l.items); l.items = trimmed(l.items) }

func (l *typedFacts[T]) get(i int) any {
	if i < 0 || i >= len(l.items) {
		return nil
	}
	return l.items[i]
}

// factKinds holds, by FactKind-1, the constructor of each type's list.
var factKinds []func() factList

func newFactType[T any]() FactType[T] {
	factKinds = append(factKinds, func() factList { return &typedFacts[T]{} })
	return FactType[T]{kind: FactKind(len(factKinds))}
}

// FactKinds returns how many fact types there are: kinds run from 1 to it.
func FactKinds() int { return len(factKinds) }

// Kind returns the type's FactKind.
func (ft FactType[T]) Kind() FactKind { return ft.kind }

// In returns o's events of this type, in decision order. The slice is o's:
// valid until o.Reset.
func (ft FactType[T]) In(o *Output) []T {
	k := int(ft.kind) - 1
	if k >= len(o.lists) || o.lists[k] == nil {
		return nil
	}
	return o.lists[k].(*typedFacts[T]).items
}

// add appends ev to o, recording it in Facts.
func (ft FactType[T]) add(o *Output, ev T) {
	k := int(ft.kind) - 1
	if o.lists == nil {
		o.lists = make([]factList, len(factKinds))
	}
	if o.lists[k] == nil {
		o.lists[k] = factKinds[k]()
	}
	l := o.lists[k].(*typedFacts[T])
	l.items = append(l.items, ev)
	o.Facts = append(o.Facts, Fact{Kind: ft.kind, Index: len(l.items) - 1})
}

// rpcFor returns the RPC being built for p, creating its Send.
func (o *Output) rpcFor(p peer.ID) *Send {
	if o.sendIdx == nil {
		o.sendIdx = make(map[peer.ID]int)
	}
	if i, ok := o.sendIdx[p]; ok {
		return &o.Sends[i]
	}
	o.sendIdx[p] = len(o.Sends)
	o.Sends = append(o.Sends, Send{To: p, RPC: &pb.RPC{}})
	return &o.Sends[len(o.Sends)-1]
}

// sendBox is a fresh Send's RPC with room for its first message and id, in
// one allocation: most Sends carry one message.
type sendBox struct {
	rpc   pb.RPC
	msg   [1]*pb.Message
	id    [1]string
	paced [1]bool
}

func (o *Output) control(p peer.ID) *pb.ControlMessage {
	s := o.rpcFor(p)
	if s.RPC.Control == nil {
		s.RPC.Control = &pb.ControlMessage{}
	}
	return s.RPC.Control
}

func (o *Output) sendMessage(p peer.ID, id string, m *pb.Message) {
	o.addMessage(p, id, m, false)
}

// sendPaced is sendMessage for a copy of a staggered message: the driver
// reports it done (HandleCopyDone).
func (o *Output) sendPaced(p peer.ID, id string, m *pb.Message) {
	o.addMessage(p, id, m, true)
}

func (o *Output) addMessage(p peer.ID, id string, m *pb.Message, paced bool) {
	if _, ok := o.sendIdx[p]; !ok {
		if o.sendIdx == nil {
			o.sendIdx = make(map[peer.ID]int)
		}
		b := new(sendBox)
		b.msg[0], b.id[0] = m, id
		b.rpc.Publish = b.msg[:1:1]
		s := Send{To: p, RPC: &b.rpc, IDs: b.id[:1:1]}
		if paced {
			b.paced[0] = true
			s.Paced = b.paced[:1:1]
		}
		o.sendIdx[p] = len(o.Sends)
		o.Sends = append(o.Sends, s)
		return
	}
	s := o.rpcFor(p)
	s.RPC.Publish = append(s.RPC.Publish, m)
	s.IDs = append(s.IDs, id)
	if paced || s.Paced != nil {
		for len(s.Paced) < len(s.IDs)-1 {
			s.Paced = append(s.Paced, false)
		}
		s.Paced = append(s.Paced, paced)
	}
}

func (o *Output) sendSub(p peer.ID, topic string, sub bool) {
	s := o.rpcFor(p)
	t, b := topic, sub
	s.RPC.Subscriptions = append(s.RPC.Subscriptions, &pb.RPC_SubOpts{Subscribe: &b, Topicid: &t})
}

func (o *Output) sendGraft(p peer.ID, topic string) {
	c := o.control(p)
	t := topic
	c.Graft = append(c.Graft, &pb.ControlGraft{TopicID: &t})
}

func (o *Output) sendPrune(p peer.ID, topic string, backoffSecs uint64, withBackoff bool, px []*pb.PeerInfo) {
	c := o.control(p)
	t := topic
	pr := &pb.ControlPrune{TopicID: &t, Peers: px}
	if withBackoff {
		b := backoffSecs
		pr.Backoff = &b
	}
	c.Prune = append(c.Prune, pr)
}

func (o *Output) sendIHave(p peer.ID, topic string, ids [][]byte) {
	c := o.control(p)
	t := topic
	c.Ihave = append(c.Ihave, &pb.ControlIHave{TopicID: &t, MessageIDs: ids})
}

func (o *Output) sendIWant(p peer.ID, ids [][]byte) {
	c := o.control(p)
	c.Iwant = append(c.Iwant, &pb.ControlIWant{MessageIDs: ids})
}

// idontwantBox is a fresh Send's RPC holding one IDONTWANT, in one
// allocation: a received message makes one for each mesh peer.
type idontwantBox struct {
	rpc     pb.RPC
	ctrl    pb.ControlMessage
	entry   pb.ControlIDontWant
	entries [1]*pb.ControlIDontWant
	ids     [1][]byte
}

// sendIDontWant adds IDONTWANT for the id whose bytes are raw (shared by
// the RPCs: nobody may modify it) to p's RPC.
func (o *Output) sendIDontWant(p peer.ID, raw []byte) {
	if _, ok := o.sendIdx[p]; !ok {
		if o.sendIdx == nil {
			o.sendIdx = make(map[peer.ID]int)
		}
		b := new(idontwantBox)
		b.ids[0] = raw
		b.entry.MessageIDs = b.ids[:1:1]
		b.entries[0] = &b.entry
		b.ctrl.Idontwant = b.entries[:1:1]
		b.rpc.Control = &b.ctrl
		o.sendIdx[p] = len(o.Sends)
		o.Sends = append(o.Sends, Send{To: p, RPC: &b.rpc})
		return
	}
	c := o.control(p)
	c.Idontwant = append(c.Idontwant, &pb.ControlIDontWant{MessageIDs: [][]byte{raw}})
}

// sendPreamble adds a gossipsub v1.4 PREAMBLE (shared by the RPCs: nobody
// may modify it) to p's RPC.
func (o *Output) sendPreamble(p peer.ID, pre *pb.ControlPreamble) {
	c := o.control(p)
	c.Preamble = append(c.Preamble, pre)
}

// sendImReceiving adds a gossipsub v1.4 IMRECEIVING for the id whose
// bytes are raw (shared by the RPCs: nobody may modify it) to p's RPC.
func (o *Output) sendImReceiving(p peer.ID, raw []byte) {
	c := o.control(p)
	c.Imreceiving = append(c.Imreceiving, &pb.ControlImReceiving{MessageID: raw})
	o.Preamble.ImReceivingSent++
}
