package router

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/internal/clockctx"
)

// TopicOption configures Join.
type TopicOption func(*Topic)

// WithTopicMessageID sets the message id function of this topic, overriding
// WithMessageID. Every node of the topic must use the same function.
func WithTopicMessageID(fn wire.MsgIDFunc) TopicOption {
	return func(t *Topic) {
		if fn != nil {
			t.msgID, t.ownID = fn, true
		}
	}
}

// Topic is a joined topic: the router is in its mesh and announces the
// subscription to its peers. Get one from Router.Join; Close leaves.
type Topic struct {
	r       *Router
	name    string
	nameRef *string // &name, the Topic field of every message published here
	msgID   wire.MsgIDFunc
	ownID   bool // msgID set by WithTopicMessageID
	partial *PartialOptions
	closed  atomic.Bool
}

// Join joins topic: the router announces the subscription, grafts up to D
// peers, and from then on delivers the topic's messages to Subscriptions
// and forwards them. ErrTopicJoined if already joined (use the Topic you
// got); ErrInvalidTopic, ErrTooManyTopics, ErrNotStarted, ErrClosed.
func (r *Router) Join(topic string, opts ...TopicOption) (*Topic, error) {
	t := &Topic{r: r, name: topic, msgID: r.cfg.msgID}
	t.nameRef = &t.name
	for _, o := range opts {
		o(t)
	}
	req := joinReq{t: t, reply: make(chan error, 1)}
	jerr, err := call(r, context.Background(), req, req.reply)
	if err == nil {
		err = jerr
	}
	if err != nil {
		return nil, fmt.Errorf("join %q: %w", topic, err)
	}
	return t, nil
}

// String returns the topic name.
func (t *Topic) String() string { return t.name }

// PublishOption configures one Publish.
type PublishOption func(*publishConfig)

type publishConfig struct {
	requirePeers bool
	minPeers     int // WithReadiness
}

// RequirePeers makes Publish fail with ErrNoPeers when no peer got the message.
func RequirePeers() PublishOption { return func(c *publishConfig) { c.requirePeers = true } }

// Publish authors a message with data (signed, with from and seqno, as the
// signing policy says), validates it with the topic's validator, delivers it
// to local subscriptions and sends it to the topic's peers. It returns once
// the message is queued for every peer that gets it and in the buffers of
// the topic's local subscriptions (or counted as dropped there). Errors: ErrNotJoined
// (topic closed), ErrClosed, ErrMessageTooLarge, ErrValidationRejected,
// ErrValidationIgnored, ErrNoPeers (with RequirePeers), ErrQueueFull (every
// chosen peer's queue was full), ErrDuplicate (the id function mapped it to
// an id already seen), or ctx's error. data must not
// be modified afterwards.
func (t *Topic) Publish(ctx context.Context, data []byte, opts ...PublishOption) error {
	if t.closed.Load() {
		return fmt.Errorf("publish %q: %w", t.name, ErrNotJoined)
	}
	return t.r.publish(ctx, t.name, t, data, opts)
}

// Publish publishes data to topic without joining it: the message goes to
// up to D fanout peers subscribed to the topic (chosen once, kept for the
// fanout TTL while publishing continues, refilled at heartbeats), or to
// every such peer above the publish threshold under flood publishing. The
// router neither grafts a mesh nor delivers the topic's messages. If topic
// is joined, this is the joined Topic's Publish. The message id comes from
// WithMessageID (or the joined topic's WithTopicMessageID). Errors are
// those of Topic.Publish, with ErrInvalidTopic for a bad topic name.
func (r *Router) Publish(ctx context.Context, topic string, data []byte, opts ...PublishOption) error {
	return r.publish(ctx, topic, nil, data, opts)
}

