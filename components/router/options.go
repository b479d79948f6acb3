package router

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/partial"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// GossipConfig is the GossipSub parameter set (D, Dlo, Dhi, heartbeat,
// backoffs, gossip budgets, bounds); start from DefaultGossipConfig.
type GossipConfig = automaton.Config

// DefaultGossipConfig returns the GossipSub v1.1/v1.2 defaults.
func DefaultGossipConfig() GossipConfig { return automaton.DefaultConfig() }

// Defaults of the driver's own options.
const (
	// DefaultPeerDataQueue is how many messages may wait for one peer.
	DefaultPeerDataQueue = 256
	// DefaultPeerControlQueue is how many control RPCs may wait for one peer.
	DefaultPeerControlQueue = 256
	// DefaultSubscriptionBuffer is how many delivered messages one
	// Subscription holds before it drops.
	DefaultSubscriptionBuffer = 64
	// DefaultValidationConcurrency is how many asynchronous validations of
	// one topic may run at once before messages are throttled.
	DefaultValidationConcurrency = 256
	// DefaultValidationTimeout bounds one asynchronous validation.
	DefaultValidationTimeout = 10 * time.Second
)

type config struct {
	gossip        GossipConfig
	signPolicy    wire.SignPolicy
	msgID         wire.MsgIDFunc
	msgIDSet      bool
	idPrefix      int
	maxRPCSize    int
	dataQueue     int
	controlQueue  int
	subBuffer     int
	valConc       int
	valTimeout    time.Duration
	direct        map[peer.ID]struct{}
	reg           prometheus.Registerer
	log           *slog.Logger
	clk           clock.Clock
	seed          uint64
	seedSet       bool
	logInterval   time.Duration
	inboxSize     int
	streamTimeout time.Duration
	partial       *partial.Config // nil: the partial-messages extension is off
	thresholds    *events.ScoreThresholds
	latency       *LatencyConfig
	lazy          *LazyConfig
	choke         *ChokeConfig
	stagger       *StaggerConfig
	idwLearn      *IDontWantLearnConfig
	large         LargeMessageConfig // gossipsub v1.4 parameters
	largeOff      bool               // WithoutLargeMessages
	preamble      *PreambleConfig
	tracer        StageTracer // nil: no stage tracing
	tracerSet     bool        // WithStageTracer was given (nil is then an error)
}

func defaultConfig() config {
	return config{
		gossip:       automaton.DefaultConfig(),
		signPolicy:   wire.StrictSign,
		msgID:        wire.DefaultMsgID,
		maxRPCSize:   wire.DefaultMaxRPCSize,
		dataQueue:    DefaultPeerDataQueue,
		controlQueue: DefaultPeerControlQueue,
		subBuffer:    DefaultSubscriptionBuffer,
		valConc:      DefaultValidationConcurrency,
		valTimeout:   DefaultValidationTimeout,
		logInterval:  10 * time.Second,
		// 32, as go-libp2p-pubsub's incoming queue: 256 held ~10 MiB more
		// at the 20-node bench's peak.
		inboxSize:     32,
		streamTimeout: 30 * time.Second,
		large:         DefaultLargeMessageConfig(),
	}
}

