package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
	"github.com/meshbus/meshbus/interop/testplans/script"
)

// Queue and size bounds, the same as the reference node's.
const (
	maxRPCSize    = 10 << 20
	peerDataQueue = 600
	eventBuffer   = 1 << 14
)

// listenAddr is where the node listens: the plans' TCP port 9000 on every
// interface. Tests set it to a loopback address with port 0.
var listenAddr = fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", script.Port)

// backend runs the script on a meshbus node.
type backend struct {
	id  int
	rec *script.Recorder
	log *slog.Logger

	node    *host.Node
	r       *router.Router
	topics  map[string]*router.Topic
	subs    []*router.Subscription
	delays  map[string]time.Duration
	vals    map[string]bool // topics with the recording validator registered
	groups  script.PartialGroups
	wg      sync.WaitGroup
	closers []func() error
}

func newBackend(id int, rec *script.Recorder, log *slog.Logger) *backend {
	return &backend{id: id, rec: rec, log: log, topics: map[string]*router.Topic{}, delays: map[string]time.Duration{}, vals: map[string]bool{}}
}

// gossipConfig applies the plans' parameters over meshbus's defaults and
// lists those that have no meshbus counterpart; k reads the knobs that
// change the gossip configuration.
func gossipConfig(p script.GossipSubParams, k *knobs) (router.GossipConfig, []string) {
	c := router.DefaultGossipConfig()
	// The plans' go node runs go-libp2p-pubsub without WithFloodPublish,
	// whose default there is off: a publisher sends to its mesh (or fanout)
	// only. meshbus's default is on (every topic peer gets our own
	// messages); the plans have no parameter for it, so the node follows
	// the reference. Flood publishing sends the publisher's copy to peers
	// that then also get one from each mesh peer: measured at 32 nodes it
	// added about 1.5 duplicates per delivery.
	// MESHBUS_FLOOD_PUBLISH=1 turns it back on, to measure the trade.
	c.FloodPublish = k.flag("MESHBUS_FLOOD_PUBLISH", false)
	// go-libp2p-pubsub trims a mesh at its heartbeat once it holds Dhi
	// peers (the spec says above Dhi). With the same Dhi, meshbus's meshes
	// were measured 1.2 peers larger on average at 32 nodes (8.6 against
	// 7.4), each extra mesh peer being one more copy of every message.
	c.TrimAtDhi = true
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setD := func(dst *time.Duration, v *script.Nanos) {
		if v != nil {
			*dst = time.Duration(*v)
		}
	}
	setI(&c.D, p.D)
	setI(&c.Dlo, p.Dlo)
	setI(&c.Dhi, p.Dhi)
	setI(&c.Dscore, p.Dscore)
	setI(&c.Dout, p.Dout)
	setI(&c.HistoryLength, p.HistoryLength)
	setI(&c.HistoryGossip, p.HistoryGossip)
	setI(&c.Dlazy, p.Dlazy)
	if p.GossipFactor != nil {
		c.GossipFactor = *p.GossipFactor
	}
	setI(&c.GossipRetransmission, p.GossipRetransmission)
	setD(&c.HeartbeatInterval, p.HeartbeatInterval)
	setD(&c.FanoutTTL, p.FanoutTTL)
	setI(&c.PrunePeers, p.PrunePeers)
	setD(&c.PruneBackoff, p.PruneBackoff)
	setD(&c.UnsubscribeBackoff, p.UnsubscribeBackoff)
	setI(&c.OpportunisticGraftTicks, p.OpportunisticGraftTicks)
	setI(&c.OpportunisticGraftPeers, p.OpportunisticGraftPeers)
	setD(&c.GraftFloodThreshold, p.GraftFloodThreshold)
	setI(&c.MaxIHaveLength, p.MaxIHaveLength)
	setI(&c.MaxIHaveMessages, p.MaxIHaveMessages)
	setI(&c.MaxIDontWantMessages, p.MaxIDontWantMessages)
	setD(&c.IWantFollowupTime, p.IWantFollowupTime)
	setI(&c.IDontWantThreshold, p.IDontWantMessageThreshold)
	// MESHBUS_GRAFT_LIMIT_D=1: refuse inbound GRAFTs at D mesh peers
	// instead of Dhi (see docs/testplans.md, "Round 6").
	c.GraftLimitD = k.flag("MESHBUS_GRAFT_LIMIT_D", defaultGraftLimitD)
	// MESHBUS_STAGGER=0: forward large messages to every mesh peer at
	// once, as before staggered forwarding (docs/router.md), to measure it
	// over the plans' links.
	if !k.flag("MESHBUS_STAGGER", true) {
		c.Stagger = router.StaggerConfig{}
	}
	// MESHBUS_IDW_LEARN=0: send IDONTWANT for every message of at least
	// IDontWantThreshold bytes to every v1.2 mesh peer, as before learned
	// IDONTWANT (docs/router.md), to measure it over the plans' links;
	// MESHBUS_IDW_LEARN=1: learned IDONTWANT with its defaults.
	if set("MESHBUS_IDW_LEARN") {
		c.IDontWantLearn = router.IDontWantLearnConfig{}
		if k.flag("MESHBUS_IDW_LEARN", true) {
			c.IDontWantLearn = router.DefaultIDontWantLearnConfig()
		}
	}
	var notes []string
	ignored := func(name string, set bool, why string) {
		if set {
			notes = append(notes, fmt.Sprintf("%s not applied: %s", name, why))
		}
	}
	ignored("HeartbeatInitialDelay", p.HeartbeatInitialDelay != nil, "the router's first heartbeat is one HeartbeatInterval after start")
	ignored("SlowHeartbeatWarning", p.SlowHeartbeatWarning != nil, "no such warning in meshbus")
	ignored("Connectors", p.Connectors != nil, "PX dialing belongs to the peer manager, left out here")
	ignored("MaxPendingConnections", p.MaxPendingConnections != nil, "PX dialing belongs to the peer manager, left out here")
	ignored("ConnectionTimeout", p.ConnectionTimeout != nil, "PX dialing belongs to the peer manager, left out here")
	ignored("DirectConnectTicks", p.DirectConnectTicks != nil, "no direct peers in the plans")
	ignored("DirectConnectInitialDelay", p.DirectConnectInitialDelay != nil, "no direct peers in the plans")
	ignored("MaxIDontWantLength", p.MaxIDontWantLength != nil, "meshbus bounds remembered IDONTWANT ids per peer (MaxIDontWant), not per message")
	ignored("IDontWantMessageTTL", p.IDontWantMessageTTL != nil, "meshbus keeps IDONTWANT ids for HistoryLength heartbeats")
	return c, notes
}

