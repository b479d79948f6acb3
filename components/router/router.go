package router

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Router is a GossipSub router on a libp2p host. Create it with New, start it
// with Start, stop it with Close. Its methods are safe for concurrent use.
type Router struct {
	host host.Host
	bus  *eventbus.Bus
	clk  clock.Clock
	cfg  config
	log  *slog.Logger
	m    *metrics
	em   *emitters
	self peer.ID
	key  crypto.PrivKey
	// signer signs our messages (nil unless the policy signs); selfBytes is
	// self as the From field every message we author shares (read-only).
	signer    *wire.Signer
	selfBytes []byte
	// verifier checks received messages; only the driver goroutine uses it.
	verifier *wire.Verifier
	seqno    *wire.Seqno

	reqs    chan request
	inbox   chan netInput
	valDone chan valResult // verdicts of async validations (valDoneBuffer)
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the driver goroutine has exited
	wg      sync.WaitGroup

	// Read-only views for callers' goroutines (copy on write).
	topicIDs atomic.Pointer[map[string]wire.MsgIDFunc] // joined topics' id functions; the driver writes
	// ownIDTopics counts the joined topics with their own id function
	// (WithTopicMessageID); the driver writes, readers read: while it is
	// not zero, readers compute no id from a message's head.
	ownIDTopics atomic.Int32
	vals        atomic.Pointer[map[string]*validator] // validators; RegisterValidator writes (CAS)
	// localExt is the Extensions control message that opens our v1.3 and
	// v1.4 streams (nil: none); set by New, then read-only (writers read it).
	localExt *pb.ControlExtensions

	mu      sync.Mutex // guards state, streams and inbound
	state   runState
	streams map[network.Stream]struct{}
	inbound map[peer.ID]inboundStream // each peer's current inbound stream
	queues  map[peer.ID]*sendQueue    // each peer's send queue, for its reader (see unwanted)
	subs    []interface{ Close() error }

	// Owned by the driver goroutine.
	aut      *automaton.Automaton
	out      automaton.Output
	outcomes []automaton.Outcome
	checks   []toCheck // handleMessages' scratch: messages awaiting their signature check
	queued   int       // data entries queued by the last flush
	dropped  int       // data entries dropped by the last flush
	peers    map[peer.ID]*peerConn
	failures map[peer.ID]int          // consecutive outbound stream failures
	retries  map[peer.ID]*clock.Timer // pending stream retries
	topics   map[string]*topicState
	rl       rateLog
	part     partialDriver // gossipsub v1.3 extensions, partial messages
	large    largeDriver   // gossipsub v1.4 fragments
	// copiesDone are staggered copies enqueue found done without
	// queueing them; flush reports them to the automaton.
	copiesDone []copyDone
	// local holds the messages accepted during the driver's current turn,
	// handed to the local subscriptions at its end (deliverLocal).
	local []*Message
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
	if cfg.thresholds != nil {
		cfg.gossip.ScoreThresholds = *cfg.thresholds
	}
	if cfg.latency != nil {
		cfg.gossip.Latency = *cfg.latency
	}
	if cfg.lazy != nil {
		cfg.gossip.Lazy = *cfg.lazy
	}
	if cfg.choke != nil {
		cfg.gossip.Choke = *cfg.choke
	}
	if cfg.stagger != nil {
		cfg.gossip.Stagger = *cfg.stagger
	}
	if cfg.idwLearn != nil {
		cfg.gossip.IDontWantLearn = *cfg.idwLearn
	}
	if cfg.preamble != nil {
		cfg.gossip.Preamble = *cfg.preamble
	}
	if cfg.gossip.Preamble.MinData > 0 {
		// A PREAMBLE may announce nothing larger than we accept.
		cfg.gossip.Preamble.MaxMessageSize = cfg.maxRPCSize
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
	var signer *wire.Signer
	if cfg.signPolicy.Signs() {
		if signer, err = wire.NewSigner(key); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Router{
		host: h, bus: bus, clk: clk, cfg: cfg, log: cfg.log.With("component", "router"), m: m, em: em,
		self: self, key: key, signer: signer, selfBytes: []byte(self), verifier: wire.NewVerifier(),
		// Seqnos start at the current time so a restarted node does not
		// repeat the ids of its previous run.
		seqno:    wire.NewSeqno(uint64(clk.Now().UnixNano())),
		reqs:     make(chan request),
		inbox:    make(chan netInput, cfg.inboxSize),
		valDone:  make(chan valResult, valDoneBuffer),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		streams:  make(map[network.Stream]struct{}),
		inbound:  make(map[peer.ID]inboundStream),
		queues:   make(map[peer.ID]*sendQueue),
		aut:      aut,
		peers:    make(map[peer.ID]*peerConn),
		failures: make(map[peer.ID]int),
		retries:  make(map[peer.ID]*clock.Timer),
		topics:   make(map[string]*topicState),
	}
	r.topicIDs.Store(&map[string]wire.MsgIDFunc{})
	r.vals.Store(&map[string]*validator{})
	r.rl = rateLog{log: r.log, clk: clk, interval: cfg.logInterval, last: make(map[string]rateEntry)}
	if err := r.initPartial(); err != nil {
		em.close()
		cancel()
		return nil, err
	}
	if err := r.initLarge(); err != nil {
		em.close()
		r.part.em.close()
		cancel()
		return nil, err
	}
	r.localExt = r.localExtensions()
	return r, nil
}

// ID returns the local peer id.
func (r *Router) ID() peer.ID { return r.self }

// peerEventBuffer is the buffer of the router's peer-event subscription:
// 256 events, 4 KiB, a burst of 85 connections.
const peerEventBuffer = 256

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
	//
	// The buffer is allocated whole, for the router's life: it is sized
	// for a burst of connections (three events each), not for the
	// message rate, which sends no peer events.
	peerSub, err := r.bus.Subscribe([]any{
		new(events.EvtPeerConnectednessChanged),
		new(events.EvtPeerIdentificationCompleted),
		new(events.EvtPeerProtocolsUpdated),
	}, eventbus.Name("router/peers"), eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(peerEventBuffer))
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
	// RTTs are snapshots: a lost one is replaced by the next. Latency-aware
	// mesh selection and choking within MaxRTT need them (PREAMBLE's
	// windows use them when known); without either the router does not
	// subscribe (the subscription's 256 slots are 12 KiB).
	var rtts <-chan events.EvtPeerRTTMeasured
	if g := r.cfg.gossip; g.Latency.Enabled || g.Choke.Enabled && g.Choke.MaxRTT > 0 {
		rttSub, err := eventbus.Subscribe[events.EvtPeerRTTMeasured](r.bus, eventbus.Name("router/rtt"),
			eventbus.WithPolicy(eventbus.Drop), eventbus.BufSize(256))
		if err != nil {
			r.closeSubs()
			return fmt.Errorf("router: %w", err)
		}
		r.subs = append(r.subs, rttSub)
		rtts = rttSub.Out()
	}
	for _, p := range wire.Protocols {
		r.host.SetStreamHandler(p, r.handleStream)
	}
	r.state = stateStarted
	go r.run(peerSub.Out(), scoreSub.Out(), rtts)
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
	r.part.em.close()
	return nil
}

// Peers returns the pubsub peers the router tracks, sorted (nil before
// Start and after Close).
func (r *Router) Peers() []peer.ID { return r.query(queryPeers, "").peers }

// Mesh returns the local mesh of a joined topic, sorted (nil if not joined).
func (r *Router) Mesh(topic string) []peer.ID { return r.query(queryMesh, topic).peers }

// Choked returns, for a joined topic, the mesh peers we choked (they send
// us IHAVE instead of the messages they forward) and the mesh peers that
// choked us, each sorted; nil for a topic not joined, and always nil
// with choking off (WithoutChoking). See ChokeConfig.
func (r *Router) Choked(topic string) (ours, theirs []peer.ID) {
	rep := r.query(queryChoked, topic)
	return rep.peers, rep.theirs
}

// TopicPeers returns the peers known to subscribe to topic, sorted.
func (r *Router) TopicPeers(topic string) []peer.ID { return r.query(queryTopicPeers, topic).peers }

// Topics returns the joined topics, sorted.
func (r *Router) Topics() []string { return r.query(queryTopics, "").topics }

// Fanout returns the fanout peers of a topic the node publishes to without
// having joined it, sorted (nil when it has no fanout state). Changes are
// also events: EvtFanoutPeerAdded, EvtFanoutPeerRemoved.
func (r *Router) Fanout(topic string) []peer.ID { return r.query(queryFanout, topic).peers }

// FanoutTopics returns the topics with fanout state, sorted.
func (r *Router) FanoutTopics() []string { return r.query(queryFanoutTopics, "").topics }

// DirectPeers returns the peers configured with WithDirectPeers, sorted.
// It reads the configuration only; it does not reach the driver.
func (r *Router) DirectPeers() []peer.ID {
	out := make([]peer.ID, 0, len(r.cfg.direct))
	for p := range r.cfg.direct {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
