package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/meshbus/meshbus/bench/internal/cputime"
	"github.com/meshbus/meshbus/host"
)

// gsNode is one go-libp2p-pubsub node: the reference the meshbus router is
// measured against, on a libp2p host built like host.New builds its own
// (TCP and QUIC on loopback, metrics off).
type gsNode struct {
	h     corehost.Host
	ps    *pubsub.PubSub
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	mesh  *meshTracer
}

// meshTracer counts a node's mesh peers in the bench topic from the
// router's GRAFT/PRUNE trace, since go-libp2p-pubsub does not expose its
// mesh.
type meshTracer struct {
	mu   sync.Mutex
	mesh map[peer.ID]bool
	dups int
}

func (t *meshTracer) size() int { t.mu.Lock(); defer t.mu.Unlock(); return len(t.mesh) }

func (t *meshTracer) Graft(p peer.ID, topic string) {
	if topic == topicName {
		t.mu.Lock()
		t.mesh[p] = true
		t.mu.Unlock()
	}
}

func (t *meshTracer) Prune(p peer.ID, topic string) {
	if topic == topicName {
		t.mu.Lock()
		delete(t.mesh, p)
		t.mu.Unlock()
	}
}

func (t *meshTracer) DuplicateMessage(*pubsub.Message) { t.mu.Lock(); t.dups++; t.mu.Unlock() }

func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *meshTracer) OnClosedOutboundStream(peer.ID)                       {}
func (t *meshTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (t *meshTracer) Join(string)                                          {}
func (t *meshTracer) Leave(string)                                         {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)                      {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)                       {}
func (t *meshTracer) RejectMessage(*pubsub.Message, string)                {}
func (t *meshTracer) ThrottlePeer(peer.ID)                                 {}
func (t *meshTracer) RecvRPC(*pubsub.RPC)                                  {}
func (t *meshTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (t *meshTracer) UndeliverableMessage(*pubsub.Message)                 {}

// RunGossipsub is Run with go-libp2p-pubsub's GossipSub router (default
// parameters but a per-peer outbound queue of 256 as meshbus has, strict
// signing) in place of meshbus nodes: same hosts'
// transports, same links, same publishers and timing. It does not count
// RPCs.
func RunGossipsub(cfg Config) (*Result, error) {
	if cfg.Nodes < 2 || cfg.Messages < 1 || cfg.Size < 8 {
		return nil, errors.New("need at least 2 nodes, 1 message and 8-byte messages")
	}
	ctx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed))
	nodes := make([]*gsNode, 0, cfg.Nodes)
	defer func() {
		for _, n := range nodes {
			n.sub.Cancel()
			_ = n.topic.Close()
			_ = n.h.Close()
		}
	}()
	for i := 0; i < cfg.Nodes; i++ {
		h, err := libp2p.New(libp2p.ListenAddrStrings(host.DefaultListenAddrs...),
			libp2p.Transport(tcp.NewTCPTransport), libp2p.Transport(libp2pquic.NewTransport), libp2p.DisableMetrics())
		if err != nil {
			return nil, err
		}
		tr := &meshTracer{mesh: make(map[peer.ID]bool)}
		// The meshbus router's default per-peer queue is 256 messages;
		// go-libp2p-pubsub's default (32) drops messages in this run.
		ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithRawTracer(tr), pubsub.WithPeerOutboundQueueSize(256))
		if err != nil {
			_ = h.Close()
			return nil, err
		}
		n := &gsNode{h: h, ps: ps, mesh: tr}
		if n.topic, err = ps.Join(topicName); err != nil {
			_ = h.Close()
			return nil, err
		}
		if n.sub, err = n.topic.Subscribe(pubsub.WithBufferSize(cfg.Messages)); err != nil {
			_ = h.Close()
			return nil, err
		}
		nodes = append(nodes, n)
	}
	for i := range nodes {
		peers := map[int]bool{(i + 1) % len(nodes): true}
		for len(peers) < cfg.Degree+1 && len(peers) < len(nodes)-1 {
			if j := rng.IntN(len(nodes)); j != i {
				peers[j] = true
			}
		}
		for j := range peers {
			cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			err := nodes[i].h.Connect(cctx, peer.AddrInfo{ID: nodes[j].h.ID(), Addrs: nodes[j].h.Addrs()})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("connect %d-%d: %w", i, j, err)
			}
		}
	}
	want := min(pubsub.GossipSubDlo, cfg.Nodes-1)
	if err := waitFor(cfg.Timeout, func() bool {
		for _, n := range nodes {
			if n.mesh.size() < want {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("mesh formation (every node >= %d mesh peers): %w", want, err)
	}
	res := &Result{Expected: cfg.Messages * (cfg.Nodes - 1)}
	for _, n := range nodes {
		res.MeshSizes = append(res.MeshSizes, n.mesh.size())
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			self := n.h.ID()
			for {
				m, err := n.sub.Next(rctx)
				if err != nil {
					return
				}
				if m.ReceivedFrom == self {
					continue
				}
				lat := time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(m.Data))))
				mu.Lock()
				res.Received++
				res.Latencies = append(res.Latencies, lat)
				mu.Unlock()
			}
		}()
	}
	dups0 := 0
	for _, n := range nodes {
		n.mesh.mu.Lock()
		dups0 += n.mesh.dups
		n.mesh.mu.Unlock()
	}
	cpu0, start := cputime.Process(), time.Now()
	tick := time.NewTicker(cfg.Interval)
	for i := 0; i < cfg.Messages; i++ {
		data := make([]byte, cfg.Size)
		binary.BigEndian.PutUint64(data, uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint32(data[len(data)-4:], uint32(i))
		if err := nodes[rng.IntN(len(nodes))].topic.Publish(ctx, data); err != nil {
			return nil, fmt.Errorf("publish %d: %w", i, err)
		}
		<-tick.C
	}
	tick.Stop()
	if afterPublish != nil {
		afterPublish()
	}
	err := waitFor(cfg.Timeout, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return res.Received >= res.Expected
	})
	res.Wall, res.CPU = time.Since(start), cputime.Process()-cpu0
	stop()
	wg.Wait()
	for _, n := range nodes {
		n.mesh.mu.Lock()
		res.Duplicates += float64(n.mesh.dups)
		n.mesh.mu.Unlock()
	}
	res.Duplicates -= float64(dups0)
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	if err != nil {
		return res, fmt.Errorf("received %d of %d: %w", res.Received, res.Expected, err)
	}
	return res, nil
}
