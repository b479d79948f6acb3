package gopubsub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	gopb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/peermgr"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	meshhost "github.com/meshbus/meshbus/host"
	"github.com/meshbus/meshbus/internal/testhost"
)

// Time runs ten times faster than in production: every node of both
// implementations beats every 100 ms (1 s by default), and the other
// intervals are scaled to keep their ratio to the heartbeat, except where
// go-libp2p-pubsub sets a floor (backoffs travel in whole seconds; the
// score decay interval is at least 1 s).
const (
	hb            = 100 * time.Millisecond
	pruneBackoff  = 2 * time.Second // whole seconds on the wire
	unsubBackoff  = time.Second
	graftFloodThr = time.Second
)

// Kind says which implementation a node runs.
type kind string

const (
	kindMB kind = "meshbus"
	kindGo kind = "go-libp2p-pubsub"
)

// keyTypes are the identity key types every suite cycles through: a node
// with index i has keyTypes[i%4].
var keyTypes = []int{crypto.Ed25519, crypto.Secp256k1, crypto.ECDSA, crypto.RSA}

func keyTypeName(typ int) string {
	switch typ {
	case crypto.Ed25519:
		return "ed25519"
	case crypto.Secp256k1:
		return "secp256k1"
	case crypto.ECDSA:
		return "ecdsa"
	case crypto.RSA:
		return "rsa"
	}
	return fmt.Sprintf("keytype-%d", typ)
}

var (
	keyMu    sync.Mutex
	keyCache = map[int]crypto.PrivKey{}
)

// testKey returns node i's identity key (type keyTypes[i%4]); keys are
// made once per process (RSA keys are slow to make under -race) and reused
// by every suite, which never run two meshes at once.
func testKey(t testing.TB, i int) crypto.PrivKey {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[i]; ok {
		return k
	}
	typ := keyTypes[i%len(keyTypes)]
	bits := 0
	if typ == crypto.RSA {
		bits = 2048
	}
	k, _, err := crypto.GenerateKeyPairWithReader(typ, bits, rand.Reader)
	if err != nil {
		t.Fatalf("key %d (%s): %v", i, keyTypeName(typ), err)
	}
	keyCache[i] = k
	return k
}

// msgKey is how the suites name a message: its first 8 bytes, which every
// test payload makes unique (and which is the content message id under
// StrictNoSign).
func msgKey(data []byte) string {
	if len(data) < 8 {
		return string(data)
	}
	return string(data[:8])
}

// contentID is the StrictNoSign message id of libp2p's test-plans
// gossipsub-interop: the first 8 bytes of the data.
func contentID(data []byte) string { return msgKey(data) }

// inbox counts the messages a node's subscriptions delivered, by topic and
// msgKey.
type inbox struct {
	mu sync.Mutex
	n  map[string]map[string]int
}

func (b *inbox) add(topic string, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		b.n = make(map[string]map[string]int)
	}
	if b.n[topic] == nil {
		b.n[topic] = make(map[string]int)
	}
	b.n[topic][msgKey(data)]++
}

func (b *inbox) count(topic, key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[topic][key]
}

// node is what the suites need from either implementation.
type node interface {
	Name() string
	Kind() kind
	ID() peer.ID
	Host() host.Host
	// Publish publishes data on a joined topic.
	Publish(ctx context.Context, topic string, data []byte) error
	// Count says how often the node's subscription delivered the message
	// named key.
	Count(topic, key string) int
	// Mesh returns the node's mesh of topic.
	Mesh(topic string) []peer.ID
	// TopicPeers returns the peers the node knows to subscribe to topic.
	TopicPeers(topic string) []peer.ID
	// Protocol returns the pubsub protocol negotiated with p, as this node
	// reports it ("" if unknown).
	Protocol(p peer.ID) protocol.ID
	Close() error
}

func connect(ctx context.Context, a, b node) error {
	return a.Host().Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()})
}

// ---------------------------------------------------------------- go-libp2p-pubsub

