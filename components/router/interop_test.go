package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// A peer that knows only the wire format (hand-built RPCs: hello, GRAFT, a
// signed message) interoperates with the router over /meshsub/1.1.0.
func TestForeignPeerInteroperates(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	topic, err := n.r.Join("blocks")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := topic.Subscribe()
	f := newRawPeer(t, wire.ProtocolMeshsub11, false)
	testhost.Connect(t, f.h, n.h)

	// The router opens its stream (negotiating /meshsub/1.1.0, the best the
	// foreign peer speaks) and says hello with its subscriptions.
	f.waitRPC("hello", func(r *pb.RPC) bool { return hasSub(r, "blocks") })

	// Foreign hello + GRAFT, in one RPC, as other implementations do.
	f.open(n.h.ID())
	hello := subscribeRPC("blocks")
	hello.Control = &pb.ControlMessage{Graft: []*pb.ControlGraft{{TopicID: proto.String("blocks")}}}
	f.send(hello)
	bustest.Eventually(t, 10*time.Second, "foreign peer in the mesh", func() bool { return contains(n.r.Mesh("blocks"), f.h.ID()) }, nil)

	// A signed message from the foreign peer is delivered.
	f.send(&pb.RPC{Publish: []*pb.Message{f.message("blocks", "from foreign")}})
	m := next(t, sub)
	if string(m.Data) != "from foreign" || m.From != f.h.ID() || m.ReceivedFrom != f.h.ID() {
		t.Fatalf("delivered %+v", m)
	}
	if want := string(m.Raw.From) + string(m.Raw.Seqno); m.ID != want {
		t.Fatalf("message id %x, want from||seqno %x", m.ID, want)
	}

	// Our message reaches the foreign peer signed, with the spec's fields.
	if err := topic.Publish(context.Background(), []byte("from meshbus")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); string(m.Data) != "from meshbus" {
		t.Fatalf("own copy: %q", m.Data)
	}
	rpc := f.waitRPC("published message", func(r *pb.RPC) bool { return hasData(r, "from meshbus") != nil })
	got := hasData(rpc, "from meshbus")
	if err := wire.Verify(got); err != nil {
		t.Fatalf("foreign peer cannot verify our signature: %v", err)
	}
	if peer.ID(got.From) != n.h.ID() || len(got.Seqno) != 8 || got.GetTopic() != "blocks" || got.Key != nil {
		t.Fatalf("message fields: %v", got)
	}

	// A tampered message is rejected and counted, and the peer keeps its stream.
	bad := f.message("blocks", "tampered")
	bad.Data = []byte("tampered!")
	f.send(&pb.RPC{Publish: []*pb.Message{bad}})
	bustest.Eventually(t, 5*time.Second, "invalid signature counted", func() bool {
		return metrictest.Sum(t, n.reg, "meshbus_router_messages_rejected_total", "reason", "invalid_signature") == 1
	}, nil)
	f.send(&pb.RPC{Publish: []*pb.Message{f.message("blocks", "still here")}})
	if m := next(t, sub); string(m.Data) != "still here" {
		t.Fatalf("got %q after the tampered message", m.Data)
	}

	// The router gossips: after a heartbeat it sends IHAVE only to non-mesh
	// peers, so here nothing; but a foreign PRUNE removes it from the mesh.
	f.send(&pb.RPC{Control: &pb.ControlMessage{Prune: []*pb.ControlPrune{{TopicID: proto.String("blocks"), Backoff: proto.Uint64(60)}}}})
	bustest.Eventually(t, 5*time.Second, "foreign peer pruned", func() bool { return !contains(n.r.Mesh("blocks"), f.h.ID()) }, nil)
}

// A floodsub-only peer gets our messages, and its messages are delivered;
// it never receives gossipsub control.
func TestFloodsubPeer(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	topic, _ := n.r.Join("t")
	sub, _ := topic.Subscribe()
	f := newRawPeer(t, wire.ProtocolFloodsub, false)
	testhost.Connect(t, f.h, n.h)
	f.waitRPC("hello", func(r *pb.RPC) bool { return hasSub(r, "t") })
	f.open(n.h.ID())
	f.send(subscribeRPC("t"))
	bustest.Eventually(t, 10*time.Second, "floodsub peer subscribed", func() bool { return contains(n.r.TopicPeers("t"), f.h.ID()) }, heartbeat(clk))

	if err := topic.Publish(context.Background(), []byte("to flood")); err != nil {
		t.Fatal(err)
	}
	f.waitRPC("message", func(r *pb.RPC) bool {
		if r.Control != nil {
			t.Errorf("floodsub peer got control: %v", r.Control)
		}
		return hasData(r, "to flood") != nil
	})
	f.send(&pb.RPC{Publish: []*pb.Message{f.message("t", "from flood")}})
	if m := next(t, sub); string(m.Data) != "to flood" {
		t.Fatalf("own copy: %q", m.Data)
	}
	if m := next(t, sub); string(m.Data) != "from flood" || m.From != f.h.ID() {
		t.Fatalf("delivered %+v", m)
	}
	if got := metrictest.Sum(t, n.reg, "meshbus_router_peers", "protocol", "/floodsub/1.0.0"); got != 1 {
		t.Fatalf("floodsub peers gauge %v", got)
	}
	for range 3 {
		clk.Add(time.Second) // heartbeats must not send it GRAFT or IHAVE
	}
	if err := topic.Publish(context.Background(), []byte("again")); err != nil {
		t.Fatal(err)
	}
	f.waitRPC("second message", func(r *pb.RPC) bool {
		if r.Control != nil {
			t.Errorf("floodsub peer got control: %v", r.Control)
		}
		return hasData(r, "again") != nil
	})
}

