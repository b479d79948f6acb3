package automaton

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pid(s string) peer.ID { return peer.ID("peer-" + s) }

func addrs(ss ...string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		out[i] = ma.StringCast(s)
	}
	return out
}

func found(id string, topic string, as ...string) Found {
	return Found{Info: peer.AddrInfo{ID: pid(id), Addrs: addrs(as...)}, Topic: topic}
}

func newCore(t *testing.T, mod func(*Config)) *Automaton {
	t.Helper()
	cfg := DefaultConfig(pid("self"), "test")
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"via":        func(c *Config) { c.Via = "" },
		"reannounce": func(c *Config) { c.Reannounce = -time.Second },
		"maxpeers":   func(c *Config) { c.MaxPeers = 0 },
		"topic":      func(c *Config) { c.Topics = []string{"a", ""} },
	} {
		cfg := DefaultConfig(pid("self"), "test")
		mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestHandleFoundFiltersAndAnnounces(t *testing.T) {
	a := newCore(t, nil)
	out := NewOutput()
	cases := []struct {
		in   Found
		want Outcome
	}{
		{Found{Info: peer.AddrInfo{ID: pid("self"), Addrs: addrs("/ip4/127.0.0.1/tcp/1")}}, OutcomeSelf},
		{found("b", ""), OutcomeNoAddrs},
		{found("b", "unjoined", "/ip4/127.0.0.1/tcp/2"), OutcomeTopicNotFollowed},
		{found("b", "", "/ip4/127.0.0.1/tcp/2"), OutcomeAnnounced},
	}
	for i, c := range cases {
		if got := a.HandleFound(t0, c.in, out); got != c.want {
			t.Fatalf("case %d: %v, want %v", i, got, c.want)
		}
	}
	evs := out.Found.Items()
	if len(evs) != 1 || evs[0].Info.ID != pid("b") || evs[0].Via != "test" || !evs[0].At.Equal(t0) || len(evs[0].Info.Addrs) != 1 {
		t.Fatalf("events %+v", evs)
	}
}

func TestRepeatWithinReannounce(t *testing.T) {
	a := newCore(t, func(c *Config) { c.Reannounce = time.Minute })
	out := NewOutput()
	in := found("b", "", "/ip4/127.0.0.1/tcp/2", "/ip4/10.0.0.1/tcp/2")
	if o := a.HandleFound(t0, in, out); o != OutcomeAnnounced {
		t.Fatal(o)
	}
	// The same addresses in another order: a repeat.
	same := found("b", "", "/ip4/10.0.0.1/tcp/2", "/ip4/127.0.0.1/tcp/2")
	if o := a.HandleFound(t0.Add(59*time.Second), same, out); o != OutcomeRepeat {
		t.Fatalf("same addresses within Reannounce: %v", o)
	}
	// New addresses: announced at once.
	moved := found("b", "", "/ip4/10.0.0.2/tcp/2")
	if o := a.HandleFound(t0.Add(59*time.Second), moved, out); o != OutcomeAnnounced {
		t.Fatalf("changed addresses: %v", o)
	}
	// Reannounce after the last announcement passed: announced again.
	if o := a.HandleFound(t0.Add(59*time.Second+time.Minute), moved, out); o != OutcomeAnnounced {
		t.Fatalf("after Reannounce: %v", o)
	}
	if n := out.Found.Len(); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
	// Reannounce 0 announces every find.
	b := newCore(t, func(c *Config) { c.Reannounce = 0 })
	for range 3 {
		if o := b.HandleFound(t0, in, out); o != OutcomeAnnounced {
			t.Fatalf("Reannounce 0: %v", o)
		}
	}
}

func TestMaxPeersForgetsTheOldest(t *testing.T) {
	a := newCore(t, func(c *Config) { c.MaxPeers = 2 })
	out := NewOutput()
	a.HandleFound(t0, found("b", "", "/ip4/127.0.0.1/tcp/2"), out)
	a.HandleFound(t0.Add(time.Second), found("c", "", "/ip4/127.0.0.1/tcp/3"), out)
	a.HandleFound(t0.Add(2*time.Second), found("d", "", "/ip4/127.0.0.1/tcp/4"), out)
	if a.Remembered() != 2 {
		t.Fatalf("remembers %d, want 2", a.Remembered())
	}
	// b, the oldest, was forgotten: found again it is announced; c is not.
	if o := a.HandleFound(t0.Add(3*time.Second), found("c", "", "/ip4/127.0.0.1/tcp/3"), out); o != OutcomeRepeat {
		t.Fatalf("c: %v", o)
	}
	if o := a.HandleFound(t0.Add(3*time.Second), found("b", "", "/ip4/127.0.0.1/tcp/2"), out); o != OutcomeAnnounced {
		t.Fatalf("b: %v", o)
	}
}

func TestTopicSet(t *testing.T) {
	a := newCore(t, func(c *Config) { c.Topics = []string{"fixed", "fixed"} })
	out := NewOutput()
	steps := []struct {
		join  bool
		topic string
		want  Outcome
	}{
		{true, "x", OutcomeTopicAdded},
		{true, "x", OutcomeTopicKnown},
		{true, "fixed", OutcomeTopicKnown},
		{true, "", OutcomeTopicInvalid},
		{true, "y", OutcomeTopicAdded},
		{false, "fixed", OutcomeTopicConfigured},
		{false, "x", OutcomeTopicRemoved},
		{false, "x", OutcomeTopicUnknown},
	}
	for i, s := range steps {
		var got Outcome
		if s.join {
			got = a.HandleTopicJoined(t0, s.topic, out)
		} else {
			got = a.HandleTopicLeft(t0, s.topic, out)
		}
		if got != s.want {
			t.Fatalf("step %d (%+v): %v", i, s, got)
		}
	}
	if got := a.Topics(); !slices.Equal(got, []string{"fixed", "y"}) {
		t.Fatalf("topics %v", got)
	}
	if o := a.HandleFound(t0, found("b", "x", "/ip4/127.0.0.1/tcp/2"), out); o != OutcomeTopicNotFollowed {
		t.Fatalf("found for a left topic: %v", o)
	}
	if o := a.HandleFound(t0, found("b", "y", "/ip4/127.0.0.1/tcp/2"), out); o != OutcomeAnnounced {
		t.Fatalf("found for a joined topic: %v", o)
	}
	if out.Found.Len() != 1 || out.Found.Items()[0].Topic != "y" {
		t.Fatalf("events %+v", out.Found.Items())
	}
	if len(out.Found.Items()) != out.Len() {
		t.Fatal("the outbox order disagrees with the lane")
	}
}

func TestOutcomeNames(t *testing.T) {
	seen := map[string]bool{}
	for o := OutcomeAnnounced; o <= OutcomeTopicUnknown; o++ {
		s := o.String()
		if s == "" || seen[s] || s[0] == 'O' {
			t.Fatalf("outcome %d named %q", o, s)
		}
		seen[s] = true
	}
	if Outcome(0).String() != "Outcome(0)" {
		t.Fatal(Outcome(0).String())
	}
}

// FuzzHandleFound: any found peer (any ID, addresses, topic) gets a named
// outcome, never a panic, and an announcement copies the addresses.
func FuzzHandleFound(f *testing.F) {
	f.Add("b", "/ip4/127.0.0.1/tcp/2", "", int64(0))
	f.Add("self", "/ip4/127.0.0.1/tcp/2", "t", int64(5))
	f.Add("c", "", "x", int64(-1))
	f.Fuzz(func(t *testing.T, id, addr, topic string, dt int64) {
		a := newCore(t, func(c *Config) { c.Topics = []string{"t"}; c.MaxPeers = 2 })
		out := NewOutput()
		var as []ma.Multiaddr
		if m, err := ma.NewMultiaddr(addr); err == nil {
			as = append(as, m)
		}
		in := Found{Info: peer.AddrInfo{ID: pid(id), Addrs: as}, Topic: topic}
		for i := range 3 {
			o := a.HandleFound(t0.Add(time.Duration(dt*int64(i))), in, out)
			if o < OutcomeAnnounced || o > OutcomeRepeat {
				t.Fatalf("outcome %v", o)
			}
		}
		for _, e := range out.Found.Items() {
			if len(as) > 0 && &e.Info.Addrs[0] == &as[0] {
				t.Fatal("announcement shares the caller's address slice")
			}
		}
	})
}