// publish is Publish for a joined topic handle t, or without joining when t
// is nil.
func (r *Router) publish(ctx context.Context, name string, t *Topic, data []byte, opts []PublishOption) error {
	var pc publishConfig
	if len(opts) > 0 {
		pc = publishOptions(opts)
	}
	if pc.minPeers > 0 {
		if err := r.waitTopicPeers(ctx, name, pc.minPeers); err != nil {
			return fmt.Errorf("publish %q: %w", name, err)
		}
	}
	// The message and its seqno in one allocation.
	a := new(authored)
	msg := &a.msg
	msg.Data = data
	if t != nil {
		msg.Topic = t.nameRef
	} else {
		topic := name // on the heap only here, not for a joined topic
		msg.Topic = &topic
	}
	if r.cfg.signPolicy.HasAuthor() {
		msg.From = r.selfBytes
		msg.Seqno = r.seqno.Put(a.seqno[:])
	}
	if r.signer != nil {
		if err := r.signer.Sign(msg); err != nil {
			return fmt.Errorf("publish %q: %w", name, err)
		}
	}
	if n := proto.Size(msg); protowire.SizeTag(2)+protowire.SizeBytes(n) > r.cfg.maxRPCSize {
		return fmt.Errorf("publish %q: %w: %d bytes encoded, max RPC size %d", name, ErrMessageTooLarge, n, r.cfg.maxRPCSize)
	}
	msgID := r.msgIDFor(name)
	if t != nil {
		msgID = t.msgID
	}
	id := msgID(msg)
	var m *Message // made when a validator or a subscription needs it
	if v := r.validatorFor(name); v != nil {
		m = newMessage(msg, id, r.self)
		vctx, cancel := clockctx.WithTimeout(r.clk, ctx, v.timeout)
		res := r.callValidator(vctx, v, r.self, m)
		cancel()
		switch res {
		case ValidationAccept:
		case ValidationReject:
			return fmt.Errorf("publish %q: %w", name, ErrValidationRejected)
		default:
			return fmt.Errorf("publish %q: %w", name, ErrValidationIgnored)
		}
	}
	req := getPublishReq()
	req.t, req.name, req.msg, req.id, req.m, req.requirePeers = t, name, msg, id, m, pc.requirePeers
	perr, err := call(r, ctx, req, req.reply)
	// req was answered (its reply read) or never taken by the driver:
	// either way nobody else holds it now.
	putPublishReq(req)
	if err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("publish %q: %w", name, err)
	}
	return nil
}

// publishOptions applies opts. Apart from publish so that its config, whose
// address goes to the options, is on the heap only when there are options.
func publishOptions(opts []PublishOption) publishConfig {
	pc := new(publishConfig)
	for _, o := range opts {
		o(pc)
	}
	return *pc
}

// authored is a message we author with its seqno's bytes, allocated together.
type authored struct {
	msg   pb.Message
	seqno [wire.SeqnoLen]byte
}

// Subscribe returns a new Subscription to the topic's messages. A topic may
// have several; each gets every message.
func (t *Topic) Subscribe(opts ...SubscriptionOption) (*Subscription, error) {
	r := t.r
	s := &Subscription{topic: t, done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.ch == nil {
		s.ch = make(chan *Message, r.cfg.subBuffer)
	}
	req := subscribeReq{s: s, reply: make(chan error, 1)}
	serr, err := call(r, context.Background(), req, req.reply)
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", t.name, err)
	}
	return s, nil
}

// Close leaves the topic: the router sends PRUNE to its mesh peers (with the
// unsubscribe backoff), announces the unsubscription, and ends the topic's
// Subscriptions. Publish then fails with ErrNotJoined. Closing twice is
// harmless; Join may be called again afterwards.
func (t *Topic) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	r := t.r
	req := leaveReq{t: t, reply: make(chan struct{}, 1)}
	_, err := call(r, context.Background(), req, req.reply)
	if err != nil && err != ErrClosed {
		return fmt.Errorf("leave %q: %w", t.name, err)
	}
	return nil
}

// Leave is Close.
func (t *Topic) Leave() error { return t.Close() }
