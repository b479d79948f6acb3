package host

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/internal/testhost"
)

// A node that cannot listen fails New with ErrStart and leaves nothing
// running: go-libp2p's own listen failure inside libp2p.New would leave the
// resource manager's, the connection manager's and the swarm's goroutines
// behind.
func TestNewListenFailureLeavesNothingRunning(t *testing.T) {
	addr := testhost.TakenPort(t)
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
	n := newNode(t, WithListenAddrs(testhost.TakenPort(t), "/ip4/127.0.0.1/tcp/0"))
	if len(n.Host().Network().ListenAddresses()) != 1 {
		t.Fatalf("listening on %v; want the one free address", n.Host().Network().ListenAddresses())
	}
}
