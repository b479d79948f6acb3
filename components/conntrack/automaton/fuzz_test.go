package automaton

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// FuzzStateSequence drives the state machine with arbitrary sequences of
// opens, closes (known, repeated and unknown) and identify results, and
// checks its guarantees on the output: every close follows its open,
// connectedness alternates per peer starting with Connected and sits right
// after the open of a first connection or the close of a last, identify
// results only come out while their peer is connected, and parking stays
// bounded.
func FuzzStateSequence(f *testing.F) {
	f.Add([]byte{0, 4, 1, 5, 9, 3, 0, 1})
	f.Add([]byte{3, 0, 7, 1, 1, 2, 0x13, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const maxParked = 4
		a, out := newA(t, maxParked), NewOutput()
		var opened []Conn // every connection ever opened, by index
		for i, op := range ops {
			arg := int(op >> 2)
			switch op & 3 {
			case 0: // open a new connection
				c := ci(fmt.Sprint("c", len(opened)), peer.ID(fmt.Sprint("p", arg%4)))
				opened = append(opened, c)
				a.HandleConnOpened(t0, c, out)
			case 1: // close (or re-close) a connection opened before
				if len(opened) > 0 {
					a.HandleConnClosed(t0, opened[arg%len(opened)].ID, out)
				}
			case 2: // close or open of a connection the tracker never saw
				if arg%2 == 0 {
					a.HandleConnClosed(t0, fmt.Sprint("x", i), out)
				} else if len(opened) > 0 { // re-open: a double report
					a.HandleConnOpened(t0, opened[arg%len(opened)], out)
				}
			case 3: // identify on a known or future connection
				id := fmt.Sprint("c", arg%8)
				evt := events.EvtPeerIdentificationCompleted{Peer: peer.ID(fmt.Sprint("p", arg%4))}
				if arg%8 < len(opened) {
					evt.Peer = opened[arg%8].Peer
				}
				a.HandleIdentified(t0, evt, id, arg&1 == 1 && arg%8 >= len(opened), out)
			}
			if a.Parked() > maxParked {
				t.Fatalf("%d results parked, bound %d", a.Parked(), maxParked)
			}
		}
		checkOutputs(t, eventsOf(out))
	})
}

// checkOutputs verifies the ordering guarantees on the automaton's events,
// in decision order: every close follows its open, connectedness alternates
// per peer starting with Connected and sits right after the open of a first
// connection or the close of a last, identify results come out only while
// their peer is connected.
func checkOutputs(t *testing.T, out []any) {
	t.Helper()
	open := map[string]peer.ID{}
	count := map[peer.ID]int{}
	state := map[peer.ID]network.Connectedness{}
	for i, ev := range out {
		next := func() (events.EvtPeerConnectednessChanged, bool) {
			if i+1 < len(out) {
				c, ok := out[i+1].(events.EvtPeerConnectednessChanged)
				return c, ok
			}
			return events.EvtPeerConnectednessChanged{}, false
		}
		switch e := ev.(type) {
		case events.EvtConnOpened:
			if _, dup := open[e.ConnID]; dup {
				t.Fatalf("output %d: %s opened twice", i, e.ConnID)
			}
			open[e.ConnID] = e.Peer
			count[e.Peer]++
			c, ok := next()
			if want := count[e.Peer] == 1; want != (ok && c.Peer == e.Peer && c.Connectedness == network.Connected) {
				t.Fatalf("output %d: first=%v, next %+v", i, want, c)
			}
		case events.EvtConnClosed:
			if p, ok := open[e.ConnID]; !ok || p != e.Peer {
				t.Fatalf("output %d: close of %s, not open", i, e.ConnID)
			}
			delete(open, e.ConnID)
			count[e.Peer]--
			c, ok := next()
			if want := count[e.Peer] == 0; want != (ok && c.Peer == e.Peer && c.Connectedness == network.NotConnected) {
				t.Fatalf("output %d: last=%v, next %+v", i, want, c)
			}
		case events.EvtPeerConnectednessChanged:
			prev := state[e.Peer]
			if e.Connectedness == prev || (prev == network.NotConnected && e.Connectedness != network.Connected) {
				t.Fatalf("output %d: %s %v after %v", i, e.Peer, e.Connectedness, prev)
			}
			state[e.Peer] = e.Connectedness
		case events.EvtPeerIdentificationCompleted:
			if state[e.Peer] != network.Connected {
				t.Fatalf("output %d: identify for %s while %v", i, e.Peer, state[e.Peer])
			}
		}
	}
}
