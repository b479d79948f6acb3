package router

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// BenchmarkPublish measures Publish (sign, id, driver round trip, queueing)
// of 1 KiB messages to one meshed peer over real loopback hosts. Publish
// never waits for the network, so the peer queue is sized for the run.
func BenchmarkPublish(b *testing.B) {
	clk := clock.NewMock()
	_, _, ta, _ := pair(b, clk, "bench", WithPeerQueues(1<<20, 1024))
	data := make([]byte, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := ta.Publish(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliver measures end-to-end delivery: publish on one node, Next
// on the other.
func BenchmarkDeliver(b *testing.B) {
	clk := clock.NewMock()
	_, _, ta, tb := pair(b, clk, "bench")
	sb, err := tb.Subscribe(SubscriptionBuffer(1024))
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := ta.Publish(ctx, data); err != nil {
			b.Fatal(err)
		}
		if _, err := sb.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishToSink measures what Publish costs the publishing node
// alone: 1 KiB messages to one topic peer that reads the bytes and discards
// them (no decoding), so the allocations counted are the publisher's (Publish,
// the driver, the writer) and the transport's, not a receiving router's.
func BenchmarkPublishToSink(b *testing.B) {
	clk := clock.NewMock()
	n := newNode(b, clk, WithPeerQueues(1<<20, 1024))
	tp, err := n.r.Join("bench")
	if err != nil {
		b.Fatal(err)
	}
	sink := testhost.New(b)
	sink.SetStreamHandler(wire.ProtocolMeshsub12, func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_ = s.Reset()
	})
	testhost.Connect(b, sink, n.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s, err := sink.NewStream(ctx, n.h.ID(), wire.ProtocolMeshsub12)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Reset() })
	if err := wire.NewWriter(s, 0).WriteRPC(subscribeRPC("bench")); err != nil {
		b.Fatal(err)
	}
	bustest.Eventually(b, 10*time.Second, "sink subscribed", func() bool { return contains(n.r.TopicPeers("bench"), sink.ID()) }, nil)
	data := make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := tp.Publish(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
}
