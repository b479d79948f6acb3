package router

import (
	"bytes"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestIDontWantAtFragmentHead: a gossipsub v1.4 peer's frame that starts
// with the first fragment of a large message gets its IDONTWANT sent from
// the frame's head, as a whole message's does; the message is reassembled
// and delivered once the rest arrives.
func TestIDontWantAtFragmentHead(t *testing.T) {
	checkIDontWantAtHeadFrom(t, "early-frag", nil, wire.ProtocolMeshsub14, largeHello("early-frag"), func(topic string, sender *rawPeer) ([]byte, string, []byte) {
		m := sender.message(topic, string(bytes.Repeat([]byte{'z'}, 100<<10)))
		var buf bytes.Buffer
		if err := wire.NewWriter(&buf, 0).WriteRPC(&pb.RPC{LargeMessageFragments: fragmentsOf(t, m, "", topic, 64<<10)}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), wire.DefaultMsgID(m), m.Data
	})
}

// TestIDontWantAtMessageHead: with WithMessageIDPrefix, a node that has
// read only the first bytes of a large message already sends IDONTWANT for
// it to its other mesh peers; the rest of the message then arrives and is
// delivered as usual.
func TestIDontWantAtMessageHead(t *testing.T) {
	prefixID := func(m *pb.Message) string { return string(m.GetData()[:min(8, len(m.GetData()))]) }
	opts := []Option{WithSignPolicy(wire.StrictNoSign), WithMessageID(prefixID), WithMessageIDPrefix(8)}
	checkIDontWantAtHead(t, "early", opts, func(topic string, _ *rawPeer) ([]byte, string, []byte) {
		data := bytes.Repeat([]byte{'x'}, 40<<10)
		copy(data, "early-id")
		frame, err := wire.AppendFrame(nil, &pb.RPC{Publish: []*pb.Message{{Data: data, Topic: proto.String(topic)}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return frame, "early-id", data
	})
}

// TestIDontWantAtMessageHeadDefaultID: with the default id (from || seqno)
// and no other option, a large message written by wire.Writer (from and
// seqno before the data) has its IDONTWANT sent from its head; the signed
// message then arrives whole and is delivered.
func TestIDontWantAtMessageHeadDefaultID(t *testing.T) {
	checkIDontWantAtHead(t, "early-default", nil, func(topic string, sender *rawPeer) ([]byte, string, []byte) {
		m := &pb.Message{
			Data:  bytes.Repeat([]byte{'y'}, 40<<10),
			Seqno: []byte{0, 0, 0, 0, 0, 0, 0, 42},
			Topic: proto.String(topic),
		}
		if err := wire.Sign(m, sender.h.Peerstore().PrivKey(sender.h.ID())); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := wire.NewWriter(&buf, 0).WriteRPC(&pb.RPC{Publish: []*pb.Message{m}}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), wire.DefaultMsgID(m), m.Data
	})
}

// checkIDontWantAtHead runs one IDONTWANT-at-the-head case: a node built
// with opts joins topic with two raw mesh peers, a sender and an observer;
// build returns the frame the sender writes, the message's id and its
// data. While only the frame's first 1000 bytes are in, the observer must
// get an IDONTWANT for the id and the node must not have seen the message;
// with the rest written, the message is delivered whole.
func checkIDontWantAtHead(t *testing.T, topic string, opts []Option, build func(topic string, sender *rawPeer) (frame []byte, id string, data []byte)) {
	t.Helper()
	checkIDontWantAtHeadFrom(t, topic, opts, wire.ProtocolMeshsub12, subscribeRPC(topic), build)
}

// checkIDontWantAtHeadFrom is checkIDontWantAtHead with a sender speaking
// proto whose first RPC is hello.
func checkIDontWantAtHeadFrom(t *testing.T, topic string, opts []Option, proto protocol.ID, hello *pb.RPC, build func(topic string, sender *rawPeer) (frame []byte, id string, data []byte)) {
	t.Helper()
	clk := clock.NewMock()
	target := newNode(t, clk, opts...)
	top, err := target.r.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := top.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	sender := newRawPeer(t, proto, false)
	observer := newRawPeer(t, wire.ProtocolMeshsub12, false)
	for _, p := range []*rawPeer{sender, observer} {
		testhost.Connect(t, p.h, target.h)
		p.open(target.h.ID())
		if p == sender {
			p.send(hello)
		} else {
			p.send(subscribeRPC(topic))
		}
	}
	bustest.Eventually(t, 10*time.Second, "both raw peers in the mesh", func() bool {
		m := target.r.Mesh(topic)
		return contains(m, sender.h.ID()) && contains(m, observer.h.ID())
	}, heartbeat(clk))

	frame, id, data := build(topic, sender)
	sender.writeRaw(frame[:1000]) // the head only: the rest is held back
	observer.waitRPC("IDONTWANT at the message's head", func(rpc *pb.RPC) bool {
		for _, idw := range rpc.GetControl().GetIdontwant() {
			for _, got := range idw.GetMessageIDs() {
				if string(got) == id {
					return true
				}
			}
		}
		return false
	})
	if target.seen(id) {
		t.Fatal("the message is seen before it arrived")
	}
	sender.writeRaw(frame[1000:])
	if got := next(t, sub); !bytes.Equal(got.Data, data) {
		t.Fatalf("delivered %d bytes, want the %d sent", len(got.Data), len(data))
	}
}
