// Package testhost is the test kit's loopback libp2p side: real go-libp2p
// hosts on 127.0.0.1 and the real connection tracker between such a host and
// a meshbus bus, so that component tests see exactly the connection,
// connectedness and identify events a node sees, from the code that
// produces them in production.
//
// Everything it starts is stopped at the test's cleanup. Only tests import
// it.
package testhost

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/eventbus"
)

// Timeout bounds every wait the kit does (a dial, a tracker's Close).
const Timeout = 10 * time.Second

// Options are the libp2p options New starts from: TCP on 127.0.0.1 with a
// port the kernel picks, noise, yamux, no relay, no metrics and no resource
// limits.
func Options() []libp2p.Option {
	return []libp2p.Option{
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	}
}

// New returns a libp2p host built from Options plus extra (an identity, a
// connection gater, ...), closed at cleanup.
func New(t testing.TB, extra ...libp2p.Option) host.Host {
	t.Helper()
	h, err := libp2p.New(append(Options(), extra...)...)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Info returns h's ID and listen addresses, as another host dials them.
func Info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// Connect dials to from from and fails the test if that does not succeed
// within Timeout. When it returns, from's side of the connection is open
// (its notifiees ran); to's side may still be in flight.
func Connect(t testing.TB, from, to host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := from.Connect(ctx, Info(to)); err != nil {
		t.Fatalf("testhost: connecting %s to %s: %v", from.ID(), to.ID(), err)
	}
}

// Track starts the real connection tracker (components/conntrack) for h on
// bus and closes it at cleanup. opts go to conntrack.New (WithClock for a
// mock clock). Subscribe before Track, or before the first Connect, to see
// every event.
func Track(t testing.TB, h host.Host, bus *eventbus.Bus, opts ...conntrack.Option) *conntrack.Tracker {
	t.Helper()
	tr, err := conntrack.New(h, bus, opts...)
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	if err := tr.Start(context.Background()); err != nil {
		t.Fatalf("testhost: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// TakenPort listens on a loopback TCP port for the rest of the test and
// returns its multiaddr, which a host then cannot listen on (for tests of
// a listen failure). It skips the test when loopback cannot be listened on.
func TakenPort(t testing.TB) string {
	t.Helper()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	t.Cleanup(func() { _ = taken.Close() })
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", taken.Addr().(*net.TCPAddr).Port)
}
