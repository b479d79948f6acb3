package peerstore

import (
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

func benchStore(b *testing.B, n int) (*Store, []peer.ID) {
	s := New()
	ids := make([]peer.ID, n)
	t0 := time.Unix(100, 0)
	for i := range ids {
		ids[i] = testID(b, i)
		s.Add(ids[i], []ma.Multiaddr{testAddr(i)}, events.SourceExchange, t0)
	}
	s.TakeDirty()
	return s, ids
}

// BenchmarkAddExisting merges an already-known address into a known peer
// (the common case for repeated discovery).
func BenchmarkAddExisting(b *testing.B) {
	s, ids := benchStore(b, 500)
	addrs := []ma.Multiaddr{testAddr(3)}
	t0 := time.Unix(100, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(ids[3], addrs, events.SourceExchange, t0)
		i++
	}
}

// BenchmarkConnOpenClose opens and closes one connection of a known peer.
func BenchmarkConnOpenClose(b *testing.B) {
	s, ids := benchStore(b, 500)
	ip := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(100, 0)
	b.ReportAllocs()
	for b.Loop() {
		s.ConnOpened(ids[7], "c", network.DirInbound, ip, t0)
		s.ConnClosed(ids[7], "c", t0)
	}
}

// BenchmarkView reads one peer without copying.
func BenchmarkView(b *testing.B) {
	s, ids := benchStore(b, 500)
	var f int
	b.ReportAllocs()
	for b.Loop() {
		s.View(ids[9], func(p *Peer) { f += p.Failures })
	}
}

// BenchmarkAll snapshots a 500-peer store (what Manager.Peers costs).
func BenchmarkAll(b *testing.B) {
	s, _ := benchStore(b, 500)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.All()
	}
}
