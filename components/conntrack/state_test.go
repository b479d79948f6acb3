package conntrack

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ci(id string, p peer.ID) connInfo {
	return connInfo{id: id, peer: p, dir: network.DirOutbound, opened: t0}
}

// kinds summarises outputs as short strings for comparison.
func kinds(out []output) []string {
	var s []string
	for _, o := range out {
		switch o.kind {
		case outConnOpened:
			s = append(s, "open:"+o.opened.ConnID)
		case outConnClosed:
			s = append(s, "close:"+o.closed.ConnID)
		case outConnectedness:
			s = append(s, string(o.connectedness.Peer)+":"+o.connectedness.Connectedness.String())
		case outIdentified:
			s = append(s, "identified:"+string(o.identified.Peer))
		}
	}
	return s
}

func eq(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestStateOpenCloseOrder(t *testing.T) {
	s := newState(8)
	var out []output
	out = s.open(ci("c1", "A"), out)
	out = s.open(ci("c2", "A"), out)
	out = s.close("c1", t0.Add(time.Second), out)
	out = s.close("c2", t0.Add(2*time.Second), out)
	eq(t, kinds(out), []string{"open:c1", "A:Connected", "open:c2", "close:c1", "close:c2", "A:NotConnected"})
	if c, p := s.counts(); c != 0 || p != 0 {
		t.Fatalf("counts = %d conns, %d peers, want 0, 0", c, p)
	}
	closed := out[4].closed
	if !closed.Opened.Equal(t0) || !closed.At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("close times: opened %v at %v", closed.Opened, closed.At)
	}
}

func TestStateDoubleOpenAndUnknownCloseIgnored(t *testing.T) {
	s := newState(8)
	var out []output
	out = s.open(ci("c1", "A"), out)
	out = s.open(ci("c1", "A"), out) // the start-up scan and the notifiee both saw it
	out = s.close("zz", t0, out)     // closed before the tracker started
	out = s.close("c1", t0, out)
	out = s.close("c1", t0, out) // a second close of the same connection
	eq(t, kinds(out), []string{"open:c1", "A:Connected", "close:c1", "A:NotConnected"})
}

func TestStateIdentifyOrdering(t *testing.T) {
	id := events.EvtPeerIdentificationCompleted{Peer: "A", AgentVersion: "x"}
	t.Run("conn open: emitted at once", func(t *testing.T) {
		s := newState(8)
		out := s.open(ci("c1", "A"), nil)
		out, o := s.identified(id, "c1", false, out)
		if o != identifyEmitted {
			t.Fatalf("outcome %d", o)
		}
		eq(t, kinds(out), []string{"open:c1", "A:Connected", "identified:A"})
	})
	t.Run("open still in flight: parked, emitted after Connected", func(t *testing.T) {
		s := newState(8)
		out, o := s.identified(id, "c1", false, nil)
		if o != identifyParked || len(out) != 0 {
			t.Fatalf("outcome %d, out %v", o, kinds(out))
		}
		out = s.open(ci("c1", "A"), out)
		eq(t, kinds(out), []string{"open:c1", "A:Connected", "identified:A"})
		if len(s.parked) != 0 {
			t.Fatal("parked result not released")
		}
	})
	t.Run("conn closed: dropped", func(t *testing.T) {
		s := newState(8)
		out, o := s.identified(id, "c1", true, nil)
		if o != identifyDroppedClosed || len(out) != 0 {
			t.Fatalf("outcome %d, out %v", o, kinds(out))
		}
	})
	t.Run("close releases a parked result", func(t *testing.T) {
		s := newState(8)
		_, _ = s.identified(id, "c1", false, nil)
		s.close("c1", t0, nil)
		if len(s.parked) != 0 {
			t.Fatal("parked result kept after its connection closed")
		}
	})
	t.Run("parking is bounded", func(t *testing.T) {
		s := newState(2)
		for i, want := range []identifyOutcome{identifyParked, identifyParked, identifyDroppedFull} {
			if _, o := s.identified(id, fmt.Sprint("c", i), false, nil); o != want {
				t.Fatalf("result %d: outcome %d, want %d", i, o, want)
			}
		}
		// Replacing the result of an already parked connection is allowed.
		if _, o := s.identified(id, "c0", false, nil); o != identifyParked {
			t.Fatalf("re-park: outcome %d", o)
		}
	})
	t.Run("no conn id: by peer", func(t *testing.T) {
		s := newState(8)
		if _, o := s.identified(id, "", false, nil); o != identifyDroppedUnknown {
			t.Fatalf("outcome %d", o)
		}
		out := s.open(ci("c1", "A"), nil)
		out, o := s.identified(id, "", false, out)
		if o != identifyEmitted {
			t.Fatalf("outcome %d", o)
		}
		eq(t, kinds(out), []string{"open:c1", "A:Connected", "identified:A"})
	})
}

