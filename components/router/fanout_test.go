package router

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// A node that never joins a topic publishes to it through fanout: the
// subscribers receive the message, and the publisher neither joins the mesh
// nor delivers locally. Its fanout set is on the bus too
// (EvtFanoutPeerAdded), equal to what Fanout reports.
func TestPublishWithoutJoiningUsesFanout(t *testing.T) {
	clk := clock.NewMock()
	pub, a, b := newNode(t, clk), newNode(t, clk), newNode(t, clk)
	fanAdded, err := eventbus.Subscribe[events.EvtFanoutPeerAdded](pub.bus, eventbus.BufSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer fanAdded.Close()
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
	fan := pub.r.Fanout("news")
	want := []peer.ID{a.h.ID(), b.h.ID()}
	slices.Sort(want)
	if !slices.Equal(fan, want) {
		t.Fatalf("fanout %v, want both subscribers %v", fan, want)
	}
	if got := pub.r.FanoutTopics(); !slices.Equal(got, []string{"news"}) {
		t.Fatalf("fanout topics %v", got)
	}
	var seen []peer.ID
	for len(seen) < len(fan) {
		select {
		case e := <-fanAdded.Out():
			if e.Topic != "news" {
				t.Fatalf("fanout event %+v", e)
			}
			seen = append(seen, e.Peer)
		case <-time.After(10 * time.Second):
			t.Fatalf("fanout events %v, want one per peer of %v", seen, fan)
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, fan) {
		t.Fatalf("fanout events for %v, fanout %v", seen, fan)
	}
	if err := pub.r.Publish(ctx, "", []byte("x")); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("empty topic: %v, want ErrInvalidTopic", err)
	}
	if err := pub.r.Publish(ctx, "nobody-here", []byte("x"), RequirePeers()); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("topic without subscribers: %v, want ErrNoPeers", err)
	}
}
