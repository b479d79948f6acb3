package automaton

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if c.D != 6 || c.Dlo != 5 || c.Dhi != 12 || c.Dscore != 4 || c.Dout != 2 || c.Dlazy != 6 ||
		c.GossipFactor != 0.25 || c.HistoryLength != 5 || c.HistoryGossip != 3 ||
		c.HeartbeatInterval != time.Second || c.FanoutTTL != time.Minute || c.PruneBackoff != time.Minute ||
		c.UnsubscribeBackoff != 10*time.Second || c.SeenTTL != 2*time.Minute || c.IWantFollowupTime != 3*time.Second ||
		c.GraftFloodThreshold != 10*time.Second || c.PrunePeers != 16 || c.PeerExchange || !c.FloodPublish ||
		c.OpportunisticGraftTicks != 60 || c.OpportunisticGraftPeers != 2 || c.IDontWantThreshold != 1024 {
		t.Fatalf("defaults differ from the spec values: %+v", c)
	}
}

func TestConfigValidateNamesField(t *testing.T) {
	cases := []struct {
		field string
		mut   func(*Config)
	}{
		{"D", func(c *Config) { c.D = 0 }},
		{"Dlo", func(c *Config) { c.Dlo = 0 }},
		{"Dlo", func(c *Config) { c.Dlo = c.D + 1 }},
		{"Dhi", func(c *Config) { c.Dhi = c.D - 1 }},
		{"Dscore", func(c *Config) { c.Dscore = -1 }},
		{"Dscore", func(c *Config) { c.Dscore = c.Dhi + 1 }},
		{"Dout", func(c *Config) { c.Dout = -1 }},
		{"Dout", func(c *Config) { c.Dout = c.Dlo }},
		{"Dout", func(c *Config) { c.D, c.Dlo, c.Dout = 6, 5, 4 }},
		{"Dlazy", func(c *Config) { c.Dlazy = -1 }},
		{"GossipFactor", func(c *Config) { c.GossipFactor = 1.5 }},
		{"GossipFactor", func(c *Config) { c.GossipFactor = math.NaN() }},
		{"HeartbeatInterval", func(c *Config) { c.HeartbeatInterval = 0 }},
		{"HistoryLength", func(c *Config) { c.HistoryLength = 0 }},
		{"HistoryGossip", func(c *Config) { c.HistoryGossip = 0 }},
		{"HistoryGossip", func(c *Config) { c.HistoryGossip = c.HistoryLength + 1 }},
		{"FanoutTTL", func(c *Config) { c.FanoutTTL = 0 }},
		{"SeenTTL", func(c *Config) { c.SeenTTL = 0 }},
		{"PruneBackoff", func(c *Config) { c.PruneBackoff = 0 }},
		{"UnsubscribeBackoff", func(c *Config) { c.UnsubscribeBackoff = 0 }},
		{"MaxPruneBackoff", func(c *Config) { c.MaxPruneBackoff = time.Second }},
		{"BackoffSlackHeartbeats", func(c *Config) { c.BackoffSlackHeartbeats = -1 }},
		{"GraftFloodThreshold", func(c *Config) { c.GraftFloodThreshold = -1 }},
		{"MaxIHaveLength", func(c *Config) { c.MaxIHaveLength = 0 }},
		{"MaxIHaveMessages", func(c *Config) { c.MaxIHaveMessages = 0 }},
		{"GossipRetransmission", func(c *Config) { c.GossipRetransmission = 0 }},
		{"IWantFollowupTime", func(c *Config) { c.IWantFollowupTime = 0 }},
		{"PrunePeers", func(c *Config) { c.PrunePeers = -1 }},
		{"OpportunisticGraftTicks", func(c *Config) { c.OpportunisticGraftTicks = 0 }},
		{"OpportunisticGraftPeers", func(c *Config) { c.OpportunisticGraftPeers = -1 }},
		{"IDontWantThreshold", func(c *Config) { c.IDontWantThreshold = -1 }},
		{"ScoreThresholds.Gossip", func(c *Config) { c.ScoreThresholds.Gossip = 1 }},
		{"ScoreThresholds.Publish", func(c *Config) { c.ScoreThresholds.Gossip, c.ScoreThresholds.Publish = -10, -5 }},
		{"ScoreThresholds.Graylist", func(c *Config) { c.ScoreThresholds.Publish, c.ScoreThresholds.Graylist = -10, -5 }},
		{"ScoreThresholds.AcceptPX", func(c *Config) { c.ScoreThresholds.AcceptPX = -1 }},
		{"ScoreThresholds.OpportunisticGraft", func(c *Config) { c.ScoreThresholds.OpportunisticGraft = -1 }},
		{"ScoreThresholds.AcceptPX", func(c *Config) { c.ScoreThresholds.AcceptPX = math.Inf(1) }},
		{"ScoreThresholds.Gossip", func(c *Config) { c.ScoreThresholds.Gossip = math.NaN() }},
		{"MaxIDontWant", func(c *Config) { c.MaxIDontWant = -1 }},
		{"MaxIDontWantMessages", func(c *Config) { c.MaxIDontWantMessages = 0 }},
		{"MaxPeers", func(c *Config) { c.MaxPeers = 0 }},
		{"MaxTopicsPerPeer", func(c *Config) { c.MaxTopicsPerPeer = 0 }},
		{"MaxTopics", func(c *Config) { c.MaxTopics = 0 }},
		{"MaxTopicLength", func(c *Config) { c.MaxTopicLength = 0 }},
		{"MaxIDLength", func(c *Config) { c.MaxIDLength = 0 }},
		{"MaxSeen", func(c *Config) { c.MaxSeen = 0 }},
		{"MaxPendingValidation", func(c *Config) { c.MaxPendingValidation = 0 }},
		{"MaxBackoffs", func(c *Config) { c.MaxBackoffs = 0 }},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mut(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v does not wrap ErrInvalidConfig", tc.field, err)
			continue
		}
		if !strings.Contains(err.Error(), ": "+tc.field+" ") {
			t.Errorf("%s: error %q does not name the field", tc.field, err)
		}
		if _, err := New(pid(0), c, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New accepted the config", tc.field)
		}
	}
	if _, err := New(pid(0), DefaultConfig(), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Error("New accepted a nil rng")
	}
}
