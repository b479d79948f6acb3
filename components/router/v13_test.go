package router

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// On a /meshsub/1.3.0 stream the router's first RPC is the Extensions
// control message, and no later RPC carries it again.
func TestV13ExtensionsFirstAndOnce(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	testhost.Connect(t, f.h, n.h)
	first := f.waitRPC("first RPC", func(*pb.RPC) bool { return true })
	if !first.GetControl().GetExtensions().GetPartialMessages() {
		t.Fatalf("first RPC %v", first)
	}
	if _, err := n.r.Join("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.r.Join("b"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"a", "b"} {
		r := f.waitRPC("subscription "+topic, func(r *pb.RPC) bool {
			if r.GetControl().GetExtensions() != nil {
				t.Fatalf("Extensions again: %v", r)
			}
			return hasSub(r, topic)
		})
		if r.GetSubscriptions()[0].RequestsPartial != nil {
			t.Fatal("partial options on a topic joined without them")
		}
	}
}

// Against a /meshsub/1.2.0 peer the router falls back to v1.2 and sends no
// Extensions; the peer's Extensions (an unknown field on v1.2) are ignored
// without penalty, and it has no extensions.
func TestV13FallsBackToV12WithoutExtensions(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	if _, err := n.r.Join("a"); err != nil {
		t.Fatal(err)
	}
	f := newRawPeer(t, wire.ProtocolMeshsub12, false)
	testhost.Connect(t, f.h, n.h)
	first := f.waitRPC("hello", func(*pb.RPC) bool { return true })
	if first.GetControl().GetExtensions() != nil || !hasSub(first, "a") {
		t.Fatalf("first RPC on /meshsub/1.2.0: %v", first)
	}
	f.open(n.h.ID())
	hello := subscribeRPC("a")
	hello.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}
	f.send(hello)
	later := subscribeRPC("b")
	later.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}
	f.send(later)
	bustest.Eventually(t, 10*time.Second, "both RPCs handled", func() bool { return contains(n.r.TopicPeers("b"), f.h.ID()) }, nil)
	if e, ok := n.r.PeerExtensions(f.h.ID()); !ok || e.PartialMessages {
		t.Fatalf("v1.2 peer extensions %+v %v", e, ok)
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_penalties_total", "reason", "extensions_misuse"); got != 0 {
		t.Fatalf("penalised %v times on v1.2", got)
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_peers", "protocol", "/meshsub/1.2.0"); got != 1 {
		t.Fatalf("%v /meshsub/1.2.0 peers", got)
	}
}

// A go-libp2p-pubsub v0.19.0 node without the partial-messages extension:
// /meshsub/1.3.0 both ways, no extensions on its side, and a complete
// partial group published by meshbus reaches it as a full message
// (the full-message fallback), while its messages reach meshbus.
func TestV13GoPubsubWithoutPartialGetsFullMessages(t *testing.T) {
	const topic = "mixed"
	clk := clock.NewMock()
	a := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	ta, err := a.r.Join(topic, WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	subA, _ := ta.Subscribe()
	tr := newGoTracer()
	hb, tb, subB := goNode(t, topic, pubsub.WithRawTracer(tr))
	testhost.Connect(t, a.h, hb)
	idA, idB := a.h.ID(), hb.ID()
	bustest.Eventually(t, 20*time.Second, "meshes", func() bool {
		_, grafted, _, _ := tr.snapshot(idA)
		return grafted && contains(a.r.Mesh(topic), idB)
	}, heartbeat(clk))
	if e, ok := a.r.PeerExtensions(idB); !ok || e.PartialMessages {
		t.Fatalf("plain go node's extensions %+v %v", e, ok)
	}
	goProto, _, _, _ := tr.snapshot(idA)
	var ourProto string
	for _, c := range hb.Network().ConnsToPeer(idA) {
		for _, s := range c.GetStreams() {
			if s.Stat().Direction == network.DirInbound && s.Protocol() != "" && wire.IsPubsub(s.Protocol()) {
				ourProto = string(s.Protocol())
			}
		}
	}
	if goProto != "/meshsub/1.3.0" || ourProto != "/meshsub/1.3.0" {
		t.Fatalf("negotiated go->meshbus %q, meshbus->go %q", goProto, ourProto)
	}
	if err := ta.PublishPartial(context.Background(), []byte("g"), fullBitParts(4, "f")); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	m, err := subB.Next(rctx)
	if err != nil || string(m.Data) != "f-0f-1f-2f-3" || m.ReceivedFrom != idA {
		t.Fatalf("go node got %v, %v", m, err)
	}
	if got := next(t, subA); string(got.Data) != "f-0f-1f-2f-3" {
		t.Fatalf("local delivery %q", got.Data)
	}
	if err := tb.Publish(rctx, []byte("from go")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, subA); string(got.Data) != "from go" || got.From != idB {
		t.Fatalf("meshbus got %q from %s", got.Data, got.From)
	}
}

// At heartbeats a non-mesh peer that requested partial messages gets our
// parts metadata for local groups in place of IHAVE: no IHAVE for the topic
// and no full message reach it.
func TestPartialGossipReplacesIHave(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	tp, err := n.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	testhost.Connect(t, f.h, n.h)
	f.open(n.h.ID())
	hello := subscribeRPC("t")
	hello.Subscriptions[0].RequestsPartial = proto.Bool(true)
	hello.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}
	f.send(hello)
	bustest.Eventually(t, 10*time.Second, "raw peer in the mesh", func() bool { return contains(n.r.Mesh("t"), f.h.ID()) }, heartbeat(clk))
	f.send(&pb.RPC{Control: &pb.ControlMessage{Prune: []*pb.ControlPrune{{TopicID: proto.String("t"), Backoff: proto.Uint64(600)}}}})
	bustest.Eventually(t, 10*time.Second, "raw peer pruned", func() bool { return !contains(n.r.Mesh("t"), f.h.ID()) }, nil)

	if err := tp.Publish(context.Background(), []byte("full")); err != nil {
		t.Fatal(err)
	}
	if err := tp.PublishPartial(context.Background(), []byte("g"), fullBitParts(4, "p")); err != nil {
		t.Fatal(err)
	}
	var gotMeta bool
	for i := 0; i < 3 || !gotMeta; i++ {
		if i > 50 {
			t.Fatal("no parts metadata gossip after 50 heartbeats")
		}
		clk.Add(time.Second)
		for drained := false; !drained; {
			select {
			case r := <-f.rpcs:
				for _, ih := range r.GetControl().GetIhave() {
					if ih.GetTopicID() == "t" {
						t.Fatalf("IHAVE to a partial peer: %v", r)
					}
				}
				if len(r.GetPublish()) > 0 {
					t.Fatalf("full message to a peer that requested partial: %v", r)
				}
				if p := r.GetPartial(); p != nil && string(p.GetGroupID()) == "g" && len(p.GetPartsMetadata()) == 1 && p.GetPartsMetadata()[0] == 0x0f {
					gotMeta = true
				}
			case <-time.After(50 * time.Millisecond):
				drained = true
			}
		}
	}
}

