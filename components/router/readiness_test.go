package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestPublishWaitsForReadiness: a Publish with WithReadiness(MinTopicSize(1))
// blocks while nobody subscribes to the topic, fails with the context's
// error if nobody comes, and goes through once a peer subscribes; Topic
// reports its peers and mesh.
func TestPublishWaitsForReadiness(t *testing.T) {
	clk := clock.NewMock()
	a := newNode(t, clk)
	b := newNode(t, clk)
	ta, err := a.r.Join("ready")
	if err != nil {
		t.Fatal(err)
	}
	// Nobody there: the wait ends with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ta.Publish(ctx, []byte("early"), WithReadiness(MinTopicSize(1))); !errors.Is(err, context.Canceled) {
		t.Fatalf("publish to an empty topic: %v, want context.Canceled", err)
	}
	if err := ta.WaitPeers(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitPeers on an empty topic: %v", err)
	}
	// A waiting Publish goes through once b joins.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ta.Publish(ctx, []byte("hello"), WithReadiness(MinTopicSize(1)))
	}()
	tb, err := b.r.Join("ready")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	testhost.Connect(t, a.h, b.h)
	if err := <-done; err != nil {
		t.Fatalf("publish after b joined: %v", err)
	}
	if got := ta.Peers(); len(got) != 1 || got[0] != b.h.ID() {
		t.Fatalf("Topic.Peers = %v, want [b]", got)
	}
	bustest.Eventually(t, 10*time.Second, "b in a's mesh", func() bool { return contains(ta.Mesh(), b.h.ID()) }, heartbeat(clk))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	m, err := sb.Next(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "hello" {
		t.Fatalf("b got %q", m.Data)
	}
	if MinTopicSize(0) != (Readiness{}) {
		t.Fatal("MinTopicSize(0) is not always ready")
	}
}
