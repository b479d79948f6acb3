// Package automaton is the pure GossipSub state machine at the core of the
// meshbus router (GossipSub v1.0 to v1.3, with floodsub peers, and v1.4's
// PREAMBLE and IMRECEIVING with peers that support it). The v1.3
// Extensions control message and the partial-messages extension are kept by
// the pure package components/router/partial; to this automaton a v1.3 peer
// has the features of a v1.2 peer.
//
// It has no goroutines, does no I/O and reads no clock: every handler takes
// the current time and an *Output, changes the state, appends the RPCs to send
// and the facts (events.* structs) to emit to the Output, and returns an
// Outcome naming what happened. Randomness comes from the *rand.Rand given to
// New, and the automaton never iterates a Go map where the order could show in
// its output, so the same inputs always produce the same outputs.
//
// An Automaton is not safe for concurrent use: one driver goroutine (or one
// simulation loop) owns it.
//
// The driver's part: it negotiates streams and calls AddPeer/RemovePeer,
// decodes RPCs and calls the handlers (HandleSubscription, HandleControl or
// the individual control handlers, HandleMessage), validates messages and
// calls Validated, calls Heartbeat every Config.HeartbeatInterval and
// UpdateScores with each score snapshot, then frames and writes
// Output.Sends, honours Output.Cancels and emits Output.Facts on the bus.
// It also checks signatures and computes message ids before HandleMessage.
// With staggered forwarding (Config.Stagger) it reports each paced copy
// (Send.Paced) written or dropped with HandleCopyDone, and calls
// ReleaseDue at StaggerDeadline. For gossipsub v1.4's PREAMBLE and
// IMRECEIVING (Config.Preamble) it reports each peer's v1.4 support with
// SetPeerLargeMessages and calls ExpirePreambles at PreambleDeadline;
// ReleaseDue also ends announce windows.
package automaton

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// features is what a peer's protocol supports.
type features uint8

const (
	featMesh      features = 1 << iota // GRAFT/PRUNE/IHAVE/IWANT (gossipsub)
	featBackoffPX                      // backoff and PX in PRUNE (v1.1)
	featIDontWant                      // IDONTWANT (v1.2)
	// featLargeMessages: the peer advertised gossipsub v1.4 large-message
	// handling (PREAMBLE, IMRECEIVING, fragments) in its v1.3 Extensions
	// control message (SetPeerLargeMessages); not implied by any protocol.
	featLargeMessages
	// featChoke: the peer advertised meshbus's choke extension in its v1.3
	// Extensions control message and ours is on (SetPeerChoke).
	featChoke
)

func protocolFeatures(p protocol.ID) (features, bool) {
	switch p {
	case wire.ProtocolMeshsub14, wire.ProtocolMeshsub13, wire.ProtocolMeshsub12:
		return featMesh | featBackoffPX | featIDontWant, true
	case wire.ProtocolMeshsub11:
		return featMesh | featBackoffPX, true
	case wire.ProtocolMeshsub10:
		return featMesh, true
	case wire.ProtocolFloodsub:
		return 0, true
	}
	return 0, false
}

// PeerSpec describes a peer given to AddPeer.
type PeerSpec struct {
	// ID is the peer.
	ID peer.ID
	// Protocol is the negotiated pubsub protocol (one of wire.Protocols).
	Protocol protocol.ID
	// Outbound is true when the local node opened the connection (Dout counts these).
	Outbound bool
	// Direct marks a direct peer: every message is forwarded to it, it is
	// never in a mesh, and its GRAFTs are refused without penalty.
	Direct bool
	// SignedRecord is the peer's marshalled signed peer-record envelope, sent
	// in PX on our PRUNEs; nil if unknown. UpdatePeerRecord replaces it.
	SignedRecord []byte
}

