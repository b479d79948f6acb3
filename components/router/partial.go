package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/partial"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Errors of the partial-messages API.
var (
	// ErrPartialDisabled: partial-message options or calls on a router built
	// without WithPartialMessages, or on a topic joined without WithPartial.
	ErrPartialDisabled = errors.New("router: partial messages not enabled")
	// ErrTooManyGroups: PublishPartial would keep more groups in the topic
	// than PartialConfig.MaxLocalGroupsPerTopic.
	ErrTooManyGroups = errors.New("router: too many partial-message groups")
	// ErrInvalidGroup: an empty or over-long group id, or a nil message.
	ErrInvalidGroup = errors.New("router: invalid partial-message group")
)

// PartialConfig bounds the partial-messages state (see partial.Config for
// each field and DefaultPartialConfig for the defaults).
type PartialConfig = partial.Config

// DefaultPartialConfig returns the default partial-messages limits.
func DefaultPartialConfig() PartialConfig { return partial.DefaultConfig() }

// WithPartialMessages turns on the gossipsub v1.3 partial-messages
// extension: the router advertises it in the Extensions control message
// that starts each of its /meshsub/1.3.0 and /meshsub/1.4.0 streams, and topics may then be
// joined WithPartial. cfg is validated by New (ErrBadOption).
func WithPartialMessages(cfg PartialConfig) Option {
	return func(o *config) { c := cfg; o.partial = &c }
}

// PartialMessage is the application's state for one message group: the
// parts it holds, how to encode them for a peer, and how to merge parts
// received. The encodings of parts and parts metadata are the
// application's (a bitmap of cells, ranges, ...). The router calls these
// methods on its own goroutine, one at a time for one router; the
// application may read the same value concurrently (from a
// PartialSubscription), so an implementation guards its state. The methods
// must be quick and must not call the router.
type PartialMessage interface {
	// PartsMetadata returns the encoded metadata of the parts held (and so,
	// implicitly, wanted).
	PartsMetadata() []byte
	// PartsFor returns the encoded parts this message holds that a peer
	// whose last parts metadata is peerMeta lacks, and that peer's metadata
	// once it has them. peerMeta nil means the peer has not told us yet: the
	// application may push eagerly or return nil. nil parts: nothing to
	// send. An error logs and sends nothing to that peer.
	PartsFor(peerMeta []byte) (parts, peerMetaAfter []byte, err error)
	// Extend merges received encoded parts and reports whether any part was
	// new. An error means the parts are invalid: the RPC is rejected and
	// the sender penalised.
	Extend(parts []byte) (added bool, err error)
	// Complete reports whether every part is held.
	Complete() bool
}

// FullMessage is implemented by a PartialMessage that can also be sent
// whole: PublishPartial of a complete message publishes Full() as an
// ordinary message too, for the topic's peers that do not take partial
// messages (full-message fallback).
type FullMessage interface {
	// Full returns the whole message's data, to be published as an
	// ordinary message. PublishPartial calls it on its caller's goroutine,
	// only when the router found the message complete; the router keeps
	// the slice, so it must not be modified afterwards.
	Full() []byte
}

// PartialLogic creates the application's state for groups first heard of
// from a peer.
type PartialLogic interface {
	// NewGroup returns an empty message for groupID of topic. An error
	// refuses the group: the RPC that named it is rejected and its sender
	// penalised.
	NewGroup(topic string, groupID []byte) (PartialMessage, error)
}

// PartialOptions are a topic's partial-messages subscribe options.
type PartialOptions struct {
	// RequestsPartial asks peers for partial messages on the topic
	// (implies SupportsSendingPartial).
	RequestsPartial bool
	// SupportsSendingPartial offers parts metadata and parts to peers that
	// request them.
	SupportsSendingPartial bool
	// Logic creates group state for groups opened by peers. Required.
	Logic PartialLogic
}

// WithPartial joins the topic with partial-messages options; the router
// must have been built WithPartialMessages (else Join fails with
// ErrPartialDisabled).
func WithPartial(opts PartialOptions) TopicOption {
	return func(t *Topic) { o := opts; t.partial = &o }
}

