package automaton

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/meshbus/meshbus/events"
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns; the
// message names the offending field.
var ErrInvalidConfig = errors.New("automaton: invalid config")

// Config holds the GossipSub parameters of one automaton. Start from
// DefaultConfig and change fields; New rejects a Config that Validate rejects.
// Durations are measured on the injected now, never on a wall clock.
type Config struct {
	// D is the desired mesh degree. Default 6.
	D int
	// Dlo is the lower bound: heartbeat grafts up to D when the mesh is smaller. Default 5.
	Dlo int
	// Dhi is the upper bound: heartbeat prunes down to D when the mesh is larger,
	// and inbound GRAFTs are refused when the mesh has Dhi peers. Default 12.
	Dhi int
	// Dscore is how many of the best-scoring peers are kept when trimming. Default 4.
	Dscore int
	// Dout is the minimum number of outbound-connection peers kept in the mesh. Default 2.
	Dout int
	// Dlazy is the minimum number of peers that receive gossip (IHAVE) per topic per heartbeat. Default 6.
	Dlazy int
	// GossipFactor is the fraction of eligible non-mesh peers that receive
	// gossip when that is more than Dlazy. Default 0.25.
	GossipFactor float64

	// HeartbeatInterval is the period at which the driver calls Heartbeat.
	// The automaton uses it for the backoff slack and to convert heartbeats to
	// time. Default 1 s.
	HeartbeatInterval time.Duration
	// HistoryLength is the number of heartbeat windows the message cache keeps
	// (messages are served to IWANT while in it). Default 5.
	HistoryLength int
	// HistoryGossip is the number of recent windows advertised in IHAVE. Default 3.
	HistoryGossip int
	// FanoutTTL is how long fanout state for an unjoined topic lives after the
	// last publish to it. Default 60 s.
	FanoutTTL time.Duration
	// SeenTTL is how long a message id is remembered for duplicate detection. Default 2 min.
	SeenTTL time.Duration

	// PruneBackoff is the backoff sent in, and applied after, a PRUNE. Default 1 min.
	PruneBackoff time.Duration
	// UnsubscribeBackoff is the backoff sent in PRUNEs when leaving a topic. Default 10 s.
	UnsubscribeBackoff time.Duration
	// MaxPruneBackoff clamps backoffs received in PRUNEs, so that a peer
	// cannot lock the node out of re-grafting it for an absurd time. Default 1 h.
	MaxPruneBackoff time.Duration
	// BackoffSlackHeartbeats is how many heartbeats past a backoff's expiry the
	// node waits before grafting the peer itself (clock skew and heartbeat
	// phase between the two sides). Default 1.
	BackoffSlackHeartbeats int
	// GraftFloodThreshold: a GRAFT arriving within this time of our PRUNE costs
	// an extra PenaltyGraftFlood on top of PenaltyGraftBackoff. Default 10 s.
	GraftFloodThreshold time.Duration

	// MaxIHaveLength caps the ids in one IHAVE we send and the ids we request
	// from one peer per heartbeat; it is also the per-heartbeat budget of ids
	// one peer may IWANT from us. Default 5000.
	MaxIHaveLength int
	// MaxIHaveMessages caps the RPCs with IHAVE entries processed from one
	// peer per heartbeat (an RPC's entries, one per topic, count once, as
	// in go-libp2p-pubsub and js-libp2p). Default 10.
	MaxIHaveMessages int
	// GossipRetransmission caps how many times one message is sent to one peer
	// in answer to IWANT. Default 3.
	GossipRetransmission int
	// IWantFollowupTime is how long a peer has to deliver a message it
	// advertised and we asked for before it counts as a broken promise. It does not count if the
	// message arrived from any peer by then. Default 3 s.
	IWantFollowupTime time.Duration

	// PeerExchange enables PX: PRUNEs we send carry up to PrunePeers peers
	// (to /meshsub/1.1.0+ peers), and PX received from peers whose score is at
	// least the accept-PX threshold is reported. Default false.
	PeerExchange bool
	// PrunePeers caps the PX records in a PRUNE we send, and the records
	// accepted from one received PRUNE. Default 16.
	PrunePeers int

	// TrimAtDhi makes the heartbeat trim a mesh of Dhi peers or more down
	// to D, as go-libp2p-pubsub does, instead of one of more than Dhi peers
	// (the spec's rule, and the default). A mesh then never stays at Dhi:
	// meshes are smaller on average, and every message is sent and received
	// fewer times. Default false.
	TrimAtDhi bool

	// FloodPublish sends our own messages to every topic peer whose score is
	// at least the publish threshold, not only the mesh. Default true.
	FloodPublish bool

	// OpportunisticGraftTicks is the number of heartbeats between
	// opportunistic grafting checks. Default 60.
	OpportunisticGraftTicks int
	// OpportunisticGraftPeers is how many peers an opportunistic graft adds. Default 2.
	OpportunisticGraftPeers int

	// IDontWantThreshold is the size of a received message's data field
	// (bytes; the other fields do not count, as in go-libp2p-pubsub) from
	// which IDONTWANT is sent to /meshsub/1.2.0 mesh peers. Default 1024.
	IDontWantThreshold int
	// MaxIDontWant caps the IDONTWANT ids remembered per peer; ids also expire
	// after HistoryLength heartbeats. Further ids are ignored. Default 1000.
	MaxIDontWant int
	// MaxIDontWantMessages caps the RPCs with IDONTWANT processed from one
	// peer per heartbeat (the spec's max_idontwant_messages; an RPC's
	// entries count once, as in go-libp2p-pubsub). Default 1000.
	MaxIDontWantMessages int

	// MaxPeers caps the peers the automaton tracks; AddPeer beyond it returns
	// OutcomeTooManyPeers. Default 1024.
	MaxPeers int
	// MaxTopicsPerPeer caps the subscriptions recorded per peer; more are
	// refused with OutcomeTooManyTopics. Default 256.
	MaxTopicsPerPeer int
	// MaxTopics caps the topics the local node joins or keeps fanout for. Default 1024.
	MaxTopics int
	// MaxTopicLength caps topic names accepted from peers and callers. Default 1024.
	MaxTopicLength int
	// MaxIDLength caps message ids accepted from peers (IHAVE, IWANT,
	// IDONTWANT) and callers; longer ids are ignored. Default 256.
	MaxIDLength int
	// MaxSeen caps the seen-message cache; when full, the oldest entries are
	// forgotten early. Default 262144.
	MaxSeen int
	// MaxPendingValidation caps the messages awaiting Validated; more are
	// refused with OutcomeValidationQueueFull. Pending messages not validated
	// within SeenTTL are dropped. Default 4096.
	MaxPendingValidation int
	// MaxBackoffs caps the (topic, peer) backoff records; when full, the
	// record closest to expiry is dropped. Default 65536.
	MaxBackoffs int

	// ScoreThresholds are the thresholds of the scorer whose snapshots
	// UpdateScores will install. They are in force from New on, so that
	// before the first snapshot every peer scores 0 against the configured
	// thresholds (with AcceptPX > 0, no PX is accepted in that interval);
	// each snapshot then installs its own (the same, when the driver wires
	// both from one source). The zero value means no scoring: every
	// threshold is 0 and every peer scores 0. The order scoring requires
	// holds: Graylist <= Publish <= Gossip <= 0 <= AcceptPX,
	// OpportunisticGraft. Default zero.
	ScoreThresholds events.ScoreThresholds

	// Latency is latency-aware mesh selection (LatencyConfig): off in the
	// zero value and by default; DefaultLatencyConfig turns it on.
	Latency LatencyConfig

	// Lazy is learned lazy forwarding (LazyConfig): off in the zero value
	// and by default; DefaultLazyConfig turns it on.
	Lazy LazyConfig

	// Choke is meshbus's choke extension (ChokeConfig): off in the zero
	// value; DefaultConfig sets DefaultChokeConfig, which chokes only mesh
	// peers within MaxRTT (10 ms), so without RTT measurements
	// (HandlePeerRTT) it advertises the extension and obeys chokes but
	// chokes nobody.
	Choke ChokeConfig

	// Stagger is staggered forwarding of large messages (StaggerConfig):
	// off in the zero value; DefaultConfig sets DefaultStaggerConfig.
	Stagger StaggerConfig

	// IDontWantLearn is learned IDONTWANT for small messages
	// (IDontWantLearnConfig): off in the zero value; DefaultConfig sets
	// DefaultIDontWantLearnConfig.
	IDontWantLearn IDontWantLearnConfig

	// Preamble is gossipsub v1.4's PREAMBLE and IMRECEIVING with v1.4
	// peers (PreambleConfig): off in the zero value; DefaultConfig sets
	// DefaultPreambleConfig.
	Preamble PreambleConfig

	// GraftLimitD makes HandleGraft refuse (PRUNE with PX) a GRAFT when
	// the mesh already holds D peers or more, instead of Dhi or more (the
	// rule go-libp2p-pubsub follows); a GRAFT from an outbound peer is
	// still accepted while the mesh holds fewer than Dout outbound peers
	// (without the option, an outbound peer's GRAFT is always accepted).
	// Meshes then stay near D instead of drifting up towards Dhi, and each
	// mesh peer fewer is one copy fewer of every message. Spec-valid: the
	// spec lets a node refuse a GRAFT, and the Dout quota is kept.
	// Default false.
	GraftLimitD bool
}

