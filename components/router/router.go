package router

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Router is a GossipSub router on a libp2p host. Create it with New, start it
// with Start, stop it with Close. Its methods are safe for concurrent use.
type Router struct {
	host  host.Host
	bus   *eventbus.Bus
	clk   clock.Clock
	cfg   config
	log   *slog.Logger
	m     *metrics
	em    *emitters
	self  peer.ID
	key   crypto.PrivKey
	seqno *wire.Seqno

	reqs    chan request
	inbox   chan netInput
	valDone chan valResult
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the driver goroutine has exited
	wg      sync.WaitGroup

	// Read-only views for callers' goroutines (copy on write).
	topicIDs atomic.Pointer[map[string]wire.MsgIDFunc] // joined topics' id functions; the driver writes
	vals     atomic.Pointer[map[string]*validator]     // validators; RegisterValidator writes (CAS)

	mu      sync.Mutex // guards state, streams and inbound
	state   runState
	streams map[network.Stream]struct{}
	inbound map[peer.ID]network.Stream // each peer's current inbound stream
	subs    []interface{ Close() error }

	// Owned by the driver goroutine.
	aut      *automaton.Automaton
	out      automaton.Output
	outcomes []automaton.Outcome
	queued   int // data entries queued by the last flush
	dropped  int // data entries dropped by the last flush
	peers    map[peer.ID]*peerConn
	failures map[peer.ID]int          // consecutive outbound stream failures
	retries  map[peer.ID]*clock.Timer // pending stream retries
	topics   map[string]*topicState
	rl       rateLog
}

type runState uint8

const (
	stateNew runState = iota
	stateStarted
	stateClosed
)

// topicState is the driver's view of a joined topic.
type topicState struct {
	name   string
	handle *Topic
	subs   []*Subscription
	mesh   interface{ Store(int64) }
}

