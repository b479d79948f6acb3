package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"go.uber.org/goleak"
)

// A node that cannot listen fails New with ErrStart and leaves nothing
// running: go-libp2p's own listen failure inside libp2p.New would leave the
// resource manager's, the connection manager's and the swarm's goroutines
// behind.
func TestNewListenFailureLeavesNothingRunning(t *testing.T) {
	addr := takenPort(t)
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	n, err := New(ctx, WithListenAddrs(addr))
	if err == nil {
		n.Close()
		t.Fatalf("New listening on %s, a port already taken, succeeded", addr)
	}
	if !errors.Is(err, ErrStart) {
		t.Fatalf("New: %v; want ErrStart", err)
	}
	goleak.VerifyNone(t, before)
}

// One address that can be listened on is enough, as in libp2p.
func TestNewListensIfOneAddressWorks(t *testing.T) {
	n := newNode(t, WithListenAddrs(takenPort(t), "/ip4/127.0.0.1/tcp/0"))
	if len(n.Host().Network().ListenAddresses()) != 1 {
		t.Fatalf("listening on %v; want the one free address", n.Host().Network().ListenAddresses())
	}
}

// takenPort listens on a loopback TCP port for the rest of the test and
// returns its multiaddr, which a node then cannot listen on.
func takenPort(t *testing.T) string {
	t.Helper()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	t.Cleanup(func() { taken.Close() })
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", taken.Addr().(*net.TCPAddr).Port)
}
