package router

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// extRPC is an RPC carrying the gossipsub v1.3 Extensions control message
// (partial messages on or off) and subscriptions (sub: subscribe or
// unsubscribe) to topics.
func extRPC(partial, sub bool, topics ...string) *pb.RPC {
	rpc := &pb.RPC{Control: &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(partial)}}}
	for _, t := range topics {
		rpc.Subscriptions = append(rpc.Subscriptions, &pb.RPC_SubOpts{Topicid: proto.String(t), Subscribe: proto.Bool(sub)})
	}
	return rpc
}

// A peer reopens its stream to the router while the old one is still open
// and the router's reader of the old one still holds RPCs it decoded (the
// driver is held busy, so the inbox is full and that reader waits to hand
// over the next one). The new stream opens with the Extensions control
// message again, as the spec asks of the first message of every stream:
//   - the router resets the old stream, and the new stream's Extensions
//     defines the peer's extensions (here partial messages flipped off),
//     with no penalty: a reopen is not a repeat;
//   - every RPC the old stream's reader had decoded reaches the driver
//     before the new stream's first RPC, never after it: the old stream's
//     last subscription ("stale") is undone by the new stream's hello;
//   - a second Extensions on the new stream is a repeat: ignored and
//     penalised once (PenaltyExtensionsMisuse).
func TestReopenedInboundStreamExtensions(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	// A Block subscriber with room for one event holds the driver in its
	// emit of the second EvtPeerSubscribed it is not read.
	subs, err := eventbus.Subscribe[events.EvtPeerSubscribed](n.bus, eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(1))
	if err != nil {
		t.Fatal(err)
	}
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	testhost.Connect(t, f.h, n.h)
	f.open(n.h.ID())
	old := f.out
	t.Cleanup(func() { _ = old.Reset() })
	f.send(extRPC(true, true, "t1"))
	select {
	case <-subs.Out():
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription from the first RPC")
	}
	f.send(subscribeRPC("t2")) // fills the subscriber's buffer
	f.send(subscribeRPC("t3")) // holds the driver in its emit
	for range 2 * cap(n.r.inbox) {
		f.send(subscribeRPC("stale"))
	}
	bustest.Eventually(t, 10*time.Second, "driver inbox full", func() bool { return len(n.r.inbox) == cap(n.r.inbox) }, nil)

	f.open(n.h.ID()) // the old stream stays open on the peer's side
	f.send(extRPC(false, false, "stale"))
	bustest.Eventually(t, 10*time.Second, "old stream replaced", func() bool {
		return metrictest.Sum(t, n.reg, "meshbus_router_inbound_streams_replaced_total") == 1
	}, nil)
	// Let the driver go.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range subs.Out() {
		}
	}()
	t.Cleanup(func() { _ = subs.Close(); <-drained })

	bustest.Eventually(t, 10*time.Second, "new stream's extensions", func() bool {
		e, ok := n.r.PeerExtensions(f.h.ID())
		return ok && !e.PartialMessages
	}, nil)
	if contains(n.r.TopicPeers("stale"), f.h.ID()) {
		t.Fatal("an RPC of the old stream was applied after the new stream's hello")
	}
	if !contains(n.r.TopicPeers("t3"), f.h.ID()) {
		t.Fatal("the old stream's RPCs were lost")
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_penalties_total", "reason", "extensions_misuse"); got != 0 {
		t.Fatalf("reopen penalised %v times", got)
	}
	// A repeat on the same stream.
	f.send(extRPC(true, true, "t4"))
	bustest.Eventually(t, 10*time.Second, "repeat penalised", func() bool {
		return metrictest.Sum(t, n.reg, "meshbus_router_penalties_total", "reason", "extensions_misuse") == 1
	}, nil)
	if e, _ := n.r.PeerExtensions(f.h.ID()); e.PartialMessages {
		t.Fatal("a repeated Extensions changed the peer's extensions")
	}
}

// goScoredNode is a go-libp2p-pubsub v0.19.0 node with peer scoring on, so
// that its behaviour penalties (a repeated Extensions is one, 10 at a
// time) show in its score snapshots; the decay interval is long enough
// that a test never sees a penalty decay.
type goScoredNode struct {
	h   host.Host
	ps  *pubsub.PubSub
	tr  *goTracer
	mu  sync.Mutex
	sn  map[peer.ID]*pubsub.PeerScoreSnapshot
	gen int // snapshots taken
}

