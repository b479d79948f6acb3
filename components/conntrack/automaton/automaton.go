// Package automaton is the pure core of connection tracking: it turns
// connection opens and closes and go-libp2p's identify and address results,
// in the order the driver dequeues them, into the meshbus events to emit.
//
// It has no goroutines, does no I/O, takes no locks and reads no clock: every
// handler takes the time the driver stamped on the input and an *Output, and
// returns an Outcome naming what it did. The same inputs always produce the
// same outputs. An Automaton is not safe for concurrent use: one driver
// goroutine (components/conntrack) or one test owns it.
package automaton

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// DefaultMaxParked is Config.MaxParked's default.
const DefaultMaxParked = 1024

// Config configures an Automaton.
type Config struct {
	// MaxParked bounds how many identify results may wait for their
	// connection's open at once; results beyond it are dropped
	// (OutcomeIdentifyDroppedFull). Must be positive.
	MaxParked int
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config { return Config{MaxParked: DefaultMaxParked} }

// Validate reports the first invalid field, or nil.
func (c Config) Validate() error {
	if c.MaxParked <= 0 {
		return fmt.Errorf("MaxParked %d must be positive", c.MaxParked)
	}
	return nil
}

// Conn is what the automaton knows of one connection, copied out of a
// network.Conn by the driver so that the core never touches the network.
type Conn struct {
	// ID is the connection's id (network.Conn.ID), unique in the host.
	ID string
	// Peer is the remote peer.
	Peer peer.ID
	// Direction is who opened it: inbound or outbound.
	Direction network.Direction
	// Remote is the remote multiaddr.
	Remote ma.Multiaddr
	// IP is the remote IP address; zero for relayed or non-IP
	// connections.
	IP netip.Addr
	// Limited reports a connection with resource limits (a relayed
	// connection's network.ConnStats.Limited).
	Limited bool
}

type openConn struct {
	Conn
	opened time.Time
}

// Automaton tracks open connections, the open-connection count per peer and
// identify results that arrived before their connection's open.
type Automaton struct {
	cfg   Config
	conns map[string]openConn // open connections by id
	peers map[peer.ID]int     // open connection count per peer
	// parked holds identify results whose connection's open has not been
	// handled yet (go-libp2p may finish identify before the notifiee
	// callback that carries the open reaches the driver).
	parked map[string]events.EvtPeerIdentificationCompleted
}

// New returns an Automaton with nothing open. It fails when cfg is invalid.
func New(cfg Config) (*Automaton, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Automaton{
		cfg:    cfg,
		conns:  make(map[string]openConn),
		peers:  make(map[peer.ID]int),
		parked: make(map[string]events.EvtPeerIdentificationCompleted),
	}, nil
}

// HandleConnOpened records connection c, opened at now. Output, in order:
// EvtConnOpened; EvtPeerConnectednessChanged(Connected) if it is the peer's
// first open connection; the identify result parked for c, if any.
// Outcomes: OutcomeConnOpened, OutcomeConnAlreadyOpen (the start-up scan and
// the notifiee may both report one connection; the second is ignored).
func (a *Automaton) HandleConnOpened(now time.Time, c Conn, out *Output) Outcome {
	if _, ok := a.conns[c.ID]; ok {
		return OutcomeConnAlreadyOpen
	}
	a.conns[c.ID] = openConn{Conn: c, opened: now}
	a.peers[c.Peer]++
	out.ConnOpened.Add(events.EvtConnOpened{
		Peer: c.Peer, ConnID: c.ID, Direction: c.Direction, RemoteAddr: c.Remote,
		RemoteIP: c.IP, Limited: c.Limited, At: now,
	})
	if a.peers[c.Peer] == 1 {
		out.Connectedness.Add(events.EvtPeerConnectednessChanged{Peer: c.Peer, Connectedness: network.Connected})
	}
	if evt, ok := a.parked[c.ID]; ok {
		delete(a.parked, c.ID)
		if evt.Peer == c.Peer { // a result naming another peer is bogus
			out.Identified.Add(evt)
		}
	}
	return OutcomeConnOpened
}

// HandleConnClosed records that connection id closed at now. Output, in
// order: EvtConnClosed; EvtPeerConnectednessChanged(NotConnected) if it was
// the peer's last open connection. Outcomes: OutcomeConnClosed,
// OutcomeConnUnknown (never seen open: closed before the driver started, or
// a second close).
func (a *Automaton) HandleConnClosed(now time.Time, id string, out *Output) Outcome {
	delete(a.parked, id)
	c, ok := a.conns[id]
	if !ok {
		return OutcomeConnUnknown
	}
	delete(a.conns, id)
	out.ConnClosed.Add(events.EvtConnClosed{
		Peer: c.Peer, ConnID: c.ID, Direction: c.Direction, RemoteAddr: c.Remote,
		RemoteIP: c.IP, Opened: c.opened, At: now,
	})
	if a.peers[c.Peer]--; a.peers[c.Peer] <= 0 {
		delete(a.peers, c.Peer)
		out.Connectedness.Add(events.EvtPeerConnectednessChanged{Peer: c.Peer, Connectedness: network.NotConnected})
	}
	return OutcomeConnClosed
}

// HandleIdentified handles an identify result that ran on connection connID
// ("" when go-libp2p did not say), which go-libp2p already reported closed
// when connClosed is set. The result is emitted only after its connection's
// open, so it always follows the peer's Connected. Outcomes:
// OutcomeIdentifyEmitted, OutcomeIdentifyParked (the open is still in
// flight), OutcomeIdentifyDroppedClosed, OutcomeIdentifyDroppedFull,
// OutcomeIdentifyDroppedUnknown (peer not connected, or not the
// connection's peer).
func (a *Automaton) HandleIdentified(_ time.Time, evt events.EvtPeerIdentificationCompleted, connID string, connClosed bool, out *Output) Outcome {
	if connID == "" {
		if a.peers[evt.Peer] > 0 {
			out.Identified.Add(evt)
			return OutcomeIdentifyEmitted
		}
		return OutcomeIdentifyDroppedUnknown
	}
	if c, ok := a.conns[connID]; ok {
		if c.Peer != evt.Peer {
			return OutcomeIdentifyDroppedUnknown
		}
		out.Identified.Add(evt)
		return OutcomeIdentifyEmitted
	}
	if connClosed {
		// Either its open and close were both handled already, or both are
		// still in flight; either way the connection is gone.
		return OutcomeIdentifyDroppedClosed
	}
	if _, ok := a.parked[connID]; !ok && len(a.parked) >= a.cfg.MaxParked {
		return OutcomeIdentifyDroppedFull
	}
	a.parked[connID] = evt
	return OutcomeIdentifyParked
}

// HandleIdentifyFailed passes go-libp2p's identify failure through, in
// go-libp2p's order. Outcome: OutcomePassedThrough.
func (a *Automaton) HandleIdentifyFailed(_ time.Time, evt events.EvtPeerIdentificationFailed, out *Output) Outcome {
	out.IdentifyFailed.Add(evt)
	return OutcomePassedThrough
}

// HandleProtocolsUpdated passes go-libp2p's protocol update through.
// Outcome: OutcomePassedThrough.
func (a *Automaton) HandleProtocolsUpdated(_ time.Time, evt events.EvtPeerProtocolsUpdated, out *Output) Outcome {
	out.ProtocolsUpdated.Add(evt)
	return OutcomePassedThrough
}

// HandleLocalAddressesUpdated passes go-libp2p's local address update
// through. Outcome: OutcomePassedThrough.
func (a *Automaton) HandleLocalAddressesUpdated(_ time.Time, evt events.EvtLocalAddressesUpdated, out *Output) Outcome {
	out.LocalAddrsUpdated.Add(evt)
	return OutcomePassedThrough
}

// Counts returns the number of open connections and connected peers.
func (a *Automaton) Counts() (conns, peers int) { return len(a.conns), len(a.peers) }

// Parked returns how many identify results wait for their connection's open.
func (a *Automaton) Parked() int { return len(a.parked) }
