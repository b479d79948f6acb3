package peermgr

import (
	"fmt"
	"math/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	pb "github.com/libp2p/go-libp2p/core/peer/pb"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/events"
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

// rawPeerRecord seals arbitrary payload bytes as a peer record, so a test
// can sign content go-libp2p's PeerRecord would never produce.
type rawPeerRecord struct{ payload []byte }

func (r *rawPeerRecord) Domain() string                 { return peer.PeerRecordEnvelopeDomain }
func (r *rawPeerRecord) Codec() []byte                  { return peer.PeerRecordEnvelopePayloadType }
func (r *rawPeerRecord) MarshalRecord() ([]byte, error) { return r.payload, nil }
func (r *rawPeerRecord) UnmarshalRecord(b []byte) error { r.payload = b; return nil }

// signedRecordWithRawAddr signs a record of id whose only address is raw
// bytes (unparseable when they are not a multiaddr).
func signedRecordWithRawAddr(tb testing.TB, priv crypto.PrivKey, id peer.ID, raw []byte) []byte {
	tb.Helper()
	idb, err := id.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := proto.Marshal(&pb.PeerRecord{PeerId: idb, Seq: 1, Addresses: []*pb.PeerRecord_AddressInfo{{Multiaddr: raw}}})
	if err != nil {
		tb.Fatal(err)
	}
	env, err := record.Seal(&rawPeerRecord{payload}, priv)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// connOpen is an EvtConnOpened from ip with a connection id unique per peer
// and direction.
func connOpen(id peer.ID, dir network.Direction, ip string, at time.Time) events.EvtConnOpened {
	return events.EvtConnOpened{
		Peer: id, ConnID: fmt.Sprintf("%s-%d", id, dir), Direction: dir,
		RemoteAddr: ma.StringCast("/ip4/" + ip + "/tcp/4001"), RemoteIP: netip.MustParseAddr(ip), At: at,
	}
}