// latencyMesh reports whether the node runs the RTT prober
// (components/rtt) and router.WithLatencyAwareMesh: on unless
// MESHBUS_LATENCY_MESH=0, which the A/B runs in docs/testplans.md use to
// turn it off.
func latencyMesh(k *knobs) bool { return k.flag("MESHBUS_LATENCY_MESH", true) }

// Measured in docs/testplans.md, "Round 4": what makes the node faster
// than go-libp2p-pubsub in the plans' scenarios is publishing its own
// small messages also to the 6 fastest non-mesh peers; choosing mesh peers
// by RTT did not help there (the runner's latencies are per node, so every
// node prefers the same few peers, and Dhi caps them), and is left uniform.
// Round 5: each extra costs two duplicates per message (its own copy, and
// the mesh copy its receiver then also gets). Sending an IDONTWANT instead
// of the message to as many of the fastest mesh peers
// (MESHBUS_PUBLISH_SKIP=6) pays for them, duplicates then level with go's,
// but it also took the latency lead away (reach-all p50 level with go's);
// the node keeps the lead and the skip stays off.
const (
	defaultPublishExtra = 6
	defaultRandomShare  = 1.0 // uniform mesh selection
	defaultSwapTicks    = 0   // no swaps
	defaultPublishSkip  = 0   // see below
)

