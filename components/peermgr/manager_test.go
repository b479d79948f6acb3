package peermgr

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// node is a manager on a real loopback host, with its bus and mock clock.
type node struct {
	h   host.Host
	bus *eventbus.Bus
	clk *clock.Mock
	m   *Manager
	reg *prometheus.Registry
}

// newNode starts a manager. The connectivity timer is an hour unless the
// options say otherwise, so tests drive passes through AddPeer, exchanges
// and dial results rather than racing a timer.
func newNode(t *testing.T, id identity, opts ...Option) *node {
	t.Helper()
	n := &node{h: meshHost(t, id), bus: eventbus.New(), clk: clock.NewMock(), reg: prometheus.NewRegistry()}
	t.Cleanup(func() { _ = n.bus.Close() })
	testhost.Track(t, n.h, n.bus, conntrack.WithClock(n.clk))
	all := append([]Option{WithConnectivityInterval(time.Hour, time.Hour), WithRegisterer(n.reg)}, opts...)
	m, err := New(n.h, n.bus, append(all, WithClock(n.clk))...)
	if err != nil {
		t.Fatal(err)
	}
	n.m = m
	t.Cleanup(func() { _ = m.Close() })
	return n
}

func (n *node) start(t *testing.T) {
	t.Helper()
	if err := n.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// closedPortAddr returns a loopback address nobody listens on.
func closedPortAddr(t *testing.T) ma.Multiaddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().(*net.TCPAddr)
	_ = l.Close()
	m, err := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + strconv.Itoa(a.Port))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManagerDialsAddedPeer(t *testing.T) {
	ids := identities(t, 20, 2)
	a := newNode(t, ids[0])
	b := meshHost(t, ids[1])
	attempted := bustest.Subscribe[events.EvtDialAttempted](t, a.bus)
	succeeded := bustest.Subscribe[events.EvtDialSucceeded](t, a.bus)
	discovered := bustest.Subscribe[events.EvtPeerDiscovered](t, a.bus)
	a.start(t)
	if err := a.m.AddPeer(testhost.Info(b), events.SourceStatic); err != nil {
		t.Fatal(err)
	}
	bustest.Next(t, discovered, func(e events.EvtPeerDiscovered) bool { return e.Peer == b.ID() && e.Source == events.SourceStatic }, testWait)
	bustest.Next(t, attempted, func(e events.EvtDialAttempted) bool { return e.Peer == b.ID() && e.Attempt == 1 }, testWait)
	bustest.Next(t, succeeded, func(e events.EvtDialSucceeded) bool { return e.Peer == b.ID() }, testWait)
	bustest.Eventually(t, testWait, "outbound connection in the store", func() bool {
		p, ok := a.m.Peer(b.ID())
		return ok && p.Connected() && p.Direction == network.DirOutbound && p.Identified
	}, nil)
	if got := a.m.met.v.Value(mDialOK); got != 1 {
		t.Fatalf("dials_total{outcome=success} = %v, want 1", got)
	}
	if got, err := a.m.SelectPeer("/meshsub/1.1.0"); err != nil || got != b.ID() {
		t.Fatalf("SelectPeer = %s, %v", got, err)
	}
}

