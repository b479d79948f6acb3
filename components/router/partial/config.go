package partial

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("partial: invalid config")

// MinGroupTTL is the smallest GroupTTL accepted: a group lives at least
// three heartbeats, long enough for a metadata round trip.
const MinGroupTTL = 3

// Config bounds the state the core keeps. DefaultConfig gives working values.
type Config struct {
	// MaxMetadataSize bounds one peer's encoded parts metadata; larger is
	// rejected (PartialRejectMetadataTooLarge).
	MaxMetadataSize int
	// MaxPartsSize bounds one encoded partial message; larger is rejected.
	MaxPartsSize int
	// MaxGroupIDLength bounds a group id.
	MaxGroupIDLength int
	// MaxTopicLength bounds a topic name.
	MaxTopicLength int
	// GroupTTL is how many heartbeats a group lives after the local node last
	// published or extended it (or a peer opened it); at least MinGroupTTL.
	GroupTTL int
	// MaxPeerGroupsPerTopic bounds the groups that peers (all together) may
	// open in one topic, groups the local node has not published or extended.
	MaxPeerGroupsPerTopic int
	// MaxPeerGroupsPerPeer bounds the groups one peer may open in one topic.
	MaxPeerGroupsPerPeer int
	// MaxLocalGroupsPerTopic bounds the groups the local node keeps per topic.
	MaxLocalGroupsPerTopic int
	// MaxTopicsPerPeer bounds the topics whose partial options are kept per peer.
	MaxTopicsPerPeer int
	// GossipPeers is how many non-mesh partial peers get our parts metadata
	// per topic per heartbeat (the partial counterpart of IHAVE gossip).
	GossipPeers int
}

// DefaultConfig returns the defaults: 4 KiB metadata, 1 MiB parts, 256-byte
// group ids, 1024-byte topics, 5 heartbeats of group life, 255 peer-opened groups
// per topic and 8 per peer, 1024 local groups per topic, partial options of 256 topics
// per peer, gossip to 6 peers.
func DefaultConfig() Config {
	return Config{
		MaxMetadataSize:        4 << 10,
		MaxPartsSize:           1 << 20,
		MaxGroupIDLength:       256,
		MaxTopicLength:         1024,
		GroupTTL:               5,
		MaxPeerGroupsPerTopic:  255,
		MaxPeerGroupsPerPeer:   8,
		MaxLocalGroupsPerTopic: 1024,
		MaxTopicsPerPeer:       256,
		GossipPeers:            6,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{
		{"MaxMetadataSize", c.MaxMetadataSize, 1},
		{"MaxPartsSize", c.MaxPartsSize, 1},
		{"MaxGroupIDLength", c.MaxGroupIDLength, 1},
		{"MaxTopicLength", c.MaxTopicLength, 1},
		{"GroupTTL", c.GroupTTL, MinGroupTTL},
		{"MaxPeerGroupsPerTopic", c.MaxPeerGroupsPerTopic, 1},
		{"MaxPeerGroupsPerPeer", c.MaxPeerGroupsPerPeer, 1},
		{"MaxLocalGroupsPerTopic", c.MaxLocalGroupsPerTopic, 1},
		{"MaxTopicsPerPeer", c.MaxTopicsPerPeer, 1},
		{"GossipPeers", c.GossipPeers, 0},
	} {
		if f.v < f.min {
			return fmt.Errorf("%w: %s is %d, want at least %d", ErrInvalidConfig, f.name, f.v, f.min)
		}
	}
	if c.MaxPeerGroupsPerPeer > c.MaxPeerGroupsPerTopic {
		return fmt.Errorf("%w: MaxPeerGroupsPerPeer %d above MaxPeerGroupsPerTopic %d", ErrInvalidConfig, c.MaxPeerGroupsPerPeer, c.MaxPeerGroupsPerTopic)
	}
	return nil
}
