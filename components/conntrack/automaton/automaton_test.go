package automaton

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ci(id string, p peer.ID) Conn {
	return Conn{ID: id, Peer: p, Direction: network.DirOutbound}
}

func newA(t testing.TB, maxParked int) *Automaton {
	t.Helper()
	a, err := New(Config{MaxParked: maxParked})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// events returns the Output's events in decision order.
func eventsOf(out *Output) []any {
	var evs []any
	out.ForEach(func(ev any) { evs = append(evs, ev) })
	return evs
}

// kinds summarises the Output's events as short strings for comparison.
func kinds(out *Output) []string {
	var s []string
	for _, ev := range eventsOf(out) {
		switch e := ev.(type) {
		case events.EvtConnOpened:
			s = append(s, "open:"+e.ConnID)
		case events.EvtConnClosed:
			s = append(s, "close:"+e.ConnID)
		case events.EvtPeerConnectednessChanged:
			s = append(s, string(e.Peer)+":"+e.Connectedness.String())
		case events.EvtPeerIdentificationCompleted:
			s = append(s, "identified:"+string(e.Peer))
		default:
			s = append(s, fmt.Sprintf("%T", ev))
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

func expect(t *testing.T, got, want Outcome) {
	t.Helper()
	if got != want {
		t.Fatalf("outcome %v, want %v", got, want)
	}
}

func TestOpenCloseOrder(t *testing.T) {
	a := newA(t, 8)
	out := NewOutput()
	expect(t, a.HandleConnOpened(t0, ci("c1", "A"), out), OutcomeConnOpened)
	expect(t, a.HandleConnOpened(t0, ci("c2", "A"), out), OutcomeConnOpened)
	expect(t, a.HandleConnClosed(t0.Add(time.Second), "c1", out), OutcomeConnClosed)
	expect(t, a.HandleConnClosed(t0.Add(2*time.Second), "c2", out), OutcomeConnClosed)
	eq(t, kinds(out), []string{"open:c1", "A:Connected", "open:c2", "close:c1", "close:c2", "A:NotConnected"})
	if c, p := a.Counts(); c != 0 || p != 0 {
		t.Fatalf("counts = %d conns, %d peers, want 0, 0", c, p)
	}
	closed := out.ConnClosed.Items()[1]
	if !closed.Opened.Equal(t0) || !closed.At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("close times: opened %v at %v", closed.Opened, closed.At)
	}
	out.Reset()
	if out.Len() != 0 || out.ConnOpened.Len() != 0 {
		t.Fatal("Reset left events")
	}
}

func TestDoubleOpenAndUnknownCloseIgnored(t *testing.T) {
	a := newA(t, 8)
	out := NewOutput()
	expect(t, a.HandleConnOpened(t0, ci("c1", "A"), out), OutcomeConnOpened)
	// The start-up scan and the notifiee both saw it.
	expect(t, a.HandleConnOpened(t0, ci("c1", "A"), out), OutcomeConnAlreadyOpen)
	// Closed before the tracker started.
	expect(t, a.HandleConnClosed(t0, "zz", out), OutcomeConnUnknown)
	expect(t, a.HandleConnClosed(t0, "c1", out), OutcomeConnClosed)
	expect(t, a.HandleConnClosed(t0, "c1", out), OutcomeConnUnknown)
	eq(t, kinds(out), []string{"open:c1", "A:Connected", "close:c1", "A:NotConnected"})
}

func TestIdentifyOrdering(t *testing.T) {
	id := events.EvtPeerIdentificationCompleted{Peer: "A", AgentVersion: "x"}
	t.Run("conn open: emitted at once", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		a.HandleConnOpened(t0, ci("c1", "A"), out)
		expect(t, a.HandleIdentified(t0, id, "c1", false, out), OutcomeIdentifyEmitted)
		eq(t, kinds(out), []string{"open:c1", "A:Connected", "identified:A"})
	})
	t.Run("open still in flight: parked, emitted after Connected", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		expect(t, a.HandleIdentified(t0, id, "c1", false, out), OutcomeIdentifyParked)
		if out.Len() != 0 {
			t.Fatalf("out %v", kinds(out))
		}
		a.HandleConnOpened(t0, ci("c1", "A"), out)
		eq(t, kinds(out), []string{"open:c1", "A:Connected", "identified:A"})
		if a.Parked() != 0 {
			t.Fatal("parked result not released")
		}
	})
	t.Run("parked result for another peer: dropped at open", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		expect(t, a.HandleIdentified(t0, id, "c1", false, out), OutcomeIdentifyParked)
		a.HandleConnOpened(t0, ci("c1", "B"), out)
		eq(t, kinds(out), []string{"open:c1", "B:Connected"})
	})
	t.Run("conn closed: dropped", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		expect(t, a.HandleIdentified(t0, id, "c1", true, out), OutcomeIdentifyDroppedClosed)
		if out.Len() != 0 {
			t.Fatalf("out %v", kinds(out))
		}
	})
	t.Run("close releases a parked result", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		a.HandleIdentified(t0, id, "c1", false, out)
		a.HandleConnClosed(t0, "c1", out)
		if a.Parked() != 0 {
			t.Fatal("parked result kept after its connection closed")
		}
	})
	t.Run("parking is bounded", func(t *testing.T) {
		a, out := newA(t, 2), NewOutput()
		for i, want := range []Outcome{OutcomeIdentifyParked, OutcomeIdentifyParked, OutcomeIdentifyDroppedFull} {
			if o := a.HandleIdentified(t0, id, fmt.Sprint("c", i), false, out); o != want {
				t.Fatalf("result %d: outcome %v, want %v", i, o, want)
			}
		}
		// Replacing the result of an already parked connection is allowed.
		expect(t, a.HandleIdentified(t0, id, "c0", false, out), OutcomeIdentifyParked)
	})
	t.Run("no conn id: by peer", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		expect(t, a.HandleIdentified(t0, id, "", false, out), OutcomeIdentifyDroppedUnknown)
		a.HandleConnOpened(t0, ci("c1", "A"), out)
		expect(t, a.HandleIdentified(t0, id, "", false, out), OutcomeIdentifyEmitted)
		eq(t, kinds(out), []string{"open:c1", "A:Connected", "identified:A"})
	})
	t.Run("result naming another peer than its connection's", func(t *testing.T) {
		a, out := newA(t, 8), NewOutput()
		a.HandleConnOpened(t0, ci("c1", "B"), out)
		expect(t, a.HandleIdentified(t0, id, "c1", false, out), OutcomeIdentifyDroppedUnknown)
	})
}