// TestManagerBackoffOnRealDials dials a closed loopback port: each failure
// backs the peer off on the mock clock, and the next dial waits for it.
func TestManagerBackoffOnRealDials(t *testing.T) {
	ids := identities(t, 21, 2)
	a := newNode(t, ids[0])
	failed := bustest.Subscribe[events.EvtDialFailed](t, a.bus)
	backed := bustest.Subscribe[events.EvtPeerBackedOff](t, a.bus)
	attempted := bustest.Subscribe[events.EvtDialAttempted](t, a.bus)
	a.start(t)
	t0 := a.clk.Now()
	if err := a.m.AddPeer(peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{closedPortAddr(t)}}, events.SourceStatic); err != nil {
		t.Fatal(err)
	}
	f := bustest.Next(t, failed, func(e events.EvtDialFailed) bool { return true }, testWait)
	if f.Reason != events.DialFailError || f.Failures != 1 || f.Err == "" {
		t.Fatalf("first failure %+v", f)
	}
	b := bustest.Next(t, backed, func(events.EvtPeerBackedOff) bool { return true }, testWait)
	if !b.Until.Equal(t0.Add(120*time.Second)) || b.Failures != 1 {
		t.Fatalf("first backoff %+v, want until t0+120s", b)
	}
	bustest.Next(t, attempted, func(e events.EvtDialAttempted) bool { return e.Attempt == 1 }, testWait)
	// The clock moves past the backoff; the next pass dials again.
	a.clk.Add(120 * time.Second)
	// Adding the peer again asks for a pass without waiting for the timer.
	if err := a.m.AddPeer(peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{closedPortAddr(t)}}, events.SourceStatic); err != nil {
		t.Fatal(err)
	}
	bustest.Next(t, attempted, func(e events.EvtDialAttempted) bool { return e.Attempt == 2 }, testWait)
	b = bustest.Next(t, backed, func(events.EvtPeerBackedOff) bool { return true }, testWait)
	if !b.Until.Equal(t0.Add(120*time.Second+480*time.Second)) || b.Failures != 2 {
		t.Fatalf("second backoff %+v, want until t0+600s", b)
	}
	if got := a.m.met.v.Value(mDialFail[events.DialFailError]); got != 2 {
		t.Fatalf("dials_total{outcome=error} = %v, want 2", got)
	}
}

// TestManagerDialTimeout dials a listener that accepts TCP and never
// answers: the mock clock's dial timeout ends the dial.
func TestManagerDialTimeout(t *testing.T) {
	ids := identities(t, 22, 2)
	a := newNode(t, ids[0])
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		for c := range held {
			_ = c.Close()
		}
	})
	failed := bustest.Subscribe[events.EvtDialFailed](t, a.bus)
	attempted := bustest.Subscribe[events.EvtDialAttempted](t, a.bus)
	a.start(t)
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	if err := a.m.AddPeer(peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{addr}}, events.SourceStatic); err != nil {
		t.Fatal(err)
	}
	bustest.Next(t, attempted, func(events.EvtDialAttempted) bool { return true }, testWait)
	// The worker arms its timeout on the mock clock when it picks the job
	// up; advance in dial-timeout steps until the failure is reported.
	deadline := time.After(15 * time.Second)
	for {
		a.clk.Add(10 * time.Second)
		select {
		case f := <-failed.Out():
			if f.Reason != events.DialFailTimeout {
				t.Fatalf("failure %+v, want a timeout", f)
			}
			return
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("the dial never timed out")
		}
	}
}

// TestManagerColocationOnLoopback: four hosts connect from 127.0.0.1 with
// the limit lowered to 2 and loopback no longer exempt; with equal scores
// the two newest are disconnected and removed.
func TestManagerColocationOnLoopback(t *testing.T) {
	ids := identities(t, 23, 5)
	a := newNode(t, ids[0], WithColocationLimit(2), WithColocationExempt())
	evicted := bustest.Subscribe[events.EvtPeerEvicted](t, a.bus)
	a.start(t)
	var others []host.Host
	for i := 1; i <= 4; i++ {
		h := meshHost(t, ids[i])
		others = append(others, h)
		a.clk.Add(time.Second)
		if err := h.Connect(context.Background(), testhost.Info(a.h)); err != nil {
			t.Fatal(err)
		}
		if i <= 2 {
			bustest.Eventually(t, testWait, "inbound peer in the store", func() bool { return isConnected(a.m, h.ID()) }, nil)
		} else {
			e := bustest.Next(t, evicted, func(e events.EvtPeerEvicted) bool { return e.Peer == h.ID() }, testWait)
			if e.Reason != events.EvictColocation || !e.Removed {
				t.Fatalf("eviction %+v", e)
			}
		}
	}
	for _, victim := range others[2:] {
		bustest.Eventually(t, testWait, "victim disconnected", func() bool {
			return a.h.Network().Connectedness(victim.ID()) != network.Connected
		}, nil)
		// The store learns of the close from the bus, after the swarm
		// reports it; it must catch up (a late connection event may
		// re-add the peer, but never as connected).
		bustest.Eventually(t, testWait, "victim not connected in the store", func() bool { return !isConnected(a.m, victim.ID()) }, nil)
	}
	for _, keep := range others[:2] {
		if a.h.Network().Connectedness(keep.ID()) != network.Connected {
			t.Fatalf("oldest peer %s was disconnected", keep.ID())
		}
	}
	if got := a.m.met.v.Value(mEvictedBy[events.EvictColocation]); got != 2 {
		t.Fatalf("evictions_total{reason=colocation} = %v, want 2", got)
	}
}