// goOpts configure a go-libp2p-pubsub node.
type goOpts struct {
	name string
	key  crypto.PrivKey
	// protocols the router speaks, most preferred first (nil: the
	// library's default, /meshsub/1.3.0 first).
	protocols []protocol.ID
	// noSign: StrictNoSign, no author, content message id.
	noSign bool
	// tweak adjusts the (already scaled) router parameters.
	tweak  func(*pubsub.GossipSubParams)
	score  *pubsub.PeerScoreParams
	thresh *pubsub.PeerScoreThresholds
	px     bool
	topics []string
}

// fastGoParams are go-libp2p-pubsub's defaults with time scaled like hb.
func fastGoParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.HeartbeatInterval = hb
	p.HeartbeatInitialDelay = hb
	p.PruneBackoff = pruneBackoff
	p.UnsubscribeBackoff = unsubBackoff
	p.GraftFloodThreshold = graftFloodThr
	p.FanoutTTL = 6 * time.Second
	p.IWantFollowupTime = 300 * time.Millisecond
	return p
}

// goNode is a go-libp2p-pubsub node (TCP, noise, yamux on 127.0.0.1).
type goNode struct {
	name   string
	h      host.Host
	ps     *pubsub.PubSub
	tr     *goTracer
	topics map[string]*pubsub.Topic
	in     inbox
	cancel context.CancelFunc
	wg     sync.WaitGroup

	scoreMu     sync.Mutex
	scores      map[peer.ID]*pubsub.PeerScoreSnapshot
	inspections int
	history     []scoreSample // the last 2000 snapshots
}

// scoreSample is one snapshot go-libp2p-pubsub handed the inspector.
type scoreSample struct {
	at     time.Time
	scores map[peer.ID]*pubsub.PeerScoreSnapshot
}

// newLibp2pHost is the test kit's loopback host (internal/testhost: TCP on
// 127.0.0.1, noise, yamux) with key as identity and patient dials; the
// caller closes it.
func newLibp2pHost(key crypto.PrivKey) (host.Host, error) {
	return libp2p.New(append(testhost.Options(), libp2p.Identity(key), patientDials())...)
}

// patientDials lets a dial to 127.0.0.1 take a minute instead of
// go-libp2p's 5 s: a noise handshake on a machine running other work beside
// -race can take longer than that, and a failed link would be the machine's
// doing. Every host of the suite, of both kinds, gets it.
func patientDials() libp2p.Option {
	return libp2p.SwarmOpts(swarm.WithDialTimeoutLocal(time.Minute), swarm.WithDialTimeout(time.Minute))
}

func startGo(t testing.TB, o goOpts) *goNode {
	t.Helper()
	h, err := newLibp2pHost(o.key)
	if err != nil {
		t.Fatalf("%s: %v", o.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &goNode{name: o.name, h: h, tr: newGoTracer(), topics: map[string]*pubsub.Topic{}, cancel: cancel}
	params := fastGoParams()
	if o.tweak != nil {
		o.tweak(&params)
	}
	opts := []pubsub.Option{
		pubsub.WithGossipSubParams(params),
		pubsub.WithRawTracer(n.tr),
		pubsub.WithPeerExchange(o.px),
		pubsub.WithLogger(slog.New(slog.DiscardHandler)),
		// Deep queues, like meshbus's: a CPU-starved test machine (-race on
		// two shared cores) must not turn into throttled validations or
		// dropped RPCs, which would be the machine's doing, not interop's.
		pubsub.WithValidateQueueSize(4096),
		pubsub.WithPeerOutboundQueueSize(1024),
	}
	if o.protocols != nil {
		opts = append(opts, pubsub.WithGossipSubProtocols(o.protocols, pubsub.GossipSubDefaultFeatures))
	}
	if o.noSign {
		opts = append(opts, pubsub.WithNoAuthor(), pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
			pubsub.WithMessageIdFn(func(m *gopb.Message) string { return contentID(m.GetData()) }))
	}
	if o.score != nil {
		opts = append(opts, pubsub.WithPeerScore(o.score, o.thresh),
			pubsub.WithPeerScoreInspect(pubsub.ExtendedPeerScoreInspectFn(n.inspect), hb))
	}
	n.ps, err = pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		cancel()
		_ = h.Close()
		t.Fatalf("%s: %v", o.name, err)
	}
	for _, topic := range o.topics {
		tp, err := n.ps.Join(topic)
		if err != nil {
			t.Fatalf("%s join %s: %v", o.name, topic, err)
		}
		sub, err := tp.Subscribe(pubsub.WithBufferSize(4096))
		if err != nil {
			t.Fatalf("%s subscribe %s: %v", o.name, topic, err)
		}
		n.topics[topic] = tp
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				n.in.add(topic, m.GetData())
			}
		}()
	}
	return n
}

