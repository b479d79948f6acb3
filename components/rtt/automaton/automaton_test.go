package automaton

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newAut(t *testing.T, mod func(*Config)) *Automaton {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func expect(t *testing.T, got, want Outcome) {
	t.Helper()
	if got != want {
		t.Fatalf("outcome %v, want %v", got, want)
	}
}

func TestProbeOnConnectThenEveryInterval(t *testing.T) {
	a := newAut(t, func(c *Config) { c.Interval = 10 * time.Second })
	out := NewOutput()
	expect(t, a.HandleConnected(t0, "A", out), OutcomeTracked)
	if !slices.Equal(out.Probes, []peer.ID{"A"}) {
		t.Fatalf("probes %v, want [A] at once", out.Probes)
	}
	out.Reset()
	expect(t, a.HandleConnected(t0, "A", out), OutcomeAlreadyTracked)
	if len(out.Probes) != 0 {
		t.Fatalf("second connect probed again: %v", out.Probes)
	}
	done := t0.Add(80 * time.Millisecond)
	expect(t, a.HandleProbeResult(done, "A", 70*time.Millisecond, true, out), OutcomeMeasured)
	got := out.Measured.Items()
	if len(got) != 1 || got[0].Peer != "A" || got[0].RTT != 70*time.Millisecond || !got[0].At.Equal(done) {
		t.Fatalf("measured %+v", got)
	}
	out.Reset()
	expect(t, a.HandleTick(done.Add(9*time.Second), out), OutcomeTickDone)
	if len(out.Probes) != 0 {
		t.Fatalf("probed before the interval: %v", out.Probes)
	}
	expect(t, a.HandleTick(done.Add(10*time.Second), out), OutcomeTickDone)
	if !slices.Equal(out.Probes, []peer.ID{"A"}) {
		t.Fatalf("probes %v, want [A] after the interval", out.Probes)
	}
}

func TestInFlightBound(t *testing.T) {
	a := newAut(t, func(c *Config) { c.MaxInFlight = 2 })
	out := NewOutput()
	for _, p := range []peer.ID{"A", "B", "C"} {
		a.HandleConnected(t0, p, out)
	}
	if !slices.Equal(out.Probes, []peer.ID{"A", "B"}) {
		t.Fatalf("probes %v, want [A B]", out.Probes)
	}
	out.Reset()
	a.HandleProbeResult(t0, "B", time.Millisecond, true, out)
	if !slices.Equal(out.Probes, []peer.ID{"C"}) {
		t.Fatalf("probes %v, want [C] once B's slot freed", out.Probes)
	}
	if a.InFlight() != 2 {
		t.Fatalf("in flight %d, want 2", a.InFlight())
	}
}

func TestGiveUpAfterFailures(t *testing.T) {
	a := newAut(t, func(c *Config) { c.MaxFailures = 2; c.Interval = time.Second })
	out := NewOutput()
	a.HandleConnected(t0, "A", out)
	expect(t, a.HandleProbeResult(t0, "A", 0, false, out), OutcomeProbeFailed)
	out.Reset()
	a.HandleTick(t0.Add(time.Second), out)
	if !slices.Equal(out.Probes, []peer.ID{"A"}) {
		t.Fatalf("no retry after a failure: %v", out.Probes)
	}
	expect(t, a.HandleProbeResult(t0.Add(time.Second), "A", 0, false, out), OutcomeGaveUp)
	out.Reset()
	a.HandleTick(t0.Add(time.Hour), out)
	if len(out.Probes) != 0 || out.Measured.Len() != 0 {
		t.Fatalf("a given-up peer was probed: %v", out.Probes)
	}
	// Reconnecting starts over.
	expect(t, a.HandleDisconnected(t0.Add(time.Hour), "A", out), OutcomeForgotten)
	a.HandleConnected(t0.Add(time.Hour), "A", out)
	if !slices.Equal(out.Probes, []peer.ID{"A"}) {
		t.Fatalf("reconnected peer not probed: %v", out.Probes)
	}
}

func TestDisconnectDuringProbe(t *testing.T) {
	a := newAut(t, func(c *Config) { c.MaxInFlight = 1 })
	out := NewOutput()
	a.HandleConnected(t0, "A", out)
	a.HandleConnected(t0, "B", out)
	out.Reset()
	expect(t, a.HandleDisconnected(t0, "A", out), OutcomeForgotten)
	if len(out.Probes) != 0 {
		t.Fatalf("slot freed before A's probe returned: %v", out.Probes)
	}
	expect(t, a.HandleProbeResult(t0, "A", time.Millisecond, true, out), OutcomeUnknownPeer)
	if out.Measured.Len() != 0 {
		t.Fatal("a disconnected peer's RTT was emitted")
	}
	if !slices.Equal(out.Probes, []peer.ID{"B"}) {
		t.Fatalf("probes %v, want [B] once A's probe returned", out.Probes)
	}
	expect(t, a.HandleDisconnected(t0, "Z", out), OutcomeUnknownPeer)
	expect(t, a.HandleConnected(t0, "", out), OutcomeInvalidInput)
}

func TestMaxPeersAndConfig(t *testing.T) {
	a := newAut(t, func(c *Config) { c.MaxPeers = 1 })
	out := NewOutput()
	a.HandleConnected(t0, "A", out)
	expect(t, a.HandleConnected(t0, "B", out), OutcomeTooManyPeers)
	for _, mod := range []func(*Config){
		func(c *Config) { c.Interval = 0 },
		func(c *Config) { c.MaxFailures = 0 },
		func(c *Config) { c.MaxInFlight = 0 },
		func(c *Config) { c.MaxPeers = 0 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Outcomes() {
		n := o.String()
		if seen[n] || n == "" {
			t.Errorf("outcome %d: name %q empty or repeated", o, n)
		}
		seen[n] = true
	}
	if Outcome(0).String() != "Outcome(0)" {
		t.Errorf("zero outcome named %q", Outcome(0).String())
	}
}