// TestStateRandomFlapping drives random interleavings of opens and closes
// over several peers and checks the connectedness invariants on the output:
// alternation per peer starting with Connected, Connected right after the
// open of a first connection, NotConnected right after the close of a last.
func TestStateRandomFlapping(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	peers := []peer.ID{"A", "B", "C"}
	s := newState(8)
	open := map[string]peer.ID{}
	var out []output
	next := 0
	for step := 0; step < 5000; step++ {
		if len(open) > 0 && rng.Intn(2) == 0 {
			for id := range open { // map order is random, rng decides when
				out = s.close(id, t0, out)
				delete(open, id)
				break
			}
			continue
		}
		id := fmt.Sprint("c", next)
		next++
		p := peers[rng.Intn(len(peers))]
		open[id] = p
		out = s.open(ci(id, p), out)
	}
	for id := range open {
		out = s.close(id, t0, out)
	}
	count := map[peer.ID]int{}
	last := map[peer.ID]network.Connectedness{}
	for i, o := range out {
		switch o.kind {
		case outConnOpened:
			count[o.opened.Peer]++
			isFirst := count[o.opened.Peer] == 1
			hasEvt := i+1 < len(out) && out[i+1].kind == outConnectedness
			if isFirst != hasEvt {
				t.Fatalf("output %d: first=%v but connectedness follows=%v", i, isFirst, hasEvt)
			}
		case outConnClosed:
			count[o.closed.Peer]--
			isLast := count[o.closed.Peer] == 0
			hasEvt := i+1 < len(out) && out[i+1].kind == outConnectedness
			if isLast != hasEvt {
				t.Fatalf("output %d: last=%v but connectedness follows=%v", i, isLast, hasEvt)
			}
		case outConnectedness:
			c := o.connectedness
			if c.Connectedness == last[c.Peer] || (last[c.Peer] == 0 && c.Connectedness != network.Connected) {
				t.Fatalf("output %d: %s %v after %v", i, c.Peer, c.Connectedness, last[c.Peer])
			}
			last[c.Peer] = c.Connectedness
		}
	}
	for _, p := range peers {
		if count[p] != 0 || (last[p] != 0 && last[p] != network.NotConnected) {
			t.Fatalf("peer %s ends with %d conns, %v", p, count[p], last[p])
		}
	}
}

func TestIPOf(t *testing.T) {
	for in, want := range map[string]string{
		"/ip4/10.1.2.3/tcp/4001":     "10.1.2.3",
		"/ip6/::1/udp/4001/quic-v1":  "::1",
		"/ip6/::ffff:10.0.0.1/tcp/1": "10.0.0.1",
		"/dns4/example.com/tcp/4001": "invalid IP",
		"/p2p-circuit":               "invalid IP",
	} {
		if got := ipOf(ma.StringCast(in)).String(); got != want {
			t.Errorf("ipOf(%s) = %s, want %s", in, got, want)
		}
	}
	if ipOf(nil).IsValid() {
		t.Error("ipOf(nil) is valid")
	}
}
