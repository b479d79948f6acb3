package router

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
)

// Message is a pubsub message as the application sees it. It is shared by
// every subscription and validator of the topic: treat it, and its byte
// slices, as read-only.
type Message struct {
	// ID is the message id (from the topic's id function).
	ID string
	// Topic is the message's topic.
	Topic string
	// Data is the payload.
	Data []byte
	// From is the author (the from field); empty under wire.StrictNoSign.
	From peer.ID
	// Seqno is the author's sequence number as it came on the wire (8
	// bytes from meshbus and go-libp2p-pubsub; other authors may send
	// other lengths); nil under StrictNoSign.
	Seqno []byte
	// ReceivedFrom is the peer that sent it to us first; the local peer id
	// for messages published locally.
	ReceivedFrom peer.ID
	// Raw is the wire message (with signature and key); read-only.
	Raw *pb.Message
}

func newMessage(m *pb.Message, id string, from peer.ID) *Message {
	return &Message{ID: id, Topic: m.GetTopic(), Data: m.GetData(), From: peer.ID(m.GetFrom()), Seqno: m.GetSeqno(), ReceivedFrom: from, Raw: m}
}

// SubscriptionOption configures Topic.Subscribe.
type SubscriptionOption func(*Subscription)

// SubscriptionBuffer sets how many messages the subscription holds for a
// slow reader (default from WithSubscriptionBuffer).
func SubscriptionBuffer(n int) SubscriptionOption {
	return func(s *Subscription) {
		if n > 0 {
			s.ch = make(chan *Message, n)
		}
	}
}

// Subscription receives the messages of a joined topic: those delivered by
// the network (validated, first copy) and those published locally. Its
// buffer is bounded: when it is full the router drops the message for this
// subscription only, counts it (Dropped, and the metric
// meshbus_router_subscription_drops_total) and logs at a limited rate. It
// never slows the router or the network.
type Subscription struct {
	topic   *Topic
	ch      chan *Message
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
}

// Topic returns the subscription's topic name.
func (s *Subscription) Topic() string { return s.topic.name }

// Next returns the next message, in delivery order. It blocks until one
// arrives, ctx is done (ctx.Err()), or the subscription ends (ErrClosed,
// after the buffered messages were returned).
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	select {
	case m := <-s.ch:
		return m, nil
	default:
	}
	select {
	case m := <-s.ch:
		return m, nil
	case <-s.done:
		select {
		case m := <-s.ch:
			return m, nil
		default:
			return nil, ErrClosed
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Dropped returns how many messages were dropped because the buffer was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription; Next returns the buffered messages then
// ErrClosed. Closing twice is harmless. The topic stays joined.
func (s *Subscription) Close() error {
	r := s.topic.r
	req := unsubscribeReq{s: s, reply: make(chan struct{}, 1)}
	_, _ = call(r, context.Background(), req, req.reply)
	s.end()
	return nil
}

func (s *Subscription) end() { s.once.Do(func() { close(s.done) }) }

// deliverLater queues m, accepted, for the local subscriptions of its
// topic: deliverLocal hands it over at the end of the driver's turn.
func (r *Router) deliverLater(m *Message) { r.local = append(r.local, m) }

// deliverLocal hands the messages accepted in the driver's turn, in
// order, to every subscription of their topics, without blocking. The
// driver calls it last in each turn (and publishNow before it replies to
// Publish), after the turn's copies are queued and its facts emitted: the
// scheduler then runs the woken subscriber next on this processor, where
// a subscriber woken before the writers and the bus's readers waited
// behind them all (bench/router -stages, docs/benchmarks.md "The
// subscriber waited last").
func (r *Router) deliverLocal() {
	for i, m := range r.local {
		r.deliverTo(m)
		r.local[i] = nil
	}
	r.local = r.local[:0]
}

// deliverTo hands m to every subscription of its topic without blocking.
func (r *Router) deliverTo(m *Message) {
	ts := r.topics[m.Topic]
	if ts == nil {
		return
	}
	if t := r.cfg.tracer; t != nil {
		t.Stage(StageDelivered, m.ID, m.ReceivedFrom)
	}
	for _, s := range ts.subs {
		select {
		case s.ch <- m:
		default:
			s.dropped.Add(1)
			r.m.v.Inc(mSubDrops)
			r.rl.warn("subdrop:"+m.Topic, "subscription full, dropping message", "topic", m.Topic, "dropped_total", s.dropped.Load())
		}
	}
}
