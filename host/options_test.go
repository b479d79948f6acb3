package host

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestOptionErrorsNameTheOption(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		name string
	}{
		{WithListenAddrs("/ip4/127.0.0.1/tcp/0", "not-a-multiaddr"), "not-a-multiaddr"},
		{WithIdentity(nil), "WithIdentity"},
		{WithClock(nil), "WithClock"},
		{WithRegistry(nil), "WithRegistry"},
		{WithLogger(nil), "WithLogger"},
		{WithStopTimeout(0), "WithStopTimeout"},
		{WithComponent(""), "WithComponent"},
		{ReplaceComponent(ComponentRouter, nil), "ReplaceComponent"},
		{nil, "nil Option"},
	} {
		_, err := New(context.Background(), tc.opt)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
}

func TestIdentityAndListenAddrs(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(t, WithIdentity(key), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if n.ID() != want {
		t.Fatalf("id %s, want %s", n.ID(), want)
	}
	if addrs := n.Host().Addrs(); len(addrs) != 1 {
		t.Fatalf("listening on %v, want one TCP address", addrs)
	}
	full, err := n.Addrs()
	if err != nil || len(full) != 1 || !strings.HasSuffix(full[0].String(), "/p2p/"+want.String()) {
		t.Fatalf("Addrs() = %v, %v", full, err)
	}
	dialOnly := newNode(t, WithListenAddrs())
	if addrs := dialOnly.Host().Addrs(); len(addrs) != 0 {
		t.Fatalf("dial-only node listens on %v", addrs)
	}
	connect(t, dialOnly, n)
}
