package conntrack

import (
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// connInfo is what the tracker knows of one connection. It is copied out of
// a network.Conn by the driver so that the state machine never touches the
// network.
type connInfo struct {
	id      string
	peer    peer.ID
	dir     network.Direction
	remote  ma.Multiaddr
	ip      netip.Addr
	limited bool
	opened  time.Time
}

// outKind names one output of the state machine.
type outKind uint8

const (
	outConnOpened outKind = iota + 1
	outConnClosed
	outConnectedness
	outIdentified
)

// output is one event to emit. Only the field named by kind is set; a tagged
// struct rather than an interface keeps the hot path free of boxing.
type output struct {
	kind          outKind
	opened        events.EvtConnOpened
	closed        events.EvtConnClosed
	connectedness events.EvtPeerConnectednessChanged
	identified    events.EvtPeerIdentificationCompleted
}

// identifyOutcome names what the state machine did with an identify result.
type identifyOutcome uint8

const (
	identifyEmitted        identifyOutcome = iota + 1 // its connection is open: emitted now
	identifyParked                                    // its connection's open is still in flight
	identifyDroppedClosed                             // its connection already closed
	identifyDroppedFull                               // too many parked results
	identifyDroppedUnknown                            // peer not connected, or not the connection's peer
)

// state is the tracker's pure state machine: it sees connection opens and
// closes and identify results in the order the tracker dequeues them and
// returns the events to emit, in order. It does no I/O and reads no clock.
type state struct {
	conns map[string]connInfo // open connections by id
	peers map[peer.ID]int     // open connection count per peer
	// parked holds identify results whose connection's open has not been
	// dequeued yet (go-libp2p may finish identify before the notifiee
	// callback that carries the open reaches the inbox).
	parked    map[string]events.EvtPeerIdentificationCompleted
	maxParked int
}

func newState(maxParked int) *state {
	return &state{
		conns:     make(map[string]connInfo),
		peers:     make(map[peer.ID]int),
		parked:    make(map[string]events.EvtPeerIdentificationCompleted),
		maxParked: maxParked,
	}
}

// open records an opened connection. A second open of a connection already
// open (the start-up scan and the notifiee may both report it) is ignored.
// Outputs: EvtConnOpened, then Connected if it is the peer's first
// connection, then the identify result parked for it, if any.
func (s *state) open(c connInfo, out []output) []output {
	if _, ok := s.conns[c.id]; ok {
		return out
	}
	s.conns[c.id] = c
	s.peers[c.peer]++
	out = append(out, output{kind: outConnOpened, opened: events.EvtConnOpened{
		Peer: c.peer, ConnID: c.id, Direction: c.dir, RemoteAddr: c.remote,
		RemoteIP: c.ip, Limited: c.limited, At: c.opened,
	}})
	if s.peers[c.peer] == 1 {
		out = append(out, output{kind: outConnectedness, connectedness: events.EvtPeerConnectednessChanged{
			Peer: c.peer, Connectedness: network.Connected,
		}})
	}
	if evt, ok := s.parked[c.id]; ok {
		delete(s.parked, c.id)
		if evt.Peer == c.peer { // a result naming another peer is bogus
			out = append(out, output{kind: outIdentified, identified: evt})
		}
	}
	return out
}

// close records a closed connection. A close of a connection the tracker
// never saw open (closed before the tracker started) is ignored. Outputs:
// EvtConnClosed, then NotConnected if it was the peer's last connection.
func (s *state) close(id string, at time.Time, out []output) []output {
	delete(s.parked, id)
	c, ok := s.conns[id]
	if !ok {
		return out
	}
	delete(s.conns, id)
	out = append(out, output{kind: outConnClosed, closed: events.EvtConnClosed{
		Peer: c.peer, ConnID: c.id, Direction: c.dir, RemoteAddr: c.remote,
		RemoteIP: c.ip, Opened: c.opened, At: at,
	}})
	if s.peers[c.peer]--; s.peers[c.peer] <= 0 {
		delete(s.peers, c.peer)
		out = append(out, output{kind: outConnectedness, connectedness: events.EvtPeerConnectednessChanged{
			Peer: c.peer, Connectedness: network.NotConnected,
		}})
	}
	return out
}

// identified handles an identify result that ran on connection connID
// ("" when go-libp2p did not say), which was already closed at dequeue time
// when connClosed is set. It emits the result only after the connection's
// open, so that it always follows the peer's Connected.
func (s *state) identified(evt events.EvtPeerIdentificationCompleted, connID string, connClosed bool, out []output) ([]output, identifyOutcome) {
	if connID == "" {
		if s.peers[evt.Peer] > 0 {
			return append(out, output{kind: outIdentified, identified: evt}), identifyEmitted
		}
		return out, identifyDroppedUnknown
	}
	if c, ok := s.conns[connID]; ok {
		if c.peer != evt.Peer {
			return out, identifyDroppedUnknown
		}
		return append(out, output{kind: outIdentified, identified: evt}), identifyEmitted
	}
	if connClosed {
		// Either its open and close were both dequeued already, or both are
		// still in flight; either way the connection is gone.
		return out, identifyDroppedClosed
	}
	if _, ok := s.parked[connID]; !ok && len(s.parked) >= s.maxParked {
		return out, identifyDroppedFull
	}
	s.parked[connID] = evt
	return out, identifyParked
}

// counts returns the number of open connections and connected peers.
func (s *state) counts() (conns, peers int) { return len(s.conns), len(s.peers) }
