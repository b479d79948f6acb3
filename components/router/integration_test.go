package router

import (
	"context"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestIntegrationManyNodes: 20 nodes on loopback, messages of 1 KiB published
// from random nodes 1 ms apart; every node receives every message. It runs
// the full size, 1000 messages (about 30 s under -race on 2 cores);
// MESHBUS_ROUTER_INTEGRATION_MESSAGES=N changes it.
func TestIntegrationManyNodes(t *testing.T) {
	const nodesN = 20
	msgs := 1000
	if v, err := strconv.Atoi(os.Getenv("MESHBUS_ROUTER_INTEGRATION_MESSAGES")); err == nil && v > 0 {
		msgs = v
	}
	clk := clock.NewMock()
	rng := rand.New(rand.NewSource(42))
	start := time.Now()
	nodes := make([]*node, nodesN)
	topics := make([]*Topic, nodesN)
	subs := make([]*Subscription, nodesN)
	for i := range nodes {
		nodes[i] = newNode(t, clk, WithPeerQueues(4096, 1024))
		var err error
		if topics[i], err = nodes[i].r.Join("load"); err != nil {
			t.Fatal(err)
		}
		if subs[i], err = topics[i].Subscribe(SubscriptionBuffer(msgs + 16)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("nodes up after %v", time.Since(start))
	// A ring plus random chords: connected, degree about 4.
	for i := range nodes {
		testhost.Connect(t, nodes[i].h, nodes[(i+1)%nodesN].h)
		j := rng.Intn(nodesN)
		if j != i && j != (i+1)%nodesN && (j+1)%nodesN != i {
			testhost.Connect(t, nodes[i].h, nodes[j].h)
		}
	}
	t.Logf("connected after %v", time.Since(start))
	// Every node's mesh holds all its neighbours (fewer than Dlo), so the
	// mesh graph is the connection graph: connected.
	bustest.Eventually(t, 60*time.Second, "meshes formed", func() bool {
		for _, n := range nodes {
			want := len(n.h.Network().Peers())
			if len(n.r.Mesh("load")) != want || len(n.r.TopicPeers("load")) != want {
				return false
			}
		}
		return true
	}, heartbeat(clk))

	t.Logf("meshes formed after %v", time.Since(start))
	// Readers count deliveries concurrently with publishing.
	// Their deadline starts when publishing ends.
	var wg sync.WaitGroup
	missing := make([]int, nodesN)
	readCtx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	for i, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := readCtx
			got := 0
			for got < msgs {
				if _, err := s.Next(ctx); err != nil {
					break
				}
				got++
			}
			missing[i] = msgs - got
		}()
	}
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
	ctx := context.Background()
	for k := range msgs {
		<-pace.C
		data := make([]byte, 1024)
		rng.Read(data)
		data[0], data[1] = byte(k), byte(k>>8)
		if err := topics[rng.Intn(nodesN)].Publish(ctx, data); err != nil {
			t.Fatal(err)
		}
	}
	published := time.Now()
	t.Logf("published after %v", time.Since(start))
	deadline := time.AfterFunc(60*time.Second, stopReading)
	wg.Wait()
	deadline.Stop()
	t.Logf("%d nodes, %d messages: all delivered %v after the last publish", nodesN, msgs, time.Since(published))
	for i, m := range missing {
		if m != 0 {
			t.Errorf("node %d missed %d of %d messages (dropped by subscription: %d)", i, m, msgs, subs[i].Dropped())
		}
	}
}