// A peer sending garbage loses its stream and is counted; the router keeps
// working with everyone else.
func TestGarbagePeerIsCutOff(t *testing.T) {
	clk := clock.NewMock()
	_, b, ta, tb := pair(t, clk, "g")
	sb, _ := tb.Subscribe()

	junk := newRawPeer(t, wire.ProtocolMeshsub12, false)
	testhost.Connect(t, junk.h, b.h)
	junk.open(b.h.ID())
	junk.writeRaw([]byte{4, 0xff, 0xff, 0xff, 0xff}) // a 4-byte frame that is not a protobuf
	bustest.Eventually(t, 5*time.Second, "undecodable RPC counted", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_invalid_rpcs_total", "reason", "undecodable") == 1
	}, nil)

	huge := newRawPeer(t, wire.ProtocolMeshsub12, false)
	testhost.Connect(t, huge.h, b.h)
	huge.open(b.h.ID())
	huge.writeRaw(protowire.AppendVarint(nil, 64<<20)) // claims 64 MiB
	bustest.Eventually(t, 5*time.Second, "oversized frame counted", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_invalid_rpcs_total", "reason", "frame_too_large") == 1
	}, nil)

	// The stream is gone: writes eventually fail.
	bustest.Eventually(t, 5*time.Second, "garbage stream reset", func() bool {
		_, err := junk.out.Write([]byte{0})
		return err != nil
	}, nil)

	if err := ta.Publish(context.Background(), []byte("still fine")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); string(m.Data) != "still fine" {
		t.Fatalf("got %q", m.Data)
	}
}

// Gossip end to end: a subscribed peer outside the mesh learns of a message
// through IHAVE at the heartbeat and fetches it with IWANT.
func TestGossipIHaveIWant(t *testing.T) {
	clk := clock.NewMock()
	a, n, ta, _ := pair(t, clk, "g")
	f := newRawPeer(t, wire.ProtocolMeshsub11, false)
	testhost.Connect(t, f.h, n.h)
	f.waitRPC("hello", func(r *pb.RPC) bool { return hasSub(r, "g") })
	f.open(n.h.ID())
	// Subscribe, and keep out of n's mesh with a PRUNE backoff.
	hello := subscribeRPC("g")
	hello.Control = &pb.ControlMessage{Prune: []*pb.ControlPrune{{TopicID: proto.String("g"), Backoff: proto.Uint64(600)}}}
	f.send(hello)
	bustest.Eventually(t, 10*time.Second, "f subscribed", func() bool { return contains(n.r.TopicPeers("g"), f.h.ID()) }, nil)

	// a's message reaches n through the mesh; n forwards it to its mesh
	// only (a), so f must learn of it by gossip.
	if err := ta.Publish(context.Background(), []byte("gossip me")); err != nil {
		t.Fatal(err)
	}
	var id []byte
	deadline := time.After(10 * time.Second)
	for id == nil {
		clk.Add(time.Second) // heartbeat: IHAVE to non-mesh peers
		select {
		case rpc := <-f.rpcs:
			if hasData(rpc, "gossip me") != nil {
				t.Fatal("f got the message without asking: it is not in the mesh")
			}
			for _, ih := range rpc.GetControl().GetIhave() {
				if ih.GetTopicID() == "g" && len(ih.MessageIDs) > 0 {
					id = ih.MessageIDs[0]
				}
			}
		case <-deadline:
			t.Fatal("no IHAVE")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if want := string(a.h.ID()); string(id[:len(id)-8]) != want {
		t.Fatalf("IHAVE id %x is not a's from||seqno", id)
	}
	f.send(&pb.RPC{Control: &pb.ControlMessage{Iwant: []*pb.ControlIWant{{MessageIDs: [][]byte{id}}}}})
	rpc := f.waitRPC("IWANT answer", func(r *pb.RPC) bool { return hasData(r, "gossip me") != nil })
	if err := wire.Verify(hasData(rpc, "gossip me")); err != nil {
		t.Fatalf("forwarded copy does not verify: %v", err)
	}
}

// A peer keeps one inbound stream: opening another resets the older one
// (counted), and the newest carries on working, so a peer cannot make the
// router run a reader per stream it opens.
func TestNewerInboundStreamReplacesOlder(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk)
	topic, err := n.r.Join("s")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := topic.Subscribe()
	f := newRawPeer(t, wire.ProtocolMeshsub12, false)
	testhost.Connect(t, f.h, n.h)
	var older []network.Stream
	for i := 0; i < 5; i++ {
		f.open(n.h.ID())
		f.send(subscribeRPC("s")) // make the router read (and track) the stream
		older = append(older, f.out)
		// Wait until the router has taken this stream, so the next one is
		// newer: the first shows in the subscription it carried, each later
		// one in the replacement it causes.
		bustest.Eventually(t, 5*time.Second, "stream taken", func() bool {
			if i == 0 {
				return contains(n.r.TopicPeers("s"), f.h.ID())
			}
			return metrictest.Sum(t, n.reg, "meshbus_router_inbound_streams_replaced_total") == float64(i)
		}, nil)
	}
	for i, s := range older[:len(older)-1] {
		bustest.Eventually(t, 5*time.Second, fmt.Sprintf("older stream %d reset", i), func() bool {
			_, err := s.Write([]byte{0})
			return err != nil
		}, nil)
	}
	f.send(&pb.RPC{Publish: []*pb.Message{f.message("s", "via the newest stream")}})
	if m := next(t, sub); string(m.Data) != "via the newest stream" {
		t.Fatalf("got %q", m.Data)
	}
}
