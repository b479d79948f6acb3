package peermgr

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
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
