// Package sim is a deterministic, single-threaded simulator for the GossipSub
// automaton: N automatons exchange RPCs over an in-memory network with
// per-link latency in virtual time, each running its heartbeat on a mock
// clock, with every random choice drawn from one seed. The same Config
// always yields the same run, so scenarios (steady state, churn, partitions,
// misbehaving peers) can be asserted on exactly and benchmarked at thousands
// of nodes.
//
// Messages travel as *pb.RPC values (no encoding); hop counts are tracked
// by the harness, not on the wire. A pluggable Scorer sees every fact each
// automaton outputs and feeds scores back before each heartbeat, so a
// scoring component can be tried without the router importing it.
package sim

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/events"
)

// ErrInvalidConfig is wrapped by New's errors; the message names the field.
var ErrInvalidConfig = errors.New("sim: invalid config")

// ErrNoNode is returned when a node index is out of range or the node is gone.
var ErrNoNode = errors.New("sim: no such live node")

// ErrNoTopic is returned by PublishOn for a topic index the nodes did not
// join (Config.ExtraTopics).
var ErrNoTopic = errors.New("sim: no such topic")

// Behavior is how a simulated node acts.
type Behavior uint8

// The node behaviours.
const (
	// Honest nodes run the automaton.
	Honest Behavior = iota
	// IHaveSpammer subscribes to the topic, then every heartbeat sends every
	// neighbour an IHAVE of SpamIDs fresh, nonexistent message ids, and never
	// answers IWANT nor forwards anything.
	IHaveSpammer
	// GraftSpammer subscribes to the topic, then on alternate heartbeats
	// sends every neighbour a PRUNE and a GRAFT, so that each GRAFT lands
	// inside the backoff its own PRUNE started (a graft flood); it ignores
	// PRUNEs and never forwards.
	GraftSpammer
	// Sybil subscribes to the topic and GRAFTs every neighbour at its first
	// heartbeat, then again as soon as the backoff of a PRUNE it received
	// has passed (never inside it, so it earns no behaviour penalty); it
	// takes GRAFTs silently and never forwards, gossips or answers IWANT.
	// It is a black hole in honest meshes that only the mesh-delivery score
	// terms (P3, P3b) can expose.
	Sybil
	// InvalidSender subscribes to the topic and every heartbeat sends every
	// neighbour InvalidPerHeartbeat fresh messages of its own that honest
	// validation rejects, plus as many recent invalid messages authored by
	// other InvalidSenders (colluders relay each other's garbage, so one
	// invalid message reaches an honest node from several peers). It never
	// forwards valid messages and ignores everything it receives.
	InvalidSender
)

// String returns the behaviour's name.
func (b Behavior) String() string {
	switch b {
	case Honest:
		return "honest"
	case IHaveSpammer:
		return "ihave_spammer"
	case GraftSpammer:
		return "graft_spammer"
	case Sybil:
		return "sybil"
	case InvalidSender:
		return "invalid_sender"
	}
	return "unknown"
}

// Scorer scores peers for the simulated nodes. The harness calls Observe
// with each node's Output after every batch of handler calls (facts in
// decision order), and Scores right before each of the node's heartbeats,
// passing the result to the automaton's UpdateScores. Implementations must
// be deterministic for the run to be; they are called from one goroutine.
type Scorer interface {
	// Observe takes node's Output after a batch of its handler calls, at
	// now (simulated time). The harness resets out right after: read it,
	// do not keep it or its slices.
	Observe(node peer.ID, now time.Time, out *automaton.Output)
	// Scores returns node's score snapshot and thresholds, right before
	// its heartbeat at now; UpdateScores does not keep the slice.
	Scores(node peer.ID, now time.Time) ([]events.PeerScore, events.ScoreThresholds)
}

