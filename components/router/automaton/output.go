package automaton

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
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
}

// Cancel asks the driver to drop a message still queued (not yet written) for
// a peer, because the peer sent IDONTWANT for it.
type Cancel struct {
	// Peer is the peer that sent IDONTWANT.
	Peer peer.ID
	// ID is the message id it does not want.
	ID string
}

// FactKind names which typed slice of Output a Fact points into.
type FactKind uint8

// The kinds of facts, one per event type an Output carries.
const (
	FactPeerAdded FactKind = iota + 1
	FactPeerRemoved
	FactTopicJoined
	FactTopicLeft
	FactPeerSubscribed
	FactPeerUnsubscribed
	FactPeerGrafted
	FactPeerPruned
	FactPeerExchange
	FactMessagePublished
	FactMessageDelivered
	FactMessageDuplicated
	FactMessageRejected
	FactPeerPenalized
)

// Fact points at one event in Output: Kind selects the slice, Index the
// element. Output.Facts lists them in decision order.
type Fact struct {
	// Kind selects the typed slice.
	Kind FactKind
	// Index is the position in that slice.
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
type Output struct {
	// Sends are the RPCs to send, in the order their peers first got output.
	Sends []Send
	// Cancels are queued messages the driver should drop, in decision order.
	Cancels []Cancel
	// Facts lists every event below in decision order, so a driver can emit
	// them in the same order across types (ForEachFact does it).
	Facts []Fact

	// The facts by type, each slice in decision order. Events are emitted
	// as they are: the automaton fills every field, At included (the now
	// given to the handler). Slices inside events (PX records) are fresh
	// and may be handed to subscribers.

	PeersAdded    []events.EvtRouterPeerAdded      // AddPeer
	PeersRemoved  []events.EvtRouterPeerRemoved    // RemovePeer
	TopicsJoined  []events.EvtTopicJoined          // Join
	TopicsLeft    []events.EvtTopicLeft            // Leave
	Subscribed    []events.EvtPeerSubscribed       // peer SUBSCRIBE
	Unsubscribed  []events.EvtPeerUnsubscribed     // peer UNSUBSCRIBE or removal
	Grafted       []events.EvtPeerGrafted          // mesh entries, either side's initiative
	Pruned        []events.EvtPeerPruned           // mesh exits and refused GRAFTs
	PeerExchanges []events.EvtPeerExchangeReceived // accepted PX
	Published     []events.EvtMessagePublished     // Publish
	Delivered     []events.EvtMessageDelivered     // Validated(accept)
	Duplicates    []events.EvtMessageDuplicated    // copies of seen messages
	Rejected      []events.EvtMessageRejected      // every refused message
	Penalized     []events.EvtPeerPenalized        // P7 misbehaviours

	sendIdx map[peer.ID]int
}

// Reset empties the Output for reuse, keeping allocated capacity.
func (o *Output) Reset() {
	clear(o.Sends) // drop references to RPCs the driver now owns
	o.Sends = o.Sends[:0]
	o.Cancels = o.Cancels[:0]
	o.Facts = o.Facts[:0]
	o.PeersAdded = o.PeersAdded[:0]
	o.PeersRemoved = o.PeersRemoved[:0]
	o.TopicsJoined = o.TopicsJoined[:0]
	o.TopicsLeft = o.TopicsLeft[:0]
	o.Subscribed = o.Subscribed[:0]
	o.Unsubscribed = o.Unsubscribed[:0]
	o.Grafted = o.Grafted[:0]
	o.Pruned = o.Pruned[:0]
	o.PeerExchanges = o.PeerExchanges[:0]
	o.Published = o.Published[:0]
	o.Delivered = o.Delivered[:0]
	o.Duplicates = o.Duplicates[:0]
	o.Rejected = o.Rejected[:0]
	o.Penalized = o.Penalized[:0]
	clear(o.sendIdx)
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
// of range. Drivers that want no boxing switch on f.Kind and index the typed
// slice themselves.
func (o *Output) Fact(f Fact) any {
	i := f.Index
	in := func(n int) bool { return i >= 0 && i < n }
	switch f.Kind {
	case FactPeerAdded:
		if in(len(o.PeersAdded)) {
			return o.PeersAdded[i]
		}
	case FactPeerRemoved:
		if in(len(o.PeersRemoved)) {
			return o.PeersRemoved[i]
		}
	case FactTopicJoined:
		if in(len(o.TopicsJoined)) {
			return o.TopicsJoined[i]
		}
	case FactTopicLeft:
		if in(len(o.TopicsLeft)) {
			return o.TopicsLeft[i]
		}
	case FactPeerSubscribed:
		if in(len(o.Subscribed)) {
			return o.Subscribed[i]
		}
	case FactPeerUnsubscribed:
		if in(len(o.Unsubscribed)) {
			return o.Unsubscribed[i]
		}
	case FactPeerGrafted:
		if in(len(o.Grafted)) {
			return o.Grafted[i]
		}
	case FactPeerPruned:
		if in(len(o.Pruned)) {
			return o.Pruned[i]
		}
	case FactPeerExchange:
		if in(len(o.PeerExchanges)) {
			return o.PeerExchanges[i]
		}
	case FactMessagePublished:
		if in(len(o.Published)) {
			return o.Published[i]
		}
	case FactMessageDelivered:
		if in(len(o.Delivered)) {
			return o.Delivered[i]
		}
	case FactMessageDuplicated:
		if in(len(o.Duplicates)) {
			return o.Duplicates[i]
		}
	case FactMessageRejected:
		if in(len(o.Rejected)) {
			return o.Rejected[i]
		}
	case FactPeerPenalized:
		if in(len(o.Penalized)) {
			return o.Penalized[i]
		}
	}
	return nil
}

// ForEachFact calls fn with every event of the Output, boxed, in decision order.
func (o *Output) ForEachFact(fn func(ev any)) {
	for _, f := range o.Facts {
		if ev := o.Fact(f); ev != nil {
			fn(ev)
		}
	}
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

func (o *Output) control(p peer.ID) *pb.ControlMessage {
	s := o.rpcFor(p)
	if s.RPC.Control == nil {
		s.RPC.Control = &pb.ControlMessage{}
	}
	return s.RPC.Control
}

func (o *Output) sendMessage(p peer.ID, id string, m *pb.Message) {
	s := o.rpcFor(p)
	s.RPC.Publish = append(s.RPC.Publish, m)
	s.IDs = append(s.IDs, id)
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

func (o *Output) sendIDontWant(p peer.ID, id string) {
	c := o.control(p)
	c.Idontwant = append(c.Idontwant, &pb.ControlIDontWant{MessageIDs: [][]byte{[]byte(id)}})
}

func (o *Output) fact(k FactKind, n int) {
	o.Facts = append(o.Facts, Fact{Kind: k, Index: n - 1})
}

func (o *Output) peerAdded(e events.EvtRouterPeerAdded) {
	o.PeersAdded = append(o.PeersAdded, e)
	o.fact(FactPeerAdded, len(o.PeersAdded))
}

func (o *Output) peerRemoved(e events.EvtRouterPeerRemoved) {
	o.PeersRemoved = append(o.PeersRemoved, e)
	o.fact(FactPeerRemoved, len(o.PeersRemoved))
}

func (o *Output) topicJoined(e events.EvtTopicJoined) {
	o.TopicsJoined = append(o.TopicsJoined, e)
	o.fact(FactTopicJoined, len(o.TopicsJoined))
}

func (o *Output) topicLeft(e events.EvtTopicLeft) {
	o.TopicsLeft = append(o.TopicsLeft, e)
	o.fact(FactTopicLeft, len(o.TopicsLeft))
}

func (o *Output) subscribed(e events.EvtPeerSubscribed) {
	o.Subscribed = append(o.Subscribed, e)
	o.fact(FactPeerSubscribed, len(o.Subscribed))
}

func (o *Output) unsubscribed(e events.EvtPeerUnsubscribed) {
	o.Unsubscribed = append(o.Unsubscribed, e)
	o.fact(FactPeerUnsubscribed, len(o.Unsubscribed))
}

func (o *Output) grafted(e events.EvtPeerGrafted) {
	o.Grafted = append(o.Grafted, e)
	o.fact(FactPeerGrafted, len(o.Grafted))
}

func (o *Output) pruned(e events.EvtPeerPruned) {
	o.Pruned = append(o.Pruned, e)
	o.fact(FactPeerPruned, len(o.Pruned))
}

func (o *Output) peerExchange(e events.EvtPeerExchangeReceived) {
	o.PeerExchanges = append(o.PeerExchanges, e)
	o.fact(FactPeerExchange, len(o.PeerExchanges))
}

func (o *Output) published(e events.EvtMessagePublished) {
	o.Published = append(o.Published, e)
	o.fact(FactMessagePublished, len(o.Published))
}

func (o *Output) delivered(e events.EvtMessageDelivered) {
	o.Delivered = append(o.Delivered, e)
	o.fact(FactMessageDelivered, len(o.Delivered))
}

func (o *Output) duplicated(e events.EvtMessageDuplicated) {
	o.Duplicates = append(o.Duplicates, e)
	o.fact(FactMessageDuplicated, len(o.Duplicates))
}

func (o *Output) rejected(e events.EvtMessageRejected) {
	o.Rejected = append(o.Rejected, e)
	o.fact(FactMessageRejected, len(o.Rejected))
}

func (o *Output) penalized(e events.EvtPeerPenalized) {
	o.Penalized = append(o.Penalized, e)
	o.fact(FactPeerPenalized, len(o.Penalized))
}
