package rtt

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/internal/testhost"
)

// A probe never dials: a peer whose addresses are known but that is not
// connected (it disconnected just before its probe) fails the probe and
// stays disconnected.
func TestProbeDoesNotDial(t *testing.T) {
	h, other := testhost.New(t), testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	h.Peerstore().AddAddrs(other.ID(), other.Addrs(), peerstore.PermanentAddrTTL)
	p, err := New(h, bus)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.ping(other.ID()); err == nil {
		t.Fatal("ping of a peer that is not connected succeeded")
	}
	if c := h.Network().Connectedness(other.ID()); c == network.Connected {
		t.Fatalf("the probe dialed: %v", c)
	}
}
