package automaton

import (
	"errors"
	"fmt"
	"github.com/libp2p/go-libp2p/core/protocol"
	"math/rand"
	"net/netip"
	"slices"
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

// Option changes a test configuration.
type Option func(*Config)

func WithColocationLimit(n int) Option { return func(c *Config) { c.ColocationLimit = n } }
func WithMaxConnections(n int) Option  { return func(c *Config) { c.MaxConnections = n } }
func WithMaxParallelDials(n int) Option {
	return func(c *Config) { c.MaxParallelDials = n }
}
func WithStoreCapacity(n int) Option { return func(c *Config) { c.StoreCapacity = n } }
func WithMeshRatio(r float64) Option { return func(c *Config) { c.MeshRatio = r } }
func WithDialRate(r float64) Option  { return func(c *Config) { c.DialRate = r } }
func WithColocationExempt(p ...netip.Prefix) Option {
	return func(c *Config) { c.ColocationExempt = p }
}

// core drives an Automaton the way the driver does, collecting the Output
// of every call until takeOutbox, with short names for the handlers.
type core struct {
	*Automaton
	out Output
}

// testCore returns an automaton for self with the options applied.
func testCore(tb testing.TB, self peer.ID, opts ...Option) *core {
	tb.Helper()
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg, self, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &core{Automaton: a}
}

// Rejections as errors, so tests read like the driver's API.
var (
	ErrInvalidPeer     = errors.New("invalid peer")
	ErrSelf            = errors.New("self")
	ErrNoAddresses     = errors.New("no addresses")
	ErrInvalidSource   = errors.New("invalid source")
	ErrInvalidProtocol = errors.New("invalid protocol")
	ErrUnknownPeer     = errors.New("unknown peer")
	ErrNoPeer          = errors.New("no peer")
)

func outcomeErr(o Outcome) error {
	switch o {
	case OutcomeRejectedInvalidPeer:
		return ErrInvalidPeer
	case OutcomeRejectedSelf:
		return ErrSelf
	case OutcomeRejectedNoAddresses:
		return ErrNoAddresses
	case OutcomeRejectedSource:
		return ErrInvalidSource
	case OutcomeRejectedProtocol:
		return ErrInvalidProtocol
	case OutcomeRejectedUnknownPeer:
		return ErrUnknownPeer
	}
	return nil
}

func (c *core) addPeer(ai peer.AddrInfo, src events.PeerSource, now time.Time) error {
	return outcomeErr(c.HandleAddPeer(now, AddPeer{Info: ai, Source: src}, &c.out))
}

func (c *core) connectivity(now time.Time) time.Duration {
	c.HandleTick(now, &c.out)
	return c.out.Next
}

func (c *core) onDialResult(r DialResult, now time.Time) Outcome {
	return c.HandleDialResult(now, r, &c.out)
}

func (c *core) onConnOpened(ev events.EvtConnOpened, now time.Time) Outcome {
	return c.HandleConnOpened(now, ev, &c.out)
}

func (c *core) onConnClosed(ev events.EvtConnClosed, now time.Time) Outcome {
	return c.HandleConnClosed(now, ev, &c.out)
}

func (c *core) onConnectedness(ev events.EvtPeerConnectednessChanged, now time.Time) Outcome {
	return c.HandleConnectedness(now, ev, &c.out)
}

func (c *core) onIdentified(ev events.EvtPeerIdentificationCompleted, now time.Time) bool {
	return c.HandleIdentified(now, ev, &c.out) == OutcomeServicePeer
}

func (c *core) onProtocolsUpdated(ev events.EvtPeerProtocolsUpdated) bool {
	return c.HandleProtocolsUpdated(time.Time{}, ev, &c.out) == OutcomeServicePeer
}

func (c *core) onExchange(ev events.EvtPeerExchangeReceived, now time.Time) int {
	n := c.store.Len()
	c.HandleExchange(now, ev, &c.out)
	return c.store.Len() - n
}

func (c *core) onThreshold(ev events.EvtPeerScoreThresholdCrossed, now time.Time) Outcome {
	return c.HandleThreshold(now, ev, &c.out)
}

func (c *core) onScores(ev events.EvtPeerScoresUpdated, now time.Time) Outcome {
	return c.HandleScores(now, ev, &c.out)
}

func (c *core) prune(now time.Time) { c.HandlePrune(now, &c.out) }

func (c *core) pin(proto protocol.ID, id peer.ID) error {
	return outcomeErr(c.HandlePin(time.Time{}, Pin{Protocol: proto, Peer: id}, &c.out))
}

func (c *core) selectPeer(proto protocol.ID) (peer.ID, error) {
	id, ok := c.SelectPeer(proto)
	if !ok {
		return "", ErrNoPeer
	}
	return id, nil
}

func (c *core) remove(id peer.ID) { c.Automaton.remove(id, &c.out) }

func (c *core) syncGates() { c.SyncGates(&c.out) }

// takeOutbox returns a copy of what was decided since the last call.
func (c *core) takeOutbox() Output {
	o := Output{
		Facts:       slices.Clone(c.out.Facts),
		Discovered:  slices.Clone(c.out.Discovered),
		Attempted:   slices.Clone(c.out.Attempted),
		Succeeded:   slices.Clone(c.out.Succeeded),
		Failed:      slices.Clone(c.out.Failed),
		BackedOff:   slices.Clone(c.out.BackedOff),
		Evicted:     slices.Clone(c.out.Evicted),
		Rejected:    slices.Clone(c.out.Rejected),
		Dials:       slices.Clone(c.out.Dials),
		Closes:      slices.Clone(c.out.Closes),
		Gates:       slices.Clone(c.out.Gates),
		Protections: slices.Clone(c.out.Protections),
		Census:      c.out.Census,
		HasCensus:   c.out.HasCensus,
		Next:        c.out.Next,
	}
	c.out.Reset()
	return o
}

// connOpen is an EvtConnOpened from ip with a connection id unique per peer
// and direction.
func connOpen(id peer.ID, dir network.Direction, ip string, at time.Time) events.EvtConnOpened {
	return events.EvtConnOpened{
		Peer: id, ConnID: fmt.Sprintf("%s-%d", id, dir), Direction: dir,
		RemoteAddr: ma.StringCast("/ip4/" + ip + "/tcp/4001"), RemoteIP: netip.MustParseAddr(ip), At: at,
	}
}

// eventsOf returns the Output's events of type T, in decision order.
func eventsOf[T any](o Output) []T {
	var out []T
	for _, f := range o.Facts {
		var v any
		switch f.Kind {
		case FactPeerDiscovered:
			v = o.Discovered[f.Index]
		case FactDialAttempted:
			v = o.Attempted[f.Index]
		case FactDialSucceeded:
			v = o.Succeeded[f.Index]
		case FactDialFailed:
			v = o.Failed[f.Index]
		case FactPeerBackedOff:
			v = o.BackedOff[f.Index]
		case FactPeerEvicted:
			v = o.Evicted[f.Index]
		case FactPeerRecordRejected:
			v = o.Rejected[f.Index]
		}
		if e, ok := v.(T); ok {
			out = append(out, e)
		}
	}
	return out
}

func WithBackoff(initial time.Duration, factor float64) Option {
	return func(c *Config) { c.InitialBackoff, c.BackoffFactor = initial, factor }
}
func WithMaxFailures(n int) Option { return func(c *Config) { c.MaxFailures = n } }
func WithConnectivityInterval(normal, fast time.Duration) Option {
	return func(c *Config) { c.ConnectivityInterval, c.FastConnectivityInterval = normal, fast }
}