// TestManagerPeerExchangeDiscovery: a node that knows one peer ends up
// connected to others it learns of through peer exchange; a record whose
// signer does not match the claimed id is rejected and counted.
func TestManagerPeerExchangeDiscovery(t *testing.T) {
	ids := identities(t, 24, 5)
	a := newNode(t, ids[0])
	b, c, d := meshHost(t, ids[1]), meshHost(t, ids[2]), meshHost(t, ids[3])
	rejected := bustest.Subscribe[events.EvtPeerRecordRejected](t, a.bus)
	a.start(t)
	if err := a.m.AddPeer(testhost.Info(b), events.SourceStatic); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, testWait, "connected to the known peer", func() bool { return isConnected(a.m, b.ID()) }, nil)

	// Play the router: b's PRUNE carried PX records of c and d, plus one
	// claiming ids[4]'s identity for a record signed by c.
	px, err := eventbus.NewEmitter[events.EvtPeerExchangeReceived](a.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	record := func(h host.Host) []byte {
		return signedRecord(t, h.Peerstore().PrivKey(h.ID()), h.ID(), h.Addrs()...)
	}
	if err := px.Emit(events.EvtPeerExchangeReceived{From: b.ID(), Topic: "news", At: a.clk.Now(), Records: []events.PeerExchangeRecord{
		{Peer: c.ID(), SignedPeerRecord: record(c)},
		{Peer: d.ID(), SignedPeerRecord: record(d)},
		{Peer: ids[4].id, SignedPeerRecord: record(c)},
	}}); err != nil {
		t.Fatal(err)
	}
	r := bustest.Next(t, rejected, func(events.EvtPeerRecordRejected) bool { return true }, testWait)
	if r.Peer != ids[4].id || r.From != b.ID() || r.Reason != automaton.RejectPeerIDMismatch {
		t.Fatalf("rejection %+v", r)
	}
	for _, h := range []host.Host{c, d} {
		bustest.Eventually(t, testWait, "connected through PX", func() bool { return isConnected(a.m, h.ID()) }, nil)
		p, _ := a.m.Peer(h.ID())
		if p.Source != events.SourceExchange || p.Direction != network.DirOutbound {
			t.Fatalf("PX peer %+v", p)
		}
	}
	if _, ok := a.m.Peer(ids[4].id); ok {
		t.Fatal("the impostor entered the store")
	}
	if got := a.m.met.v.Value(mRejectedBy[automaton.RejectPeerIDMismatch]); got != 1 {
		t.Fatalf("records_rejected_total{reason=peer_id_mismatch} = %v, want 1", got)
	}
}

func TestManagerGraylistDisconnects(t *testing.T) {
	ids := identities(t, 25, 2)
	a := newNode(t, ids[0])
	b := meshHost(t, ids[1])
	backed := bustest.Subscribe[events.EvtPeerBackedOff](t, a.bus)
	a.start(t)
	if err := a.m.AddPeer(testhost.Info(b), events.SourceExchange); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, testWait, "connected", func() bool { return isConnected(a.m, b.ID()) }, nil)
	em, err := eventbus.NewEmitter[events.EvtPeerScoreThresholdCrossed](a.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	_ = em.Emit(events.EvtPeerScoreThresholdCrossed{Peer: b.ID(), Threshold: events.ThresholdGraylist, Below: true, Score: -1000})
	e := bustest.Next(t, backed, func(events.EvtPeerBackedOff) bool { return true }, testWait)
	if !e.Graylisted || e.Peer != b.ID() {
		t.Fatalf("backoff %+v", e)
	}
	bustest.Eventually(t, testWait, "graylisted peer disconnected", func() bool {
		return a.h.Network().Connectedness(b.ID()) != network.Connected && !isConnected(a.m, b.ID())
	}, nil)
}