func newGoScoredNode(t *testing.T) *goScoredNode {
	t.Helper()
	g := &goScoredNode{h: testhost.New(t), tr: newGoTracer()}
	params := &pubsub.PeerScoreParams{
		AppSpecificScore:  func(peer.ID) float64 { return 0 },
		AppSpecificWeight: 1,
		// Loopback peers share an IP: no colocation factor.
		BehaviourPenaltyWeight: -1, BehaviourPenaltyDecay: 0.5,
		DecayInterval: time.Hour, DecayToZero: 0.01, RetainScore: time.Minute,
	}
	thresholds := &pubsub.PeerScoreThresholds{GossipThreshold: -1000, PublishThreshold: -2000, GraylistThreshold: -3000, AcceptPXThreshold: 10}
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, g.h,
		pubsub.WithRawTracer(g.tr),
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerScoreInspect(func(s map[peer.ID]*pubsub.PeerScoreSnapshot) {
			g.mu.Lock()
			g.sn, g.gen = s, g.gen+1
			g.mu.Unlock()
		}, 20*time.Millisecond))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	g.ps = ps
	t.Cleanup(func() {
		cancel()
		_ = g.h.Close()
	})
	return g
}

// penalty returns the go node's behaviour penalty counter for p, whether
// it scores p at all, and the snapshot's number.
func (g *goScoredNode) penalty(p peer.ID) (float64, bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sn[p]
	if !ok {
		return 0, false, g.gen
	}
	return s.BehaviourPenalty, true, g.gen
}

// rpcsFrom is how many RPCs the go node has received from p.
func (g *goScoredNode) rpcsFrom(p peer.ID) int {
	g.tr.mu.Lock()
	defer g.tr.mu.Unlock()
	return g.tr.rpcsFrom[p]
}

// The race of a reopen, seen by go-libp2p-pubsub v0.19.0: a peer opens a
// second stream while its first is still open, each starting with the
// Extensions control message. The go node resets the older stream and
// forgets the peer's extensions when that stream's handler ends, before it
// reads the newer one: no penalty. A second Extensions on one stream is a
// penalty (10), which shows the check can see one: after it the counter is
// 10, not 20.
func TestGoPubsubExtensionsOnReopenedStream(t *testing.T) {
	g := newGoScoredNode(t)
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	testhost.Connect(t, f.h, g.h)
	id := f.h.ID()
	// The go node scores a peer once its own stream to it is open.
	bustest.Eventually(t, 10*time.Second, "go node scores the peer", func() bool { _, ok, _ := g.penalty(id); return ok }, nil)
	f.open(g.h.ID())
	old := f.out
	t.Cleanup(func() { _ = old.Reset() })
	f.send(extRPC(true, true, "r"))
	bustest.Eventually(t, 10*time.Second, "first stream read", func() bool { return g.rpcsFrom(id) == 1 }, nil)
	f.open(g.h.ID()) // the first stream stays open on our side
	f.send(extRPC(true, true, "r"))
	f.send(subscribeRPC("marker"))
	// The go node handles RPCs in order: by the marker, the second stream's
	// Extensions has been handled.
	bustest.Eventually(t, 10*time.Second, "second stream read", func() bool { return g.rpcsFrom(id) == 3 }, nil)
	f.send(extRPC(true, true, "r")) // a repeat on the second stream
	bustest.Eventually(t, 10*time.Second, "repeat penalised", func() bool { p, _, _ := g.penalty(id); return p >= 10 }, nil)
	if p, _, _ := g.penalty(id); p != 10 {
		t.Fatalf("behaviour penalty %v, want 10 (the repeat alone)", p)
	}
	if got := len(g.ps.ListPeers("r")); got != 1 {
		t.Fatalf("go node lists %d peers in the topic, want the raw peer", got)
	}
}

