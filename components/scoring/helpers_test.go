package scoring

import (
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer ids for driver tests.
const (
	pA = peer.ID("A")
	pB = peer.ID("B")
)

func peerID(s string) peer.ID { return peer.ID(s) }

// topic is the one configured topic in driver tests.
const topic = "t"

// baseParams has every term off, DecayInterval 1s, DecayToZero 0.1,
// RetainScore 30s and thresholds gossip -10, publish -20, graylist -30,
// accept-PX 10, opportunistic-graft 1. Each test turns on what it checks.
func baseParams() Params {
	return Params{
		Topics:        map[string]TopicParams{},
		DecayInterval: time.Second,
		DecayToZero:   0.1,
		RetainScore:   30 * time.Second,
		Thresholds: Thresholds{
			Gossip: -10, Publish: -20, Graylist: -30, AcceptPX: 10, OpportunisticGraft: 1,
		},
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// withTopic returns baseParams with topic configured by tp (TopicWeight 0.5
// unless tp sets it).
func withTopic(tp TopicParams) Params {
	p := baseParams()
	if tp.TopicWeight == 0 {
		tp.TopicWeight = 0.5
	}
	p.Topics[topic] = tp
	return p
}
