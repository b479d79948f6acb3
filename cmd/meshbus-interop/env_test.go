package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/interop/testplans/script"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// knobCase is one value of a knob: what it reads as, and whether it is
// rejected (then the default is used and err names the variable).
type knobCase[T comparable] struct {
	val  string
	want T
	bad  bool
}

func checkKnob[T comparable](t *testing.T, read func(*knobs, string, T) T, def T, cases []knobCase[T]) {
	t.Helper()
	const name = "MESHBUS_TEST_KNOB"
	for _, c := range cases {
		t.Setenv(name, c.val)
		var k knobs
		got := read(&k, name, def)
		err := k.err()
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("%q (default %v): %v, err %v; want %v, rejected %v", c.val, def, got, err, c.want, c.bad)
		}
		if c.bad && (!errors.Is(err, errBadKnob) || !strings.Contains(err.Error(), name)) {
			t.Errorf("%q: error %v does not name %s as a bad knob", c.val, err, name)
		}
	}
}

// A switch takes "1" and "0"; unset is the default; anything else is
// rejected.
func TestKnobFlag(t *testing.T) {
	for _, def := range []bool{false, true} {
		checkKnob(t, (*knobs).flag, def, []knobCase[bool]{
			{"1", true, false}, {"0", false, false}, {"", def, false},
			{"true", def, true}, {"false", def, true}, {"yes", def, true}, {" 1", def, true}, {"2", def, true},
		})
	}
}

// A count takes a decimal integer of 0 or more.
func TestKnobCount(t *testing.T) {
	checkKnob(t, (*knobs).count, 3, []knobCase[int]{
		{"7", 7, false}, {"0", 0, false}, {"", 3, false},
		{"-1", 3, true}, {"2.5", 3, true}, {"six", 3, true}, {" 4", 3, true}, {"99999999999999999999", 3, true},
	})
}

// A fraction takes a number from 0 to 1.
func TestKnobFraction(t *testing.T) {
	checkKnob(t, (*knobs).fraction, 0.25, []knobCase[float64]{
		{"0.5", 0.5, false}, {"0", 0, false}, {"1", 1, false}, {"", 0.25, false},
		{"1.5", 0.25, true}, {"-0.1", 0.25, true}, {"NaN", 0.25, true}, {"most", 0.25, true},
	})
}

// A duration takes a Go duration of 0 or more, with its unit.
func TestKnobDuration(t *testing.T) {
	checkKnob(t, (*knobs).duration, time.Second, []knobCase[time.Duration]{
		{"20ms", 20 * time.Millisecond, false}, {"0s", 0, false}, {"", time.Second, false},
		{"20", time.Second, true}, {"-5ms", time.Second, true}, {"soon", time.Second, true},
	})
}

// Every bad value is reported, not only the first.
func TestKnobsJoinEveryRejection(t *testing.T) {
	t.Setenv("MESHBUS_TEST_A", "x")
	t.Setenv("MESHBUS_TEST_B", "y")
	var k knobs
	k.flag("MESHBUS_TEST_A", false)
	k.count("MESHBUS_TEST_B", 1)
	if err := k.err(); err == nil || !strings.Contains(err.Error(), "MESHBUS_TEST_A") || !strings.Contains(err.Error(), "MESHBUS_TEST_B") {
		t.Fatalf("err %v; want both variables named", err)
	}
}