// New returns a router for h, emitting on bus. It needs h's private key
// (from its peerstore) to sign messages under the signing policies that
// sign. Nothing runs until Start. Errors wrap ErrBadOption.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*Router, error) {
	if h == nil || bus == nil {
		return nil, fmt.Errorf("%w: host and bus are required", ErrBadOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.clk == nil {
		cfg.clk = clock.New()
	}
	clk := cfg.clk
	if cfg.reg == nil {
		cfg.reg = prometheus.NewRegistry()
	}
	self := h.ID()
	key := h.Peerstore().PrivKey(self)
	if key == nil && cfg.signPolicy.Signs() {
		return nil, fmt.Errorf("%w: SignPolicy %s needs the host's private key in its peerstore", ErrBadOption, cfg.signPolicy)
	}
	if !cfg.seedSet {
		var b [8]byte
		_, _ = crand.Read(b[:])
		cfg.seed = binary.LittleEndian.Uint64(b[:])
	}
	aut, err := automaton.New(self, cfg.gossip, rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	m, err := newMetrics(cfg.reg)
	if err != nil {
		return nil, fmt.Errorf("router: metrics: %w", err)
	}
	em, err := newEmitters(bus)
	if err != nil {
		return nil, fmt.Errorf("router: emitters: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Router{
		host: h, bus: bus, clk: clk, cfg: cfg, log: cfg.log.With("component", "router"), m: m, em: em,
		self: self, key: key,
		// Seqnos start at the current time so a restarted node does not
		// repeat the ids of its previous run.
		seqno:    wire.NewSeqno(uint64(clk.Now().UnixNano())),
		reqs:     make(chan request),
		inbox:    make(chan netInput, cfg.inboxSize),
		valDone:  make(chan valResult, 256),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		streams:  make(map[network.Stream]struct{}),
		inbound:  make(map[peer.ID]network.Stream),
		aut:      aut,
		peers:    make(map[peer.ID]*peerConn),
		failures: make(map[peer.ID]int),
		retries:  make(map[peer.ID]*clock.Timer),
		topics:   make(map[string]*topicState),
	}
	r.topicIDs.Store(&map[string]wire.MsgIDFunc{})
	r.vals.Store(&map[string]*validator{})
	r.rl = rateLog{log: r.log, clk: clk, interval: cfg.logInterval, last: make(map[string]rateEntry)}
	return r, nil
}

// ID returns the local peer id.
func (r *Router) ID() peer.ID { return r.self }

// Start subscribes to the bus, registers the pubsub stream handlers and
// starts the driver goroutine. ctx bounds only the start itself; the router
// runs until Close. Starting twice, or after Close, is an error.
func (r *Router) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case stateStarted:
		return ErrAlreadyStarted
	case stateClosed:
		return ErrClosed
	}
	// Connectedness, identify and protocol updates carry state (a lost
	// disconnect would leak a peer), so they block rather than drop. They
	// share one subscription so the driver sees them in the bus's order: a
	// peer that reconnects quickly yields NotConnected, Connected, then the
	// new identify, and processing that identify before the stale
	// NotConnected would remove a connected peer. Scores are snapshots.
	peerSub, err := r.bus.Subscribe([]any{
		new(events.EvtPeerConnectednessChanged),
		new(events.EvtPeerIdentificationCompleted),
		new(events.EvtPeerProtocolsUpdated),
	}, eventbus.Name("router/peers"), eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(1024))
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	r.subs = append(r.subs, peerSub)
	scoreSub, err := eventbus.Subscribe[events.EvtPeerScoresUpdated](r.bus, eventbus.Name("router/scores"),
		eventbus.WithPolicy(eventbus.Drop), eventbus.BufSize(4))
	if err != nil {
		r.closeSubs()
		return fmt.Errorf("router: %w", err)
	}
	r.subs = append(r.subs, scoreSub)
	for _, p := range wire.Protocols {
		r.host.SetStreamHandler(p, r.handleStream)
	}
	r.state = stateStarted
	go r.run(peerSub.Out(), scoreSub.Out())
	return nil
}

func (r *Router) closeSubs() {
	for _, s := range r.subs {
		_ = s.Close()
	}
	r.subs = nil
}

// Close stops the router: it removes the stream handlers, resets every
// pubsub stream, ends every Subscription (Next returns ErrClosed once its
// buffer is drained) and waits for all its goroutines. It sends no PRUNEs
// (the peers see the streams go). Closing twice is harmless.
func (r *Router) Close() error {
	r.mu.Lock()
	prev := r.state
	r.state = stateClosed
	streams := make([]network.Stream, 0, len(r.streams))
	for s := range r.streams {
		streams = append(streams, s)
	}
	r.mu.Unlock()
	if prev == stateClosed {
		return nil
	}
	if prev == stateStarted {
		for _, p := range wire.Protocols {
			r.host.RemoveStreamHandler(p)
		}
	}
	for _, s := range streams {
		_ = s.Reset()
	}
	r.cancel()
	if prev == stateStarted {
		<-r.done
	}
	r.wg.Wait()
	r.mu.Lock()
	r.closeSubs()
	r.mu.Unlock()
	r.em.close()
	return nil
}

// run is the driver goroutine.
func (r *Router) run(peerEvents <-chan any, scores <-chan events.EvtPeerScoresUpdated) {
	defer close(r.done)
	ticker := r.clk.Ticker(r.cfg.gossip.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-r.ctx.Done():
			r.shutdown()
			return
		case req := <-r.reqs:
			req.serve(r)
		case in := <-r.inbox:
			r.handleNet(in)
		case v := <-r.valDone:
			r.finishValidation(v.m, v.res)
		case ev, ok := <-peerEvents:
			if !ok {
				peerEvents = nil
				continue
			}
			switch ev := ev.(type) {
			case events.EvtPeerConnectednessChanged:
				r.handleConnectedness(ev)
			case events.EvtPeerIdentificationCompleted:
				r.handleIdentify(ev)
			case events.EvtPeerProtocolsUpdated:
				r.handleProtocols(ev)
			}
		case ev, ok := <-scores:
			if !ok {
				scores = nil
				continue
			}
			r.m.outcome(r.aut.UpdateScores(r.clk.Now(), ev.Scores, ev.Thresholds, &r.out))
		case <-ticker.C:
			r.heartbeat()
		}
		r.flush()
	}
}