// Round 6 (docs/testplans.md): learned lazy forwarding (the router's
// defaults: at least 5 candidate mesh peers eager, IHAVE to peers whose
// copies were wasted 95% of the time or more) took basic's duplicates
// below go-libp2p-pubsub's and kept the latency lead, so the node runs it
// (MESHBUS_LAZY=0 turns it off; MESHBUS_LAZY_MIN_EAGER,
// MESHBUS_LAZY_THRESHOLD and MESHBUS_LAZY_MIN_SAMPLES tune it). Round 6
// measured one immediate IHAVE per lazy copy, so the node keeps that
// (FlushInterval 0) unless MESHBUS_LAZY_FLUSH gives a duration (batched
// IHAVEs, see docs/router.md; the plans' 16-message runs are too short
// for a batch to hold more than an id or two). Refusing
// GRAFTs at D (MESHBUS_GRAFT_LIMIT_D=1) made meshes smaller and the
// latency tail longer: off.
const (
	defaultLazy        = true
	defaultGraftLimitD = false
)

// lazyConfig returns the router's learned lazy forwarding settings from
// the knobs (defaultLazy and the library's defaults otherwise).
func lazyConfig(k *knobs) router.LazyConfig {
	lz := router.DefaultLazyConfig()
	lz.Enabled = k.flag("MESHBUS_LAZY", defaultLazy)
	lz.MinEager = k.count("MESHBUS_LAZY_MIN_EAGER", lz.MinEager)
	lz.WasteThreshold = k.fraction("MESHBUS_LAZY_THRESHOLD", lz.WasteThreshold)
	lz.MinSamples = k.count("MESHBUS_LAZY_MIN_SAMPLES", lz.MinSamples)
	lz.FlushInterval = k.duration("MESHBUS_LAZY_FLUSH", 0)
	return lz
}

