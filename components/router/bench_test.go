package router

import (
	"context"
	"testing"

	"github.com/benbjohnson/clock"
)

// BenchmarkPublish measures Publish (sign, id, driver round trip, queueing)
// of 1 KiB messages to one meshed peer over real loopback hosts. Publish
// never waits for the network, so the peer queue is sized for the run.
func BenchmarkPublish(b *testing.B) {
	clk := clock.NewMock()
	_, _, ta, _ := pairB(b, clk, "bench", WithPeerQueues(1<<20, 1024))
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
	_, _, ta, tb := pairB(b, clk, "bench")
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