// DefaultConfig returns the GossipSub v1.1/v1.2 defaults listed on each field.
func DefaultConfig() Config {
	return Config{
		D:                       6,
		Dlo:                     5,
		Dhi:                     12,
		Dscore:                  4,
		Dout:                    2,
		Dlazy:                   6,
		GossipFactor:            0.25,
		HeartbeatInterval:       time.Second,
		HistoryLength:           5,
		HistoryGossip:           3,
		FanoutTTL:               60 * time.Second,
		SeenTTL:                 2 * time.Minute,
		PruneBackoff:            time.Minute,
		UnsubscribeBackoff:      10 * time.Second,
		MaxPruneBackoff:         time.Hour,
		BackoffSlackHeartbeats:  1,
		GraftFloodThreshold:     10 * time.Second,
		MaxIHaveLength:          5000,
		MaxIHaveMessages:        10,
		GossipRetransmission:    3,
		IWantFollowupTime:       3 * time.Second,
		PeerExchange:            false,
		PrunePeers:              16,
		FloodPublish:            true,
		OpportunisticGraftTicks: 60,
		OpportunisticGraftPeers: 2,
		IDontWantThreshold:      1024,
		MaxIDontWant:            1000,
		MaxIDontWantMessages:    1000,
		MaxPeers:                1024,
		MaxTopicsPerPeer:        256,
		MaxTopics:               1024,
		MaxTopicLength:          1024,
		MaxIDLength:             256,
		MaxSeen:                 1 << 18,
		MaxPendingValidation:    4096,
		MaxBackoffs:             1 << 16,
		Stagger:                 DefaultStaggerConfig(),
		IDontWantLearn:          DefaultIDontWantLearnConfig(),
		Preamble:                DefaultPreambleConfig(),
		Choke:                   DefaultChokeConfig(),
	}
}

