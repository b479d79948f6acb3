package automaton

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// serviceProtos is what a service peer speaks: no mesh protocol.
var serviceProtos = []protocol.ID{"/ipfs/id/1.0.0", "/vac/waku/store/2.0.0"}

// connectAs opens a connection from id in dir at the clock's time and
// identifies it with protos (none: left unidentified).
func connectAs(c *core, clk *clock.Mock, id peer.ID, dir network.Direction, protos ...protocol.ID) {
	c.onConnOpened(connOpen(id, dir, "10.9.0.1", clk.Now()), clk.Now())
	c.onConnectedness(events.EvtPeerConnectednessChanged{Peer: id, Connectedness: network.Connected}, clk.Now())
	if len(protos) > 0 {
		c.onIdentified(events.EvtPeerIdentificationCompleted{Peer: id, Protocols: protos}, clk.Now())
	}
}

// TestServiceBudgetTrimsNewestInboundThenOutbound: above the service budget
// the connectivity pass disconnects service peers, newest inbound first and
// then newest outbound, never a static or pinned peer, and never counts
// mesh or unidentified peers; a peer being disconnected is not evicted twice.
func TestServiceBudgetTrimsNewestInboundThenOutbound(t *testing.T) {
	ids := identities(t, 50, 16)
	clk := clock.NewMock()
	// 10 connections x 0.6: 6 mesh peers, a service budget of 4.
	c := testCore(t, ids[0].id, WithMaxConnections(10), WithMeshRatio(0.6), WithColocationLimit(0))
	if got := c.targets.Service; got != 4 {
		t.Fatalf("service budget %d, want 4", got)
	}
	var (
		static  = ids[1].id
		pinned  = ids[2].id
		out1    = ids[3].id
		out2    = ids[4].id
		in1     = ids[5].id
		in2     = ids[6].id
		in3     = ids[7].id
		newest  = ids[8].id // pinned, so the newest inbound peer is spared
		meshIn  = ids[9].id
		unknown = ids[10].id
	)
	if err := c.addPeer(peer.AddrInfo{ID: static, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceStatic, clk.Now()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		id     peer.ID
		dir    network.Direction
		protos []protocol.ID
	}{
		{static, network.DirInbound, serviceProtos},
		{pinned, network.DirInbound, serviceProtos},
		{out1, network.DirOutbound, serviceProtos},
		{in1, network.DirInbound, serviceProtos},
		{out2, network.DirOutbound, serviceProtos},
		{in2, network.DirInbound, serviceProtos},
		{meshIn, network.DirInbound, []protocol.ID{"/meshsub/1.1.0"}},
		{in3, network.DirInbound, serviceProtos},
		{unknown, network.DirInbound, nil},
		{newest, network.DirInbound, serviceProtos},
	}
	for _, s := range steps {
		clk.Add(time.Second)
		connectAs(c, clk, s.id, s.dir, s.protos...)
	}
	for i, id := range []peer.ID{pinned, newest} {
		if err := c.pin(protocol.ID(fmt.Sprintf("/svc/%d", i)), id); err != nil {
			t.Fatal(err)
		}
	}
	c.takeOutbox()

	// 8 service peers (static, 2 pinned, 2 outbound, 3 inbound) for 4
	// places: the 3 inbound go, newest first, then the newest outbound.
	c.connectivity(clk.Now())
	o := c.takeOutbox()
	want := []peer.ID{in3, in2, in1, out2}
	if !slices.Equal(o.Closes, want) {
		t.Fatalf("trimmed %v, want %v", o.Closes, want)
	}
	ev := eventsOf[events.EvtPeerEvicted](o)
	if len(ev) != len(want) {
		t.Fatalf("evictions %+v", ev)
	}
	for i, e := range ev {
		if e.Peer != want[i] || e.Reason != events.EvictExcessService || e.Removed || !e.At.Equal(clk.Now()) {
			t.Fatalf("eviction %d: %+v", i, e)
		}
	}
	if e := events.EvictExcessService.String(); e != "excess_service" {
		t.Fatalf("reason name %q", e)
	}

	// Until their disconnects arrive, the evicted peers are neither counted
	// nor evicted again.
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Closes) != 0 {
		t.Fatalf("second pass evicted %v again", o.Closes)
	}
	for _, id := range want {
		c.onConnectedness(events.EvtPeerConnectednessChanged{Peer: id, Connectedness: network.NotConnected}, clk.Now())
	}
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Closes) != 0 {
		t.Fatalf("at the budget, evicted %v", o.Closes)
	}

	// One more service peer is one too many; a mesh peer is not.
	clk.Add(time.Second)
	connectAs(c, clk, ids[11].id, network.DirInbound, "/meshsub/1.4.0" /* speaks only v1.4 */)
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Closes) != 0 {
		t.Fatalf("a mesh peer counted against the service budget: evicted %v", o.Closes)
	}
	clk.Add(time.Second)
	connectAs(c, clk, ids[12].id, network.DirOutbound, serviceProtos...)
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); !slices.Equal(o.Closes, []peer.ID{ids[12].id}) {
		t.Fatalf("over the budget by one outbound peer: evicted %v, want %s", o.Closes, ids[12].id)
	}
}