func (n *goNode) inspect(s map[peer.ID]*pubsub.PeerScoreSnapshot) {
	n.scoreMu.Lock()
	n.scores = s
	n.inspections++
	if len(n.history) == 2000 {
		n.history = slices.Delete(n.history, 0, 1000)
	}
	n.history = append(n.history, scoreSample{time.Now(), s})
	n.scoreMu.Unlock()
}

// Scores returns the last score snapshot go-libp2p-pubsub handed its
// inspector (read-only) and how many it has handed so far.
func (n *goNode) Scores() (map[peer.ID]*pubsub.PeerScoreSnapshot, int) {
	n.scoreMu.Lock()
	defer n.scoreMu.Unlock()
	return n.scores, n.inspections
}

// ScoresBetween returns the snapshots the inspector got between from and to.
func (n *goNode) ScoresBetween(from, to time.Time) []scoreSample {
	n.scoreMu.Lock()
	defer n.scoreMu.Unlock()
	var out []scoreSample
	for _, s := range n.history {
		if !s.at.Before(from) && !s.at.After(to) {
			out = append(out, s)
		}
	}
	return out
}

func (n *goNode) Name() string    { return n.name }
func (n *goNode) Kind() kind      { return kindGo }
func (n *goNode) ID() peer.ID     { return n.h.ID() }
func (n *goNode) Host() host.Host { return n.h }
func (n *goNode) Publish(ctx context.Context, topic string, data []byte) error {
	tp := n.topics[topic]
	if tp == nil {
		return fmt.Errorf("%s: topic %q not joined", n.name, topic)
	}
	return tp.Publish(ctx, data)
}
func (n *goNode) Count(topic, key string) int       { return n.in.count(topic, key) }
func (n *goNode) Mesh(topic string) []peer.ID       { return n.tr.meshOf(topic) }
func (n *goNode) TopicPeers(topic string) []peer.ID { return n.ps.ListPeers(topic) }
func (n *goNode) Protocol(p peer.ID) protocol.ID    { return n.tr.protocol(p) }

func (n *goNode) Close() error {
	n.cancel()
	n.wg.Wait()
	return n.h.Close()
}

// goTracer is a pubsub.RawTracer that records what the checks need: the
// protocol of each outbound stream, the mesh (from Graft/Prune), the
// backoff each PRUNE sent starts, every GRAFT received during one, the
// PX records sent, and rejected messages.
type goTracer struct {
	mu       sync.Mutex
	proto    map[peer.ID]protocol.ID
	mesh     map[string]map[peer.ID]bool
	prunedBy map[peer.ID]int // our PRUNEs sent to a peer
	backoff  map[string]map[peer.ID]time.Time
	grafts   map[peer.ID]int
	// graftInBackoff lists each GRAFT received from a peer before the
	// backoff of our last PRUNE to it expired.
	graftInBackoff []string
	pxSent         map[peer.ID][]*gopb.PeerInfo
	rejected       map[string]int
	// prunedAt is when our last PRUNE to a peer was queued; regraftGap
	// the shortest time from one to the peer's next GRAFT.
	dropped    int // RPCs dropped on a full outbound queue
	sentMsgs   int
	prunedAt   map[string]map[peer.ID]time.Time
	regraftGap map[peer.ID]time.Duration
}

