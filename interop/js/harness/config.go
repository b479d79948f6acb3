package harness

import (
	"fmt"
	"log/slog"
	"time"
)

// Config describes one interop run. The zero value of a field means its
// default; Validate (called by NewMesh and Run) names a bad field.
type Config struct {
	// JSPeers is how many js-libp2p peers to start (default 2).
	JSPeers int
	// GoNodes is how many meshbus nodes to start (default 3).
	GoNodes int
	// Messages is how many messages to publish (default 50). The first
	// comes from a Go node and the second from a JS peer; the rest from
	// nodes picked at random (seeded).
	Messages int
	// Assembly is how the meshbus nodes are built: AssemblyHost (default,
	// host.New with every built-in component) or AssemblyRouter.
	Assembly Assembly
	// Topology is how the nodes connect: TopologyRing (default) or
	// TopologyFull.
	Topology Topology
	// Sparse gives every node (both kinds) a mesh degree of 1 and no flood
	// publishing, so that most messages travel by gossip (IHAVE, IWANT, the
	// answer) between the implementations. NewMesh then waits only for the
	// subscriptions to be known, and a mesh may be empty at the end (a
	// GRAFT refused at Dhi = 1 leaves a node without a mesh for a backoff).
	Sparse bool
	// Topic is the one topic every node joins (default "meshbus-interop").
	Topic string
	// Seed seeds the publisher choice, payloads and the routers' random
	// choices (default 1).
	Seed uint64
	// MsgID is the JS peers' message id function (default MsgIDSpec).
	MsgID MsgIDMode
	// JSProtocols, if set, are the only pubsub protocols the JS peers speak
	// (e.g. just /meshsub/1.1.0); default the library's list.
	JSProtocols []string
	// MinPayload and MaxPayload bound the payload sizes, drawn uniformly
	// (defaults 16 and 2048: some messages are above both implementations'
	// IDONTWANT thresholds, 512 bytes for js, 1024 for meshbus).
	MinPayload, MaxPayload int
	// LargeMessage, if positive, makes the third message this many bytes.
	LargeMessage int
	// NodePath is the node executable (default: looked up on PATH).
	NodePath string
	// PeerDir is the JS peer's directory (default DefaultPeerDir()).
	PeerDir string
	// MeshTimeout bounds the wait for every link to be grafted both ways
	// (default 20s).
	MeshTimeout time.Duration
	// DeliveryTimeout bounds the wait for every message to reach every
	// node (default 20s).
	DeliveryTimeout time.Duration
	// Logger receives the Go nodes' logs (default: discarded).
	Logger *slog.Logger
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// Topology names a way to connect the nodes.
type Topology string

// The topologies.
const (
	// TopologyRing is a ring (i dials i+1) plus chords (even i dials i+2):
	// at most 4 links per node, so with 5 or more nodes some pairs are
	// not linked and their messages are relayed, and every link fits in
	// the mesh (D=6): no gossip is needed.
	TopologyRing Topology = "ring"
	// TopologyFull links every pair (i dials j > i): with more than D+1
	// nodes the meshes are a subset of the links, so gossip (IHAVE/IWANT)
	// and mesh maintenance (PRUNE) cross the implementations too.
	TopologyFull Topology = "full"
)

func (c *Config) setDefaults() {
	or := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	or(&c.JSPeers, 2)
	or(&c.GoNodes, 3)
	or(&c.Messages, 50)
	or(&c.MinPayload, 16)
	or(&c.MaxPayload, 2048)
	if c.Topic == "" {
		c.Topic = "meshbus-interop"
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Assembly == "" {
		c.Assembly = AssemblyHost
	}
	if c.Topology == "" {
		c.Topology = TopologyRing
	}
	if c.MsgID == "" {
		c.MsgID = MsgIDSpec
	}
	if c.PeerDir == "" {
		c.PeerDir = DefaultPeerDir()
	}
	if c.MeshTimeout == 0 {
		c.MeshTimeout = 20 * time.Second
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = 20 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Validate applies the defaults and checks every field, naming the first
// bad one.
func (c *Config) Validate() error {
	c.setDefaults()
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case c.JSPeers < 1:
		return bad("JSPeers", "must be at least 1")
	case c.GoNodes < 1:
		return bad("GoNodes", "must be at least 1")
	case c.JSPeers+c.GoNodes > 64:
		return bad("JSPeers+GoNodes", "must be at most 64")
	case c.Messages < 2:
		return bad("Messages", "must be at least 2 (one from each kind)")
	case c.MinPayload < 16 || c.MaxPayload < c.MinPayload || c.MaxPayload > 512<<10:
		return bad("MinPayload/MaxPayload", "must satisfy 16 <= MinPayload <= MaxPayload <= 512 KiB")
	case c.LargeMessage < 0 || c.LargeMessage > 512<<10:
		return bad("LargeMessage", "must be between 0 and 512 KiB")
	case c.MsgID != MsgIDSpec && c.MsgID != MsgIDJSDefault:
		return bad("MsgID", fmt.Sprintf("must be %q or %q", MsgIDSpec, MsgIDJSDefault))
	case c.Assembly != AssemblyHost && c.Assembly != AssemblyRouter:
		return bad("Assembly", fmt.Sprintf("must be %q or %q", AssemblyHost, AssemblyRouter))
	case c.Topology != TopologyRing && c.Topology != TopologyFull:
		return bad("Topology", fmt.Sprintf("must be %q or %q", TopologyRing, TopologyFull))
	case c.MeshTimeout < 0 || c.DeliveryTimeout < 0:
		return bad("MeshTimeout/DeliveryTimeout", "must not be negative")
	}
	return nil
}

// everyLinkInMesh reports whether every link fits in the meshes (a ring of
// at most 4 links per node, D = 6), so that every link must be grafted.
func (c *Config) everyLinkInMesh() bool { return c.Topology == TopologyRing && !c.Sparse }