// PartialUpdate is what a PartialSubscription receives: a group that got
// new parts (Extended) or became complete.
type PartialUpdate struct {
	// Topic is the joined topic the group belongs to.
	Topic string
	// GroupID is the group's id; every partial subscription of the topic
	// gets the same slice: read-only.
	GroupID []byte
	// From is the peer whose RPC caused the update.
	From peer.ID
	// Message is the group's state (the value the application's Logic
	// returned, or passed to PublishPartial).
	Message PartialMessage
	// Extended reports that the update added at least one part we lacked.
	Extended bool
	// Complete reports that the group now has every part.
	Complete bool
}

// PartialSubscription receives the partial-message updates of a joined
// topic. Its buffer is bounded: when full, updates are dropped for it only
// (counted by Dropped). Next and Close are safe for concurrent use.
type PartialSubscription struct {
	topic   *Topic
	ch      chan PartialUpdate
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
}

// Next returns the next update; it blocks until one arrives, ctx is done,
// or the subscription ends (ErrClosed after the buffer drained).
func (s *PartialSubscription) Next(ctx context.Context) (PartialUpdate, error) {
	select {
	case u := <-s.ch:
		return u, nil
	default:
	}
	select {
	case u := <-s.ch:
		return u, nil
	case <-s.done:
		select {
		case u := <-s.ch:
			return u, nil
		default:
			return PartialUpdate{}, ErrClosed
		}
	case <-ctx.Done():
		return PartialUpdate{}, ctx.Err()
	}
}

