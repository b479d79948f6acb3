package router

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// newHost returns a TCP-only libp2p host on 127.0.0.1, closed at cleanup.
func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// bridge forwards the host's connectedness, identify and protocol events
// onto bus, in the order go-libp2p emits them (one subscription for all
// three types). It stands in for the real bridge in host/, which component
// tests must not import. It stops at cleanup.
func bridge(t testing.TB, h host.Host, bus *eventbus.Bus) {
	t.Helper()
	sub, err := h.EventBus().Subscribe([]any{new(event.EvtPeerConnectednessChanged), new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerProtocolsUpdated)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := eventbus.NewEmitter[events.EvtPeerConnectednessChanged](bus)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := eventbus.NewEmitter[events.EvtPeerIdentificationCompleted](bus)
	if err != nil {
		t.Fatal(err)
	}
	protos, err := eventbus.NewEmitter[events.EvtPeerProtocolsUpdated](bus)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.Out() {
			switch e := ev.(type) {
			case event.EvtPeerConnectednessChanged:
				_ = conn.Emit(e)
			case event.EvtPeerIdentificationCompleted:
				_ = ident.Emit(e)
			case event.EvtPeerProtocolsUpdated:
				_ = protos.Emit(e)
			}
		}
	}()
	t.Cleanup(func() {
		_ = sub.Close()
		<-done
		_ = conn.Close()
		_ = ident.Close()
		_ = protos.Close()
	})
}

// node is one meshbus router on a real host.
type node struct {
	h   host.Host
	bus *eventbus.Bus
	r   *Router
	reg *prometheus.Registry
}

// newNode starts a router on a fresh host with clk; closed at cleanup
// (router first, then bus and host).
func newNode(t testing.TB, clk clock.Clock, opts ...Option) *node {
	t.Helper()
	h := newHost(t)
	bus := eventbus.New()
	t.Cleanup(func() { _ = bus.Close() })
	bridge(t, h, bus)
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

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or the deadline passes; between
// polls it runs step (for example advancing a mock clock by a heartbeat).
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool, step func()) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
			if step != nil {
				step()
			}
		}
	}
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

// counter reads a counter's value from a registry: name plus label pairs.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
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
