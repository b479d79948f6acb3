package peermgr

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/internal/testhost"
)

// identity is a deterministic test key pair.
type identity struct {
	priv crypto.PrivKey
	id   peer.ID
}

// identities returns n key pairs drawn from a seeded source.
func identities(tb testing.TB, seed int64, n int) []identity {
	tb.Helper()
	rng := rand.New(rand.NewSource(seed))
	out := make([]identity, n)
	for i := range out {
		priv, _, err := crypto.GenerateEd25519Key(rng)
		if err != nil {
			tb.Fatal(err)
		}
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = identity{priv, id}
	}
	return out
}

func addr(tb testing.TB, i int) ma.Multiaddr {
	tb.Helper()
	return ma.StringCast(fmt.Sprintf("/ip4/10.0.%d.%d/tcp/%d", i/250, i%250+1, 4000+i))
}

// signedRecord seals a peer record of id with addrs, signed by priv.
func signedRecord(tb testing.TB, priv crypto.PrivKey, id peer.ID, addrs ...ma.Multiaddr) []byte {
	tb.Helper()
	rec := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id, Addrs: addrs})
	env, err := record.Seal(rec, priv)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testWait bounds every wait of these tests (an event, a store change).
const testWait = 15 * time.Second

// meshHost is a loopback host from internal/testhost with identity id that
// also answers the meshsub protocol (resetting every stream), so identify
// classifies it as a mesh peer. Extra options (a connection gater) are
// appended.
func meshHost(t *testing.T, id identity, extra ...libp2p.Option) host.Host {
	t.Helper()
	h := testhost.New(t, append([]libp2p.Option{libp2p.Identity(id.priv)}, extra...)...)
	h.SetStreamHandler("/meshsub/1.1.0", func(s network.Stream) { _ = s.Reset() })
	return h
}

// isConnected reports whether the manager's store shows id connected.
func isConnected(m *Manager, id peer.ID) bool {
	p, ok := m.Peer(id)
	return ok && p.Connected()
}
