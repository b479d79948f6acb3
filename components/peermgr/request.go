package peermgr

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
)

// reqKind names a public API request.
type reqKind uint8

const (
	reqAddPeer reqKind = iota + 1
	reqPeers
	reqPeer
	reqSelect
	reqPin
)

// request is one public API call on its way to the driver goroutine, which
// answers on reply (buffered: the driver never blocks on it).
type request struct {
	kind  reqKind
	add   automaton.AddPeer
	pin   automaton.Pin
	peer  peer.ID
	reply chan response
}

// response is the driver's answer to a request.
type response struct {
	outcome automaton.Outcome
	peers   []PeerInfo
	info    PeerInfo
	peer    peer.ID
	ok      bool
}

// do sends r to the driver and waits for the answer; ErrClosed once Close
// began. Before Start no driver runs yet: the request is served on the
// caller's goroutine under the lifecycle lock (Start takes it too), and
// what it decided is carried out when the driver starts.
func (m *Manager) do(r request) (response, error) {
	r.reply = make(chan response, 1)
	m.mu.Lock()
	started, closed := m.started, m.closed
	if !started && !closed {
		m.serve(r)
		m.mu.Unlock()
		return <-r.reply, nil
	}
	m.mu.Unlock()
	if closed {
		return response{}, ErrClosed
	}
	select {
	case m.reqs <- r:
	case <-m.stop:
		return response{}, ErrClosed
	case <-m.done:
		return response{}, ErrClosed
	}
	select {
	case resp := <-r.reply:
		return resp, nil
	case <-m.done:
		return response{}, ErrClosed
	}
}

// serve answers one request on the driver goroutine and reports whether a
// connectivity pass should follow.
func (m *Manager) serve(r request) bool {
	now := m.clk.Now()
	var resp response
	pass := false
	switch r.kind {
	case reqAddPeer:
		resp.outcome = m.auto.HandleAddPeer(now, r.add, &m.out)
		pass = outcomeErr(resp.outcome) == nil
	case reqPeers:
		resp.peers = m.auto.Peers()
	case reqPeer:
		resp.info, resp.ok = m.auto.Peer(r.peer)
	case reqSelect:
		resp.peer, resp.ok = m.auto.SelectPeer(r.pin.Protocol)
	case reqPin:
		resp.outcome = m.auto.HandlePin(now, r.pin, &m.out)
		pass = resp.outcome == automaton.OutcomePinned && r.pin.Peer != ""
	}
	r.reply <- resp
	return pass
}