func (c *config) validate() error {
	bad := func(field string, why string) error {
		return fmt.Errorf("%w: %s %s", ErrBadOption, field, why)
	}
	if err := c.gossip.Validate(); err != nil {
		return fmt.Errorf("%w: GossipConfig: %w", ErrBadOption, err)
	}
	if c.partial != nil {
		if err := c.partial.Validate(); err != nil {
			return fmt.Errorf("%w: PartialConfig: %w", ErrBadOption, err)
		}
	}
	if !c.signPolicy.Valid() {
		return bad("SignPolicy", "is not a defined policy")
	}
	if c.msgID == nil {
		return bad("MessageID", "must not be nil")
	}
	if c.signPolicy == wire.StrictNoSign && !c.msgIDSet {
		return bad("MessageID", "must be set with StrictNoSign (messages carry no from/seqno; use wire.ContentMsgID or your own)")
	}
	if c.idPrefix < 0 {
		return bad("MessageIDPrefix", "must not be negative")
	}
	if c.idPrefix > 0 && !c.msgIDSet {
		return bad("MessageIDPrefix", "needs WithMessageID (the default id, from || seqno, is not in the data)")
	}
	if c.tracerSet && c.tracer == nil {
		return bad("StageTracer", "must not be nil")
	}
	if c.maxRPCSize < 1024 {
		return bad("MaxRPCSize", "must be at least 1024 bytes")
	}
	if !c.largeOff {
		if err := c.large.validate(c.maxRPCSize); err != nil {
			return err
		}
	}
	if c.dataQueue < 1 || c.controlQueue < 1 {
		return bad("PeerQueue", "sizes must be at least 1")
	}
	if c.subBuffer < 1 {
		return bad("SubscriptionBuffer", "must be at least 1")
	}
	if c.valConc < 1 {
		return bad("ValidationConcurrency", "must be at least 1")
	}
	if c.valTimeout <= 0 {
		return bad("ValidationTimeout", "must be positive")
	}
	return nil
}

// Option configures a Router. An Option only records its value: New applies
// the defaults, then the options in order, then validates the result; an
// invalid value is an error wrapping ErrBadOption that names the field.
type Option func(*config)

// WithGossipConfig sets every GossipSub parameter (validated by New).
func WithGossipConfig(c GossipConfig) Option { return func(o *config) { o.gossip = c } }

// WithScoreThresholds tells the router that a scorer feeds it score
// snapshots (EvtPeerScoresUpdated) and what its thresholds are. They are in
// force from New on: until the first snapshot reaches the router every peer
// scores 0 against them, so with AcceptPX above 0 no peer exchange is
// accepted before any peer has earned it. Each snapshot then installs the
// thresholds it carries. It sets GossipConfig.ScoreThresholds, whatever the
// order of this option and WithGossipConfig. Without it (and without
// GossipConfig.ScoreThresholds) every threshold is 0 until a snapshot says
// otherwise: the behaviour of a router without scoring. host.New wires the
// built-in scorer's thresholds here, so the two cannot disagree.
func WithScoreThresholds(t events.ScoreThresholds) Option {
	return func(o *config) { o.thresholds = &t }
}

// LatencyConfig is the latency-aware mesh selection's parameters (random
// share, swaps); start from DefaultLatencyConfig.
type LatencyConfig = automaton.LatencyConfig

// DefaultLatencyConfig returns latency-aware mesh selection turned on with
// its defaults: a third of every mesh selection at random, the rest lowest
// round-trip time first, and at most one swap of a slow mesh peer for a
// clearly (30% and 10 ms) faster one per topic every 3 heartbeats.
func DefaultLatencyConfig() LatencyConfig { return automaton.DefaultLatencyConfig() }

// WithLatencyAwareMesh makes the heartbeat's mesh selection prefer peers
// with a low round-trip time, learnt from events.EvtPeerRTTMeasured on the
// bus (emitted by the RTT prober, components/rtt; without a prober every
// peer is unknown and selection stays uniform at random). Grafting below
// Dlo, Join and trimming above Dhi choose ceil(D × RandomShare) peers
// uniformly at random and the rest fastest first; the Dscore best-scored
// and the Dout outbound peers are kept as before, negative-score peers are
// never chosen, and PRUNE backoffs are respected. Swaps replace at most one
// slow mesh peer per topic every SwapTicks heartbeats. Nothing changes on
// the wire. New validates c when c.Enabled (an error wraps ErrBadOption);
// it sets GossipConfig.Latency, whatever the order of this option and
// WithGossipConfig. Default: off. See docs/router.md, "Latency-aware mesh
// selection", for the safety argument and the measurements.
func WithLatencyAwareMesh(c LatencyConfig) Option {
	return func(o *config) { o.latency = &c }
}

// LazyConfig is learned lazy forwarding's parameters; start from
// DefaultLazyConfig.
type LazyConfig = automaton.LazyConfig