func (b *backend) Init(ctx context.Context, p script.GossipSubParams) ([]string, error) {
	var k knobs
	gc, notes := gossipConfig(p, &k)
	var r *router.Router
	var extra []host.Option
	ropts := []router.Option{
		router.WithGossipConfig(gc),
		router.WithSignPolicy(wire.StrictNoSign),
		router.WithMessageID(func(m *pb.Message) string { return script.MsgID(m.GetData()) }),
		// The plans' id is the data's first 8 bytes: IDONTWANT for a large
		// message can go out from its first bytes (see docs/testplans.md).
		router.WithMessageIDPrefix(8),
		router.WithMaxRPCSize(maxRPCSize),
		router.WithPeerQueues(peerDataQueue, router.DefaultPeerControlQueue),
		router.WithLogger(b.log),
		router.WithPartialMessages(router.DefaultPartialConfig()),
	}
	if lz := lazyConfig(&k); lz.Enabled {
		ropts = append(ropts, router.WithLazyForwarding(lz))
		notes = append(notes, fmt.Sprintf("learned lazy forwarding on (MESHBUS_LAZY=0 turns it off): min eager %d, waste threshold %.2f, min samples %d, flush interval %v",
			lz.MinEager, lz.WasteThreshold, lz.MinSamples, lz.FlushInterval))
	}
	if gc.GraftLimitD {
		notes = append(notes, "GRAFTs refused at D mesh peers (MESHBUS_GRAFT_LIMIT_D)")
	}
	// Choking is on by default (router.DefaultChokeConfig), but chokes only
	// peers within its MaxRTT (10 ms), which the plans' 10-40 ms links are
	// not: MESHBUS_CHOKE=0 turns it off, MESHBUS_CHOKE_MAXRTT (a duration,
	// 0 for any RTT) moves the gate, for A/B runs. The plans' basic
	// scenario publishes too few small messages for a decision anyway
	// (FirstFirsts, MinFirsts), and blob's messages are over MaxData.
	if set("MESHBUS_CHOKE", "MESHBUS_CHOKE_MAXRTT") {
		cc := router.DefaultChokeConfig()
		cc.MaxRTT = k.duration("MESHBUS_CHOKE_MAXRTT", cc.MaxRTT)
		if !k.flag("MESHBUS_CHOKE", true) {
			cc = router.ChokeConfig{}
		}
		ropts = append(ropts, router.WithChoking(cc))
		notes = append(notes, fmt.Sprintf("choke extension on %v, max RTT %v (MESHBUS_CHOKE, MESHBUS_CHOKE_MAXRTT)", cc.Enabled, cc.MaxRTT))
	}
	// MESHBUS_LARGE=0: no gossipsub v1.4 (no /meshsub/1.4.0 Extensions
	// flag, so no PREAMBLE or IMRECEIVING between meshbus nodes), to
	// measure v1.4 over the plans' links.
	if !k.flag("MESHBUS_LARGE", true) {
		ropts = append(ropts, router.WithoutLargeMessages())
		notes = append(notes, "gossipsub v1.4 large-message handling off (MESHBUS_LARGE=0)")
	}
	// MESHBUS_PREAMBLE_IMMEDIATE=N: N copies of a forwarded large message
	// go before their peers answer (router.PreambleConfig.Immediate);
	// MESHBUS_PREAMBLE_PULL=0: receivers do not ask their chosen source
	// with IWANT (router.PreambleConfig.Pull), for A/B runs.
	if pc := router.DefaultPreambleConfig(); set("MESHBUS_PREAMBLE_IMMEDIATE", "MESHBUS_PREAMBLE_PULL") {
		pc.Immediate = k.count("MESHBUS_PREAMBLE_IMMEDIATE", pc.Immediate)
		pc.Pull = k.flag("MESHBUS_PREAMBLE_PULL", pc.Pull)
		ropts = append(ropts, router.WithPreamble(pc))
		notes = append(notes, fmt.Sprintf("PREAMBLE: %d copies before their peers answer, pull %v", pc.Immediate, pc.Pull))
	}
	if latencyMesh(&k) {
		// The RTTs come from the host's built-in prober (host.ComponentRTT):
		// a ping on connect and then at the prober's default interval. The
		// plans' links keep their latency, so the first measurement is
		// what the publish extras need, and probing every 5 s cost each
		// node about 0.3 s of CPU per run (docs/testplans.md).
		lc := router.DefaultLatencyConfig()
		// For A/B runs: MESHBUS_PUBLISH_EXTRA=N, and MESHBUS_RANDOM_SHARE=0.333
		// with MESHBUS_SWAP_TICKS=3 for RTT-preferring mesh selection (the
		// library's defaults).
		lc.PublishExtra = k.count("MESHBUS_PUBLISH_EXTRA", defaultPublishExtra)
		lc.RandomShare = k.fraction("MESHBUS_RANDOM_SHARE", defaultRandomShare)
		lc.SwapTicks = k.count("MESHBUS_SWAP_TICKS", defaultSwapTicks)
		// MESHBUS_EXTRA_RANDOM=1: the extras drawn at random, not the fastest.
		lc.PublishExtraRandom = k.flag("MESHBUS_EXTRA_RANDOM", false)
		lc.PublishMeshSkip = k.count("MESHBUS_PUBLISH_SKIP", defaultPublishSkip)
		lc.PublishMeshSkipFastest = k.flag("MESHBUS_SKIP_FASTEST", true)
		ropts = append(ropts, router.WithLatencyAwareMesh(lc))
		notes = append(notes, fmt.Sprintf("RTT prober and latency-aware selection on (MESHBUS_LATENCY_MESH=0 turns them off): random share %.2f, swap every %d heartbeats, publish extra %d (random %v), mesh skip %d (fastest %v)",
			lc.RandomShare, lc.SwapTicks, lc.PublishExtra, lc.PublishExtraRandom, lc.PublishMeshSkip, lc.PublishMeshSkipFastest))
	} else {
		// No prober either, as before it was built in: no RTTs at all.
		extra = append(extra, host.WithoutComponent(host.ComponentRTT))
	}
	if err := k.err(); err != nil {
		return nil, err
	}
	opts := []host.Option{
		host.WithIdentity(script.NodeKey(b.id)),
		host.WithListenAddrs(listenAddr),
		host.WithLibp2pOptions(
			libp2p.SwarmOpts(swarm.WithDialTimeoutLocal(script.DialTimeout)),
			libp2p.WithDialTimeout(script.DialTimeout),
		),
		host.WithLogger(b.log),
		host.WithoutComponent(host.ComponentScoring),
		host.WithoutComponent(host.ComponentPeerMgr),
		host.WithFx(router.Options(ropts...), fx.Populate(&r)),
	}
	node, err := host.New(ctx, append(opts, extra...)...)
	if err != nil {
		return notes, err
	}
	b.node = node
	b.closers = append(b.closers, node.Close)
	b.r = r
	return notes, b.watch()
}

