package router

import (
	"context"
	"maps"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// request is one application call for the driver goroutine. The public API
// reaches the driver only this way: it sends a typed request on r.reqs and
// waits on the request's own reply channel (buffered, so the driver never
// blocks answering). serve runs on the driver goroutine, between inputs,
// and always sends exactly one reply.
type request interface{ serve(r *Router) }

// call sends req to the driver and waits for its reply. ErrNotStarted before
// Start, ErrClosed once the driver has stopped, or ctx's error if ctx ends
// before the driver takes req (once taken, req is always answered).
func call[T any](r *Router, ctx context.Context, req request, reply <-chan T) (T, error) {
	var zero T
	r.mu.Lock()
	st := r.state
	r.mu.Unlock()
	switch st {
	case stateNew:
		return zero, ErrNotStarted
	case stateClosed:
		return zero, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	select {
	case r.reqs <- req:
	case <-r.done:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	return <-reply, nil
}

// queryKind names what a queryReq reads.
type queryKind uint8

const (
	queryPeers queryKind = iota + 1
	queryMesh
	queryTopicPeers
	queryTopics
	querySeen
	queryFanout
	queryFanoutTopics
	queryChoked
)

// queryReq reads the automaton: Peers, Mesh, TopicPeers, Topics, Fanout,
// FanoutTopics, Choked (and, for
// tests, whether an id is in the seen-cache).
type queryReq struct {
	kind  queryKind
	arg   string // topic, or message id
	reply chan queryReply
}

type queryReply struct {
	peers  []peer.ID
	theirs []peer.ID // queryChoked: the peers that choked us
	topics []string
	seen   bool
}

func (q queryReq) serve(r *Router) {
	var rep queryReply
	switch q.kind {
	case queryPeers:
		rep.peers = r.aut.Peers()
	case queryMesh:
		rep.peers = r.aut.Mesh(q.arg)
	case queryTopicPeers:
		rep.peers = r.aut.TopicPeers(q.arg)
	case queryTopics:
		rep.topics = r.aut.Topics()
	case querySeen:
		rep.seen = r.aut.Seen(q.arg)
	case queryFanout:
		rep.peers = r.aut.Fanout(q.arg)
	case queryFanoutTopics:
		rep.topics = r.aut.FanoutTopics()
	case queryChoked:
		rep.peers, rep.theirs = r.aut.Choked(q.arg)
	}
	q.reply <- rep
}

func (r *Router) query(kind queryKind, arg string) queryReply {
	req := queryReq{kind: kind, arg: arg, reply: make(chan queryReply, 1)}
	rep, _ := call(r, context.Background(), req, req.reply)
	return rep
}

// joinReq is Join.
type joinReq struct {
	t     *Topic
	reply chan error
}

func (q joinReq) serve(r *Router) {
	q.reply <- r.join(q.t)
}

func (r *Router) join(t *Topic) error {
	if _, ok := r.topics[t.name]; ok {
		return ErrTopicJoined
	}
	// Partial options first: the SUBSCRIBEs Join queues carry them.
	if err := r.joinPartial(t.name, t.partial); err != nil {
		return err
	}
	o := r.aut.Join(r.clk.Now(), t.name, &r.out)
	r.m.outcome(o)
	if o != automaton.OutcomeJoined {
		r.leavePartial(t.name)
	}
	switch o {
	case automaton.OutcomeJoined:
	case automaton.OutcomeAlreadyJoined:
		return ErrTopicJoined
	case automaton.OutcomeTooManyTopics:
		return ErrTooManyTopics
	default:
		return ErrInvalidTopic
	}
	r.setTopicMsgID(t.name, t.msgID)
	if t.ownID {
		r.ownIDTopics.Add(1)
	}
	ts := &topicState{name: t.name, handle: t, mesh: r.m.mesh.add(t.name)}
	r.topics[t.name] = ts
	ts.mesh.Store(int64(len(r.aut.Mesh(t.name))))
	return nil
}

// leaveReq is Topic.Close.
type leaveReq struct {
	t     *Topic
	reply chan struct{}
}

func (q leaveReq) serve(r *Router) {
	defer func() { q.reply <- struct{}{} }()
	t := q.t
	ts := r.topics[t.name]
	if ts == nil || ts.handle != t {
		return
	}
	r.m.outcome(r.aut.Leave(r.clk.Now(), t.name, &r.out))
	r.leavePartial(t.name)
	delete(r.topics, t.name)
	r.m.mesh.remove(t.name)
	r.setTopicMsgID(t.name, nil)
	if t.ownID {
		r.ownIDTopics.Add(-1)
	}
	for _, s := range ts.subs {
		s.end()
	}
}

// subscribeReq is Topic.Subscribe.
type subscribeReq struct {
	s     *Subscription
	reply chan error
}

func (q subscribeReq) serve(r *Router) {
	ts := r.topics[q.s.topic.name]
	if ts == nil || ts.handle != q.s.topic {
		q.reply <- ErrNotJoined
		return
	}
	ts.subs = append(ts.subs, q.s)
	q.reply <- nil
}

// unsubscribeReq is Subscription.Close.
type unsubscribeReq struct {
	s     *Subscription
	reply chan struct{}
}

func (q unsubscribeReq) serve(r *Router) {
	if ts := r.topics[q.s.topic.name]; ts != nil {
		for i, x := range ts.subs {
			if x == q.s {
				ts.subs = append(ts.subs[:i], ts.subs[i+1:]...)
				break
			}
		}
	}
	q.reply <- struct{}{}
}

// publishReq is the driver's part of Publish: the message is authored,
// signed and locally validated on the caller's goroutine.
type publishReq struct {
	t            *Topic // the joined handle, or nil (Router.Publish)
	name         string
	msg          *pb.Message
	id           string
	m            *Message // nil until a validator or a local subscription needs it
	requirePeers bool
	reply        chan error
}

func (q *publishReq) serve(r *Router) {
	q.reply <- r.publishNow(q)
}

// publishReqs recycles publish requests with their reply channels: a
// request goes back once its reply is read (or it was never sent), so
// Publish allocates neither.
var publishReqs = sync.Pool{New: func() any { return &publishReq{reply: make(chan error, 1)} }}

func getPublishReq() *publishReq { return publishReqs.Get().(*publishReq) }

func putPublishReq(q *publishReq) {
	*q = publishReq{reply: q.reply}
	publishReqs.Put(q)
}

func (r *Router) publishNow(q *publishReq) error {
	if q.t != nil {
		if ts := r.topics[q.name]; ts == nil || ts.handle != q.t {
			return ErrNotJoined
		}
	}
	o := r.aut.Publish(r.clk.Now(), q.msg, q.id, &r.out)
	r.m.outcome(o)
	var err error
	switch o {
	case automaton.OutcomePublished:
	case automaton.OutcomeNoPeers:
		if q.requirePeers {
			err = ErrNoPeers
		}
	case automaton.OutcomeAlreadySeen:
		return ErrDuplicate
	default:
		return ErrInvalidTopic
	}
	if ts := r.topics[q.name]; ts != nil && len(ts.subs) > 0 {
		if q.m == nil {
			q.m = newMessage(q.msg, q.id, r.self)
		}
		r.deliverLater(q.m)
	}
	// Queue now, to tell the caller if every copy was dropped; then the
	// local subscriptions, last (see deliverLocal), before Publish returns.
	r.flush()
	r.deliverLocal()
	if o == automaton.OutcomePublished && r.queued == 0 && r.dropped > 0 {
		err = ErrQueueFull
	}
	return err
}

// setTopicMsgID publishes the joined topics' id functions (fn nil: the
// topic left) as a new read-only view: the driver writes it, Publish reads
// it on callers' goroutines.
func (r *Router) setTopicMsgID(topic string, fn wire.MsgIDFunc) {
	m := maps.Clone(*r.topicIDs.Load())
	if fn == nil {
		delete(m, topic)
	} else {
		m[topic] = fn
	}
	r.topicIDs.Store(&m)
}

// msgIDFor returns the id function of topic: the joined topic's own, or the
// router's. Safe on any goroutine.
func (r *Router) msgIDFor(topic string) wire.MsgIDFunc {
	if fn := (*r.topicIDs.Load())[topic]; fn != nil {
		return fn
	}
	return r.cfg.msgID
}
