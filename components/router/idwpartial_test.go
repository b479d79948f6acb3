package router

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// IDONTWANT asks a peer not to send us a full message. A peer that sends us
// partial messages on a topic instead of full ones (we requested partial
// messages there, it advertised the extension and supports sending them:
// the partial-messages spec's behaviour table) sends us no full message of
// that topic, so it gets no IDONTWANT for one, on either path: at a large
// message's head (before the rest arrives) and after a whole message. On a
// topic where we did not request partial messages it sends full messages
// and gets IDONTWANT as any v1.2 mesh peer does, as does a mesh peer
// without the extension on the partial topic.
func TestNoIDontWantToPartialSender(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	tt, err := n.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	subT, _ := tt.Subscribe()
	tu, err := n.r.Join("u")
	if err != nil {
		t.Fatal(err)
	}
	subU, _ := tu.Subscribe()
	part := newRawPeer(t, wire.ProtocolMeshsub13, false) // sends parts on t
	full := newRawPeer(t, wire.ProtocolMeshsub13, false) // no extension
	src := newRawPeer(t, wire.ProtocolMeshsub13, false)  // the messages' sender
	for _, f := range []*rawPeer{part, full, src} {
		testhost.Connect(t, f.h, n.h)
		f.open(n.h.ID())
		hello := subscribeRPC("t", "u")
		if f == part {
			hello.Subscriptions[0].SupportsSendingPartial = proto.Bool(true)
			hello.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}
		}
		f.send(hello)
	}
	bustest.Eventually(t, 10*time.Second, "all three in both meshes", func() bool {
		for _, topic := range []string{"t", "u"} {
			m := n.r.Mesh(topic)
			if !contains(m, part.h.ID()) || !contains(m, full.h.ID()) || !contains(m, src.h.ID()) {
				return false
			}
		}
		return true
	}, heartbeat(clk))
	// 2 KiB: IDONTWANT once the message is decoded; 64 KiB: at its head.
	small, big := src.message("t", string(make([]byte, 2<<10))), src.message("t", string(make([]byte, 64<<10)))
	marker := src.message("u", string(make([]byte, 2<<10)))
	for _, m := range []*pb.Message{small, big} {
		src.send(&pb.RPC{Publish: []*pb.Message{m}})
		next(t, subT)
	}
	src.send(&pb.RPC{Publish: []*pb.Message{marker}})
	next(t, subU)
	names := map[string]string{wire.DefaultMsgID(small): "small", wire.DefaultMsgID(big): "big", wire.DefaultMsgID(marker): "marker"}
	idontwants := func(f *rawPeer) map[string]bool { return idontwantsUntilMarker(t, f, names) }
	if got := idontwants(part); got["small"] || got["big"] {
		t.Fatalf("IDONTWANT to the peer that sends us parts on the topic: %v", got)
	}
	if got := idontwants(full); !got["small"] || !got["big"] {
		t.Fatalf("IDONTWANT to the full-message peer: %v, want both", got)
	}
}

// idontwantsUntilMarker reads f's RPCs until one carries IDONTWANT for the
// message names calls "marker" (queued after the others) and returns the
// names of the messages f got IDONTWANT for.
func idontwantsUntilMarker(t *testing.T, f *rawPeer, names map[string]string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !got["marker"] {
		select {
		case rpc := <-f.rpcs:
			for _, e := range rpc.GetControl().GetIdontwant() {
				for _, id := range e.GetMessageIDs() {
					if name, ok := names[string(id)]; ok {
						got[name] = true
					}
				}
			}
		case <-deadline:
			t.Fatalf("no IDONTWANT for the marker; got %v", got)
		}
	}
	return got
}

// The topics a peer sends us parts on follow both sides' options: a topic
// we join requesting partial messages after the peer said it supports
// sending them there gets it no IDONTWANT; once it subscribes again
// without supporting them, it sends full messages and gets IDONTWANT.
func TestIDontWantFollowsPartialOptions(t *testing.T) {
	clk := clock.NewMock()
	n := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	f := newRawPeer(t, wire.ProtocolMeshsub13, false)
	src := newRawPeer(t, wire.ProtocolMeshsub13, false)
	hello := subscribeRPC("v")
	hello.Subscriptions[0].SupportsSendingPartial = proto.Bool(true)
	hello.Control = &pb.ControlMessage{Extensions: &pb.ControlExtensions{PartialMessages: proto.Bool(true)}}
	for _, p := range []*rawPeer{f, src} {
		testhost.Connect(t, p.h, n.h)
		p.open(n.h.ID())
	}
	f.send(hello)
	src.send(subscribeRPC("v"))
	bustest.Eventually(t, 10*time.Second, "peers subscribed", func() bool {
		ps := n.r.TopicPeers("v")
		return contains(ps, f.h.ID()) && contains(ps, src.h.ID())
	}, nil)
	// Joined after the peer's options arrived.
	tv, err := n.r.Join("v", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := tv.Subscribe()
	bustest.Eventually(t, 10*time.Second, "both in the mesh", func() bool {
		m := n.r.Mesh("v")
		return contains(m, f.h.ID()) && contains(m, src.h.ID())
	}, heartbeat(clk))
	send := func(m *pb.Message) {
		src.send(&pb.RPC{Publish: []*pb.Message{m}})
		next(t, sub)
	}
	first := src.message("v", string(make([]byte, 2<<10)))
	send(first)
	// The peer withdraws its support (a SUBSCRIBE without the options; the
	// one to "w" in the same RPC shows when the router has read it).
	f.send(subscribeRPC("v", "w"))
	bustest.Eventually(t, 10*time.Second, "options withdrawn", func() bool { return contains(n.r.TopicPeers("w"), f.h.ID()) }, nil)
	marker := src.message("v", string(make([]byte, 2<<10)))
	send(marker)
	got := idontwantsUntilMarker(t, f, map[string]string{wire.DefaultMsgID(first): "first", wire.DefaultMsgID(marker): "marker"})
	if got["first"] {
		t.Fatal("IDONTWANT to a peer that sends us parts, on a topic joined after its options")
	}
	// got["marker"]: the IDONTWANT after the peer withdrew its support.
}
