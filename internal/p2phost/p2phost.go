// Package p2phost builds a go-libp2p host that listens only once it is
// built, so that a listen failure leaks nothing.
//
// go-libp2p (v0.52.0) returns a listen failure from libp2p.New without
// stopping what its constructors started (the resource manager, the
// connection manager, the swarm's goroutines), while Close on a built host
// stops all of it. New builds the host without listen addresses, listens
// itself, and closes the host when that fails.
package p2phost

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrBuild wraps an error of libp2p.New.
var ErrBuild = errors.New("p2phost: libp2p")

// ErrListen wraps a listen failure: no address of the list could be
// listened on (one that works is enough, as in libp2p).
var ErrListen = errors.New("p2phost: listen")

// New calls libp2p.New with libp2p.NoListenAddrs followed by opts (which
// must not set listen addresses again: those would be listened on by
// libp2p.New, with its leak on failure), then listens on listen; with no
// address the host only dials out. On a listen failure the host is closed,
// stopping everything libp2p.New started, and the error wraps ErrListen;
// an error of libp2p.New itself wraps ErrBuild. On success the caller owns
// the host and closes it.
func New(listen []ma.Multiaddr, opts ...libp2p.Option) (host.Host, error) {
	h, err := libp2p.New(append([]libp2p.Option{libp2p.NoListenAddrs}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBuild, err)
	}
	if len(listen) > 0 {
		if err := h.Network().Listen(listen...); err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("%w on %v: %w", ErrListen, listen, err)
		}
	}
	return h, nil
}
