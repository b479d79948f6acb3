package peermgr

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Gater is a libp2p connection gater that refuses graylisted peers. It
// exists before the libp2p host (libp2p.ConnectionGater needs it at
// construction) and holds no reference to the Manager: a Manager given the
// Gater (WithGater) feeds it. A peer is refused while the Manager has it
// graylisted, and until the backoff that graylisting started ends, even if
// its score recovers earlier. Refusal happens at the peer dial (our side)
// and right after the security handshake (both directions), the first
// stages at which the peer id is known; nothing reaches the Manager or the
// other components. An empty Gater allows everything.
//
// Its methods are safe for concurrent use; the Intercept methods take a
// read lock and never block on the Manager, the bus or the network.
type Gater struct {
	clk clock.Clock

	mu    sync.RWMutex
	gates map[peer.ID]gate // guarded by mu

	refusedDial    atomic.Uint64
	refusedSecured atomic.Uint64
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

// gate is why and until when one peer is refused.
type gate struct {
	graylisted bool
	until      time.Time // end of the graylisting's backoff; zero if none
}

// NewGater returns an empty Gater reading time from clk (nil: the real
// clock), which must be the clock of the Manager that feeds it.
func NewGater(clk clock.Clock) *Gater {
	if clk == nil {
		clk = clock.New()
	}
	return &Gater{clk: clk, gates: make(map[peer.ID]gate)}
}

// Refuses reports whether a connection with p would be refused now.
func (g *Gater) Refuses(p peer.ID) bool {
	g.mu.RLock()
	e, ok := g.gates[p]
	g.mu.RUnlock()
	return ok && (e.graylisted || g.clk.Now().Before(e.until))
}

// InterceptPeerDial refuses our dials to a refused peer.
func (g *Gater) InterceptPeerDial(p peer.ID) bool {
	if g.Refuses(p) {
		g.refusedDial.Add(1)
		return false
	}
	return true
}

// InterceptAddrDial allows every address: the peer was checked by
// InterceptPeerDial.
func (g *Gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows every inbound connection: the peer is not known
// before the security handshake.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses a connection, inbound or outbound, with a refused
// peer once the handshake has authenticated it.
func (g *Gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	if g.Refuses(p) {
		g.refusedSecured.Add(1)
		return false
	}
	return true
}

// InterceptUpgraded allows every upgraded connection.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// Refused returns how many dials and how many secured connections the Gater
// has refused.
func (g *Gater) Refused() (dials, secured uint64) {
	return g.refusedDial.Load(), g.refusedSecured.Load()
}

// graylist refuses p while graylisted and until at least until (zero: no
// backoff, as after the last allowed failure).
func (g *Gater) graylist(p peer.ID, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.gates[p]
	e.graylisted = true
	if until.After(e.until) {
		e.until = until
	}
	g.gates[p] = e
}

// clear ends p's graylisting; the backoff it started still runs.
func (g *Gater) clear(p peer.ID, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.gates[p]
	if !ok {
		return
	}
	if !now.Before(e.until) {
		delete(g.gates, p)
		return
	}
	e.graylisted = false
	g.gates[p] = e
}

// sweep forgets peers no longer refused, and returns how many remain.
func (g *Gater) sweep(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, e := range g.gates {
		if !e.graylisted && !now.Before(e.until) {
			delete(g.gates, p)
		}
	}
	return len(g.gates)
}
