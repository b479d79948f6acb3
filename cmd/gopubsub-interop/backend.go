package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/connmgr"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/internal/p2phost"
	"github.com/meshbus/meshbus/interop/testplans/script"
)

// Queue and size bounds, as the plans' go node sets them.
const (
	maxMessageSize = 10 << 20
	queueSize      = 600
)

// listenAddr is where the node listens: the plans' TCP port 9000 on every
// interface. Tests set it to a loopback address with port 0.
var listenAddr = fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", script.Port)

// backend runs the script on go-libp2p-pubsub.
type backend struct {
	id  int
	rec *script.Recorder
	log *slog.Logger

	h      corehost.Host
	ps     *pubsub.PubSub
	ctx    context.Context
	cancel context.CancelFunc
	topics map[string]*pubsub.Topic
	subs   []*pubsub.Subscription
	wg     sync.WaitGroup
	groups script.PartialGroups
	work   partialQueue
}

func newBackend(id int, rec *script.Recorder, log *slog.Logger) (*backend, error) {
	addr, err := ma.NewMultiaddr(listenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listenAddr, err)
	}
	// Listening after the host is built (p2phost): go-libp2p's libp2p.New
	// leaks what it started when it cannot listen.
	h, err := p2phost.New([]ma.Multiaddr{addr},
		libp2p.Identity(script.NodeKey(id)),
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.SwarmOpts(swarm.WithDialTimeoutLocal(script.DialTimeout)),
		libp2p.WithDialTimeout(script.DialTimeout),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &backend{id: id, rec: rec, log: log, h: h, ctx: ctx, cancel: cancel, topics: map[string]*pubsub.Topic{}}, nil
}

// params applies the plans' parameters over go-libp2p-pubsub's defaults.
func params(p script.GossipSubParams) pubsub.GossipSubParams {
	g := pubsub.DefaultGossipSubParams()
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
	setU := func(dst *uint64, v *int) {
		if v != nil && *v >= 0 {
			*dst = uint64(*v)
		}
	}
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setI(&g.D, p.D)
	setI(&g.Dlo, p.Dlo)
	setI(&g.Dhi, p.Dhi)
	setI(&g.Dscore, p.Dscore)
	setI(&g.Dout, p.Dout)
	setI(&g.HistoryLength, p.HistoryLength)
	setI(&g.HistoryGossip, p.HistoryGossip)
	setI(&g.Dlazy, p.Dlazy)
	setF(&g.GossipFactor, p.GossipFactor)
	setI(&g.GossipRetransmission, p.GossipRetransmission)
	setD(&g.HeartbeatInitialDelay, p.HeartbeatInitialDelay)
	setD(&g.HeartbeatInterval, p.HeartbeatInterval)
	setF(&g.SlowHeartbeatWarning, p.SlowHeartbeatWarning)
	setD(&g.FanoutTTL, p.FanoutTTL)
	setI(&g.PrunePeers, p.PrunePeers)
	setD(&g.PruneBackoff, p.PruneBackoff)
	setD(&g.UnsubscribeBackoff, p.UnsubscribeBackoff)
	setI(&g.Connectors, p.Connectors)
	setI(&g.MaxPendingConnections, p.MaxPendingConnections)
	setD(&g.ConnectionTimeout, p.ConnectionTimeout)
	setU(&g.DirectConnectTicks, p.DirectConnectTicks)
	setD(&g.DirectConnectInitialDelay, p.DirectConnectInitialDelay)
	setU(&g.OpportunisticGraftTicks, p.OpportunisticGraftTicks)
	setI(&g.OpportunisticGraftPeers, p.OpportunisticGraftPeers)
	setD(&g.GraftFloodThreshold, p.GraftFloodThreshold)
	setI(&g.MaxIHaveLength, p.MaxIHaveLength)
	setI(&g.MaxIHaveMessages, p.MaxIHaveMessages)
	setI(&g.MaxIDontWantLength, p.MaxIDontWantLength)
	setI(&g.MaxIDontWantMessages, p.MaxIDontWantMessages)
	setD(&g.IWantFollowupTime, p.IWantFollowupTime)
	setI(&g.IDontWantMessageThreshold, p.IDontWantMessageThreshold)
	setI(&g.IDontWantMessageTTL, p.IDontWantMessageTTL)
	return g
}

