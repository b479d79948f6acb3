package host

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/peermgr"
)

// WithConnectionGater installs g in the libp2p host; several calls
// accumulate. With the peer manager on, a connection must pass every such
// gater and the peer manager's own (which refuses graylisted peers). Give
// your gater here, not as libp2p.ConnectionGater in WithLibp2pOptions:
// libp2p refuses a second gater, and the node installs one whenever the
// peer manager runs.
func WithConnectionGater(g connmgr.ConnectionGater) Option {
	return func(c *config) error {
		if g == nil {
			return fmt.Errorf("%w: WithConnectionGater(nil)", ErrInvalidConfig)
		}
		c.gaters = append(c.gaters, g)
		return nil
	}
}

// connGaters builds the gaters the node installs: the peer manager's, made
// before the libp2p host that needs it and supplied to the fx graph, where
// peermgr.Module picks it up and feeds it (unless the peer manager is left
// out), then the user's. It returns the peer manager's (nil if none) and
// what to install (nil if nothing).
func (c *config) connGaters() (*peermgr.Gater, connmgr.ConnectionGater) {
	var pm *peermgr.Gater
	list := allGaters(nil)
	if !c.without[ComponentPeerMgr] {
		pm = peermgr.NewGater(c.clk)
		list = append(list, pm)
	}
	list = append(list, c.gaters...)
	switch len(list) {
	case 0:
		return nil, nil
	case 1:
		return pm, list[0]
	}
	return pm, list
}

// allGaters allows a connection only if every gater in it does, asked in
// order; the first refusal decides.
type allGaters []connmgr.ConnectionGater

var _ connmgr.ConnectionGater = allGaters(nil)

func (a allGaters) InterceptPeerDial(p peer.ID) bool {
	for _, g := range a {
		if !g.InterceptPeerDial(p) {
			return false
		}
	}
	return true
}

func (a allGaters) InterceptAddrDial(p peer.ID, m ma.Multiaddr) bool {
	for _, g := range a {
		if !g.InterceptAddrDial(p, m) {
			return false
		}
	}
	return true
}

func (a allGaters) InterceptAccept(c network.ConnMultiaddrs) bool {
	for _, g := range a {
		if !g.InterceptAccept(c) {
			return false
		}
	}
	return true
}

func (a allGaters) InterceptSecured(d network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	for _, g := range a {
		if !g.InterceptSecured(d, p, c) {
			return false
		}
	}
	return true
}

func (a allGaters) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	for _, g := range a {
		if ok, why := g.InterceptUpgraded(c); !ok {
			return false, why
		}
	}
	return true, 0
}
