package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/internal/p2phost"
)

// gossipSubNode is a go-libp2p-pubsub GossipSub node configured like a
// default meshbus node: the same libp2p host options (listen addresses,
// transports, metrics off), StrictSign, the default
// message id, the default D parameters, and peer scoring on with the global
// parameters and thresholds meshbus's scoring defaults to (no topic
// parameters, loopback whitelisted for colocation).
type gossipSubNode struct {
	h      corehost.Host
	ps     *pubsub.PubSub
	cancel context.CancelFunc
	tracer *meshTracer
	topics map[string]*pubsub.Topic
	subs   map[string]*pubsub.Subscription
}

func newGossipSubNode(ctx context.Context, cfg Config) (benchNode, error) {
	// The libp2p host is built as host.New builds a meshbus node's: the
	// TCP and QUIC transports only, libp2p's own metrics off, and the
	// libp2p defaults for the rest (resource manager, connection manager
	// with watermarks 160/192, security and muxers). It listens on
	// cfg.Transport alone, as the meshbus node does.
	addr, err := listenAddr(cfg)
	if err != nil {
		return nil, err
	}
	listen, err := ma.NewMultiaddr(addr)
	if err != nil {
		return nil, err
	}
	// Listening after the build (internal/p2phost), as host.New does: a
	// listen failure then leaves none of go-libp2p's goroutines behind.
	h, err := p2phost.New([]ma.Multiaddr{listen},
		libp2p.Transport(tcp.NewTCPTransport), libp2p.Transport(quic.NewTransport), libp2p.DisableMetrics())
	if err != nil {
		return nil, err
	}
	tr := &meshTracer{mesh: map[string]map[peer.ID]struct{}{}, stages: cfg.stages}
	if cfg.stages != nil {
		tr.node = cfg.stages.node()
		cfg.stages.setPeer(tr.node, h.ID())
	}
	nctx, cancel := context.WithCancel(ctx)
	ps, err := pubsub.NewGossipSub(nctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithPeerScore(gossipSubScoreParams(), gossipSubThresholds()),
		pubsub.WithFloodPublish(cfg.FloodPublish),
		pubsub.WithRawTracer(tr))
	if err != nil {
		cancel()
		h.Close()
		return nil, err
	}
	return &gossipSubNode{h: h, ps: ps, cancel: cancel, tracer: tr,
		topics: map[string]*pubsub.Topic{}, subs: map[string]*pubsub.Subscription{}}, nil
}

// gossipSubScoreParams mirrors meshbus's scoring.DefaultParams.
func gossipSubScoreParams() *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:               50,
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -5,
		IPColocationFactorThreshold: 10,
		IPColocationFactorWhitelist: []*net.IPNet{prefix("127.0.0.0/8"), prefix("::1/128")},
		BehaviourPenaltyWeight:      -1,
		BehaviourPenaltyDecay:       0.98,
		DecayInterval:               time.Second,
		DecayToZero:                 0.01,
		RetainScore:                 10 * time.Minute,
	}
}

// gossipSubThresholds mirrors meshbus's scoring.DefaultThresholds.
func gossipSubThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             -10,
		PublishThreshold:            -50,
		GraylistThreshold:           -80,
		AcceptPXThreshold:           100,
		OpportunisticGraftThreshold: 3,
	}
}

func prefix(s string) *net.IPNet {
	p := netip.MustParsePrefix(s)
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (g *gossipSubNode) ID() peer.ID { return g.h.ID() }
func (g *gossipSubNode) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: g.h.ID(), Addrs: g.h.Addrs()}
}
func (g *gossipSubNode) Connect(ctx context.Context, ai peer.AddrInfo) error {
	return g.h.Connect(ctx, ai)
}

func (g *gossipSubNode) Join(topic string, buffer int) error {
	t, err := g.ps.Join(topic)
	if err != nil {
		return err
	}
	s, err := t.Subscribe(pubsub.WithBufferSize(buffer))
	if err != nil {
		return err
	}
	g.topics[topic], g.subs[topic] = t, s
	return nil
}

func (g *gossipSubNode) MeshSize(topic string) int { return g.tracer.meshSize(topic) }

func (g *gossipSubNode) Publish(ctx context.Context, topic string, data []byte) error {
	t, ok := g.topics[topic]
	if !ok {
		return fmt.Errorf("publish to %q before Join", topic)
	}
	return t.Publish(ctx, data)
}

func (g *gossipSubNode) Next(ctx context.Context, topic string) (peer.ID, string, []byte, error) {
	m, err := g.subs[topic].Next(ctx)
	if err != nil {
		return "", "", nil, err
	}
	return m.GetFrom(), m.ID, m.Data, nil
}

func (g *gossipSubNode) Counters() (float64, float64) {
	return float64(g.tracer.duplicates.Load()), float64(g.tracer.rpcsOut.Load())
}

func (g *gossipSubNode) Close() error {
	for _, s := range g.subs {
		s.Cancel()
	}
	for _, t := range g.topics {
		t.Close()
	}
	g.cancel()
	return g.h.Close()
}

// meshTracer counts duplicates and sent RPCs and follows the mesh from
// go-libp2p-pubsub's tracer callbacks, and with -stages records its
// messages' stages: received when its event loop takes an RPC (RecvRPC),
// queued when it queues one for a peer (SendRPC), writing and written from
// SendRPCCompleted and the write's duration.
type meshTracer struct {
	duplicates, rpcsOut atomic.Int64
	mu                  sync.Mutex
	mesh                map[string]map[peer.ID]struct{}
	stages              *stageLog // nil without -stages
	node                int       // this node's index in stages
}

// stageMsgs records stage k at t for each message of rpc, from or to p.
// The id is go-libp2p-pubsub's default message id (from || seqno), the
// one the bench configures.
func (t *meshTracer) stageMsgs(at time.Time, k stageKind, rpc *pubsub.RPC, p peer.ID) {
	for _, m := range rpc.GetPublish() {
		t.stages.addAt(at, k, string(m.GetFrom())+string(m.GetSeqno()), t.node, p)
	}
}

func (t *meshTracer) meshSize(topic string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.mesh[topic])
}

func (t *meshTracer) Graft(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mesh[topic] == nil {
		t.mesh[topic] = map[peer.ID]struct{}{}
	}
	t.mesh[topic][p] = struct{}{}
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh[topic], p)
}

func (t *meshTracer) DuplicateMessage(*pubsub.Message) { t.duplicates.Add(1) }
func (t *meshTracer) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	t.rpcsOut.Add(1)
	if t.stages != nil {
		t.stageMsgs(time.Now(), stQueued, rpc, p)
	}
}

func (t *meshTracer) RecvRPC(rpc *pubsub.RPC) {
	if t.stages != nil {
		t.stageMsgs(time.Now(), stReceived, rpc, rpc.From())
	}
}

func (t *meshTracer) SendRPCCompleted(rpc *pubsub.RPC, p peer.ID, d time.Duration) {
	if t.stages != nil {
		now := time.Now()
		t.stageMsgs(now.Add(-d), stWriting, rpc, p)
		t.stageMsgs(now, stWritten, rpc, p)
	}
}

func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (t *meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (t *meshTracer) Join(string)                              {}
func (t *meshTracer) Leave(string)                             {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)          {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)           {}
func (t *meshTracer) RejectMessage(*pubsub.Message, string)    {}
func (t *meshTracer) ThrottlePeer(peer.ID)                     {}
func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (t *meshTracer) UndeliverableMessage(*pubsub.Message)     {}