// watch records the copies the router reports on the bus: duplicates, and
// messages refused before validation (they were received all the same).
// First copies are recorded by the topic validator, at receipt.
func (b *backend) watch() error {
	bus := b.node.Bus()
	dups, err := eventbus.Subscribe[events.EvtMessageDuplicated](bus, eventbus.BufSize(eventBuffer), eventbus.WithPolicy(eventbus.Block), eventbus.Name("interop-duplicates"))
	if err != nil {
		return err
	}
	rejs, err := eventbus.Subscribe[events.EvtMessageRejected](bus, eventbus.BufSize(eventBuffer), eventbus.WithPolicy(eventbus.Block), eventbus.Name("interop-rejects"))
	if err != nil {
		dups.Close()
		return err
	}
	b.closers = append(b.closers, dups.Close, rejs.Close)
	if script.MeshRecords() {
		if err := b.watchMesh(); err != nil {
			return err
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for d, r := dups.Out(), rejs.Out(); d != nil || r != nil; {
			select {
			case ev, ok := <-d:
				if !ok {
					d = nil
					continue
				}
				b.rec.Received(ev.At, ev.ID, ev.From, ev.Topic)
			case ev, ok := <-r:
				if !ok {
					r = nil
					continue
				}
				// Validator verdicts are recorded at receipt already; the
				// other reasons are copies refused before validation.
				switch ev.Reason {
				case events.RejectValidationFailed, events.RejectValidationIgnored:
					continue
				}
				if ev.ID != "" {
					b.rec.Received(ev.At, ev.ID, ev.From, ev.Topic)
				}
				b.log.Debug("message rejected", "id", script.FormatID(ev.ID), "from", ev.From, "reason", ev.Reason)
			}
		}
	}()
	return nil
}

// watchMesh writes a Mesh record for every peer entering or leaving a mesh.
func (b *backend) watchMesh() error {
	bus := b.node.Bus()
	gr, err := eventbus.Subscribe[events.EvtPeerGrafted](bus, eventbus.BufSize(eventBuffer), eventbus.WithPolicy(eventbus.Block), eventbus.Name("interop-grafts"))
	if err != nil {
		return err
	}
	pr, err := eventbus.Subscribe[events.EvtPeerPruned](bus, eventbus.BufSize(eventBuffer), eventbus.WithPolicy(eventbus.Block), eventbus.Name("interop-prunes"))
	if err != nil {
		gr.Close()
		return err
	}
	b.closers = append(b.closers, gr.Close, pr.Close)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for g, p := gr.Out(), pr.Out(); g != nil || p != nil; {
			select {
			case ev, ok := <-g:
				if !ok {
					g = nil
					continue
				}
				b.rec.Mesh(ev.At, true, ev.Peer, ev.Topic)
			case ev, ok := <-p:
				if !ok {
					p = nil
					continue
				}
				if ev.Reason != events.PruneReasonGraftRejected {
					b.rec.Mesh(ev.At, false, ev.Peer, ev.Topic)
				}
			}
		}
	}()
	return nil
}