// Config describes a simulation. Zero fields take the defaults noted.
type Config struct {
	// Nodes is the number of honest nodes (required, > 0).
	Nodes int
	// Degree is how many random connections each node opens when it starts
	// (so the mean degree is about 2×Degree). Default 4.
	Degree int
	// Seed drives every random choice: graph, latencies, automatons.
	Seed uint64
	// Topic every honest node joins. Default "sim".
	Topic string
	// ExtraTopics is how many more topics every honest node joins, named
	// Topic-1 to Topic-ExtraTopics (PublishOn). Adversaries stay in Topic.
	// Default 0.
	ExtraTopics int
	// Router is the automaton configuration; the zero value means
	// automaton.DefaultConfig().
	Router automaton.Config
	// Latency is the base one-way latency of every link. Default 20 ms.
	Latency time.Duration
	// Jitter adds to each link a fixed random latency in [0, Jitter). Default 0.
	Jitter time.Duration
	// KnownRTT: each honest node learns a link's round-trip time (twice
	// its latency) when the link opens (automaton.HandlePeerRTT), as the
	// RTT prober (components/rtt) tells a real node. Default false: no
	// RTT is known to the choices that use one (choking, which chokes
	// only peers within ChokeConfig.MaxRTT; PREAMBLE's ImmediateRTT;
	// latency-aware mesh selection).
	KnownRTT bool
	// ValidationDelay is how long validation of a received message takes.
	// Default 0 (validated at once). Honest validation accepts every
	// message except those InvalidSenders author, which it rejects
	// (automaton.ValidationReject).
	ValidationDelay time.Duration
	// Adversaries lists extra nodes (indices Nodes, Nodes+1, ...) with a
	// misbehaving Behavior; each connects to Degree random honest nodes.
	Adversaries []Behavior
	// AdversaryDials is how many random adversaries each honest node dials
	// on top of its Degree honest connections (discovery that hands out
	// sybils). Those adversaries are outbound peers of the honest node, so
	// they compete for the mesh's Dout quota that otherwise only honest
	// peers fill. Default 0.
	AdversaryDials int
	// SpamIDs is the number of fake ids in each IHaveSpammer IHAVE. Default 50.
	SpamIDs int
	// InvalidPerHeartbeat is how many invalid messages each InvalidSender
	// authors per heartbeat (and how many of its colluders' it relays).
	// Default 1.
	InvalidPerHeartbeat int
	// Scorer, if set, scores peers; nil leaves every score at 0.
	Scorer Scorer
	// Protocol, if set, gives the GossipSub version honest node i speaks
	// (wire.ProtocolMeshsub10, V11 or V12); a link uses the older of
	// its two ends' versions. Default: every node speaks V12. Adversaries
	// always speak V12.
	Protocol func(node int) protocol.ID
	// Start is the virtual time at which the run begins. Default 2026-01-01 UTC.
	Start time.Time
}

func (c *Config) setDefaults() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	if c.Nodes <= 0 {
		return bad("Nodes", "must be > 0")
	}
	if c.Degree == 0 {
		c.Degree = 4
	}
	if c.Degree < 0 {
		return bad("Degree", "must be >= 0")
	}
	if c.Topic == "" {
		c.Topic = "sim"
	}
	if c.ExtraTopics < 0 {
		return bad("ExtraTopics", "must be >= 0")
	}
	if c.Router.D == 0 {
		c.Router = automaton.DefaultConfig()
	}
	if err := c.Router.Validate(); err != nil {
		return fmt.Errorf("%w: Router: %w", ErrInvalidConfig, err)
	}
	if c.Latency == 0 {
		c.Latency = 20 * time.Millisecond
	}
	if c.Latency < 0 {
		return bad("Latency", "must be >= 0")
	}
	if c.Jitter < 0 {
		return bad("Jitter", "must be >= 0")
	}
	if c.ValidationDelay < 0 {
		return bad("ValidationDelay", "must be >= 0")
	}
	if c.SpamIDs == 0 {
		c.SpamIDs = 50
	}
	if c.AdversaryDials < 0 {
		return bad("AdversaryDials", "must be >= 0")
	}
	if c.SpamIDs < 0 {
		return bad("SpamIDs", "must be >= 0")
	}
	if c.InvalidPerHeartbeat == 0 {
		c.InvalidPerHeartbeat = 1
	}
	if c.InvalidPerHeartbeat < 0 {
		return bad("InvalidPerHeartbeat", "must be >= 0")
	}
	for i, b := range c.Adversaries {
		if b == Honest || b > InvalidSender {
			return fmt.Errorf("%w: Adversaries[%d] = %v, want a misbehaving Behavior", ErrInvalidConfig, i, b)
		}
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return nil
}

// versionRank orders the GossipSub versions a simulated node may speak.
func versionRank(p protocol.ID) int {
	switch p {
	case wire.ProtocolMeshsub10:
		return 1
	case wire.ProtocolMeshsub11:
		return 2
	case wire.ProtocolMeshsub12:
		return 3
	case wire.ProtocolMeshsub13:
		return 4
	case wire.ProtocolMeshsub14:
		return 5
	}
	return 0
}

// PeerID returns the peer id the simulator gives node i (an identity
// multihash, valid for peer.IDFromBytes).
func PeerID(i int) peer.ID {
	data := fmt.Appendf(nil, "sim-node-%07d", i)
	return peer.ID(append([]byte{0x00, byte(len(data))}, data...))
}