// Init refuses a bad knob before it starts anything.
func TestInitRejectsBadKnob(t *testing.T) {
	t.Setenv("MESHBUS_STAGGER", "no")
	rec := script.NewRecorder(io.Discard)
	defer rec.Close()
	b := newBackend(0, rec, discardLog())
	if _, err := b.Init(context.Background(), script.GossipSubParams{}); !errors.Is(err, errBadKnob) || !strings.Contains(err.Error(), "MESHBUS_STAGGER") {
		t.Fatalf("Init with MESHBUS_STAGGER=no: %v; want an error naming it", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close after a failed Init: %v", err)
	}
}

// lazyEnv is every variable lazyConfig reads.
var lazyEnv = []string{"MESHBUS_LAZY", "MESHBUS_LAZY_MIN_EAGER", "MESHBUS_LAZY_THRESHOLD", "MESHBUS_LAZY_MIN_SAMPLES", "MESHBUS_LAZY_FLUSH"}

func TestLazyConfig(t *testing.T) {
	lib := router.DefaultLazyConfig()
	// The node's defaults: the library's, on, with immediate IHAVEs.
	def := lib
	def.Enabled = defaultLazy
	def.FlushInterval = 0
	with := func(f func(*router.LazyConfig)) router.LazyConfig {
		c := def
		f(&c)
		return c
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		want router.LazyConfig
		bad  int // rejected variables
	}{
		{"unset", nil, def, 0},
		{"off", map[string]string{"MESHBUS_LAZY": "0"}, with(func(c *router.LazyConfig) { c.Enabled = false }), 0},
		{"bad switch", map[string]string{"MESHBUS_LAZY": "off"}, def, 1},
		{"tuned", map[string]string{"MESHBUS_LAZY_MIN_EAGER": "3", "MESHBUS_LAZY_THRESHOLD": "0.5", "MESHBUS_LAZY_MIN_SAMPLES": "40", "MESHBUS_LAZY_FLUSH": "20ms"},
			with(func(c *router.LazyConfig) {
				c.MinEager, c.WasteThreshold, c.MinSamples, c.FlushInterval = 3, 0.5, 40, 20*time.Millisecond
			}), 0},
		{"zero", map[string]string{"MESHBUS_LAZY_MIN_EAGER": "0", "MESHBUS_LAZY_FLUSH": "0s"},
			with(func(c *router.LazyConfig) { c.MinEager = 0 }), 0},
		{"bad values", map[string]string{"MESHBUS_LAZY_MIN_EAGER": "-2", "MESHBUS_LAZY_THRESHOLD": "most", "MESHBUS_LAZY_MIN_SAMPLES": "1e3", "MESHBUS_LAZY_FLUSH": "20"}, def, 4},
		{"negative flush", map[string]string{"MESHBUS_LAZY_FLUSH": "-5ms"}, def, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range lazyEnv {
				t.Setenv(k, c.env[k])
			}
			var k knobs
			if got := lazyConfig(&k); got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
			if len(k.bad) != c.bad {
				t.Errorf("%d rejected (%v), want %d", len(k.bad), k.err(), c.bad)
			}
		})
	}
}

// gossipEnv is every variable gossipConfig reads.
var gossipEnv = []string{"MESHBUS_FLOOD_PUBLISH", "MESHBUS_GRAFT_LIMIT_D", "MESHBUS_STAGGER", "MESHBUS_IDW_LEARN"}

func TestGossipConfigEnv(t *testing.T) {
	lib := router.DefaultGossipConfig()
	for _, c := range []struct {
		name  string
		env   map[string]string
		check func(router.GossipConfig) bool
		bad   bool // the value is rejected
	}{
		{"defaults", nil, func(g router.GossipConfig) bool {
			return !g.FloodPublish && g.TrimAtDhi && g.GraftLimitD == defaultGraftLimitD &&
				g.Stagger == lib.Stagger && g.IDontWantLearn == lib.IDontWantLearn
		}, false},
		{"flood publish", map[string]string{"MESHBUS_FLOOD_PUBLISH": "1"}, func(g router.GossipConfig) bool { return g.FloodPublish }, false},
		{"flood publish, not 1", map[string]string{"MESHBUS_FLOOD_PUBLISH": "true"}, func(g router.GossipConfig) bool { return !g.FloodPublish }, true},
		{"graft limit D", map[string]string{"MESHBUS_GRAFT_LIMIT_D": "1"}, func(g router.GossipConfig) bool { return g.GraftLimitD }, false},
		{"no stagger", map[string]string{"MESHBUS_STAGGER": "0"}, func(g router.GossipConfig) bool { return g.Stagger == router.StaggerConfig{} }, false},
		{"stagger, bad value", map[string]string{"MESHBUS_STAGGER": "no"}, func(g router.GossipConfig) bool { return g.Stagger == lib.Stagger }, true},
		{"no learned IDONTWANT", map[string]string{"MESHBUS_IDW_LEARN": "0"}, func(g router.GossipConfig) bool { return g.IDontWantLearn == router.IDontWantLearnConfig{} }, false},
		{"learned IDONTWANT", map[string]string{"MESHBUS_IDW_LEARN": "1"}, func(g router.GossipConfig) bool {
			return g.IDontWantLearn == router.DefaultIDontWantLearnConfig()
		}, false},
		{"learned IDONTWANT, bad value", map[string]string{"MESHBUS_IDW_LEARN": "2"}, func(g router.GossipConfig) bool {
			return g.IDontWantLearn == router.DefaultIDontWantLearnConfig()
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range gossipEnv {
				t.Setenv(k, c.env[k])
			}
			var k knobs
			g, notes := gossipConfig(script.GossipSubParams{}, &k)
			if len(notes) != 0 {
				t.Errorf("notes without parameters: %q", notes)
			}
			if (k.err() != nil) != c.bad {
				t.Errorf("rejected: %v, want rejected %v", k.err(), c.bad)
			}
			if !c.check(g) {
				t.Errorf("config %+v", g)
			}
		})
	}
}

