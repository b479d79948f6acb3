package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/eventbus/bustest"
)

// TestConnManagerTrimKeepsMesh: a node whose libp2p connection manager has
// watermarks far below its connections trims; the mesh peer and the
// bootstrap peer survive (protected by the peer manager), the others go.
func TestConnManagerTrimKeepsMesh(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.Unix(1_700_000_000, 0))
	cm, err := connmgr.NewConnManager(1, 2, connmgr.WithGracePeriod(0), connmgr.WithSilencePeriod(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	boot := newNode(t, WithClock(mock))
	bootAddrs, err := boot.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	hub := newNode(t, WithClock(mock), WithLibp2pOptions(libp2p.ConnectionManager(cm)),
		WithBootstrapPeers(bootAddrs[0].String()))
	mesh := newNode(t, WithClock(mock))
	var others []*Node
	for range 3 {
		o := newNode(t, WithClock(mock))
		others = append(others, o)
		connect(t, o, hub)
	}
	connect(t, mesh, hub)
	th, err := hub.Router().Join("trim")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mesh.Router().Join("trim"); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, waitFor, "the mesh peer and the bootstrap peer protected (hub's mesh: "+fmt.Sprint(th.Mesh())+" at the start)", func() bool {
		return protectedBy(hub, mesh.ID(), automaton.TagMesh) && protectedBy(hub, boot.ID(), automaton.TagStatic)
	}, func() {
		mock.Add(time.Second) // router heartbeats graft the mesh
		_ = hub.PeerManager().Peers()
	})
	if n := len(hub.Host().Network().Peers()); n < 5 {
		t.Fatalf("hub has %d peers before the trim, want 5", n)
	}
	cm.TrimOpenConns(context.Background())
	if hub.Host().Network().Connectedness(mesh.ID()) != network.Connected {
		t.Fatal("the trim closed the mesh peer")
	}
	if hub.Host().Network().Connectedness(boot.ID()) != network.Connected {
		t.Fatal("the trim closed the bootstrap peer")
	}
	trimmed := 0
	for _, o := range others {
		if hub.Host().Network().Connectedness(o.ID()) != network.Connected {
			trimmed++
		}
	}
	if trimmed == 0 {
		t.Fatal("the trim closed nothing: the test did not exercise it")
	}
	t.Logf("trim with watermarks 1/2 closed %d of 3 unprotected peers; mesh and bootstrap peers kept", trimmed)
}

func protectedBy(n *Node, p peer.ID, tag string) bool {
	return n.Host().ConnManager().IsProtected(p, tag)
}