// DefaultLazyConfig returns learned lazy forwarding turned on with its
// defaults: at least 5 candidate mesh peers get each forwarded message
// eagerly; a mesh peer whose copies were not needed at least 95% of the
// time (3 observations or more) gets an IHAVE instead; messages up to
// 16 KiB; our own messages always go eagerly; a peer's lazy ids are
// batched into one IHAVE every 200 ms (FlushInterval; one at once to a
// peer idle for a heartbeat interval).
func DefaultLazyConfig() LazyConfig { return automaton.DefaultLazyConfig() }

// WithLazyForwarding turns learned lazy forwarding on (c.Enabled) or off:
// the router learns, per mesh peer, how often a message it forwards there
// is not needed (the peer sends the message or IDONTWANT back: it had it
// from elsewhere first; or, for a peer sent an IHAVE, it does not ask
// with IWANT), and sends the peers whose copies are almost always wasted
// an IHAVE instead of the message, keeping MinEager peers eager. Only
// GossipSub v1.0/v1.1 messages are used: any implementation's peer
// understands it, and one that lacks the message asks for it with IWANT.
// New validates c when c.Enabled (an error wraps ErrBadOption); it sets
// GossipConfig.Lazy, whatever the order of this option and
// WithGossipConfig. Default: off. See docs/router.md, "Learned lazy
// forwarding".
func WithLazyForwarding(c LazyConfig) Option {
	return func(o *config) { o.lazy = &c }
}

// ChokeConfig is the parameters of meshbus's choke extension; start from
// DefaultChokeConfig.
type ChokeConfig = automaton.ChokeConfig

// DefaultChokeConfig returns the choke extension turned on with its
// defaults: per topic the 2 mesh peers that bring the most messages first
// stay eager (1 in a busy topic while it brings nearly every message: a
// narrow topic, which widens to 2 for 30 heartbeats when choked peers
// bring 5% first), decided at a heartbeat after 20 first deliveries, and
// only peers with a measured RTT of at most 10 ms are choked; the one
// choked longest is unchoked every 20 heartbeats; forwarded messages of
// up to 16 KiB of data go to a peer that choked us as ids in an IHAVE
// batched every 200 ms.
func DefaultChokeConfig() ChokeConfig { return automaton.DefaultChokeConfig() }

// WithChoking sets meshbus's choke extension (c.Enabled on) or turns it
// off: the router advertises it in the v1.3 Extensions control message
// and, with the mesh peers that advertise it too, chokes the peers whose
// copies come after another's (they then send it IHAVE instead of the
// message) and obeys their chokes; with everyone else nothing changes on
// the wire (see automaton.ChokeConfig and docs/router.md, "Choking"). New
// validates c (an error wraps ErrBadOption); it sets GossipConfig.Choke,
// whatever the order of this option and WithGossipConfig. Default:
// DefaultChokeConfig, on. It trades latency for bandwidth and CPU: with
// in-degree c.Unchoked (c.MinUnchoked in a narrow topic) the eager graph
// is sparser, so a message takes
// more hops; the default chokes only peers with a measured RTT (from
// events.EvtPeerRTTMeasured, which the host's RTT prober emits) of at
// most c.MaxRTT, 10 ms, where a hop costs little (docs/simulations.md).
func WithChoking(c ChokeConfig) Option {
	return func(o *config) { o.choke = &c }
}

// WithoutChoking turns meshbus's choke extension off: the router neither
// advertises it nor chokes, and ignores peers' choke entries
// (WithChoking with the zero ChokeConfig).
func WithoutChoking() Option { return WithChoking(ChokeConfig{}) }

// StaggerConfig is staggered forwarding of large messages' parameters
// (the size from which it applies, the copies in flight at once for
// forwarded and for our own messages, the longest a message holds its
// waiting copies back); start from DefaultStaggerConfig.
type StaggerConfig = automaton.StaggerConfig

// DefaultStaggerConfig returns staggered forwarding with its defaults
// (the router's default: see automaton.DefaultStaggerConfig).
func DefaultStaggerConfig() StaggerConfig { return automaton.DefaultStaggerConfig() }