// The plans' parameters land in the matching fields; those without a
// meshbus counterpart are named in the notes, and the others are not.
func TestGossipConfigParams(t *testing.T) {
	for _, k := range gossipEnv {
		t.Setenv(k, "")
	}
	i := func(v int) *int { return &v }
	d := func(v time.Duration) *script.Nanos { n := script.Nanos(v); return &n }
	f := 0.5
	p := script.GossipSubParams{
		D: i(5), Dlo: i(3), Dhi: i(9), Dscore: i(2), Dout: i(1), HistoryLength: i(7), HistoryGossip: i(4), Dlazy: i(8),
		GossipFactor: &f, GossipRetransmission: i(2), HeartbeatInterval: d(700 * time.Millisecond), FanoutTTL: d(time.Minute),
		PrunePeers: i(11), PruneBackoff: d(30 * time.Second), UnsubscribeBackoff: d(5 * time.Second),
		OpportunisticGraftTicks: i(30), OpportunisticGraftPeers: i(3), GraftFloodThreshold: d(8 * time.Second),
		MaxIHaveLength: i(4000), MaxIHaveMessages: i(9), MaxIDontWantMessages: i(900), IWantFollowupTime: d(2 * time.Second),
		IDontWantMessageThreshold: i(512),
		// No counterpart:
		HeartbeatInitialDelay: d(100 * time.Millisecond), SlowHeartbeatWarning: &f, Connectors: i(4), MaxPendingConnections: i(64),
		ConnectionTimeout: d(time.Second), DirectConnectTicks: i(300), DirectConnectInitialDelay: d(time.Second),
		MaxIDontWantLength: i(10), IDontWantMessageTTL: i(3),
	}
	var k knobs
	g, notes := gossipConfig(p, &k)
	if err := k.err(); err != nil {
		t.Fatal(err)
	}
	want := router.DefaultGossipConfig()
	want.FloodPublish, want.TrimAtDhi, want.GraftLimitD = false, true, defaultGraftLimitD
	want.D, want.Dlo, want.Dhi, want.Dscore, want.Dout, want.HistoryLength, want.HistoryGossip, want.Dlazy = 5, 3, 9, 2, 1, 7, 4, 8
	want.GossipFactor, want.GossipRetransmission, want.HeartbeatInterval, want.FanoutTTL = 0.5, 2, 700*time.Millisecond, time.Minute
	want.PrunePeers, want.PruneBackoff, want.UnsubscribeBackoff = 11, 30*time.Second, 5*time.Second
	want.OpportunisticGraftTicks, want.OpportunisticGraftPeers, want.GraftFloodThreshold = 30, 3, 8*time.Second
	want.MaxIHaveLength, want.MaxIHaveMessages, want.MaxIDontWantMessages, want.IWantFollowupTime = 4000, 9, 900, 2*time.Second
	want.IDontWantThreshold = 512
	if g != want {
		t.Errorf("config\n got %+v\nwant %+v", g, want)
	}
	unapplied := []string{"HeartbeatInitialDelay", "SlowHeartbeatWarning", "Connectors", "MaxPendingConnections", "ConnectionTimeout",
		"DirectConnectTicks", "DirectConnectInitialDelay", "MaxIDontWantLength", "IDontWantMessageTTL"}
	if len(notes) != len(unapplied) {
		t.Errorf("%d notes, want %d: %q", len(notes), len(unapplied), notes)
	}
	for i, name := range unapplied {
		if i < len(notes) && !strings.HasPrefix(notes[i], name+" not applied: ") {
			t.Errorf("note %d %q, want one on %s", i, notes[i], name)
		}
	}
}
