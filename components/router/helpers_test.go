package router

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/components/rtt"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// node is one meshbus router on a real host.
type node struct {
	h   host.Host
	bus *eventbus.Bus
	r   *Router
	reg *prometheus.Registry
}

// newNode starts a router on a fresh loopback host (internal/testhost) with
// clk, fed by the real connection tracker on the same clock, as in a node;
// closed at cleanup (router first, then tracker, bus and host).
func newNode(t testing.TB, clk clock.Clock, opts ...Option) *node {
	t.Helper()
	h := testhost.New(t)
	bus := eventbus.New()
	t.Cleanup(func() { _ = bus.Close() })
	testhost.Track(t, h, bus, conntrack.WithClock(clk))
	reg := prometheus.NewRegistry()
	opts = append([]Option{WithRegisterer(reg), WithSeed(1), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	r, err := New(h, bus, append(opts, WithClock(clk))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return &node{h: h, bus: bus, r: r, reg: reg}
}

func heartbeat(clk *clock.Mock) func() { return func() { clk.Add(time.Second) } }

func contains(ps []peer.ID, p peer.ID) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// next reads one message from s within a deadline.
func next(t testing.TB, s *Subscription) *Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next on %s: %v", s.Topic(), err)
	}
	return m
}

// pair starts two routers with the same opts (see newNode) and meshes them
// on topic (see meshed).
func pair(t testing.TB, clk *clock.Mock, topic string, opts ...Option) (a, b *node, ta, tb *Topic) {
	t.Helper()
	a, b = newNode(t, clk, opts...), newNode(t, clk, opts...)
	ta, tb = meshed(t, clk, topic, a, b)
	return a, b, ta, tb
}

// meshed joins a and b to topic, connects their hosts and waits until
// each is in the other's mesh (waitMeshed); it returns their topics.
func meshed(t testing.TB, clk *clock.Mock, topic string, a, b *node) (ta, tb *Topic) {
	t.Helper()
	var err error
	if ta, err = a.r.Join(topic); err != nil {
		t.Fatal(err)
	}
	if tb, err = b.r.Join(topic); err != nil {
		t.Fatal(err)
	}
	testhost.Connect(t, a.h, b.h)
	waitMeshed(t, clk, topic, a, b)
	return ta, tb
}

// waitMeshed advances clk one heartbeat at a time until a and b, joined
// to topic and connected, are each in the other's mesh; it fails t after
// 20 s.
func waitMeshed(t testing.TB, clk *clock.Mock, topic string, a, b *node) {
	t.Helper()
	bustest.Eventually(t, 20*time.Second, "mesh between a and b on "+topic, func() bool {
		return contains(a.r.Mesh(topic), b.h.ID()) && contains(b.r.Mesh(topic), a.h.ID())
	}, heartbeat(clk))
}

// exchanged are the copies of exchange's two messages each side read.
type exchanged struct {
	OwnA, AtB *Message // a's message: a's own copy, b's copy
	OwnB, AtA *Message // b's message: b's own copy, a's copy
}

// exchange publishes "from a" on ta and "from b" on tb, each with
// RequirePeers (the other side must get it), and reads them from a's and
// b's subscriptions sa and sb: each side's own copy comes first, then the
// other's message. It checks each copy's data and returns them for the
// caller's own checks.
func exchange(t testing.TB, ta, tb *Topic, sa, sb *Subscription) exchanged {
	t.Helper()
	var x exchanged
	read := func(s *Subscription, want string) *Message {
		t.Helper()
		m := next(t, s)
		if string(m.Data) != want {
			t.Fatalf("%s read %q, want %q", s.Topic(), m.Data, want)
		}
		return m
	}
	ctx := context.Background()
	if err := ta.Publish(ctx, []byte("from a"), RequirePeers()); err != nil {
		t.Fatal(err)
	}
	x.OwnA, x.AtB = read(sa, "from a"), read(sb, "from a")
	if err := tb.Publish(ctx, []byte("from b"), RequirePeers()); err != nil {
		t.Fatal(err)
	}
	x.OwnB, x.AtA = read(sb, "from b"), read(sa, "from b")
	return x
}

// goNode starts a go-libp2p-pubsub GossipSub router with opts on a fresh
// loopback host, joined to topic and subscribed; all closed at cleanup.
func goNode(t testing.TB, topic string, opts ...pubsub.Option) (host.Host, *pubsub.Topic, *pubsub.Subscription) {
	t.Helper()
	h := testhost.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tp, err := ps.Join(topic)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	sub, err := tp.Subscribe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sub.Cancel()
		_ = tp.Close()
		cancel()
		_ = h.Close()
	})
	return h, tp, sub
}

// startProber runs the RTT prober (components/rtt) on n's host and bus,
// on clk, until the test ends: n's router learns its peers' RTTs as a
// host's does.
func startProber(t *testing.T, n *node, clk clock.Clock) {
	t.Helper()
	pr, err := rtt.New(n.h, n.bus, rtt.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pr.Close() })
}