// Dropped returns how many updates were dropped on a full buffer.
func (s *PartialSubscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription. Closing twice is harmless.
func (s *PartialSubscription) Close() error {
	req := partialUnsubscribeReq{s: s, reply: make(chan struct{}, 1)}
	_, _ = call(s.topic.r, context.Background(), req, req.reply)
	s.end()
	return nil
}

// partialUnsubscribeReq is PartialSubscription.Close.
type partialUnsubscribeReq struct {
	s     *PartialSubscription
	reply chan struct{}
}

func (q partialUnsubscribeReq) serve(r *Router) {
	if pt := r.part.topics[q.s.topic.name]; pt != nil {
		pt.subs = slices.DeleteFunc(pt.subs, func(x *PartialSubscription) bool { return x == q.s })
	}
	q.reply <- struct{}{}
}

func (s *PartialSubscription) end() { s.once.Do(func() { close(s.done) }) }

// partialDriver is the driver's part for the extensions a peer advertised
// and partial messages. Owned by the driver goroutine. (The Extensions
// control message the router sends is Router.localExt, see
// localExtensions.)
type partialDriver struct {
	core   *partial.Core
	out    partial.Output
	rng    *rand.Rand
	topics map[string]*partialTopic
	groups map[partial.GroupKey]PartialMessage
	em     partialEmitters
	// scratch is syncPartsFrom's, reused.
	scratch []string
}

type partialTopic struct {
	opts PartialOptions
	subs []*PartialSubscription
}

type partialEmitters struct {
	extensions *eventbus.Emitter[events.EvtPeerExtensionsReceived]
	received   *eventbus.Emitter[events.EvtPartialMessageReceived]
	completed  *eventbus.Emitter[events.EvtPartialGroupCompleted]
	rejected   *eventbus.Emitter[events.EvtPartialMessageRejected]
	penalized  *eventbus.Emitter[events.EvtPeerPenalized]
	closers    []func() error
}

func newPartialEmitter[T any](b *eventbus.Bus, e *partialEmitters, dst **eventbus.Emitter[T], err *error) {
	if *err != nil {
		return
	}
	em, er := eventbus.NewEmitter[T](b)
	if er != nil {
		*err = er
		return
	}
	*dst = em
	e.closers = append(e.closers, em.Close)
}

// close closes the emitters; Router.Close calls it.
func (e *partialEmitters) close() {
	for _, c := range e.closers {
		_ = c()
	}
	e.closers = nil
}

// initPartial sets up r.part; its emitters close with the others.
func (r *Router) initPartial() error {
	cfg, enabled := partial.DefaultConfig(), r.cfg.partial != nil
	if enabled {
		cfg = *r.cfg.partial
	}
	core, err := partial.New(cfg, enabled)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	d := &r.part
	d.core = core
	d.rng = rand.New(rand.NewPCG(r.cfg.seed^0x5bd1e995, r.cfg.seed))
	d.topics = make(map[string]*partialTopic)
	d.groups = make(map[partial.GroupKey]PartialMessage)
	var eerr error
	newPartialEmitter(r.bus, &d.em, &d.em.extensions, &eerr)
	newPartialEmitter(r.bus, &d.em, &d.em.received, &eerr)
	newPartialEmitter(r.bus, &d.em, &d.em.completed, &eerr)
	newPartialEmitter(r.bus, &d.em, &d.em.rejected, &eerr)
	newPartialEmitter(r.bus, &d.em, &d.em.penalized, &eerr)
	if eerr != nil {
		d.em.close()
		return fmt.Errorf("router: emitters: %w", eerr)
	}
	return nil
}

// joinPartial enables the topic's partial options; on the driver goroutine.
func (r *Router) joinPartial(topic string, o *PartialOptions) error {
	if o == nil {
		return nil
	}
	if !r.part.core.Enabled() {
		return ErrPartialDisabled
	}
	if o.Logic == nil || (!o.RequestsPartial && !o.SupportsSendingPartial) {
		return fmt.Errorf("%w: WithPartial needs a Logic and at least one of RequestsPartial, SupportsSendingPartial", ErrBadOption)
	}
	if oc := r.part.core.EnableTopic(topic, o.RequestsPartial, o.SupportsSendingPartial); oc != partial.OutcomeTopicEnabled {
		return fmt.Errorf("%w (%s)", ErrInvalidTopic, oc)
	}
	r.part.topics[topic] = &partialTopic{opts: *o}
	r.syncAllPartsFrom()
	return nil
}

// leavePartial drops the topic's partial state; on the driver goroutine.
func (r *Router) leavePartial(topic string) {
	pt := r.part.topics[topic]
	if pt == nil {
		return
	}
	for _, s := range pt.subs {
		s.end()
	}
	delete(r.part.topics, topic)
	r.part.core.DisableTopic(topic, &r.part.out)
	r.syncAllPartsFrom()
	r.flushPartial()
}

// decorate sets our partial options on the SUBSCRIBE entries of an
// outgoing RPC.
func (r *Router) decorate(rpc *pb.RPC) {
	for _, so := range rpc.GetSubscriptions() {
		if !so.GetSubscribe() {
			continue
		}
		if req, sup := r.part.core.TopicOptions(so.GetTopicid()); req || sup {
			so.RequestsPartial, so.SupportsSendingPartial = proto.Bool(req), proto.Bool(sup)
		}
	}
}

// skipFull reports whether full messages and IHAVEs of topic are withheld
// from p (it gets partial messages instead).
func (r *Router) skipFull(p peer.ID, topic string) bool {
	return r.part.core.SkipFull(p, topic)
}

// stripIHave removes the IHAVEs of topics where p takes partial messages:
// the partial metadata gossip replaces them.
func (r *Router) stripIHave(p peer.ID, c *pb.ControlMessage) {
	if c == nil || len(c.Ihave) == 0 {
		return
	}
	c.Ihave = slices.DeleteFunc(c.Ihave, func(ih *pb.ControlIHave) bool { return r.skipFull(p, ih.GetTopicID()) })
}

// stripPreamble removes the gossipsub v1.4 PREAMBLEs of topics where p
// takes partial messages: it is never sent the full message, so it must
// not wait for it.
func (r *Router) stripPreamble(p peer.ID, c *pb.ControlMessage) {
	if c == nil || len(c.Preamble) == 0 {
		return
	}
	c.Preamble = slices.DeleteFunc(c.Preamble, func(pr *pb.ControlPreamble) bool { return r.skipFull(p, pr.GetTopicID()) })
}

// partialRPCIn handles the extension parts of one received RPC (before the
// automaton sees it: the extensions, the partial options of its
// subscriptions) and returns a function handling its partial RPC (after).
func (r *Router) partialRPCIn(in netInput) {
	now := r.clk.Now()
	c := r.part.core
	ext := in.rpc.GetControl().GetExtensions()
	c.HandleExtensions(now, in.peer, in.proto, in.first, ext, &r.part.out)
	subs := in.rpc.GetSubscriptions()
	for _, s := range subs {
		c.HandleSubOpts(in.peer, s.GetTopicid(), s.GetSubscribe(), s.GetRequestsPartial(), s.GetSupportsSendingPartial())
	}
	if c.Enabled() && (in.first || len(subs) > 0) {
		r.syncPartsFrom(in.peer)
	}
}

// syncPartsFrom tells the automaton on which topics p sends us partial
// messages instead of full ones (no IDONTWANT goes to p for those): after
// p's extensions or partial options may have changed, or ours (a topic
// joined or left with partial options).
func (r *Router) syncPartsFrom(p peer.ID) {
	r.part.scratch = r.part.core.AppendPartsFrom(r.part.scratch[:0], p)
	r.m.outcome(r.aut.SetPeerPartsFrom(p, r.part.scratch))
}

// syncAllPartsFrom is syncPartsFrom for every peer (our partial options of
// a topic changed).
func (r *Router) syncAllPartsFrom() {
	for p, pc := range r.peers {
		if pc.added {
			r.syncPartsFrom(p)
		}
	}
}

// partialRPCAfter handles the RPC's partial-messages part.
func (r *Router) partialRPCAfter(in netInput) {
	prpc := in.rpc.GetPartial()
	if prpc != nil && r.aut.HasPeer(in.peer) && r.aut.Score(in.peer) >= r.aut.Thresholds().Graylist {
		r.part.core.HandlePartial(r.clk.Now(), in.peer, prpc, &r.part.out)
	}
	r.flushPartial()
}

// PublishPartial publishes (or republishes, after it gained parts) the
// group's message: every mesh (or fanout) peer of the topic (or every peer
// given with PartialTo) that takes partial messages gets our parts metadata and, if it requested partial
// messages, the parts it lacks (eagerly, before its metadata is known, if
// msg.PartsFor says so). The router keeps msg as the group's state for the
// group's lifetime (PartialConfig.GroupTTL heartbeats after the last
// PublishPartial or extension). A complete msg implementing FullMessage is
// also published whole, as an ordinary message, for peers that do not take
// partial messages (they are the only ones that get it). Errors:
// ErrNotJoined, ErrPartialDisabled (topic joined without WithPartial),
// ErrInvalidGroup, ErrTooManyGroups, ErrClosed, and those of Publish for the
// full message.
func (t *Topic) PublishPartial(ctx context.Context, groupID []byte, msg PartialMessage, opts ...PublishPartialOption) error {
	if t.closed.Load() {
		return fmt.Errorf("publish partial %q: %w", t.name, ErrNotJoined)
	}
	if msg == nil || len(groupID) == 0 {
		return fmt.Errorf("publish partial %q: %w", t.name, ErrInvalidGroup)
	}
	var pc publishPartialConfig
	for _, o := range opts {
		o(&pc)
	}
	req := publishPartialReq{t: t, gid: string(groupID), msg: msg, to: pc.to, reply: make(chan publishPartialReply, 1)}
	rep, err := call(t.r, ctx, req, req.reply)
	if err == nil {
		err = rep.err
	}
	if err != nil {
		return fmt.Errorf("publish partial %q: %w", t.name, err)
	}
	if f, ok := msg.(FullMessage); ok && rep.complete {
		if err := t.Publish(ctx, f.Full()); err != nil && !errors.Is(err, ErrDuplicate) {
			return fmt.Errorf("publish partial %q: full message: %w", t.name, err)
		}
	}
	return nil
}

// PublishPartialOption configures one PublishPartial.
type PublishPartialOption func(*publishPartialConfig)

type publishPartialConfig struct {
	to []peer.ID // nil: the mesh (or fanout)
}

// PartialTo makes PublishPartial offer the group to peers instead of the
// topic's mesh (or fanout) peers: each of them that exchanges partial
// messages on the topic gets our parts metadata and, if it requested
// partial messages, the parts it lacks. Peers already in the group's state
// (those we exchanged parts or metadata of this group with before) still
// get updates, as without the option. Other peers in the list are skipped.
// An empty list offers the group to no new peer.
func PartialTo(peers ...peer.ID) PublishPartialOption {
	return func(c *publishPartialConfig) { c.to = append(make([]peer.ID, 0, len(peers)), peers...) }
}

// publishPartialReq is the driver's part of PublishPartial.
type publishPartialReq struct {
	t     *Topic
	gid   string
	msg   PartialMessage
	to    []peer.ID // nil: meshOrFanout
	reply chan publishPartialReply
}

type publishPartialReply struct {
	complete bool
	err      error
}

func (q publishPartialReq) serve(r *Router) {
	var rep publishPartialReply
	defer func() { q.reply <- rep }()
	name := q.t.name
	if ts := r.topics[name]; ts == nil || ts.handle != q.t {
		rep.err = ErrNotJoined
		return
	}
	if r.part.topics[name] == nil {
		rep.err = ErrPartialDisabled
		return
	}
	rep.complete = q.msg.Complete()
	key := partial.GroupKey{Topic: name, GroupID: q.gid}
	peers := q.to
	if peers == nil {
		peers = r.meshOrFanout(name)
	}
	switch o := r.part.core.Publish(r.clk.Now(), name, q.gid, rep.complete, peers, &r.part.out); o {
	case partial.OutcomePublished:
		r.part.groups[key] = q.msg
	case partial.OutcomeTooManyGroups:
		rep.err = ErrTooManyGroups
	default:
		rep.err = fmt.Errorf("%w (%s)", ErrInvalidGroup, o)
	}
	r.flushPartial()
}

// SubscribePartial returns a subscription to the topic's partial-message
// updates (groups extended or completed by peers' parts). buffer bounds it
// (0: the router's subscription buffer). ErrPartialDisabled if the topic
// was joined without WithPartial.
func (t *Topic) SubscribePartial(buffer int) (*PartialSubscription, error) {
	r := t.r
	if buffer <= 0 {
		buffer = r.cfg.subBuffer
	}
	s := &PartialSubscription{topic: t, ch: make(chan PartialUpdate, buffer), done: make(chan struct{})}
	req := partialSubscribeReq{s: s, reply: make(chan error, 1)}
	serr, err := call(r, context.Background(), req, req.reply)
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe partial %q: %w", t.name, err)
	}
	return s, nil
}