// TestServiceBudgetSparesExemptPeers: when only static and pinned peers are
// over the budget, nobody is disconnected.
func TestServiceBudgetSparesExemptPeers(t *testing.T) {
	ids := identities(t, 51, 4)
	clk := clock.NewMock()
	// 4 connections x 0.75: a service budget of 1.
	c := testCore(t, ids[0].id, WithMaxConnections(4), WithMeshRatio(0.75), WithColocationLimit(0))
	if err := c.addPeer(peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceStatic, clk.Now()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []peer.ID{ids[1].id, ids[2].id, ids[3].id} {
		clk.Add(time.Second)
		connectAs(c, clk, id, network.DirInbound, serviceProtos...)
	}
	if err := c.pin("/svc/a", ids[2].id); err != nil {
		t.Fatal(err)
	}
	if err := c.pin("/svc/b", ids[3].id); err != nil {
		t.Fatal(err)
	}
	c.takeOutbox()
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Closes) != 0 || len(eventsOf[events.EvtPeerEvicted](o)) != 0 {
		t.Fatalf("evicted exempt peers: %v", o.Closes)
	}
}

// TestIdentifyReportsServicePeer: identification tells the driver when a
// connected peer turns out to be a service peer, so it runs a pass at once.
func TestIdentifyReportsServicePeer(t *testing.T) {
	ids := identities(t, 52, 3)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	c.onConnOpened(connOpen(ids[1].id, network.DirInbound, "10.0.0.1", clk.Now()), clk.Now())
	if !c.onIdentified(events.EvtPeerIdentificationCompleted{Peer: ids[1].id, Protocols: serviceProtos}, clk.Now()) {
		t.Fatal("a connected peer without mesh protocols was not reported as a service peer")
	}
	c.onConnOpened(connOpen(ids[2].id, network.DirInbound, "10.0.0.2", clk.Now()), clk.Now())
	if c.onIdentified(events.EvtPeerIdentificationCompleted{Peer: ids[2].id, Protocols: []protocol.ID{"/meshsub/1.1.0"}}, clk.Now()) {
		t.Fatal("a mesh peer was reported as a service peer")
	}
	if !c.onProtocolsUpdated(events.EvtPeerProtocolsUpdated{Peer: ids[2].id, Removed: []protocol.ID{"/meshsub/1.1.0"}}) {
		t.Fatal("a peer that stopped speaking mesh protocols was not reported as a service peer")
	}
}

// TestPinRejectsInvalidProtocol: a protocol id that is empty or not UTF-8
// (it becomes a metric label) is refused with ErrInvalidProtocol, not a
// panic at the next census.
func TestPinRejectsInvalidProtocol(t *testing.T) {
	ids := identities(t, 53, 2)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	connectAs(c, clk, ids[1].id, network.DirOutbound, serviceProtos...)
	for _, proto := range []protocol.ID{"", "/svc/\xff\xfe"} {
		if err := c.pin(proto, ids[1].id); !errors.Is(err, ErrInvalidProtocol) {
			t.Fatalf("pin(%q) = %v, want ErrInvalidProtocol", proto, err)
		}
		if _, err := c.selectPeer(proto); !errors.Is(err, ErrNoPeer) {
			t.Fatalf("selectPeer(%q) after a refused pin: %v", proto, err)
		}
	}
	c.connectivity(clk.Now()) // the census must not meet the refused id
}