// TestManagerConnectivityTimer: a peer that enters the store without a kick
// is dialed when the mock clock reaches the connectivity interval.
func TestManagerConnectivityTimer(t *testing.T) {
	ids := identities(t, 26, 2)
	a := newNode(t, ids[0], WithConnectivityInterval(15*time.Second, 15*time.Second))
	b := meshHost(t, ids[1])
	attempted := bustest.Subscribe[events.EvtDialAttempted](t, a.bus)
	a.start(t)
	// Enter b through a connection that opens and closes: that asks for
	// no pass, and backs b off for 5 s, well before the timer.
	opened, err := eventbus.NewEmitter[events.EvtConnOpened](a.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	closed, err := eventbus.NewEmitter[events.EvtConnClosed](a.bus)
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	backed := bustest.Subscribe[events.EvtPeerBackedOff](t, a.bus)
	_ = opened.Emit(events.EvtConnOpened{Peer: b.ID(), ConnID: "fake", Direction: network.DirOutbound, RemoteAddr: b.Addrs()[0]})
	_ = closed.Emit(events.EvtConnClosed{Peer: b.ID(), ConnID: "fake"})
	bustest.Next(t, backed, func(e events.EvtPeerBackedOff) bool { return e.Peer == b.ID() && e.Reconnects == 1 }, testWait)
	a.clk.Add(15 * time.Second)
	e := bustest.Next(t, attempted, func(events.EvtDialAttempted) bool { return true }, testWait)
	if e.Peer != b.ID() || !e.At.Equal(time.Unix(0, 0).Add(15*time.Second)) {
		t.Fatalf("attempt %+v, want b at t0+15s", e)
	}
	bustest.Eventually(t, testWait, "connected", func() bool { return isConnected(a.m, b.ID()) }, nil)
}

func TestManagerPersistsAcrossRestart(t *testing.T) {
	ids := identities(t, 27, 3)
	path := filepath.Join(t.TempDir(), "peers.db")
	a := newNode(t, ids[0], WithDatabase(path))
	b := meshHost(t, ids[1])
	backed := bustest.Subscribe[events.EvtPeerBackedOff](t, a.bus)
	a.start(t)
	_ = a.m.AddPeer(testhost.Info(b), events.SourceStatic)
	dead := peer.AddrInfo{ID: ids[2].id, Addrs: []ma.Multiaddr{closedPortAddr(t)}}
	_ = a.m.AddPeer(dead, events.SourceExchange)
	bustest.Eventually(t, testWait, "connected and identified", func() bool {
		p, ok := a.m.Peer(b.ID())
		return ok && p.Connected() && p.Identified
	}, nil)
	bo := bustest.Next(t, backed, func(e events.EvtPeerBackedOff) bool { return e.Peer == dead.ID }, testWait)

	// While a is open the file is locked: a second manager fails fast.
	if _, err := New(a.h, eventbus.New(), WithClock(a.clk), WithDatabase(path), WithOpenTimeout(50*time.Millisecond)); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second manager on the same file: %v, want ErrStoreLocked", err)
	}
	if err := a.m.Close(); err != nil {
		t.Fatal(err)
	}

	bus2 := eventbus.New()
	defer bus2.Close()
	m2, err := New(a.h, bus2, WithClock(a.clk), WithDatabase(path))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	peers := m2.Peers()
	if len(peers) != 2 {
		t.Fatalf("reloaded %d peers, want 2", len(peers))
	}
	pb, _ := m2.Peer(b.ID())
	if pb.Connected() || pb.Source != events.SourceStatic || len(pb.Addrs) == 0 || !pb.Identified {
		t.Fatalf("reloaded b = %+v, want not connected, static, identified, with addresses", pb)
	}
	pd, _ := m2.Peer(dead.ID)
	if pd.Failures != 1 || !pd.BackoffUntil.Equal(bo.Until) || pd.Source != events.SourceExchange {
		t.Fatalf("reloaded dead peer = %+v, want 1 failure until %v", pd, bo.Until)
	}
}

