package peerstore

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/meshbus/meshbus/events"
)

func testID(tb testing.TB, i int) peer.ID {
	tb.Helper()
	h, err := mh.Sum([]byte(fmt.Sprintf("peer-%d", i)), mh.IDENTITY, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return peer.ID(h)
}

func testAddr(i int) ma.Multiaddr {
	return ma.StringCast(fmt.Sprintf("/ip4/10.0.%d.%d/tcp/%d", i/250, i%250+1, 4000+i%60000))
}

func TestAddMergesAndUpgradesSource(t *testing.T) {
	s := New()
	id := testID(t, 1)
	now := time.Unix(100, 0)
	if !s.Add(id, []ma.Multiaddr{testAddr(1)}, events.SourceExchange, now) {
		t.Fatal("first Add not reported new")
	}
	if s.Add(id, []ma.Multiaddr{testAddr(1), testAddr(2)}, events.SourceDiscovery, now.Add(time.Second)) {
		t.Fatal("second Add reported new")
	}
	p, _ := s.Get(id)
	if len(p.Addrs) != 2 || p.Source != events.SourceExchange || !p.AddedAt.Equal(now) {
		t.Fatalf("merged peer %+v", p)
	}
	s.Add(id, nil, events.SourceStatic, now)
	if p, _ := s.Get(id); p.Source != events.SourceStatic {
		t.Fatal("a static Add did not upgrade the source")
	}
	// Get returns a copy: changing it leaves the store alone.
	p.Addrs[0] = testAddr(9)
	if q, _ := s.Get(id); q.Addrs[0].Equal(testAddr(9)) {
		t.Fatal("Get aliases the stored addresses")
	}
	s.SetAddrs(id, []ma.Multiaddr{testAddr(5)})
	if q, _ := s.Get(id); len(q.Addrs) != 1 || !q.Addrs[0].Equal(testAddr(5)) {
		t.Fatalf("SetAddrs: %v", q.Addrs)
	}
}

func TestConnectionsDirectionAndIP(t *testing.T) {
	s := New()
	id := testID(t, 1)
	ip1, ip2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Unix(100, 0)
	if !s.ConnOpened(id, "c1", network.DirInbound, ip1, t0) {
		t.Fatal("inbound connection of an unknown peer did not add it")
	}
	if p, _ := s.Get(id); p.Source != events.SourceInbound || !p.Connected() || p.Direction != network.DirInbound || p.IP != ip1 {
		t.Fatalf("after first conn: %+v", p)
	}
	s.ConnOpened(id, "c2", network.DirOutbound, ip2, t0.Add(time.Second))
	s.ConnOpened(id, "c2", network.DirOutbound, ip2, t0.Add(2*time.Second)) // duplicate id
	if got := s.PeersAt(ip1); len(got) != 1 {
		t.Fatalf("PeersAt(ip1) = %v", got)
	}
	// The oldest connection closes: direction and IP follow the next one.
	s.ConnClosed(id, "c1", t0.Add(3*time.Second))
	p, _ := s.Get(id)
	if !p.Connected() || p.Direction != network.DirOutbound || p.IP != ip2 || len(s.PeersAt(ip1)) != 0 || len(s.PeersAt(ip2)) != 1 {
		t.Fatalf("after closing the oldest: %+v", p)
	}
	if !p.ConnectedAt.Equal(t0) {
		t.Fatalf("ConnectedAt moved to %v while still connected", p.ConnectedAt)
	}
	s.ConnClosed(id, "c2", t0.Add(4*time.Second))
	p, _ = s.Get(id)
	if p.Connected() || !p.LastDisconnect.Equal(t0.Add(4*time.Second)) || p.IP.IsValid() || len(s.PeersAt(ip2)) != 0 {
		t.Fatalf("after the last close: %+v", p)
	}
	// Unknown connections and peers are ignored.
	s.ConnClosed(id, "nope", t0)
	s.ConnClosed(testID(t, 2), "c1", t0)
	if s.Len() != 1 {
		t.Fatalf("Len = %d", s.Len())
	}
}

func TestConnectednessWithoutConnEvents(t *testing.T) {
	s := New()
	id := testID(t, 1)
	t0 := time.Unix(100, 0)
	s.SetConnectedness(id, network.NotConnected, t0) // unknown: ignored
	if s.Has(id) {
		t.Fatal("NotConnected added a peer")
	}
	s.SetConnectedness(id, network.Connected, t0)
	if p, _ := s.Get(id); !p.Connected() || p.Direction != network.DirUnknown {
		t.Fatalf("connected without conns: %+v", p)
	}
	s.ConnOpened(id, "c1", network.DirOutbound, netip.MustParseAddr("192.0.2.1"), t0)
	s.SetConnectedness(id, network.NotConnected, t0.Add(time.Second))
	p, _ := s.Get(id)
	if p.Connected() || len(s.PeersAt(netip.MustParseAddr("192.0.2.1"))) != 0 || !p.LastDisconnect.Equal(t0.Add(time.Second)) {
		t.Fatalf("NotConnected left %+v", p)
	}
	// A late close of a connection already dropped is harmless.
	s.ConnClosed(id, "c1", t0.Add(2*time.Second))
	if p, _ := s.Get(id); !p.LastDisconnect.Equal(t0.Add(time.Second)) {
		t.Fatal("a late close moved LastDisconnect")
	}
}

func TestDirtyTrackingAndLoad(t *testing.T) {
	s := New()
	t0 := time.Unix(100, 0)
	for i := range 3 {
		s.Add(testID(t, i), []ma.Multiaddr{testAddr(i)}, events.SourceExchange, t0)
	}
	up, rm := s.TakeDirty()
	if len(up) != 3 || len(rm) != 0 {
		t.Fatalf("dirty = %d, removed = %d", len(up), len(rm))
	}
	if up, rm := s.TakeDirty(); len(up) != 0 || len(rm) != 0 {
		t.Fatal("TakeDirty did not reset")
	}
	s.DialFailed(testID(t, 0), t0, t0.Add(time.Minute))
	s.Remove(testID(t, 1))
	up, rm = s.TakeDirty()
	if len(up) != 1 || up[0].Failures != 1 || len(rm) != 1 || rm[0] != testID(t, 1) {
		t.Fatalf("after changes: %+v %v", up, rm)
	}
	// Loaded peers come back not connected and not dirty.
	loaded := []Peer{{ID: testID(t, 7), Connectedness: network.Connected, Direction: network.DirOutbound,
		IP: netip.MustParseAddr("192.0.2.9"), ConnectedAt: t0, Failures: 2}}
	s2 := New()
	s2.Load(loaded)
	p, _ := s2.Get(testID(t, 7))
	if p.Connected() || p.Direction != network.DirUnknown || p.IP.IsValid() || !p.ConnectedAt.IsZero() || p.Failures != 2 {
		t.Fatalf("loaded %+v", p)
	}
	if up, _ := s2.TakeDirty(); len(up) != 0 {
		t.Fatal("loaded peers are dirty")
	}
}