// WithStaggeredForwarding sets staggered forwarding of large messages: a
// message whose data is at least c.MinData bytes goes to at most c.K of
// its mesh peers at a time (c.PublishK for our own messages), the next
// peer's copy starting when one in flight is written or its peer shows it
// has the message, and every waiting copy going c.MaxWait after the first
// ones; a peer that sends IDONTWANT for the message, or a copy of it,
// before its turn is not sent it. Nothing
// changes on the wire. c.MinData 0 turns it off. New validates c (an error
// wraps ErrBadOption); it sets GossipConfig.Stagger, whatever the order of
// this option and WithGossipConfig. Default: DefaultStaggerConfig. See
// docs/router.md, "Staggered forwarding of large messages".
func WithStaggeredForwarding(c StaggerConfig) Option {
	return func(o *config) { o.stagger = &c }
}

// IDontWantLearnConfig is learned IDONTWANT for small messages'
// parameters (the size under which it applies, the window of samples, the
// late shares at which a peer's small-message IDONTWANTs stop and resume,
// the probe rate, the timeout and the IDONTWANTs remembered per peer);
// start from DefaultIDontWantLearnConfig.
type IDontWantLearnConfig = automaton.IDontWantLearnConfig

// DefaultIDontWantLearnConfig returns learned IDONTWANT with its defaults
// (see automaton.DefaultIDontWantLearnConfig).
func DefaultIDontWantLearnConfig() IDontWantLearnConfig {
	return automaton.DefaultIDontWantLearnConfig()
}

// WithLearnedIDontWant sets learned IDONTWANT for small messages: the
// router learns, per mesh peer, whether its IDONTWANTs for messages under
// c.Below bytes of data arrive before the peer forwards its own copy, and
// stops sending them to a peer whose copies almost always come anyway
// (late share at least c.SuppressAt over c.Window samples), except one in
// c.ProbeEvery to keep measuring; they resume when the share falls under
// c.ResumeBelow. Messages of c.Below bytes or more always get IDONTWANT.
// Nothing changes on the wire. c.Below 0 turns it off. New validates c (an
// error wraps ErrBadOption); it sets GossipConfig.IDontWantLearn, whatever
// the order of this option and WithGossipConfig. Default:
// DefaultIDontWantLearnConfig. See docs/router.md, "Learned IDONTWANT for
// small messages".
func WithLearnedIDontWant(c IDontWantLearnConfig) Option {
	return func(o *config) { o.idwLearn = &c }
}

// PreambleConfig is gossipsub v1.4 PREAMBLE and IMRECEIVING's parameters
// (the size from which forwarded messages are announced, the announce
// window, the source deadline, the bounds on what peers announce to us,
// demotion and penalties of late sources); start from
// DefaultPreambleConfig.
type PreambleConfig = automaton.PreambleConfig

// DefaultPreambleConfig returns PREAMBLE and IMRECEIVING with their
// defaults (see automaton.DefaultPreambleConfig).
func DefaultPreambleConfig() PreambleConfig { return automaton.DefaultPreambleConfig() }

// WithPreamble sets gossipsub v1.4 PREAMBLE and IMRECEIVING, used only
// with peers that advertised v1.4 large-message handling: a forwarded
// message whose data is at least c.MinData bytes is announced with
// PREAMBLE to those mesh peers, whose copies wait a short announce window
// (from their round-trip times) so that a peer already receiving the
// message says so (IMRECEIVING) and is not sent it; a PREAMBLE received
// picks its sender as the message's source and tells our other v1.4 mesh
// peers IMRECEIVING, falling back to IWANT to another announcer if the
// source does not send in time. c.MinData 0 turns sending PREAMBLE and
// choosing sources off. Peers without v1.4 see nothing change. New
// validates c (an error wraps ErrBadOption) and sets c.MaxMessageSize to
// the maximum RPC size (WithMaxRPCSize); it sets GossipConfig.Preamble,
// whatever the order of this option and WithGossipConfig. Default:
// DefaultPreambleConfig. See docs/router.md, "GossipSub v1.4 PREAMBLE and
// IMRECEIVING".
func WithPreamble(c PreambleConfig) Option {
	return func(o *config) { o.preamble = &c }
}

// WithSignPolicy sets the message signing policy (default wire.StrictSign).
// wire.StrictNoSign needs WithMessageID as well.
func WithSignPolicy(p wire.SignPolicy) Option { return func(o *config) { o.signPolicy = p } }

