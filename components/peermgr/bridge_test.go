package peermgr

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// newHost starts a libp2p host on loopback TCP that also answers the
// meshsub protocol, so identify classifies it as a mesh peer. Extra options
// (a connection gater) are appended.
func newHost(t *testing.T, id identity, extra ...libp2p.Option) host.Host {
	t.Helper()
	h, err := libp2p.New(append([]libp2p.Option{
		libp2p.Identity(id.priv),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.NoTransports, libp2p.DefaultTransports,
	}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.SetStreamHandler("/meshsub/1.1.0", func(s network.Stream) { _ = s.Reset() })
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// bridge plays the host package's connection tracking for tests: it
// re-emits the libp2p host's network notifications as EvtConnOpened and
// EvtConnClosed, and its own bus's connectedness, identify and protocol
// events, on the meshbus bus. It stops at test cleanup.
func bridge(t *testing.T, h host.Host, bus *eventbus.Bus, clk clock.Clock) {
	t.Helper()
	opened, err := eventbus.NewEmitter[events.EvtConnOpened](bus)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := eventbus.NewEmitter[events.EvtConnClosed](bus)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // keeps one connection's open before its close
	ipOf := func(a ma.Multiaddr) netip.Addr {
		ip, err := manet.ToIP(a)
		if err != nil {
			return netip.Addr{}
		}
		addr, _ := netipFrom(ip)
		return addr
	}
	nb := &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			mu.Lock()
			defer mu.Unlock()
			_ = opened.Emit(events.EvtConnOpened{Peer: c.RemotePeer(), ConnID: c.ID(), Direction: c.Stat().Direction,
				RemoteAddr: c.RemoteMultiaddr(), RemoteIP: ipOf(c.RemoteMultiaddr()), At: clk.Now()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			mu.Lock()
			defer mu.Unlock()
			_ = closed.Emit(events.EvtConnClosed{Peer: c.RemotePeer(), ConnID: c.ID(), Direction: c.Stat().Direction,
				RemoteAddr: c.RemoteMultiaddr(), RemoteIP: ipOf(c.RemoteMultiaddr()), Opened: c.Stat().Opened, At: clk.Now()})
		},
	}
	h.Network().Notify(nb)

	sub, err := h.EventBus().Subscribe([]any{
		new(event.EvtPeerConnectednessChanged), new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerProtocolsUpdated),
	}, lpbus.BufSize(256))
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := eventbus.NewEmitter[events.EvtPeerConnectednessChanged](bus)
	ident, _ := eventbus.NewEmitter[events.EvtPeerIdentificationCompleted](bus)
	protos, _ := eventbus.NewEmitter[events.EvtPeerProtocolsUpdated](bus)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-sub.Out():
				if !ok {
					return
				}
				switch e := ev.(type) {
				case event.EvtPeerConnectednessChanged:
					_ = conn.Emit(e)
				case event.EvtPeerIdentificationCompleted:
					_ = ident.Emit(e)
				case event.EvtPeerProtocolsUpdated:
					_ = protos.Emit(e)
				}
			}
		}
	}()
	t.Cleanup(func() {
		h.Network().StopNotify(nb)
		cancel()
		<-done
		_ = sub.Close()
		for _, e := range []interface{ Close() error }{opened, closed, conn, ident, protos} {
			_ = e.Close()
		}
	})
}

// waitFor reads sub until an event satisfies pred, failing the test after
// a deadline.
func waitFor[T any](t *testing.T, sub *eventbus.Subscription[T], what string, pred func(T) bool) T {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-sub.Out():
			if !ok {
				t.Fatalf("waiting for %s: subscription ended: %v", what, sub.Err())
			}
			if pred(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// subscribe is a blocking, roomy typed subscription closed at cleanup.
func subscribe[T any](t *testing.T, bus *eventbus.Bus) *eventbus.Subscription[T] {
	t.Helper()
	s, err := eventbus.Subscribe[T](bus, eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// isConnected reports whether the manager's store shows id connected.
func isConnected(m *Manager, id peer.ID) bool {
	p, ok := m.Peer(id)
	return ok && p.Connected()
}