// Automaton is one node's GossipSub state. Create it with New.
type Automaton struct {
	self peer.ID
	cfg  Config
	rng  *rand.Rand

	peers     map[peer.ID]*peerState
	peerOrder orderedSet[peer.ID]
	// skipAsked counts the peers whose messages we ask others to skip
	// (peerState.skipAsked; authorskip.go).
	skipAsked int
	// skipAsksBeat counts the skips we asked since the last heartbeat
	// (at most skipAsksPerHeartbeat).
	skipAsksBeat int
	// lazyAsked remembers the ids we last asked choked mesh peers for: only
	// such a copy arriving first is a lazy win (chokeFirst).
	lazyAsked lazyAsked
	// partsPeers counts the peers with a non-empty partsFrom: with none,
	// the IDONTWANT paths skip the check.
	partsPeers int

	topics     map[string]*topicState
	localOrder orderedSet[string] // joined and fanout topics, for heartbeat iteration

	// thresholds are Config.ScoreThresholds until the first UpdateScores,
	// then the last snapshot's.
	thresholds events.ScoreThresholds
	// lastScores is the latest snapshot, so that a peer added after it
	// starts from its score (a graylisted peer that reconnects stays
	// graylisted) instead of 0 until the next snapshot.
	lastScores map[peer.ID]float64

	backoffs map[backoffKey]backoffEntry
	// records holds the signed peer records of connected peers not
	// tracked (yet, or any more); a tracked peer's is in its peerState.
	records map[peer.ID][]byte
	// misses keeps, for peers that left, their peerState.misses while
	// they still count, so that reconnecting does not clear them; at most
	// MaxPeers, restored by AddPeer, forgotten by Heartbeat once stale.
	misses map[peer.ID]peerMisses
	seen   seenCache
	mcache msgCache

	pending      map[string]*pendingMsg
	pendingOrder fifo[pendingRef]
	// early holds, for messages whose head arrived, their senders and
	// whether IDONTWANT went out (see HandleMessageHead).
	early earlySet
	// announced holds the keys of ids whose IDONTWANT went out before their
	// signature check finished (see announceEarly); at most maxAnnounced.
	announced map[idKey]struct{}
	// lazy holds learned lazy forwarding's open observations (LazyConfig).
	lazy lazyState
	// stagger holds the messages being forwarded staggered (StaggerConfig).
	stagger staggerState
	// pre holds the messages announced to us by PREAMBLE (PreambleConfig).
	pre preambleState

	ticks uint64 // heartbeats run

	// scratch buffers reused on hot paths
	scratchPeers  []peer.ID
	scratchIDs    []string
	scratchSet    map[string]struct{}
	scratchTopics []string
	scratchLazy   []*peerState
}

type peerState struct {
	id       peer.ID
	proto    protocol.ID
	feat     features
	outbound bool
	direct   bool
	record   []byte
	score    float64
	topics   orderedSet[string]
	rtt      time.Duration // smoothed round-trip time, valid when rttKnown (HandlePeerRTT)
	rttKnown bool
	lazy     lazyStat // learned lazy forwarding (LazyConfig)
	// staggerSlow is when a staggered copy to the peer was last still in
	// flight at its message's MaxWait (StaggerConfig): for a while after,
	// the peer comes last in the stagger order.
	staggerSlow time.Time
	// idw is learned IDONTWANT's state for the peer (IDontWantLearnConfig).
	idw idwLearn
	// partsFrom are the topics on which the peer sends us partial
	// messages instead of full ones (SetPeerPartsFrom), sorted; nil for
	// most peers.
	partsFrom []string

	// per-heartbeat budgets, reset each heartbeat
	ihaveIn int // IHAVE messages received
	iasked  int // ids requested by our IWANTs
	iwantIn int // ids asked of us
	idwIn   int // IDONTWANT messages received
	preIn   int // PREAMBLEs received (PreambleConfig)
	imrIn   int // IMRECEIVINGs received
	chokeIn int // choke and unchoke entries received (ChokeConfig)
	skipIn  int // author skip and unskip entries received (HandleAuthorSkip)

	// Author skip (authorskip.go). As an author: how many of its messages
	// in a row came first straight from it, and whether we ask our peers
	// to skip its messages. As a forwarder: the authors whose messages it
	// asked us to announce instead of sending (at most MaxSkipAuthors).
	directRun   int
	skipAsked   bool
	skipTold    bool   // it has our author skips since it negotiated the extension
	skipHold    uint64 // as an author: not asked again before this heartbeat (a.ticks)
	skipAuthors map[peer.ID]struct{}
	// floodsUs, as an author: the joined topics where its last message
	// came first straight from it though it is not in our mesh there
	// (skipCovered), forgotten when either side leaves the topic; nil for
	// most peers.
	floodsUs map[string]struct{}

	// firstsAll counts the messages the peer brought first in any joined
	// topic where it is in our mesh (chokeFirst): the evidence a topic
	// with too few deliveries of its own borrows (chokePooled).
	firstsAll uint64

	// gossipsub v1.4 PREAMBLE (PreambleConfig): messages announced to us
	// first by the peer and still awaited.
	preRecs int
	// misses is its record as a PREAMBLE source and a sender of heads
	// (misses.go); it outlives the connection.
	misses peerMisses

	gossiped map[string]gossipMarks // topic -> heartbeats on which it got our IHAVE
	dontWant map[idKey]uint64       // keyOf(id) -> tick the peer sent IDONTWANT
	promises []promise
}

