package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/bench/internal/cputime"
	"github.com/meshbus/meshbus/components/peermgr"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/host"
)

// Result is what one run measured.
type Result struct {
	// Expected is Messages × (Nodes-1): every node but the publisher gets each.
	Expected, Received int
	// Duplicates counts copies that arrived after the first, at all nodes.
	Duplicates float64
	// RPCsOut counts RPCs sent by all nodes while messages flowed.
	RPCsOut float64
	// CPU is the process's CPU time while messages flowed.
	CPU time.Duration
	// Wall is the time from the first publish to the last delivery.
	Wall time.Duration
	// Latencies are publish-to-delivery times, sorted.
	Latencies []time.Duration
	// MeshSizes are the nodes' mesh sizes when publishing started.
	MeshSizes []int
}

type benchNode struct {
	node  *host.Node
	r     *router.Router
	topic *router.Topic
	sub   *router.Subscription
}

const topicName = "bench"

// afterPublish, when set, runs once the last message is published (the
// heap profile of -memprofile).
var afterPublish func()

// Run performs one measured run.
func Run(cfg Config) (*Result, error) {
	if cfg.Nodes < 2 || cfg.Messages < 1 || cfg.Size < 8 {
		return nil, errors.New("need at least 2 nodes, 1 message and 8-byte messages")
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := make([]*benchNode, 0, cfg.Nodes)
	defer func() {
		for _, n := range nodes {
			n.node.Close()
		}
	}()
	for i := 0; i < cfg.Nodes; i++ {
		b := &benchNode{}
		n, err := host.New(ctx, host.WithLogger(quiet),
			host.WithFx(fx.Populate(&b.r)),
			host.WithFx(peermgr.WithOptions(peermgr.WithColocationLimit(0))))
		if err != nil {
			return nil, err
		}
		b.node = n
		nodes = append(nodes, b)
		if b.topic, err = b.r.Join(topicName); err != nil {
			return nil, err
		}
		if b.sub, err = b.topic.Subscribe(router.SubscriptionBuffer(cfg.Messages)); err != nil {
			return nil, err
		}
	}
	// A ring keeps the graph connected; random links give it a degree.
	for i := range nodes {
		peers := map[int]bool{(i + 1) % len(nodes): true}
		for len(peers) < cfg.Degree+1 && len(peers) < len(nodes)-1 {
			if j := rng.IntN(len(nodes)); j != i {
				peers[j] = true
			}
		}
		for j := range peers {
			cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			err := nodes[i].node.Connect(cctx, nodes[j].node.AddrInfo())
			cancel()
			if err != nil {
				return nil, fmt.Errorf("connect %d-%d: %w", i, j, err)
			}
		}
	}
	// Wait until every node has a mesh of at least Dlo (or every other node).
	want := min(router.DefaultGossipConfig().Dlo, cfg.Nodes-1)
	if err := waitFor(cfg.Timeout, func() bool {
		for _, n := range nodes {
			if len(n.r.Mesh(topicName)) < want {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("mesh formation (every node >= %d mesh peers): %w", want, err)
	}
	res := &Result{Expected: cfg.Messages * (cfg.Nodes - 1)}
	for _, n := range nodes {
		res.MeshSizes = append(res.MeshSizes, len(n.r.Mesh(topicName)))
	}

	// Receivers: each node reads its subscription and records latencies.
	var mu sync.Mutex
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			self := n.node.ID()
			for {
				m, err := n.sub.Next(rctx)
				if err != nil {
					return
				}
				if m.From == self {
					continue // its own publish, delivered locally
				}
				lat := time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(m.Data))))
				mu.Lock()
				res.Received++
				res.Latencies = append(res.Latencies, lat)
				mu.Unlock()
			}
		}()
	}

	regs := make([]*prometheus.Registry, len(nodes))
	for i, n := range nodes {
		regs[i] = n.node.Registry()
	}
	dup0, rpc0 := sum(regs, "meshbus_router_messages_total", "kind", "duplicate"), sum(regs, "meshbus_router_rpcs_total", "direction", "out")
	cpu0, start := cputime.Process(), time.Now()
	tick := time.NewTicker(cfg.Interval)
	for i := 0; i < cfg.Messages; i++ {
		data := make([]byte, cfg.Size)
		binary.BigEndian.PutUint64(data, uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint32(data[len(data)-4:], uint32(i)) // distinct even within one ns
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
	res.Duplicates = sum(regs, "meshbus_router_messages_total", "kind", "duplicate") - dup0
	res.RPCsOut = sum(regs, "meshbus_router_rpcs_total", "direction", "out") - rpc0
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	if err != nil {
		return res, fmt.Errorf("received %d of %d: %w", res.Received, res.Expected, err)
	}
	return res, nil
}

// sum adds one labelled counter over every registry.
func sum(regs []*prometheus.Registry, name, label, value string) float64 {
	var total float64
	for _, reg := range regs {
		mfs, err := reg.Gather()
		if err != nil {
			continue
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if hasLabel(m, label, value) {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
