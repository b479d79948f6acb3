package router

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// rawPeer is a pubsub peer written directly against the wire package, with
// no router: it stands for another implementation (or a misbehaving one).
// It serves proto with a loop that reads RPCs into rpcs (or, when mute, never
// reads at all), and sends with send on its own outbound stream.
type rawPeer struct {
	t     testing.TB
	h     host.Host
	key   crypto.PrivKey
	proto protocol.ID
	rpcs  chan *pb.RPC
	out   network.Stream
	w     *wire.Writer
	seq   *wire.Seqno
}

func newRawPeer(t testing.TB, proto protocol.ID, mute bool) *rawPeer {
	t.Helper()
	h := testhost.New(t)
	p := &rawPeer{t: t, h: h, key: h.Peerstore().PrivKey(h.ID()), proto: proto, rpcs: make(chan *pb.RPC, 4096), seq: wire.NewSeqno(1)}
	done := make(chan struct{})
	h.SetStreamHandler(proto, func(s network.Stream) {
		if mute {
			<-done // hold the stream open, read nothing
			_ = s.Reset()
			return
		}
		r := wire.NewReader(s, 0)
		for {
			rpc, err := r.ReadRPC()
			if err != nil {
				_ = s.Reset()
				return
			}
			select {
			case p.rpcs <- rpc:
			case <-done:
				_ = s.Reset()
				return
			}
		}
	})
	t.Cleanup(func() {
		close(done)
		if p.out != nil {
			_ = p.out.Reset()
		}
	})
	return p
}

// open opens the raw peer's outbound stream to target.
func (p *rawPeer) open(target peer.ID) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := p.h.NewStream(ctx, target, p.proto)
	if err != nil {
		p.t.Fatal(err)
	}
	p.out, p.w = s, wire.NewWriter(s, 0)
}

func (p *rawPeer) send(rpc *pb.RPC) {
	p.t.Helper()
	if err := p.w.WriteRPC(rpc); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) writeRaw(b []byte) {
	p.t.Helper()
	if _, err := p.out.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// message returns a message authored and signed by the raw peer.
func (p *rawPeer) message(topic, data string) *pb.Message {
	p.t.Helper()
	m := &pb.Message{From: []byte(p.h.ID()), Seqno: p.seq.Next(), Topic: proto.String(topic), Data: []byte(data)}
	if err := wire.Sign(m, p.key); err != nil {
		p.t.Fatal(err)
	}
	return m
}

// waitRPC returns the first received RPC for which match is true.
func (p *rawPeer) waitRPC(what string, match func(*pb.RPC) bool) *pb.RPC {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case rpc := <-p.rpcs:
			if match(rpc) {
				return rpc
			}
		case <-deadline:
			p.t.Fatalf("raw peer: timed out waiting for %s", what)
		}
	}
}

func subscribeRPC(topics ...string) *pb.RPC {
	rpc := &pb.RPC{}
	for _, t := range topics {
		rpc.Subscriptions = append(rpc.Subscriptions, &pb.RPC_SubOpts{Subscribe: proto.Bool(true), Topicid: proto.String(t)})
	}
	return rpc
}

func hasSub(rpc *pb.RPC, topic string) bool {
	for _, s := range rpc.GetSubscriptions() {
		if s.GetSubscribe() && s.GetTopicid() == topic {
			return true
		}
	}
	return false
}

func hasData(rpc *pb.RPC, data string) *pb.Message {
	for _, m := range rpc.GetPublish() {
		if string(m.GetData()) == data {
			return m
		}
	}
	return nil
}

// routerStreams makes p hand the streams it accepts on proto (the
// router's outbound streams to it) to the returned channel, unread,
// instead of reading them into p.rpcs.
func (p *rawPeer) routerStreams(proto protocol.ID) <-chan network.Stream {
	streams := make(chan network.Stream, 8)
	p.h.SetStreamHandler(proto, func(s network.Stream) { streams <- s })
	return streams
}

// nextStream returns the next stream routerStreams handed over, failing
// the test after 10 s.
func nextStream(t testing.TB, streams <-chan network.Stream) network.Stream {
	t.Helper()
	select {
	case s := <-streams:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no stream from the router")
		return nil
	}
}

// resetAndReopen resets first, the router's outbound stream to a raw peer
// whose handler sends the streams it accepts to streams, calls probe (a
// publish that goes to that peer) until the router's next write has failed,
// then meanwhile (when not nil: what the test does while the stream is
// down), and returns the stream the router then reopens (after its retry
// delay, on clk's heartbeats), reset at cleanup.
func resetAndReopen(t *testing.T, n *node, clk *clock.Mock, first network.Stream, streams <-chan network.Stream, probe, meanwhile func()) network.Stream {
	t.Helper()
	_ = first.Reset()
	// The router notices on its next write.
	bustest.Eventually(t, 10*time.Second, "stream failure noticed", func() bool {
		probe()
		return metrictest.Sum(t, n.reg, "meshbus_router_stream_failures_total") >= 1
	}, nil)
	if meanwhile != nil {
		meanwhile()
	}
	var second network.Stream
	bustest.Eventually(t, 10*time.Second, "stream reopened", func() bool {
		select {
		case second = <-streams:
			return true
		default:
			return false
		}
	}, heartbeat(clk))
	t.Cleanup(func() { _ = second.Reset() })
	return second
}