func newGoTracer() *goTracer {
	return &goTracer{
		proto: map[peer.ID]protocol.ID{}, mesh: map[string]map[peer.ID]bool{},
		prunedBy: map[peer.ID]int{}, backoff: map[string]map[peer.ID]time.Time{},
		grafts: map[peer.ID]int{}, pxSent: map[peer.ID][]*gopb.PeerInfo{}, rejected: map[string]int{},
		prunedAt: map[string]map[peer.ID]time.Time{}, regraftGap: map[peer.ID]time.Duration{},
	}
}

func (tr *goTracer) OnNewOutboundStream(p peer.ID, proto protocol.ID) {
	tr.mu.Lock()
	tr.proto[p] = proto
	tr.mu.Unlock()
}
func (tr *goTracer) OnClosedOutboundStream(peer.ID) {}
func (tr *goTracer) Join(string)                    {}
func (tr *goTracer) Leave(string)                   {}
func (tr *goTracer) Graft(p peer.ID, topic string) {
	tr.mu.Lock()
	if tr.mesh[topic] == nil {
		tr.mesh[topic] = map[peer.ID]bool{}
	}
	tr.mesh[topic][p] = true
	tr.mu.Unlock()
}
func (tr *goTracer) Prune(p peer.ID, topic string) {
	tr.mu.Lock()
	delete(tr.mesh[topic], p)
	tr.mu.Unlock()
}
func (tr *goTracer) ValidateMessage(*pubsub.Message) {}
func (tr *goTracer) DeliverMessage(*pubsub.Message)  {}
func (tr *goTracer) RejectMessage(_ *pubsub.Message, reason string) {
	tr.mu.Lock()
	tr.rejected[reason]++
	tr.mu.Unlock()
}
func (tr *goTracer) DuplicateMessage(*pubsub.Message) {}
func (tr *goTracer) ThrottlePeer(peer.ID)             {}
func (tr *goTracer) RecvRPC(rpc *pubsub.RPC) {
	grafts := rpc.GetControl().GetGraft()
	if len(grafts) == 0 {
		return
	}
	now := time.Now()
	from := rpc.From()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, g := range grafts {
		tr.grafts[from]++
		if at, ok := tr.prunedAt[g.GetTopicID()][from]; ok {
			if gap, seen := tr.regraftGap[from]; !seen || now.Sub(at) < gap {
				tr.regraftGap[from] = now.Sub(at)
			}
			delete(tr.prunedAt[g.GetTopicID()], from)
		}
		if until, ok := tr.backoff[g.GetTopicID()][from]; ok && now.Before(until) {
			tr.graftInBackoff = append(tr.graftInBackoff,
				fmt.Sprintf("GRAFT %s from %s %v before its backoff ended", g.GetTopicID(), from, until.Sub(now).Round(time.Millisecond)))
		}
	}
}
func (tr *goTracer) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	tr.mu.Lock()
	tr.sentMsgs += len(rpc.GetPublish())
	tr.mu.Unlock()
	prunes := rpc.GetControl().GetPrune()
	if len(prunes) == 0 {
		return
	}
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, pr := range prunes {
		tr.prunedBy[p]++
		if tr.backoff[pr.GetTopicID()] == nil {
			tr.backoff[pr.GetTopicID()] = map[peer.ID]time.Time{}
		}
		tr.backoff[pr.GetTopicID()][p] = now.Add(time.Duration(pr.GetBackoff()) * time.Second)
		if tr.prunedAt[pr.GetTopicID()] == nil {
			tr.prunedAt[pr.GetTopicID()] = map[peer.ID]time.Time{}
		}
		tr.prunedAt[pr.GetTopicID()][p] = now
		tr.pxSent[p] = append(tr.pxSent[p], pr.GetPeers()...)
	}
}
func (tr *goTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (tr *goTracer) DropRPC(*pubsub.RPC, peer.ID) {
	tr.mu.Lock()
	tr.dropped++
	tr.mu.Unlock()
}
func (tr *goTracer) UndeliverableMessage(*pubsub.Message) {}

func (tr *goTracer) meshOf(topic string) []peer.ID {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []peer.ID
	for p := range tr.mesh[topic] {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (tr *goTracer) protocol(p peer.ID) protocol.ID {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.proto[p]
}

// violations returns the GRAFTs received during a backoff.
func (tr *goTracer) violations() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.graftInBackoff)
}

// ---------------------------------------------------------------- meshbus

// mbOpts configure a meshbus node.
type mbOpts struct {
	name   string
	key    crypto.PrivKey
	noSign bool
	tweak  func(*router.GossipConfig)
	// scoring replaces the scorer's parameters (default scoring.DefaultParams).
	scoring *scoring.Params
	topics  []string
	seed    uint64
}

// fastGossipConfig is meshbus's default GossipSub configuration with time
// scaled like hb.
func fastGossipConfig() router.GossipConfig {
	c := router.DefaultGossipConfig()
	c.HeartbeatInterval = hb
	c.PruneBackoff = pruneBackoff
	c.UnsubscribeBackoff = unsubBackoff
	c.GraftFloodThreshold = graftFloodThr
	c.FanoutTTL = 6 * time.Second
	c.IWantFollowupTime = 300 * time.Millisecond
	return c
}

// mbNode is a full meshbus node (host.New: conntrack, scoring, router, peer
// manager) on 127.0.0.1 TCP.
type mbNode struct {
	name   string
	node   *meshhost.Node
	r      *router.Router
	topics map[string]*router.Topic
	in     inbox
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	proto      map[peer.ID]protocol.ID
	rejected   map[events.RejectReason]int
	penalties  map[peer.ID]map[events.PenaltyReason]int
	pruned     []events.EvtPeerPruned
	px         []events.EvtPeerExchangeReceived
	pxRejected []events.EvtPeerRecordRejected
	discovered map[peer.ID]events.PeerSource
	grafted    map[peer.ID]int
	// firstScores is when the first EvtPeerScoresUpdated came (zero
	// before); scoreThresholds are the thresholds of the last one.
	firstScores     time.Time
	scoreThresholds events.ScoreThresholds
	subRecorder     event.Subscription
	recDone         chan struct{}
}

func startMB(t testing.TB, o mbOpts) *mbNode {
	t.Helper()
	n := &mbNode{
		name: o.name, topics: map[string]*router.Topic{},
		proto: map[peer.ID]protocol.ID{}, rejected: map[events.RejectReason]int{},
		penalties: map[peer.ID]map[events.PenaltyReason]int{}, discovered: map[peer.ID]events.PeerSource{},
		grafted: map[peer.ID]int{},
	}
	gc := fastGossipConfig()
	if o.tweak != nil {
		o.tweak(&gc)
	}
	ropts := []router.Option{router.WithGossipConfig(gc), router.WithSeed(o.seed)}
	if o.noSign {
		ropts = append(ropts, router.WithSignPolicy(wire.StrictNoSign),
			router.WithMessageID(func(m *pb.Message) string { return contentID(m.GetData()) }))
	}
	fxopts := []fx.Option{
		router.Options(ropts...),
		peermgr.Options(peermgr.WithColocationLimit(0)),
		fx.Invoke(func(b *eventbus.Bus) error { return n.record(b) }),
		fx.Populate(&n.r),
	}
	if o.scoring != nil {
		fxopts = append(fxopts, scoring.Options(scoring.WithParams(*o.scoring)))
	}
	var err error
	n.node, err = meshhost.New(context.Background(),
		meshhost.WithIdentity(o.key),
		meshhost.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		meshhost.WithLogger(slog.New(slog.DiscardHandler)),
		meshhost.WithLibp2pOptions(patientDials()),
		meshhost.WithFx(fxopts...),
	)
	if err != nil {
		t.Fatalf("%s: %v", o.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	for _, topic := range o.topics {
		tp, err := n.r.Join(topic)
		if err != nil {
			t.Fatalf("%s join %s: %v", o.name, topic, err)
		}
		sub, err := tp.Subscribe(router.SubscriptionBuffer(4096))
		if err != nil {
			t.Fatalf("%s subscribe %s: %v", o.name, topic, err)
		}
		n.topics[topic] = tp
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				n.in.add(topic, m.Data)
			}
		}()
	}
	return n
}

// record subscribes, before any component starts, to the events the checks
// read; it blocks the emitters rather than lose one.
func (n *mbNode) record(b *eventbus.Bus) error {
	sub, err := b.Subscribe([]any{new(events.EvtRouterPeerAdded), new(events.EvtMessageRejected),
		new(events.EvtPeerPenalized), new(events.EvtPeerPruned), new(events.EvtPeerGrafted),
		new(events.EvtPeerExchangeReceived), new(events.EvtPeerRecordRejected), new(events.EvtPeerDiscovered),
		new(events.EvtPeerScoresUpdated)},
		eventbus.Name("interop/gopubsub/"+n.name), eventbus.BufSize(4096), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		return err
	}
	n.subRecorder = sub
	n.recDone = make(chan struct{})
	go func() {
		defer close(n.recDone)
		for ev := range sub.Out() {
			n.mu.Lock()
			switch e := ev.(type) {
			case events.EvtRouterPeerAdded:
				n.proto[e.Peer] = e.Protocol
			case events.EvtMessageRejected:
				n.rejected[e.Reason]++
			case events.EvtPeerPenalized:
				if n.penalties[e.Peer] == nil {
					n.penalties[e.Peer] = map[events.PenaltyReason]int{}
				}
				n.penalties[e.Peer][e.Reason] += e.Count
			case events.EvtPeerPruned:
				n.pruned = append(n.pruned, e)
			case events.EvtPeerGrafted:
				n.grafted[e.Peer]++
			case events.EvtPeerExchangeReceived:
				n.px = append(n.px, e)
			case events.EvtPeerRecordRejected:
				n.pxRejected = append(n.pxRejected, e)
			case events.EvtPeerDiscovered:
				n.discovered[e.Peer] = e.Source
			case events.EvtPeerScoresUpdated:
				if n.firstScores.IsZero() {
					n.firstScores = e.At
				}
				n.scoreThresholds = e.Thresholds
			}
			n.mu.Unlock()
		}
	}()
	return nil
}

func (n *mbNode) Name() string    { return n.name }
func (n *mbNode) Kind() kind      { return kindMB }
func (n *mbNode) ID() peer.ID     { return n.node.ID() }
func (n *mbNode) Host() host.Host { return n.node.Host() }
func (n *mbNode) Publish(ctx context.Context, topic string, data []byte) error {
	tp := n.topics[topic]
	if tp == nil {
		return fmt.Errorf("%s: topic %q not joined", n.name, topic)
	}
	return tp.Publish(ctx, data)
}
func (n *mbNode) Count(topic, key string) int       { return n.in.count(topic, key) }
func (n *mbNode) Mesh(topic string) []peer.ID       { return n.r.Mesh(topic) }
func (n *mbNode) TopicPeers(topic string) []peer.ID { return n.r.TopicPeers(topic) }
func (n *mbNode) Protocol(p peer.ID) protocol.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proto[p]
}

