package automaton

import (
	"net/netip"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// benchCore fills a core with 500 peers: 30 connected (10 outbound, 20
// inbound, on 10 IPs), the rest candidates.
func benchCore(b *testing.B) (*core, *clock.Mock, []identity) {
	ids := identities(b, 50, 501)
	clk := clock.NewMock()
	c := testCore(b, ids[0].id)
	for i := 1; i <= 500; i++ {
		_ = c.addPeer(peer.AddrInfo{ID: ids[i].id, Addrs: []ma.Multiaddr{addr(b, i)}}, events.SourceExchange, clk.Now())
	}
	for i := 1; i <= 30; i++ {
		dir := network.DirInbound
		if i <= 10 {
			dir = network.DirOutbound
		}
		ev := connOpen(ids[i].id, dir, "10.0.0.1", clk.Now())
		ev.RemoteIP = netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 10)})
		c.onConnOpened(ev, clk.Now())
	}
	c.takeOutbox()
	return c, clk, ids
}

// BenchmarkConnectivityPass is one connectivity loop pass over a 500-peer
// store at target (nothing to dial or trim).
func BenchmarkConnectivityPass(b *testing.B) {
	c, clk, _ := benchCore(b)
	b.ReportAllocs()
	for b.Loop() {
		c.connectivity(clk.Now())
		c.takeOutbox()
	}
}

// BenchmarkConnOpenedWithColocation is one inbound connection event on a
// shared IP, including the colocation check.
func BenchmarkConnOpenedWithColocation(b *testing.B) {
	c, clk, ids := benchCore(b)
	ev := connOpen(ids[40].id, network.DirInbound, "10.0.0.1", clk.Now())
	ev.RemoteIP = netip.AddrFrom4([4]byte{10, 0, 0, 1})
	closed := events.EvtConnClosed{Peer: ids[40].id, ConnID: ev.ConnID}
	b.ReportAllocs()
	for b.Loop() {
		c.onConnOpened(ev, clk.Now())
		c.onConnClosed(closed, clk.Now())
		c.takeOutbox()
	}
}

// BenchmarkVerifyExchangeRecord verifies one signed peer record (an
// Ed25519 signature check dominates).
func BenchmarkVerifyExchangeRecord(b *testing.B) {
	ids := identities(b, 51, 2)
	rec := events.PeerExchangeRecord{Peer: ids[1].id, SignedPeerRecord: signedRecord(b, ids[1].priv, ids[1].id, addr(b, 1))}
	b.ReportAllocs()
	for b.Loop() {
		if _, reason := verifyExchangeRecord(rec, ids[0].id); reason != "" {
			b.Fatal(reason)
		}
	}
}

// BenchmarkCapacityPrune prunes 50 peers from a 550-peer store.
func BenchmarkCapacityPrune(b *testing.B) {
	ids := identities(b, 52, 551)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := testCore(b, ids[0].id, WithStoreCapacity(10_000))
		t0 := time.Unix(0, 0)
		for i := 1; i <= 550; i++ {
			_ = c.addPeer(peer.AddrInfo{ID: ids[i].id, Addrs: []ma.Multiaddr{addr(b, i)}}, events.SourceExchange, t0.Add(time.Duration(i)))
		}
		c.cfg.StoreCapacity = 500
		b.StartTimer()
		c.prune(t0)
	}
}

// BenchmarkConnectivityPassServiceTrim is a pass over the 500-peer store
// with 40 connected service peers for a budget of 20: 20 are trimmed (the
// peers are put back between passes, outside the timer).
func BenchmarkConnectivityPassServiceTrim(b *testing.B) {
	c, clk, ids := benchCore(b)
	svc := ids[31:71]
	for i, id := range svc {
		ev := connOpen(id.id, network.DirInbound, "10.0.1.1", clk.Now().Add(time.Duration(i)))
		ev.RemoteIP = netip.AddrFrom4([4]byte{10, 0, 1, byte(i % 10)})
		c.onConnOpened(ev, clk.Now())
		c.onIdentified(events.EvtPeerIdentificationCompleted{Peer: id.id, Protocols: serviceProtos}, clk.Now())
	}
	c.takeOutbox()
	b.ReportAllocs()
	for b.Loop() {
		o := func() Output { c.connectivity(clk.Now()); return c.takeOutbox() }()
		if len(o.Closes) != 20 {
			b.Fatalf("trimmed %d, want 20", len(o.Closes))
		}
		b.StopTimer()
		clear(c.closing)
		b.StartTimer()
	}
}