// Validate checks the relations the GossipSub specs require between the
// parameters. The error wraps ErrInvalidConfig and names the first bad field.
func (c Config) Validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case c.D <= 0:
		return bad("D", "must be > 0")
	case c.Dlo <= 0:
		return bad("Dlo", "must be > 0")
	case c.Dlo > c.D:
		return bad("Dlo", "must be <= D")
	case c.Dhi < c.D:
		return bad("Dhi", "must be >= D")
	case c.Dscore < 0:
		return bad("Dscore", "must be >= 0")
	case c.Dscore > c.Dhi:
		return bad("Dscore", "must be <= Dhi")
	case c.Dout < 0:
		return bad("Dout", "must be >= 0")
	case c.Dout >= c.Dlo:
		return bad("Dout", "must be < Dlo")
	case c.Dout > c.D/2:
		return bad("Dout", "must be <= D/2")
	case c.Dlazy < 0:
		return bad("Dlazy", "must be >= 0")
	case c.GossipFactor < 0 || c.GossipFactor > 1 || c.GossipFactor != c.GossipFactor:
		return bad("GossipFactor", "must be in [0, 1]")
	case c.HeartbeatInterval <= 0:
		return bad("HeartbeatInterval", "must be > 0")
	case c.HistoryLength <= 0:
		return bad("HistoryLength", "must be > 0")
	case c.HistoryGossip <= 0:
		return bad("HistoryGossip", "must be > 0")
	case c.HistoryGossip > c.HistoryLength:
		return bad("HistoryGossip", "must be <= HistoryLength")
	case c.FanoutTTL <= 0:
		return bad("FanoutTTL", "must be > 0")
	case c.SeenTTL <= 0:
		return bad("SeenTTL", "must be > 0")
	case c.PruneBackoff <= 0:
		return bad("PruneBackoff", "must be > 0")
	case c.UnsubscribeBackoff <= 0:
		return bad("UnsubscribeBackoff", "must be > 0")
	case c.MaxPruneBackoff < c.PruneBackoff || c.MaxPruneBackoff < c.UnsubscribeBackoff:
		return bad("MaxPruneBackoff", "must be >= PruneBackoff and UnsubscribeBackoff")
	case c.BackoffSlackHeartbeats < 0:
		return bad("BackoffSlackHeartbeats", "must be >= 0")
	case c.GraftFloodThreshold < 0:
		return bad("GraftFloodThreshold", "must be >= 0")
	case c.MaxIHaveLength <= 0:
		return bad("MaxIHaveLength", "must be > 0")
	case c.MaxIHaveMessages <= 0:
		return bad("MaxIHaveMessages", "must be > 0")
	case c.GossipRetransmission <= 0:
		return bad("GossipRetransmission", "must be > 0")
	case c.IWantFollowupTime <= 0:
		return bad("IWantFollowupTime", "must be > 0")
	case c.PrunePeers < 0:
		return bad("PrunePeers", "must be >= 0")
	case c.OpportunisticGraftTicks <= 0:
		return bad("OpportunisticGraftTicks", "must be > 0")
	case c.OpportunisticGraftPeers < 0:
		return bad("OpportunisticGraftPeers", "must be >= 0")
	case c.IDontWantThreshold < 0:
		return bad("IDontWantThreshold", "must be >= 0")
	case c.MaxIDontWant < 0:
		return bad("MaxIDontWant", "must be >= 0")
	case c.MaxIDontWantMessages <= 0:
		return bad("MaxIDontWantMessages", "must be > 0")
	case c.MaxPeers <= 0:
		return bad("MaxPeers", "must be > 0")
	case c.MaxTopicsPerPeer <= 0:
		return bad("MaxTopicsPerPeer", "must be > 0")
	case c.MaxTopics <= 0:
		return bad("MaxTopics", "must be > 0")
	case c.MaxTopicLength <= 0:
		return bad("MaxTopicLength", "must be > 0")
	case c.MaxIDLength <= 0:
		return bad("MaxIDLength", "must be > 0")
	case c.MaxSeen <= 0:
		return bad("MaxSeen", "must be > 0")
	case c.MaxPendingValidation <= 0:
		return bad("MaxPendingValidation", "must be > 0")
	case c.MaxBackoffs <= 0:
		return bad("MaxBackoffs", "must be > 0")
	}
	if err := c.Stagger.validate(); err != nil {
		return err
	}
	if err := c.IDontWantLearn.validate(); err != nil {
		return err
	}
	if err := c.Preamble.validate(); err != nil {
		return err
	}
	if err := c.Lazy.validate(); err != nil {
		return err
	}
	if err := c.Choke.validate(); err != nil {
		return err
	}
	if err := c.Latency.validate(); err != nil {
		return err
	}
	return validThresholds(c.ScoreThresholds, bad)
}

