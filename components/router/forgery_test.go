package router

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestForgedCopyAfterSeenTTL reproduces the forged-delivery attack of the
// router security issue over real hosts on loopback, default settings but a
// short SeenTTL (the mock clock passes it without sleeping):
//
//  1. author A publishes a signed message; the target T delivers it;
//  2. T's seen-cache forgets the id (SeenTTL);
//  3. mallory sends T a message with A's from and seqno (so the same id)
//     and new data, once with A's old signature and once with none.
//
// T must deliver neither forgery, forward neither to its mesh, and count
// each as an invalid signature / missing signature from mallory. Mallory's
// own honest message, sent after the forgeries on the same stream, is the
// marker that T has processed them.
func TestForgedCopyAfterSeenTTL(t *testing.T) {
	clk := clock.NewMock()
	gc := DefaultGossipConfig()
	gc.SeenTTL = 3 * time.Second
	target := newNode(t, clk, WithGossipConfig(gc))
	const topic = "coins"
	top, err := target.r.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := top.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := eventbus.Subscribe[events.EvtMessageRejected](target.bus, eventbus.BufSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer rejected.Close()

	author := newRawPeer(t, wire.ProtocolMeshsub12, false)
	mallory := newRawPeer(t, wire.ProtocolMeshsub12, false)
	observer := newRawPeer(t, wire.ProtocolMeshsub12, false) // a mesh peer of T
	for _, p := range []*rawPeer{author, mallory, observer} {
		testhost.Connect(t, p.h, target.h)
		p.open(target.h.ID())
		p.send(subscribeRPC(topic))
	}
	bustest.Eventually(t, 10*time.Second, "observer in T's mesh", func() bool {
		return contains(target.r.Mesh(topic), observer.h.ID())
	}, heartbeat(clk))

	// 1. A's genuine message is delivered.
	orig := author.message(topic, "pay 1 coin to bob")
	author.send(&pb.RPC{Publish: []*pb.Message{orig}})
	if got := next(t, sub); string(got.Data) != "pay 1 coin to bob" {
		t.Fatalf("delivered %q, want A's message", got.Data)
	}
	id := wire.DefaultMsgID(orig)

	// 2. T forgets the id.
	bustest.Eventually(t, 10*time.Second, "id expired from the seen-cache", func() bool {
		return !target.seen(id)
	}, heartbeat(clk))

	// 3. Mallory replays A's from and seqno with new data: with A's old
	// signature, then with none. Then an honest message of her own.
	withOldSig := &pb.Message{From: orig.From, Seqno: orig.Seqno, Topic: proto.String(topic),
		Data: []byte("pay 1000 coins to mallory"), Signature: orig.Signature, Key: orig.Key}
	unsigned := &pb.Message{From: orig.From, Seqno: orig.Seqno, Topic: proto.String(topic),
		Data: []byte("pay 2000 coins to mallory")}
	mallory.send(&pb.RPC{Publish: []*pb.Message{withOldSig}})
	mallory.send(&pb.RPC{Publish: []*pb.Message{unsigned}})
	marker := mallory.message(topic, "marker")
	mallory.send(&pb.RPC{Publish: []*pb.Message{marker}})

	if got := next(t, sub); string(got.Data) != "marker" {
		t.Fatalf("T delivered %q (author %s) before mallory's marker: forged message accepted", got.Data, got.From)
	}
	// The observer, in T's mesh, gets the marker forwarded and no forgery.
	for {
		rpc := observer.waitRPC("forwarded messages", func(rpc *pb.RPC) bool { return len(rpc.GetPublish()) > 0 })
		if m := hasData(rpc, "marker"); m != nil {
			break
		}
		for _, m := range rpc.GetPublish() {
			if string(m.GetData()) != "pay 1 coin to bob" {
				t.Fatalf("T forwarded %q to its mesh: forged message accepted", m.GetData())
			}
		}
	}
	// Each forgery is a named rejection against mallory.
	want := map[events.RejectReason]bool{events.RejectInvalidSignature: false, events.RejectMissingSignature: false}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for want[events.RejectInvalidSignature] == false || want[events.RejectMissingSignature] == false {
		select {
		case ev := <-rejected.Out():
			if ev.From != mallory.h.ID() {
				t.Fatalf("rejection blames %s, want mallory: %+v", ev.From, ev)
			}
			if _, ok := want[ev.Reason]; !ok {
				t.Fatalf("unexpected rejection %s", ev.Reason)
			}
			want[ev.Reason] = true
		case <-ctx.Done():
			t.Fatalf("rejections seen %v, want both", want)
		}
	}
}

// seen reports whether the router's automaton holds id in its seen-cache.
func (n *node) seen(id string) bool {
	return n.r.query(querySeen, id).seen
}