// gossipMarks records on which of the last 64 heartbeats a peer was sent an
// untruncated IHAVE for a topic: bit i of mask is heartbeat last-i. It
// replaces a per-id record: such an IHAVE offers every id of the topic's
// gossip windows. (Truncated IHAVEs are recorded per id, in cacheEntry.)
type gossipMarks struct {
	last uint64
	mask uint64
}

func (g *gossipMarks) mark(tick uint64) {
	switch {
	case tick > g.last && tick-g.last >= 64:
		g.mask = 0
	case tick > g.last:
		g.mask <<= tick - g.last
	case tick < g.last:
		return // ticks only grow
	}
	g.last = tick
	g.mask |= 1
}

// any reports whether a mark falls in [lo, hi].
func (g gossipMarks) any(lo, hi uint64) bool {
	for t := lo; t <= hi && t <= g.last; t++ {
		if g.last-t < 64 && g.mask>>(g.last-t)&1 != 0 {
			return true
		}
	}
	return false
}

type promise struct {
	id       string
	deadline time.Time
}

type topicState struct {
	name    string
	peers   orderedSet[peer.ID] // peers subscribed to the topic
	extra   orderedSet[peer.ID] // subscribed floodsub and direct peers: they get every message
	joined  bool
	mesh    orderedSet[peer.ID] // valid when joined
	fanout  orderedSet[peer.ID] // valid when hasFanout
	hasFan  bool
	lastPub time.Time
	// byRTT tags the mesh peers chosen for their RTT by latency-aware
	// selection (a tag of a peer no longer in the mesh is stale and
	// ignored: every way into the mesh sets or clears it).
	byRTT map[peer.ID]struct{}
	// ch is the topic's choke state (ChokeConfig).
	ch topicChoke
}

type backoffKey struct {
	topic string
	peer  peer.ID
}

type backoffEntry struct {
	until time.Time // no graft before until (plus slack for our own grafts)
	at    time.Time // when the backoff was set, for graft-flood detection
}

type pendingMsg struct {
	msg     *pb.Message
	id      string
	topic   string
	from    peer.ID
	size    int
	at      time.Time
	dupFrom []peer.ID // peers that sent a copy while it was pending (capped)
}

// pendingRef queues a pending message for expiry; at tells a stale queue
// entry (its message was validated and the id reused) from a live one.
type pendingRef struct {
	id string
	at time.Time
}

const maxDupSenders = 16

// New returns an automaton for the local peer self. rng is the only source
// of randomness (peer selection, gossip targets); seed it for reproducible
// runs. The automaton takes ownership of rng.
func New(self peer.ID, cfg Config, rng *rand.Rand) (*Automaton, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rng == nil {
		return nil, fmt.Errorf("%w: rng must not be nil", ErrInvalidConfig)
	}
	a := &Automaton{
		self:      self,
		cfg:       cfg,
		rng:       rng,
		peers:     make(map[peer.ID]*peerState),
		topics:    make(map[string]*topicState),
		backoffs:  make(map[backoffKey]backoffEntry),
		records:   make(map[peer.ID][]byte),
		misses:    make(map[peer.ID]peerMisses),
		pending:   make(map[string]*pendingMsg),
		announced: make(map[idKey]struct{}),

		lastScores: make(map[peer.ID]float64),
		thresholds: cfg.ScoreThresholds,

		scratchSet: make(map[string]struct{}),
	}
	a.seen.init()
	a.mcache.init(cfg.HistoryLength)
	return a, nil
}

