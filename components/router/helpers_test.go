package router

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
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
