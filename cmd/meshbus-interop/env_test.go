package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/interop/testplans/script"
)

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Only "1" and "0" count; anything else, unset included, is the default.
func TestEnvBool(t *testing.T) {
	for _, c := range []struct {
		val       string
		def, want bool
	}{
		{"1", false, true},
		{"0", true, false},
		{"", true, true},
		{"", false, false},
		{"true", false, false},
		{"false", true, true},
		{"yes", false, false},
		{" 1", false, false},
		{"2", true, true},
	} {
		t.Setenv("MESHBUS_TEST_BOOL", c.val)
		if got := envBool("MESHBUS_TEST_BOOL", c.def); got != c.want {
			t.Errorf("%q (default %v): %v, want %v", c.val, c.def, got, c.want)
		}
	}
}

// A decimal integer of 0 or more counts; anything else is the default.
func TestEnvInt(t *testing.T) {
	for _, c := range []struct {
		val       string
		def, want int
	}{
		{"7", 3, 7},
		{"0", 3, 0},
		{"", 3, 3},
		{"-1", 3, 3},
		{"2.5", 3, 3},
		{"six", 3, 3},
		{" 4", 3, 3},
		{"99999999999999999999", 3, 3},
	} {
		t.Setenv("MESHBUS_TEST_INT", c.val)
		if got := envInt("MESHBUS_TEST_INT", c.def); got != c.want {
			t.Errorf("%q (default %d): %d, want %d", c.val, c.def, got, c.want)
		}
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
	}{
		{"unset", nil, def},
		{"off", map[string]string{"MESHBUS_LAZY": "0"}, with(func(c *router.LazyConfig) { c.Enabled = false })},
		{"bad switch", map[string]string{"MESHBUS_LAZY": "off"}, def},
		{"tuned", map[string]string{"MESHBUS_LAZY_MIN_EAGER": "3", "MESHBUS_LAZY_THRESHOLD": "0.5", "MESHBUS_LAZY_MIN_SAMPLES": "40", "MESHBUS_LAZY_FLUSH": "20ms"},
			with(func(c *router.LazyConfig) {
				c.MinEager, c.WasteThreshold, c.MinSamples, c.FlushInterval = 3, 0.5, 40, 20*time.Millisecond
			})},
		{"zero", map[string]string{"MESHBUS_LAZY_MIN_EAGER": "0", "MESHBUS_LAZY_FLUSH": "0s"},
			with(func(c *router.LazyConfig) { c.MinEager = 0 })},
		{"bad values", map[string]string{"MESHBUS_LAZY_MIN_EAGER": "-2", "MESHBUS_LAZY_THRESHOLD": "most", "MESHBUS_LAZY_MIN_SAMPLES": "1e3", "MESHBUS_LAZY_FLUSH": "20"}, def},
		{"negative flush", map[string]string{"MESHBUS_LAZY_FLUSH": "-5ms"}, def},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range lazyEnv {
				t.Setenv(k, c.env[k])
			}
			if got := lazyConfig(); got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
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
	}{
		{"defaults", nil, func(g router.GossipConfig) bool {
			return !g.FloodPublish && g.TrimAtDhi && g.GraftLimitD == defaultGraftLimitD &&
				g.Stagger == lib.Stagger && g.IDontWantLearn == lib.IDontWantLearn
		}},
		{"flood publish", map[string]string{"MESHBUS_FLOOD_PUBLISH": "1"}, func(g router.GossipConfig) bool { return g.FloodPublish }},
		{"flood publish, not 1", map[string]string{"MESHBUS_FLOOD_PUBLISH": "true"}, func(g router.GossipConfig) bool { return !g.FloodPublish }},
		{"graft limit D", map[string]string{"MESHBUS_GRAFT_LIMIT_D": "1"}, func(g router.GossipConfig) bool { return g.GraftLimitD }},
		{"no stagger", map[string]string{"MESHBUS_STAGGER": "0"}, func(g router.GossipConfig) bool { return g.Stagger == router.StaggerConfig{} }},
		{"stagger, bad value", map[string]string{"MESHBUS_STAGGER": "no"}, func(g router.GossipConfig) bool { return g.Stagger == lib.Stagger }},
		{"no learned IDONTWANT", map[string]string{"MESHBUS_IDW_LEARN": "0"}, func(g router.GossipConfig) bool { return g.IDontWantLearn == router.IDontWantLearnConfig{} }},
		{"learned IDONTWANT", map[string]string{"MESHBUS_IDW_LEARN": "1"}, func(g router.GossipConfig) bool {
			return g.IDontWantLearn == router.DefaultIDontWantLearnConfig()
		}},
		{"learned IDONTWANT, bad value", map[string]string{"MESHBUS_IDW_LEARN": "2"}, func(g router.GossipConfig) bool { return g.IDontWantLearn == lib.IDontWantLearn }},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range gossipEnv {
				t.Setenv(k, c.env[k])
			}
			g, notes := gossipConfig(script.GossipSubParams{})
			if len(notes) != 0 {
				t.Errorf("notes without parameters: %q", notes)
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
	g, notes := gossipConfig(p)
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