// partialSubscribeReq is SubscribePartial.
type partialSubscribeReq struct {
	s     *PartialSubscription
	reply chan error
}

func (q partialSubscribeReq) serve(r *Router) {
	t := q.s.topic
	if ts := r.topics[t.name]; ts == nil || ts.handle != t {
		q.reply <- ErrNotJoined
		return
	}
	pt := r.part.topics[t.name]
	if pt == nil {
		q.reply <- ErrPartialDisabled
		return
	}
	pt.subs = append(pt.subs, q.s)
	q.reply <- nil
}

func (r *Router) meshOrFanout(topic string) []peer.ID {
	if m := r.aut.Mesh(topic); len(m) > 0 {
		return m
	}
	return r.aut.Fanout(topic)
}

// partialHeartbeat ages the groups and gossips parts metadata to non-mesh
// partial peers in place of IHAVE.
func (r *Router) partialHeartbeat() {
	c := r.part.core
	c.Heartbeat(&r.part.out)
	for _, name := range slices.Sorted(mapKeys(r.part.topics)) {
		mesh := r.aut.Mesh(name)
		var cands []peer.ID
		for _, p := range r.aut.TopicPeers(name) {
			if !slices.Contains(mesh, p) {
				cands = append(cands, p)
			}
		}
		if len(cands) > 0 {
			c.Gossip(name, cands, r.part.rng, &r.part.out)
		}
	}
	r.flushPartial()
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// flushPartial carries out the partial Output: the application merges
// deliveries (which may queue replies and pushes), then sends are built
// with the application's bytes and queued, facts emitted, evicted groups
// dropped. On the driver goroutine.
func (r *Router) flushPartial() {
	d := &r.part
	o := &d.out
	now := r.clk.Now()
	for i := 0; i < len(o.Deliveries); i++ {
		dl := o.Deliveries[i]
		key := partial.GroupKey{Topic: dl.Topic, GroupID: dl.GroupID}
		res := partial.MergeResult{PartBytes: len(dl.Parts), MetadataBytes: len(dl.Metadata)}
		msg := d.groups[key]
		pt := d.topics[dl.Topic]
		if msg == nil && pt != nil {
			m, err := pt.opts.Logic.NewGroup(dl.Topic, []byte(dl.GroupID))
			if err != nil || m == nil {
				res.Invalid = true
			} else {
				msg = m
				d.groups[key] = m
			}
		}
		if msg != nil && len(dl.Parts) > 0 {
			added, err := msg.Extend(dl.Parts)
			res.Added, res.Invalid = added, err != nil
		}
		if msg != nil && !res.Invalid {
			res.Complete = msg.Complete()
		}
		oc := d.core.Merged(now, dl.From, dl.Topic, dl.GroupID, res, r.meshOrFanout(dl.Topic), o)
		if (oc == partial.OutcomeMerged || oc == partial.OutcomeMergedCompleted) && pt != nil && (res.Added || oc == partial.OutcomeMergedCompleted) {
			u := PartialUpdate{Topic: dl.Topic, GroupID: []byte(dl.GroupID), From: dl.From, Message: msg, Extended: res.Added, Complete: res.Complete}
			for _, s := range pt.subs {
				select {
				case s.ch <- u:
				default:
					s.dropped.Add(1)
					r.m.v.Inc(mSubDrops)
				}
			}
		}
	}
	for _, s := range o.Sends {
		r.sendPartial(s)
	}
	for _, k := range o.Evicted {
		delete(d.groups, k)
	}
	for _, e := range o.Extensions {
		_ = d.em.extensions.Emit(e)
	}
	for _, e := range o.Rejected {
		r.m.v.Inc(mPartialRejected[min(e.Reason, events.MaxPartialRejectReason)])
		r.rl.warn("partial:"+e.Reason.String(), "rejected partial-messages RPC", "peer", e.Peer, "topic", e.Topic, "reason", e.Reason.String())
		_ = d.em.rejected.Emit(e)
	}
	for _, e := range o.Penalized {
		r.m.penalty(e)
		_ = d.em.penalized.Emit(e)
	}
	for _, e := range o.Received {
		_ = d.em.received.Emit(e)
	}
	for _, e := range o.Completed {
		_ = d.em.completed.Emit(e)
	}
	o.Reset()
}

// sendPartial builds one partial RPC with the application's bytes and
// queues it.
func (r *Router) sendPartial(s partial.Send) {
	pc := r.peers[s.To]
	msg := r.part.groups[partial.GroupKey{Topic: s.Topic, GroupID: s.GroupID}]
	if pc == nil || msg == nil {
		return
	}
	rpc := &pb.PartialMessagesExtension{TopicID: proto.String(s.Topic), GroupID: []byte(s.GroupID)}
	var after, sent []byte
	if s.Parts {
		parts, a, err := msg.PartsFor(s.PeerMeta)
		if err != nil {
			r.rl.warn("partial:partsfor", "application could not encode parts", "topic", s.Topic, "peer", s.To, "err", err)
		} else if len(parts) > 0 {
			rpc.PartialMessage, after = parts, a
		}
	}
	if s.Metadata {
		if m := msg.PartsMetadata(); m != nil && (!s.SentMeta || !bytes.Equal(m, s.LastMeta)) {
			rpc.PartsMetadata, sent = m, m
		}
	}
	if rpc.PartialMessage == nil && rpc.PartsMetadata == nil {
		return
	}
	r.part.core.Sent(s.To, s.Topic, s.GroupID, sent, after)
	r.m.v.Inc(mPartialRPCsOut)
	r.pushControl(pc, &pb.RPC{Partial: rpc})
}