// Connect dials ai. The script retries a failed connect while the other
// node starts, so the swarm's dial backoff for ai (set by the previous
// failure) is cleared first.
func (b *backend) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if sw, ok := b.node.Host().Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	return b.node.Connect(ctx, ai)
}

// registerValidator (re)installs topic's validator: it records every first
// copy at receipt, then waits the topic's validation delay and accepts.
func (b *backend) registerValidator(topic string) error {
	if b.vals[topic] {
		b.r.UnregisterValidator(topic)
	}
	delay := b.delays[topic]
	self := b.r.ID()
	fn := func(ctx context.Context, from peer.ID, m *router.Message) router.ValidationResult {
		if from != self { // local publishes are validated too; they are not receipts
			b.rec.Received(time.Now(), m.ID, from, m.Topic)
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return router.ValidationIgnore
			}
		}
		return router.ValidationAccept
	}
	var opts []router.ValidatorOption
	if delay == 0 {
		opts = append(opts, router.ValidatorInline())
	}
	if err := b.r.RegisterValidator(topic, fn, opts...); err != nil {
		return err
	}
	b.vals[topic] = true
	return nil
}

func (b *backend) Subscribe(ctx context.Context, topic string) error {
	return b.subscribe(topic)
}

// subscribe joins topic (with opts) and drains its subscription; the
// recording validator logs every first copy.
func (b *backend) subscribe(topic string, opts ...router.TopicOption) error {
	if _, ok := b.topics[topic]; ok {
		return nil
	}
	if err := b.registerValidator(topic); err != nil {
		return err
	}
	t, err := b.r.Join(topic, opts...)
	if err != nil {
		return err
	}
	b.topics[topic] = t
	sub, err := t.Subscribe(router.SubscriptionBuffer(4096))
	if err != nil {
		return err
	}
	b.subs = append(b.subs, sub)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			if _, err := sub.Next(context.Background()); err != nil {
				return
			}
		}
	}()
	return nil
}

func (b *backend) SetValidationDelay(topic string, d time.Duration) error {
	b.delays[topic] = d
	return b.registerValidator(topic)
}

// Publish publishes data on topic. A message id the node has already
// published or seen (router.ErrDuplicate) is no error: the message is
// dropped, logged at WARN on stderr, and the script goes on, as
// go-libp2p-pubsub's node (cmd/gopubsub-interop, and the plans' go node)
// drops a repeated publish without an error. Other errors end the run.
func (b *backend) Publish(ctx context.Context, topic string, data []byte) error {
	var err error
	if t, ok := b.topics[topic]; ok {
		err = t.Publish(ctx, data)
	} else {
		err = b.r.Publish(ctx, topic, data)
	}
	if errors.Is(err, router.ErrDuplicate) {
		b.log.Warn("publish of a message id already seen: dropped", "topic", topic, "id", script.FormatID(script.MsgID(data)))
		return nil
	}
	return err
}

// SubscribePartial joins topic requesting (and offering) partial messages
// in the plans' encoding, and subscribes to its full messages too.
func (b *backend) SubscribePartial(ctx context.Context, topic string) error {
	if _, ok := b.topics[topic]; ok {
		return fmt.Errorf("topic %q already joined without partial messages", topic)
	}
	return b.subscribe(topic, router.WithPartial(router.PartialOptions{RequestsPartial: true, SupportsSendingPartial: true, Logic: partialLogic{b}}))
}

// AddPartialMessage adds parts to the group (created if new, or already
// opened by a peer) and writes "All parts received" if that completes it.
func (b *backend) AddPartialMessage(topic string, gid uint64, parts uint8) error {
	g, _ := b.groups.Get(topic, gid)
	if g.Fill(parts) {
		b.rec.AllPartsReceived(time.Now(), gid)
	}
	return nil
}