// problems returns what the node's events reported against its peers:
// rejected messages and behaviour penalties.
func (n *mbNode) problems() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for r, c := range n.rejected {
		out = append(out, fmt.Sprintf("%s rejected %d messages: %v", n.name, c, r))
	}
	for p, m := range n.penalties {
		for r, c := range m {
			out = append(out, fmt.Sprintf("%s penalised %s %d times: %v", n.name, p, c, r))
		}
	}
	return out
}

func (n *mbNode) Close() error {
	n.cancel()
	n.wg.Wait()
	err := n.node.Close()
	if n.subRecorder != nil {
		err = errors.Join(err, n.subRecorder.Close())
		<-n.recDone
	}
	return err
}

// ---------------------------------------------------------------- waits

// slack multiplies every deadline of the suite. The deadlines bound a
// failure; they never pace a test (every wait returns as soon as its
// condition holds), so they are generous: a machine running other work
// beside -race (load far above its core count) must not turn a slow pass
// into a failure.
const slack = 5

// within returns a context that ends after slack*d.
func within(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), slack*d)
}

// waitUntil polls cond every 20 ms until it holds, failing the test with
// what(…) after slack*d.
func waitUntil(t testing.TB, d time.Duration, what func() string, cond func() bool) {
	t.Helper()
	d *= slack
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
