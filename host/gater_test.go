package host

import (
	"context"
	"errors"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
)

// TestGraylistedPeerRefusedAtHandshake: a peer that scoring graylists (here
// through a very negative application score) is disconnected by the peer
// manager, and its redial is refused by the node's connection gater right
// after the handshake: no connection event reaches the bus.
func TestGraylistedPeerRefusedAtHandshake(t *testing.T) {
	clk := clock.NewMock() // no decay tick: only the app score moves scores
	a := newNode(t, WithClock(clk))
	b := newNode(t)
	rec := record(t, a.Bus(), new(events.EvtConnOpened), new(events.EvtPeerEvicted), new(events.EvtPeerBackedOff))
	connect(t, b, a)
	rec.until(func(e any) bool { ev, ok := e.(events.EvtConnOpened); return ok && ev.Peer == b.ID() })

	app, err := eventbus.NewEmitter[events.EvtPeerAppScoreSet](a.Bus())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Emit(events.EvtPeerAppScoreSet{Peer: b.ID(), Score: -1000}); err != nil {
		t.Fatal(err)
	}
	var backoff events.EvtPeerBackedOff
	rec.untilAll(
		func(e any) bool {
			ev, ok := e.(events.EvtPeerEvicted)
			return ok && ev.Peer == b.ID() && ev.Reason == events.EvictGraylisted
		},
		func(e any) bool {
			ev, ok := e.(events.EvtPeerBackedOff)
			if ok && ev.Peer == b.ID() && ev.Graylisted {
				backoff = ev
				return true
			}
			return false
		})
	if !backoff.Until.After(clk.Now()) {
		t.Fatalf("graylisting backoff %+v", backoff)
	}
	bustest.Eventually(t, waitFor, "b disconnected on both sides", func() bool {
		return a.Host().Network().Connectedness(b.ID()) != network.Connected &&
			b.Host().Network().Connectedness(a.ID()) != network.Connected
	}, nil)

	// The redial: b may see its own upgrade finish (the muxer is agreed
	// inside the handshake), but a refuses the connection there.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = b.Connect(ctx, a.AddrInfo())
	bustest.Eventually(t, waitFor, "the refusal counted", func() bool {
		return metrictest.Sum(t, a.Registry(), "meshbus_peermgr_gater_refused_total", "stage", "secured") >= 1
	}, nil)
	bustest.Eventually(t, waitFor, "b's refused connection closed", func() bool {
		return b.Host().Network().Connectedness(a.ID()) != network.Connected
	}, nil)
	if err := a.Connect(ctx, b.AddrInfo()); err == nil {
		t.Fatal("a dialed a graylisted peer")
	}
	// Nothing from b reached a's bus since the graylisting.
	select {
	case e := <-rec.sub.Out():
		if ev, ok := e.(events.EvtConnOpened); ok && ev.Peer == b.ID() {
			t.Fatalf("a refused connection reached the bus: %+v", ev)
		}
	default:
	}
}

// refusePeer is a user gater refusing one peer after the handshake.
type refusePeer struct{ id peer.ID }

func (r refusePeer) InterceptPeerDial(p peer.ID) bool                                { return p != r.id }
func (r refusePeer) InterceptAddrDial(peer.ID, ma.Multiaddr) bool                    { return true }
func (r refusePeer) InterceptAccept(network.ConnMultiaddrs) bool                     { return true }
func (r refusePeer) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
func (r refusePeer) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return p != r.id
}

// TestUserConnectionGater: a gater given with WithConnectionGater works next
// to the peer manager's (libp2p would refuse two gaters given as libp2p
// options), and alone when the peer manager is left out.
func TestUserConnectionGater(t *testing.T) {
	if _, err := New(context.Background(), WithConnectionGater(nil)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("WithConnectionGater(nil): %v", err)
	}
	banned := newNode(t)
	friend := newNode(t)
	for _, opts := range [][]Option{
		{},
		{WithoutComponent(ComponentPeerMgr)},
	} {
		n := newNode(t, append(opts, WithConnectionGater(refusePeer{banned.ID()}))...)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		if err := n.Connect(ctx, banned.AddrInfo()); err == nil {
			t.Fatalf("options %v: dialed a peer the user gater refuses", opts)
		}
		if err := n.Connect(ctx, friend.AddrInfo()); err != nil {
			t.Fatalf("options %v: %v", opts, err)
		}
		cancel()
	}
}
