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

// A node that never joins a topic publishes to it through fanout: the
// subscribers receive the message, and the publisher neither joins the mesh
// nor delivers locally.
func TestPublishWithoutJoiningUsesFanout(t *testing.T) {
	clk := clock.NewMock()
	pub, a, b := newNode(t, clk), newNode(t, clk), newNode(t, clk)
	ta, err := a.r.Join("news")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.r.Join("news")
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := ta.Subscribe()
	sb, _ := tb.Subscribe()
	testhost.Connect(t, pub.h, a.h)
	testhost.Connect(t, pub.h, b.h)
	testhost.Connect(t, a.h, b.h)
	bustest.Eventually(t, 10*time.Second, "publisher sees both subscribers", func() bool {
		return len(pub.r.TopicPeers("news")) == 2
	}, heartbeat(clk))

	ctx := context.Background()
	for _, data := range []string{"first", "second"} {
		if err := pub.r.Publish(ctx, "news", []byte(data), RequirePeers()); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*Subscription{sa, sb} {
			if m := next(t, s); string(m.Data) != data || m.From != pub.h.ID() {
				t.Fatalf("got %+v, want %q from the publisher", m, data)
			}
		}
	}
	if mesh := pub.r.Mesh("news"); len(mesh) != 0 {
		t.Fatalf("publisher grafted a mesh without joining: %v", mesh)
	}
	if err := pub.r.Publish(ctx, "", []byte("x")); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("empty topic: %v, want ErrInvalidTopic", err)
	}
	if err := pub.r.Publish(ctx, "nobody-here", []byte("x"), RequirePeers()); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("topic without subscribers: %v, want ErrNoPeers", err)
	}
}
