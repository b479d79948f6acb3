package conntrack

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
		s := newState(maxParked)
		var opened []connInfo // every connection ever opened, by index
		var out []output
		for i, op := range ops {
			arg := int(op >> 2)
			switch op & 3 {
			case 0: // open a new connection
				c := ci(fmt.Sprint("c", len(opened)), peer.ID(fmt.Sprint("p", arg%4)))
				opened = append(opened, c)
				out = s.open(c, out)
			case 1: // close (or re-close) a connection opened before
				if len(opened) > 0 {
					out = s.close(opened[arg%len(opened)].id, t0, out)
				}
			case 2: // close or open of a connection the tracker never saw
				if arg%2 == 0 {
					out = s.close(fmt.Sprint("x", i), t0, out)
				} else if len(opened) > 0 { // re-open: a double report
					out = s.open(opened[arg%len(opened)], out)
				}
			case 3: // identify on a known or future connection
				id := fmt.Sprint("c", arg%8)
				evt := events.EvtPeerIdentificationCompleted{Peer: peer.ID(fmt.Sprint("p", arg%4))}
				if arg%8 < len(opened) {
					evt.Peer = opened[arg%8].peer
				}
				out, _ = s.identified(evt, id, arg&1 == 1 && arg%8 >= len(opened), out)
			}
			if len(s.parked) > maxParked {
				t.Fatalf("%d results parked, bound %d", len(s.parked), maxParked)
			}
		}
		checkOutputs(t, out)
	})
}

// checkOutputs verifies the ordering guarantees on a state machine's output.
func checkOutputs(t *testing.T, out []output) {
	t.Helper()
	open := map[string]peer.ID{}
	count := map[peer.ID]int{}
	state := map[peer.ID]network.Connectedness{}
	for i, o := range out {
		next := func() (events.EvtPeerConnectednessChanged, bool) {
			if i+1 < len(out) && out[i+1].kind == outConnectedness {
				return out[i+1].connectedness, true
			}
			return events.EvtPeerConnectednessChanged{}, false
		}
		switch o.kind {
		case outConnOpened:
			if _, dup := open[o.opened.ConnID]; dup {
				t.Fatalf("output %d: %s opened twice", i, o.opened.ConnID)
			}
			open[o.opened.ConnID] = o.opened.Peer
			count[o.opened.Peer]++
			c, ok := next()
			if want := count[o.opened.Peer] == 1; want != (ok && c.Peer == o.opened.Peer && c.Connectedness == network.Connected) {
				t.Fatalf("output %d: first=%v, next %+v", i, want, c)
			}
		case outConnClosed:
			if p, ok := open[o.closed.ConnID]; !ok || p != o.closed.Peer {
				t.Fatalf("output %d: close of %s, not open", i, o.closed.ConnID)
			}
			delete(open, o.closed.ConnID)
			count[o.closed.Peer]--
			c, ok := next()
			if want := count[o.closed.Peer] == 0; want != (ok && c.Peer == o.closed.Peer && c.Connectedness == network.NotConnected) {
				t.Fatalf("output %d: last=%v, next %+v", i, want, c)
			}
		case outConnectedness:
			c := o.connectedness
			prev := state[c.Peer]
			if c.Connectedness == prev || (prev == network.NotConnected && c.Connectedness != network.Connected) {
				t.Fatalf("output %d: %s %v after %v", i, c.Peer, c.Connectedness, prev)
			}
			state[c.Peer] = c.Connectedness
		case outIdentified:
			if state[o.identified.Peer] != network.Connected {
				t.Fatalf("output %d: identify for %s while %v", i, o.identified.Peer, state[o.identified.Peer])
			}
		}
	}
}