func TestPassThroughKeepsOrder(t *testing.T) {
	a, out := newA(t, 8), NewOutput()
	expect(t, a.HandleIdentifyFailed(t0, events.EvtPeerIdentificationFailed{Peer: "A"}, out), OutcomePassedThrough)
	a.HandleConnOpened(t0, ci("c1", "A"), out)
	expect(t, a.HandleProtocolsUpdated(t0, events.EvtPeerProtocolsUpdated{Peer: "A"}, out), OutcomePassedThrough)
	expect(t, a.HandleLocalAddressesUpdated(t0, events.EvtLocalAddressesUpdated{}, out), OutcomePassedThrough)
	eq(t, kinds(out), []string{
		"event.EvtPeerIdentificationFailed", "open:c1", "A:Connected",
		"event.EvtPeerProtocolsUpdated", "event.EvtLocalAddressesUpdated",
	})
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New accepted MaxParked 0")
	}
	if _, err := New(DefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestOutcomeString(t *testing.T) {
	seen := map[string]bool{}
	for o := OutcomeConnOpened; o <= OutcomePassedThrough; o++ {
		s := o.String()
		if s == "" || seen[s] || strings.HasPrefix(s, "Outcome(") {
			t.Fatalf("outcome %d has name %q", o, s)
		}
		seen[s] = true
	}
	if got := Outcome(200).String(); got != "Outcome(200)" {
		t.Fatalf("unknown outcome: %q", got)
	}
}

// TestRandomFlapping drives random interleavings of opens and closes over
// several peers and checks the connectedness invariants on the output.
func TestRandomFlapping(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	peers := []peer.ID{"A", "B", "C"}
	a, out := newA(t, 8), NewOutput()
	var open []string // open connection ids, in opening order
	next := 0
	for step := 0; step < 5000; step++ {
		if len(open) > 0 && rng.Intn(2) == 0 {
			i := rng.Intn(len(open))
			a.HandleConnClosed(t0, open[i], out)
			open = append(open[:i], open[i+1:]...)
			continue
		}
		id := fmt.Sprint("c", next)
		next++
		a.HandleConnOpened(t0, ci(id, peers[rng.Intn(len(peers))]), out)
		open = append(open, id)
	}
	for _, id := range open {
		a.HandleConnClosed(t0, id, out)
	}
	checkOutputs(t, eventsOf(out))
	if c, p := a.Counts(); c != 0 || p != 0 {
		t.Fatalf("counts = %d conns, %d peers, want 0, 0", c, p)
	}
}