func (b *backend) Init(ctx context.Context, p script.GossipSubParams) ([]string, error) {
	pme := &partialmessages.PartialMessagesExtension[peerParts]{
		Logger:        b.log,
		OnIncomingRPC: b.onPartialRPC,
		OnEmitGossip: func(topic string, groupID []byte, peers []peer.ID, _ map[peer.ID]peerParts) {
			b.work.push(partialJob{topic: topic, gid: groupID, to: slices.Clone(peers)})
		},
	}
	ps, err := pubsub.NewGossipSub(b.ctx, b.h,
		pubsub.WithPartialMessagesExtension(pme),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pubsubpb.Message) string { return script.MsgID(m.GetData()) }),
		pubsub.WithPeerOutboundQueueSize(queueSize),
		pubsub.WithValidateQueueSize(queueSize),
		pubsub.WithMaxMessageSize(maxMessageSize),
		pubsub.WithGossipSubParams(params(p)),
		pubsub.WithRawTracer(recvTracer{rec: b.rec, mesh: script.MeshRecords()}),
	)
	if err != nil {
		return nil, err
	}
	b.ps = ps
	b.work.init()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.partialWorker()
	}()
	return nil, nil
}

// Connect dials ai. The script retries a failed connect while the other
// node starts, so the swarm's dial backoff for ai (set by the previous
// failure) is cleared first.
func (b *backend) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if sw, ok := b.h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(ai.ID)
	}
	return b.h.Connect(ctx, ai)
}

func (b *backend) topic(name string, opts ...pubsub.TopicOpt) (*pubsub.Topic, error) {
	if t, ok := b.topics[name]; ok {
		if len(opts) > 0 {
			return nil, fmt.Errorf("topic %q already joined without partial messages", name)
		}
		return t, nil
	}
	t, err := b.ps.Join(name, opts...)
	if err != nil {
		return nil, err
	}
	b.topics[name] = t
	return t, nil
}

func (b *backend) Subscribe(ctx context.Context, name string) error {
	return b.subscribe(name)
}

func (b *backend) subscribe(name string, opts ...pubsub.TopicOpt) error {
	t, err := b.topic(name, opts...)
	if err != nil {
		return err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return err
	}
	b.subs = append(b.subs, sub)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			if _, err := sub.Next(b.ctx); err != nil {
				return
			}
		}
	}()
	return nil
}

func (b *backend) SetValidationDelay(topic string, d time.Duration) error {
	_ = b.ps.UnregisterTopicValidator(topic) // none registered is fine
	return b.ps.RegisterTopicValidator(topic, func(ctx context.Context, _ peer.ID, _ *pubsub.Message) pubsub.ValidationResult {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return pubsub.ValidationAccept
		case <-ctx.Done():
			return pubsub.ValidationIgnore
		}
	})
}

func (b *backend) Publish(ctx context.Context, name string, data []byte) error {
	t, err := b.topic(name)
	if err != nil {
		return err
	}
	return t.Publish(ctx, data)
}

// Close stops the router and the host and waits for the readers.
func (b *backend) Close() error {
	for _, s := range b.subs {
		s.Cancel()
	}
	b.cancel()
	b.work.close()
	err := b.h.Close()
	b.wg.Wait()
	return errors.Join(err)
}

// recvTracer records every message of every RPC received, and with mesh
// set every peer entering or leaving a mesh.
type recvTracer struct {
	rec  *script.Recorder
	mesh bool
}

func (t recvTracer) RecvRPC(rpc *pubsub.RPC) {
	if len(rpc.GetPublish()) == 0 {
		return
	}
	now := time.Now()
	for _, m := range rpc.GetPublish() {
		t.rec.Received(now, script.MsgID(m.GetData()), rpc.From(), m.GetTopic())
	}
}

func (recvTracer) AddPeer(peer.ID, protocol.ID) {}

// RemovePeer: the peer left every mesh; recorded as a prune of topic "*".
func (t recvTracer) RemovePeer(p peer.ID) {
	if t.mesh {
		t.rec.Mesh(time.Now(), false, p, "*")
	}
}
func (recvTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (recvTracer) OnClosedOutboundStream(peer.ID)           {}
func (recvTracer) Join(string)                              {}
func (recvTracer) Leave(string)                             {}

// Graft is called when p enters our mesh of topic.
func (t recvTracer) Graft(p peer.ID, topic string) {
	if t.mesh {
		t.rec.Mesh(time.Now(), true, p, topic)
	}
}

// Prune is called when p leaves our mesh of topic (a disconnecting peer
// leaves every mesh without a Prune call: see RemovePeer).
func (t recvTracer) Prune(p peer.ID, topic string) {
	if t.mesh {
		t.rec.Mesh(time.Now(), false, p, topic)
	}
}
func (recvTracer) ValidateMessage(*pubsub.Message)                      {}
func (recvTracer) DeliverMessage(*pubsub.Message)                       {}
func (recvTracer) RejectMessage(*pubsub.Message, string)                {}
func (recvTracer) DuplicateMessage(*pubsub.Message)                     {}
func (recvTracer) ThrottlePeer(peer.ID)                                 {}
func (recvTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (recvTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (recvTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (recvTracer) UndeliverableMessage(*pubsub.Message)                 {}