// A router that has joined no topic still opens every pubsub stream with
// an RPC, written at once: on v1.3 and v1.4 the Extensions control message
// (large-message handling and choking are on by default), then, as on older protocols,
// an empty one (its empty subscription list). go-libp2p negotiates an
// outbound stream's protocol with the first write, and the accepting host
// resets a stream left unnegotiated for 10 s.
func TestHelloWithoutSubscriptions(t *testing.T) {
	for _, p := range []protocol.ID{wire.ProtocolMeshsub14, wire.ProtocolMeshsub13, wire.ProtocolMeshsub12, wire.ProtocolMeshsub11} {
		t.Run(string(p), func(t *testing.T) {
			n := newNode(t, clock.NewMock())
			f := newRawPeer(t, p, false)
			testhost.Connect(t, f.h, n.h)
			first := f.waitRPC("first RPC", func(*pb.RPC) bool { return true })
			if wire.HasExtensions(p) {
				want := &pb.RPC{Control: &pb.ControlMessage{Extensions: &pb.ControlExtensions{LargeMessageHandling: proto.Bool(true), MeshbusChoke: proto.Bool(true)}}}
				if !proto.Equal(first, want) {
					t.Fatalf("first RPC on %s: %v, want the Extensions alone", p, first)
				}
				first = f.waitRPC("hello", func(*pb.RPC) bool { return true })
			}
			if proto.Size(first) != 0 {
				t.Fatalf("hello of a router without subscriptions: %v, want an empty RPC", first)
			}
			if _, err := n.r.Join("a"); err != nil {
				t.Fatal(err)
			}
			f.waitRPC("subscription", func(r *pb.RPC) bool { return hasSub(r, "a") })
		})
	}
}

// A stream the router reopens (the peer reset the first one) opens like the
// first: on /meshsub/1.3.0 the Extensions control message, then the hello,
// empty for a router with no subscriptions. The spec puts Extensions in the
// first message on the stream and forbids sending it twice: each stream
// carries it once, first.
func TestReopenedStreamWithoutSubscriptions(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	streams := f.routerStreams(wire.ProtocolMeshsub13)
	testhost.Connect(t, f.h, n.h)
	// opening reads a stream's first two RPCs: the Extensions alone, then
	// the empty hello.
	opening := func(which string, s network.Stream) *wire.Reader {
		t.Helper()
		// A missing RPC fails the test instead of hanging it.
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := wire.NewReader(s, 0)
		ext, err := r.ReadRPC()
		if err != nil || !ext.GetControl().GetExtensions().GetPartialMessages() ||
			len(ext.GetSubscriptions()) > 0 || len(ext.GetPublish()) > 0 {
			t.Fatalf("%s stream: first RPC %v (%v), want the Extensions", which, ext, err)
		}
		hello, err := r.ReadRPC()
		if err != nil || proto.Size(hello) != 0 {
			t.Fatalf("%s stream: second RPC %v (%v), want the empty hello", which, hello, err)
		}
		return r
	}
	first := nextStream(t, streams)
	opening("first", first)
	f.open(n.h.ID())
	f.send(subscribeRPC("re")) // so that the router publishes to f (fanout)
	bustest.Eventually(t, 10*time.Second, "peer subscribed", func() bool { return contains(n.r.TopicPeers("re"), f.h.ID()) }, nil)
	second := resetAndReopen(t, n, clk, first, streams, func() { _ = n.r.Publish(context.Background(), "re", []byte("probe")) }, nil)
	r := opening("reopened", second)
	if err := n.r.Publish(context.Background(), "re", []byte("after reopen")); err != nil {
		t.Fatal(err)
	}
	for {
		rpc, err := r.ReadRPC()
		if err != nil {
			t.Fatal(err)
		}
		if rpc.GetControl().GetExtensions() != nil {
			t.Fatalf("Extensions again on the reopened stream: %v", rpc)
		}
		if hasData(rpc, "after reopen") != nil {
			break
		}
	}
}
