package mdns

import (
	"context"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus"
)

// TestOptionsDropsAndLifecycle: invalid options are ErrBadOption; found
// peers beyond the buffer are dropped and counted, never blocking the
// caller; Close is idempotent; Start after Close is ErrClosed.
func TestOptionsDropsAndLifecycle(t *testing.T) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bus := eventbus.New()
	defer bus.Close()
	if _, err := New(h, bus, WithServiceName("")); !errors.Is(err, ErrBadOption) {
		t.Errorf("empty service: %v", err)
	}
	if _, err := New(h, bus, WithBuffer(0)); !errors.Is(err, ErrBadOption) {
		t.Errorf("zero buffer: %v", err)
	}
	m, err := New(h, bus, WithBuffer(2))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		m.HandlePeerFound(peer.AddrInfo{ID: h.ID()}) // not started: nobody reads
	}
	if got := m.Dropped(); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}