// shutdown ends every subscription; writers and readers stop on the
// cancelled context and reset streams.
func (r *Router) shutdown() {
	for _, t := range r.retries {
		t.Stop()
	}
	for _, ts := range r.topics {
		for _, s := range ts.subs {
			s.end()
		}
		r.m.mesh.remove(ts.name)
		ts.handle.closed.Store(true)
	}
	r.out.Reset()
}

func (r *Router) heartbeat() {
	now := r.clk.Now()
	r.m.outcome(r.aut.Heartbeat(now, &r.out))
	for _, pc := range r.peers {
		pc.overflowSent = false
		if pc.drops > 0 {
			r.emitOverflow(pc, now)
		}
	}
	for name, ts := range r.topics {
		ts.mesh.Store(int64(len(r.aut.Mesh(name))))
	}
}

// flush turns the Output into actions: queue sends, cancel queued copies,
// count, emit facts in decision order; then resets it.
func (r *Router) flush() {
	o := &r.out
	r.queued, r.dropped = 0, 0
	if o.Empty() {
		return
	}
	for i := range o.Sends {
		r.enqueue(&o.Sends[i])
	}
	for _, c := range o.Cancels {
		if pc := r.peers[c.Peer]; pc != nil && pc.q.cancel(c.ID) {
			r.m.cancelled.Inc()
		}
	}
	r.m.published.Add(float64(len(automaton.FactMessagePublished.In(o))))
	r.m.delivered.Add(float64(len(automaton.FactMessageDelivered.In(o))))
	r.m.duplicates.Add(float64(len(automaton.FactMessageDuplicated.In(o))))
	for _, e := range automaton.FactMessageRejected.In(o) {
		r.m.reject(e.Reason)
		// Bad input from the network is a warning; the rest (validators'
		// verdicts, unjoined topics, graylisting) is routine.
		if e.Reason.Invalid() && e.Reason != events.RejectValidationFailed {
			r.rl.warn("reject:"+e.Reason.String(), "rejected message", "reason", e.Reason.String(), "from", e.From, "topic", e.Topic)
		} else {
			r.rl.debug("reject:"+e.Reason.String(), "message not delivered", "reason", e.Reason.String(), "from", e.From, "topic", e.Topic)
		}
	}
	for _, e := range automaton.FactPeerPenalized.In(o) {
		r.m.penalty(e)
		if e.Reason >= events.PenaltyInvalidSignature {
			r.rl.warn("penalty:"+e.Reason.String(), "peer penalised for bad input", "peer", e.Peer, "reason", e.Reason.String())
		}
	}
	if grafted, pruned := automaton.FactPeerGrafted.In(o), automaton.FactPeerPruned.In(o); len(grafted) > 0 || len(pruned) > 0 {
		for _, e := range grafted {
			r.updateMesh(e.Topic)
		}
		for _, e := range pruned {
			r.updateMesh(e.Topic)
		}
	}
	r.em.emitFacts(o)
	o.Reset()
}

func (r *Router) updateMesh(topic string) {
	if ts := r.topics[topic]; ts != nil {
		ts.mesh.Store(int64(len(r.aut.Mesh(topic))))
	}
}

// Peers returns the pubsub peers the router tracks, sorted (nil before
// Start and after Close).
func (r *Router) Peers() []peer.ID { return r.query(queryPeers, "").peers }

// Mesh returns the local mesh of a joined topic, sorted (nil if not joined).
func (r *Router) Mesh(topic string) []peer.ID { return r.query(queryMesh, topic).peers }

// TopicPeers returns the peers known to subscribe to topic, sorted.
func (r *Router) TopicPeers(topic string) []peer.ID { return r.query(queryTopicPeers, topic).peers }

// Topics returns the joined topics, sorted.
func (r *Router) Topics() []string { return r.query(queryTopics, "").topics }