// WithMessageID sets the message id function of every topic that does not
// set its own with WithTopicMessageID (default wire.DefaultMsgID: from ||
// seqno). All nodes of a topic must use the same function.
func WithMessageID(fn wire.MsgIDFunc) Option {
	return func(o *config) { o.msgID, o.msgIDSet = fn, true }
}

// WithMessageIDPrefix declares that the id function set with WithMessageID
// reads nothing of a message but the first n bytes of its data (for example
// an id that is the data's first 8 bytes), so that the id of a message is
// known from the first bytes of its frame. The router then, for a frame of
// at least EarlyHeadMinFrame bytes, computes the id of the frame's first
// message from the frame's head and sends IDONTWANT for it to its mesh
// peers while the rest of the frame is still arriving, not once the whole
// message is in: earlier by the message's transfer time, so that more mesh
// peers learn in time to skip their own copy. While a joined topic has its
// own id function (WithTopicMessageID) the router does not do it. Default
// 0: off (ids such as hashes of the whole data need the whole message).
// With an id function that reads more than it was declared to, IDONTWANT
// names the wrong id: the peers then still send the message.
func WithMessageIDPrefix(n int) Option { return func(o *config) { o.idPrefix = n } }

// WithMaxRPCSize sets the largest RPC accepted from or sent to a peer
// (default 1 MiB). Larger inbound frames cost the sender its stream; larger
// outbound RPCs are split; a message that cannot fit is refused by Publish.
func WithMaxRPCSize(n int) Option { return func(o *config) { o.maxRPCSize = n } }

// WithPeerQueues sets the per-peer outbound queue bounds: data messages and
// control RPCs (defaults DefaultPeerDataQueue, DefaultPeerControlQueue).
// Control is written before data; when a queue is full the newest entry is
// dropped and counted, and EvtPeerQueueOverflowed is emitted.
func WithPeerQueues(data, control int) Option {
	return func(o *config) { o.dataQueue, o.controlQueue = data, control }
}

// WithSubscriptionBuffer sets the default buffer of a Subscription (default
// DefaultSubscriptionBuffer); SubscriptionBuffer overrides it per subscription.
func WithSubscriptionBuffer(n int) Option { return func(o *config) { o.subBuffer = n } }

// WithValidationConcurrency sets the default per-topic bound on concurrent
// asynchronous validations (default DefaultValidationConcurrency).
func WithValidationConcurrency(n int) Option { return func(o *config) { o.valConc = n } }

// WithValidationTimeout sets the deadline of a validator's context (default
// DefaultValidationTimeout). The router waits for the verdict regardless, so
// validators should return ValidationIgnore once ctx is done.
func WithValidationTimeout(d time.Duration) Option { return func(o *config) { o.valTimeout = d } }

// WithDirectPeers marks peers as direct: every message is forwarded to them,
// they never join a mesh. Keeping them connected is the peer manager's job.
func WithDirectPeers(ps ...peer.ID) Option {
	return func(o *config) {
		if o.direct == nil {
			o.direct = make(map[peer.ID]struct{})
		}
		for _, p := range ps {
			o.direct[p] = struct{}{}
		}
	}
}

// WithRegisterer registers the router's metrics on reg (default nil: the
// router keeps no metrics at all, and counting costs one nil check). The
// metrics' descriptors are shared by every router in the process; a
// router's own part is one array of numbers. Two routers cannot share one
// registry (their names would collide).
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *config) { o.reg = reg } }

// WithLogger sets the logger; nil means the default, slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *config) { o.log = l } }

// WithClock sets the clock the router reads time and runs its heartbeat and
// timers from; nil means the default, the wall clock (clock.New()). Tests
// pass clock.NewMock().
func WithClock(c clock.Clock) Option { return func(o *config) { o.clk = c } }

// WithSeed seeds the automaton's random choices (peer selection, gossip
// targets) for reproducible runs; the default seed is random.
func WithSeed(seed uint64) Option { return func(o *config) { o.seed, o.seedSet = seed, true } }
