package host

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// TestConnectIdentifyDisconnect: over TCP, both sides see open, Connected and
// identify in that order, with the fields filled, then close and
// NotConnected.
func TestConnectIdentifyDisconnect(t *testing.T) {
	a, b := newNode(t), newNode(t)
	ra, rb := record(t, a.Bus(), connTypes...), record(t, b.Bus(), connTypes...)
	connect(t, b, a)

	for _, side := range []struct {
		name   string
		r      *recorder
		remote *Node
		dir    network.Direction
	}{{"a", ra, b, network.DirInbound}, {"b", rb, a, network.DirOutbound}} {
		got := side.r.until(identified(side.remote.ID()))
		check := newConnChecker(t)
		for _, e := range got {
			check.feed(e)
		}
		open, ok := got[0].(events.EvtConnOpened)
		if !ok {
			t.Fatalf("%s: first event %T, want EvtConnOpened", side.name, got[0])
		}
		if open.Peer != side.remote.ID() || open.Direction != side.dir || open.RemoteIP != netip.MustParseAddr("127.0.0.1") || open.RemoteAddr == nil {
			t.Fatalf("%s: opened %+v", side.name, open)
		}
		id := got[len(got)-1].(events.EvtPeerIdentificationCompleted)
		if !slices.Contains(id.Protocols, "/ipfs/id/1.0.0") || id.AgentVersion != UserAgent || len(id.ListenAddrs) == 0 {
			t.Fatalf("%s: identify %+v", side.name, id)
		}
		if side.remote == a && !slices.ContainsFunc(id.ListenAddrs, func(x ma.Multiaddr) bool { return x.Equal(a.Host().Addrs()[0]) }) {
			t.Fatalf("%s: identify listen addrs %v lack %v", side.name, id.ListenAddrs, a.Host().Addrs())
		}
	}

	if err := b.Host().Network().ClosePeer(a.ID()); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		r      *recorder
		remote peer.ID
	}{{ra, b.ID()}, {rb, a.ID()}} {
		got := side.r.until(connectedness(side.remote, network.NotConnected))
		if _, ok := got[len(got)-2].(events.EvtConnClosed); !ok {
			t.Fatalf("NotConnected not right after EvtConnClosed: %v", got)
		}
	}
}

// TestQUIC: a node dialed on its QUIC address only.
func TestQUIC(t *testing.T) {
	a, b := newNode(t), newNode(t)
	rb := record(t, b.Bus(), connTypes...)
	var quicAddrs []ma.Multiaddr
	for _, x := range a.Host().Addrs() {
		if _, err := x.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			quicAddrs = append(quicAddrs, x)
		}
	}
	if len(quicAddrs) == 0 {
		t.Fatalf("no QUIC listen address in %v", a.Host().Addrs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: quicAddrs}); err != nil {
		t.Fatal(err)
	}
	got := rb.until(identified(a.ID()))
	open := got[0].(events.EvtConnOpened)
	if _, err := open.RemoteAddr.ValueForProtocol(ma.P_QUIC_V1); err != nil {
		t.Fatalf("connection not over QUIC: %v", open.RemoteAddr)
	}
}

// noDialer leaves out the peer manager, which redials disconnected peers on
// its own: tests that count connections exactly need only their own dials.
var noDialer = WithoutComponent(ComponentPeerMgr)

// TestFlapping connects and disconnects two nodes in a tight loop, dialing
// from both sides at once so that connections overlap, and checks on both
// nodes that every open has its close, that connectedness alternates per
// peer and follows the first open and last close at once, and that no
// NotConnected is lost.
func TestFlapping(t *testing.T) {
	const rounds = 40
	a, b := newNode(t, noDialer), newNode(t, noDialer)
	ra, rb := record(t, a.Bus(), connTypes...), record(t, b.Bus(), connTypes...)
	sa, sb := countSwarm(a), countSwarm(b)
	for i := 0; i < rounds; i++ {
		// A deadline per round: one for all rounds ran out on a loaded
		// machine although no round was stuck.
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = a.Connect(ctx, b.AddrInfo()) }()
		go func() { defer wg.Done(); errs[1] = b.Connect(ctx, a.AddrInfo()) }()
		wg.Wait()
		cancel()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if i%2 == 0 {
			a.Host().Network().ClosePeer(b.ID())
		} else {
			b.Host().Network().ClosePeer(a.ID())
		}
	}
	// Both sides dial at once: Connect returns when the dialer's side is
	// up, and the listener may add the other dial's connection only after
	// the round's ClosePeer. Close those stragglers too, so that the last
	// round ends with every connection closed.
	sa.closeAll(a, b.ID())
	sb.closeAll(b, a.ID())
	for _, side := range []struct {
		name   string
		r      *recorder
		s      *swarmCounter
		remote peer.ID
	}{{"a", ra, sa, b.ID()}, {"b", rb, sb, a.ID()}} {
		// The swarm's own notifications are the truth: the tracker must
		// report exactly as many opens and closes, none lost.
		opened, closed := side.s.settled(t)
		check := newConnChecker(t)
		side.r.until(func(e any) bool {
			check.feed(e)
			return check.opened == opened && check.closed == closed && len(check.expect) == 0
		})
		if check.seen[side.remote] == 0 || check.state[side.remote] != network.NotConnected || len(check.open) != 0 {
			t.Fatalf("%s: %d Connected events, final state %v, %d connections left open",
				side.name, check.seen[side.remote], check.state[side.remote], len(check.open))
		}
		t.Logf("%s: %d connections, %d connected/disconnected cycles over %d rounds", side.name, opened, check.seen[side.remote], rounds)
	}
}