// validThresholds checks the order scoring gives its thresholds, and that
// each is a finite number.
func validThresholds(t events.ScoreThresholds, bad func(field, why string) error) error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"Gossip", t.Gossip}, {"Publish", t.Publish}, {"Graylist", t.Graylist},
		{"AcceptPX", t.AcceptPX}, {"OpportunisticGraft", t.OpportunisticGraft},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return bad("ScoreThresholds."+f.name, "must be a finite number")
		}
	}
	switch {
	case t.Gossip > 0:
		return bad("ScoreThresholds.Gossip", "must be <= 0")
	case t.Publish > t.Gossip:
		return bad("ScoreThresholds.Publish", "must be <= Gossip")
	case t.Graylist > t.Publish:
		return bad("ScoreThresholds.Graylist", "must be <= Publish")
	case t.AcceptPX < 0:
		return bad("ScoreThresholds.AcceptPX", "must be >= 0")
	case t.OpportunisticGraft < 0:
		return bad("ScoreThresholds.OpportunisticGraft", "must be >= 0")
	}
	return nil
}

// FlushInterval is how often the driver calls FlushLazy: the shorter of
// LazyConfig.FlushInterval (when learned lazy forwarding batches) and
// ChokeConfig.FlushInterval (when choking is on); 0 when nothing batches.
func (c Config) FlushInterval() time.Duration {
	var d time.Duration
	if l := c.Lazy; l.Enabled && l.FlushInterval > 0 {
		d = l.FlushInterval
	}
	if ch := c.Choke; ch.Enabled && (d == 0 || ch.FlushInterval < d) {
		d = ch.FlushInterval
	}
	return d
}