// The router's own reopen, against go-libp2p-pubsub v0.19.0: the go node
// resets the router's stream, the router reopens it (after its retry
// delay) with the Extensions control message first again, and the go node
// takes it as the new stream's: no behaviour penalty, and the router stays
// its peer (a message published after the reopen arrives).
func TestGoPubsubRouterReopenNotPenalised(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	tp, err := n.r.Join("r")
	if err != nil {
		t.Fatal(err)
	}
	g := newGoScoredNode(t)
	gt, err := g.ps.Join("r")
	if err != nil {
		t.Fatal(err)
	}
	gsub, err := gt.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gsub.Cancel)
	testhost.Connect(t, n.h, g.h)
	id := n.h.ID()
	bustest.Eventually(t, 10*time.Second, "go node scores the router", func() bool { _, ok, _ := g.penalty(id); return ok }, nil)
	bustest.Eventually(t, 10*time.Second, "router knows the go node's topic", func() bool { return contains(n.r.TopicPeers("r"), g.h.ID()) }, nil)
	extCount := func() int { _, _, _, c := g.tr.snapshot(id); return c }
	// Neither wait above says the go node has read the router's stream
	// yet (its first RPC, the Extensions, can still be in flight).
	bustest.Eventually(t, 10*time.Second, "go node read the router's Extensions", func() bool { return extCount() >= 1 }, nil)
	if c := extCount(); c != 1 {
		t.Fatalf("go node got %d Extensions, want 1", c)
	}
	// The go node resets the router's stream (its reader ends).
	for _, c := range g.h.Network().ConnsToPeer(id) {
		for _, s := range c.GetStreams() {
			if s.Stat().Direction == network.DirInbound && wire.IsPubsub(s.Protocol()) {
				_ = s.Reset()
			}
		}
	}
	bustest.Eventually(t, 10*time.Second, "stream failure noticed", func() bool {
		_ = tp.Publish(context.Background(), []byte("probe"))
		return metrictest.Sum(t, n.reg, "meshbus_router_stream_failures_total") >= 1
	}, nil)
	bustest.Eventually(t, 20*time.Second, "reopened with Extensions", func() bool { return extCount() == 2 }, heartbeat(clk))
	if err := tp.Publish(context.Background(), []byte("after reopen")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := gsub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) == "after reopen" {
			break
		}
	}
	// A snapshot taken after the delivery has every penalty of the RPCs
	// before it.
	_, _, gen := g.penalty(id)
	bustest.Eventually(t, 10*time.Second, "a later score snapshot", func() bool { _, _, g2 := g.penalty(id); return g2 >= gen+2 }, nil)
	if p, ok, _ := g.penalty(id); !ok || p != 0 {
		t.Fatalf("go node's behaviour penalty for the router %v (scored %v), want 0", p, ok)
	}
}

// While the router's stream to a peer is down (its writer failed, the
// retry not due yet), the driver keeps queueing for that peer: here an
// IDONTWANT and a forwarded copy of a large message another peer sent.
// The reopened stream still opens with the Extensions control message,
// then the hello (the router's subscriptions), and only then what was
// queued meanwhile: the hello goes to the front of the control queue,
// and the writer packs gossip control (IHAVE, IWANT, IDONTWANT) and
// messages only from the queue's head, behind it.
func TestReopenedStreamHelloBeforeQueuedControl(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	tp, err := n.r.Join("t")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := tp.Subscribe()
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	streams := f.routerStreams(wire.ProtocolMeshsub13)
	g := newRawPeer(t, wire.ProtocolMeshsub13, false)
	testhost.Connect(t, f.h, n.h)
	testhost.Connect(t, g.h, n.h)
	first := nextStream(t, streams)
	f.open(n.h.ID())
	f.send(subscribeRPC("t"))
	g.open(n.h.ID())
	g.send(subscribeRPC("t"))
	bustest.Eventually(t, 10*time.Second, "both peers in the mesh", func() bool {
		m := n.r.Mesh("t")
		return contains(m, f.h.ID()) && contains(m, g.h.ID())
	}, heartbeat(clk))
	// Queued while the stream is down: the IDONTWANT for g's message and
	// the copy forwarded to f.
	big := g.message("t", string(make([]byte, 64<<10)))
	second := resetAndReopen(t, n, clk, first, streams, func() { _ = tp.Publish(context.Background(), []byte("probe")) }, func() {
		g.send(&pb.RPC{Publish: []*pb.Message{big}})
		for {
			if m := next(t, sub); len(m.Data) == len(big.Data) {
				break
			}
		}
		_ = n.r.Mesh("t") // a round trip through the driver: its sends are queued
	})
	_ = second.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := wire.NewReader(second, 0)
	read := func(what string) *pb.RPC {
		t.Helper()
		rpc, err := r.ReadRPC()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return rpc
	}
	if ext := read("first RPC"); ext.GetControl().GetExtensions() == nil || len(ext.GetControl().GetIdontwant()) > 0 || len(ext.GetPublish()) > 0 {
		t.Fatalf("first RPC of the reopened stream %v, want the Extensions alone", ext)
	}
	if hello := read("second RPC"); !hasSub(hello, "t") || hello.GetControl() != nil || len(hello.GetPublish()) > 0 {
		t.Fatalf("second RPC of the reopened stream %v, want the hello alone", hello)
	}
	wantID := wire.DefaultMsgID(big)
	for idw, data := false, false; !idw || !data; {
		rpc := read("queued RPCs")
		for _, e := range rpc.GetControl().GetIdontwant() {
			for _, id := range e.GetMessageIDs() {
				idw = idw || string(id) == wantID
			}
		}
		for _, m := range rpc.GetPublish() {
			data = data || (len(m.Data) == len(big.Data) && string(m.From) == string(big.From))
		}
	}
}