// Self returns the local peer id.
func (a *Automaton) Self() peer.ID { return a.self }

// Config returns the configuration in force.
func (a *Automaton) Config() Config { return a.cfg }

// Joined reports whether the local node is subscribed to topic.
func (a *Automaton) Joined(topic string) bool {
	t := a.topics[topic]
	return t != nil && t.joined
}

// Topics returns the joined topics, sorted.
func (a *Automaton) Topics() []string {
	var out []string
	for _, name := range a.localOrder.items {
		if a.topics[name].joined {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Mesh returns the mesh peers of a joined topic, sorted; nil if not joined.
func (a *Automaton) Mesh(topic string) []peer.ID {
	t := a.topics[topic]
	if t == nil || !t.joined {
		return nil
	}
	return sortedPeers(t.mesh.items)
}

// Fanout returns the fanout peers of an unjoined topic, sorted; nil if none.
func (a *Automaton) Fanout(topic string) []peer.ID {
	t := a.topics[topic]
	if t == nil || !t.hasFan {
		return nil
	}
	return sortedPeers(t.fanout.items)
}

// FanoutTopics returns the topics with fanout state, sorted.
func (a *Automaton) FanoutTopics() []string {
	var out []string
	for _, name := range a.localOrder.items {
		if a.topics[name].hasFan {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TopicPeers returns the peers subscribed to topic, sorted.
func (a *Automaton) TopicPeers(topic string) []peer.ID {
	t := a.topics[topic]
	if t == nil {
		return nil
	}
	return sortedPeers(t.peers.items)
}

// Peers returns every tracked peer, sorted.
func (a *Automaton) Peers() []peer.ID { return sortedPeers(a.peerOrder.items) }

// HasPeer reports whether p is tracked.
func (a *Automaton) HasPeer(p peer.ID) bool { _, ok := a.peers[p]; return ok }

// Score returns the score the automaton uses for p (0 before any snapshot
// and for peers absent from the last one; it is compared with Thresholds).
func (a *Automaton) Score(p peer.ID) float64 {
	if ps := a.peers[p]; ps != nil {
		return ps.score
	}
	return 0
}

// Thresholds returns the score thresholds in force: Config.ScoreThresholds
// until the first UpdateScores, then the last snapshot's.
func (a *Automaton) Thresholds() events.ScoreThresholds { return a.thresholds }

// Backoff returns until when the local node will not graft p in topic (the
// slack excluded), and whether such a backoff exists.
func (a *Automaton) Backoff(topic string, p peer.ID) (time.Time, bool) {
	b, ok := a.backoffs[backoffKey{topic, p}]
	return b.until, ok
}

// Seen reports whether the message id is in the seen cache.
func (a *Automaton) Seen(id string) bool { return a.seen.has(id) }

// HelloRPC returns the RPC announcing the local node's subscriptions (nil
// when it has joined no topic). AddPeer already puts it in the Output; this
// is for a driver that must resend it, e.g. on a new outbound stream.
func (a *Automaton) HelloRPC() *pb.RPC {
	topics := a.Topics()
	if len(topics) == 0 {
		return nil
	}
	rpc := &pb.RPC{}
	for _, t := range topics {
		name, sub := t, true
		rpc.Subscriptions = append(rpc.Subscriptions, &pb.RPC_SubOpts{Subscribe: &sub, Topicid: &name})
	}
	return rpc
}

// Sizes counts the entries of every bounded structure, for metrics and for
// tests that check memory stays bounded.
type Sizes struct {
	Peers         int // tracked peers (<= MaxPeers)
	Topics        int // topics with any state
	LocalTopics   int // joined + fanout topics (<= MaxTopics)
	MaxPeerTopics int // largest subscription count of one peer (<= MaxTopicsPerPeer)
	Seen          int // seen cache entries (<= MaxSeen)
	MessageCache  int // cached messages
	Pending       int // messages awaiting Validated (<= MaxPendingValidation)
	Backoffs      int // backoff records (<= MaxBackoffs)
	MaxDontWant   int // largest IDONTWANT set of one peer (<= MaxIDontWant)
	// MaxIDontWantTracked is the largest learned-IDONTWANT ring of one peer
	// (the IDONTWANTs of ours remembered awaiting their outcome, allocated
	// whole at the first; <= IDontWantLearn.MaxTracked).
	MaxIDontWantTracked int
	MaxAdvertised       int // largest number of topics with gossip records for one peer (<= MaxTopicsPerPeer)
	MaxPromises         int // largest promise list of one peer
	MaxMeshSize         int // largest mesh
	MaxFanoutSize       int // largest fanout set
	MaxTopicPeers       int // largest subscriber set of one topic
	SeenQueue           int // seen cache expiry queue length (<= 2*MaxSeen)
	PendingQueue        int // pending expiry queue length
	MessageWindows      int // message cache window entries
	// Incoming is the messages announced to us by PREAMBLE still awaited
	// (<= Preamble.MaxIncoming).
	Incoming int
	// IncomingQueue is their deadline queue's length (<= 2*Preamble.MaxIncoming+1).
	IncomingQueue int
	// MaxIncomingPerPeer is the most of them first announced by one peer
	// (<= Preamble.MaxIncomingPerPeer).
	MaxIncomingPerPeer int
}

// Sizes returns the current sizes of the automaton's structures.
func (a *Automaton) Sizes() Sizes {
	s := Sizes{
		Peers:          len(a.peers),
		Topics:         len(a.topics),
		LocalTopics:    a.localOrder.len(),
		Seen:           a.seen.len(),
		SeenQueue:      a.seen.queueLen(),
		MessageCache:   len(a.mcache.msgs),
		MessageWindows: a.mcache.windowEntries(),
		Pending:        len(a.pending),
		PendingQueue:   a.pendingOrder.len(),
		Backoffs:       len(a.backoffs),
		Incoming:       len(a.pre.in),
		IncomingQueue:  a.pre.order.len(),
	}
	for _, ps := range a.peers {
		s.MaxPeerTopics = max(s.MaxPeerTopics, ps.topics.len())
		s.MaxDontWant = max(s.MaxDontWant, len(ps.dontWant))
		s.MaxIDontWantTracked = max(s.MaxIDontWantTracked, ps.idw.n, len(ps.idw.ring))
		s.MaxAdvertised = max(s.MaxAdvertised, len(ps.gossiped))
		s.MaxPromises = max(s.MaxPromises, len(ps.promises))
		s.MaxIncomingPerPeer = max(s.MaxIncomingPerPeer, ps.preRecs)
	}
	for _, t := range a.topics {
		s.MaxMeshSize = max(s.MaxMeshSize, t.mesh.len())
		s.MaxFanoutSize = max(s.MaxFanoutSize, t.fanout.len())
		s.MaxTopicPeers = max(s.MaxTopicPeers, t.peers.len())
	}
	return s
}

func sortedPeers(ps []peer.ID) []peer.ID {
	if len(ps) == 0 {
		return nil
	}
	out := slices.Clone(ps)
	slices.Sort(out)
	return out
}

// graylisted reports whether p's RPCs are ignored.
// sender returns the state of the peer an input came from, or nil and the
// outcome that refuses the input: the peer is unknown, graylisted, or speaks
// a protocol without the needed feature (0: none needed).
func (a *Automaton) sender(from peer.ID, need features) (*peerState, Outcome) {
	ps := a.peers[from]
	switch {
	case ps == nil:
		return nil, OutcomeUnknownPeer
	case a.graylisted(ps):
		return nil, OutcomeGraylisted
	case ps.feat&need != need:
		return nil, OutcomeUnsupportedByProtocol
	}
	return ps, 0
}

func (a *Automaton) graylisted(ps *peerState) bool {
	return ps.score < a.thresholds.Graylist
}

func (a *Automaton) validTopic(t string) bool {
	return t != "" && len(t) <= a.cfg.MaxTopicLength
}

func (a *Automaton) validID(id string) bool {
	return id != "" && len(id) <= a.cfg.MaxIDLength
}
