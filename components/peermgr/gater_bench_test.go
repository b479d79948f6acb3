package peermgr

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkGaterSecured is the gater's check of one secured connection,
// with 1000 graylisted peers gated and the peer not among them (the common
// case), then among them.
func BenchmarkGaterSecured(b *testing.B) {
	ids := identities(b, 53, 1002)
	clk := clock.NewMock()
	g := NewGater(clk)
	for _, id := range ids[:1000] {
		g.graylist(id.id, clk.Now().Add(time.Minute))
	}
	for _, bc := range []struct {
		name  string
		id    peer.ID
		allow bool
	}{{"allowed", ids[1001].id, true}, {"refused", ids[10].id, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if g.InterceptSecured(network.DirInbound, bc.id, nil) != bc.allow {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