func TestManagerCorruptStore(t *testing.T) {
	ids := identities(t, 28, 1)
	h := meshHost(t, ids[0])
	bus := eventbus.New()
	defer bus.Close()
	path := filepath.Join(t.TempDir(), "peers.db")
	if err := os.WriteFile(path, []byte("this is not a bbolt file, it is garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(h, bus, WithClock(clock.NewMock()), WithDatabase(path)); !errors.Is(err, ErrCorruptStore) {
		t.Fatalf("New on a corrupt file: %v, want ErrCorruptStore", err)
	}
	m, err := New(h, bus, WithClock(clock.NewMock()), WithDatabase(path), WithResetOnCorrupt())
	if err != nil {
		t.Fatalf("New with reset: %v", err)
	}
	defer m.Close()
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(m.Peers()) != 0 {
		t.Fatal("reset store is not empty")
	}
}

func TestManagerLifecycle(t *testing.T) {
	ids := identities(t, 29, 2)
	h := meshHost(t, ids[0])
	bus := eventbus.New()
	defer bus.Close()
	if _, err := New(h, bus, WithClock(clock.NewMock()), WithMaxFailures(0)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("bad config: %v", err)
	}
	if _, err := New(nil, bus); !errors.Is(err, ErrBadOption) {
		t.Fatalf("nil host: %v", err)
	}
	reg := prometheus.NewRegistry()
	m, err := New(h, bus, WithClock(clock.NewMock()), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	// A second manager on the same registry fails cleanly, not with a panic.
	if _, err := New(h, bus, WithClock(clock.NewMock()), WithRegisterer(reg)); err == nil {
		t.Fatal("duplicate metrics registration succeeded")
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.AddPeer(peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceStatic); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddPeer after Close: %v", err)
	}
	if err := m.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	// Close without Start is fine too.
	m2, err := New(h, bus, WithClock(clock.NewMock()))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestManagerTrimsExcessInbound: with an inbound target of 2, a third
// inbound mesh peer is disconnected by the next connectivity pass.
func TestManagerTrimsExcessInbound(t *testing.T) {
	ids := identities(t, 32, 4)
	// 4 connections x 0.75 = 3 mesh peers: 1 outbound, 2 inbound.
	a := newNode(t, ids[0], WithMaxConnections(4), WithMeshRatio(0.75))
	if got := a.m.Targets(); got.Outbound != 1 || got.Inbound != 2 {
		t.Fatalf("targets %+v", got)
	}
	evicted := bustest.Subscribe[events.EvtPeerEvicted](t, a.bus)
	a.start(t)
	var hs []host.Host
	for i := 1; i <= 3; i++ {
		h := meshHost(t, ids[i])
		hs = append(hs, h)
		a.clk.Add(time.Second)
		if err := h.Connect(context.Background(), testhost.Info(a.h)); err != nil {
			t.Fatal(err)
		}
		bustest.Eventually(t, testWait, "inbound peer identified", func() bool {
			p, ok := a.m.Peer(h.ID())
			return ok && p.Connected() && p.Identified
		}, nil)
	}
	// Exactly one connectivity pass: the timer is due at 1h. Advancing
	// further would race a second pass (at 2h, if the driver has re-armed
	// its timer before the mock clock looks for the next due one), which,
	// the 5 s reconnect backoff being over by then and the outbound target
	// unmet, rightly dials the trimmed peer back as an outbound candidate.
	a.clk.Add(time.Hour)
	e := bustest.Next(t, evicted, func(events.EvtPeerEvicted) bool { return true }, testWait)
	if e.Peer != hs[2].ID() || e.Reason != events.EvictExcessInbound || e.Removed {
		t.Fatalf("trimmed %+v, want the newest inbound peer kept in the store", e)
	}
	bustest.Eventually(t, testWait, "newest inbound peer disconnected", func() bool {
		return a.h.Network().Connectedness(hs[2].ID()) != network.Connected
	}, nil)
	for _, h := range hs[:2] {
		if a.h.Network().Connectedness(h.ID()) != network.Connected {
			t.Fatalf("older inbound peer %s was trimmed", h.ID())
		}
	}
}