// PublishPartial offers the group to the mesh, or to the peers to. A topic
// not joined yet is joined offering partial messages (meshbus publishes
// partial messages only on joined topics, and joining subscribes).
func (b *backend) PublishPartial(ctx context.Context, topic string, gid uint64, to []peer.ID) error {
	t, ok := b.topics[topic]
	if !ok {
		b.log.Warn("publishPartial on a topic not subscribed: meshbus joins it (and so subscribes) to publish", "topic", topic)
		if err := b.subscribe(topic, router.WithPartial(router.PartialOptions{SupportsSendingPartial: true, Logic: partialLogic{b}})); err != nil {
			return err
		}
		t = b.topics[topic]
	}
	g := b.groups.Lookup(topic, gid)
	if g == nil {
		return fmt.Errorf("group %d of topic %q: no addPartialMessage and no parts received", gid, topic)
	}
	var opts []router.PublishPartialOption
	if to != nil {
		opts = append(opts, router.PartialTo(to...))
	}
	return t.PublishPartial(ctx, script.GroupIDBytes(gid), partialMsg{g: g, b: b, topic: topic}, opts...)
}

// partialLogic hands the router the node's group for a group id first
// heard of from a peer.
type partialLogic struct{ b *backend }

// NewGroup implements router.PartialLogic: a group id that is not 8 bytes
// is refused (the router rejects the RPC and penalises its sender).
func (l partialLogic) NewGroup(topic string, groupID []byte) (router.PartialMessage, error) {
	gid, err := script.ParseGroupID(groupID)
	if err != nil {
		return nil, err
	}
	g, _ := l.b.groups.Get(topic, gid)
	return partialMsg{g: g, b: l.b, topic: topic}, nil
}

// partialMsg is router.PartialMessage over the plans' encoding: the parts
// metadata is the bitmap of parts held; parts go to a peer once its
// metadata is known, only those it lacks.
type partialMsg struct {
	g     *script.PartialGroup
	b     *backend
	topic string
}

func (m partialMsg) PartsMetadata() []byte { return []byte{m.g.Have()} }

func (m partialMsg) PartsFor(peerMeta []byte) (parts, peerMetaAfter []byte, err error) {
	if peerMeta == nil {
		return nil, nil, nil
	}
	has, err := script.ParseMetadata(peerMeta)
	if err != nil {
		return nil, nil, err
	}
	enc, sent := m.g.Encode(has)
	if enc == nil {
		return nil, nil, nil
	}
	return enc, []byte{has | sent}, nil
}

func (m partialMsg) Extend(parts []byte) (bool, error) {
	added, completed, err := m.g.Extend(parts)
	if completed {
		m.b.rec.AllPartsReceived(time.Now(), m.g.GroupID())
	}
	return added != 0, err
}

func (m partialMsg) Complete() bool { return m.g.Complete() }

// Close stops the node and waits for the recording goroutines.
func (b *backend) Close() error {
	b.logLearnedIDontWant()
	var errs []error
	for _, s := range b.subs {
		errs = append(errs, s.Close())
	}
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	b.wg.Wait()
	return errors.Join(errs...)
}

// logLearnedIDontWant logs the router's learned-IDONTWANT counts
// (meshbus_router_idontwant_learned_total by kind), one line, for A/B runs
// over the plans' links (docs/testplans.md, "Round 8").
func (b *backend) logLearnedIDontWant() {
	if b.node == nil || b.node.Registry() == nil {
		return
	}
	mfs, err := b.node.Registry().Gather()
	if err != nil {
		return
	}
	var attrs []any
	for _, mf := range mfs {
		if mf.GetName() != "meshbus_router_idontwant_learned_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				attrs = append(attrs, l.GetValue(), int64(m.GetCounter().GetValue()))
			}
		}
	}
	b.log.Info("learned IDONTWANT", attrs...)
}
