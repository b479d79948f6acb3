package partial

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// Core is the extensions and partial-messages state of one node. Create it
// with New. It is not safe for concurrent use: one driver goroutine owns it.
type Core struct {
	cfg Config
	// enabled: the local node advertises the partial-messages extension.
	enabled bool

	peers  map[peer.ID]*peerState
	topics map[string]*topicState
	torder []string // enabled topics in enabling order
}

type subFlags struct{ requests, supports bool }

type peerState struct {
	ext  bool // advertised partialMessages on its current stream
	subs map[string]subFlags
}

type topicState struct {
	name               string
	requests, supports bool
	groups             map[string]*group
	gorder             []string
	peerOpened         int
	perPeer            map[peer.ID]int
	local              int
}

type group struct {
	id       string
	ttl      int
	opener   peer.ID // "" when the local node published or extended it
	complete bool
	peers    map[peer.ID]*peerGroup
	porder   []peer.ID
}

type peerGroup struct {
	meta     []byte // last parts metadata received (nil: none yet)
	sent     []byte // last parts metadata sent
	sentMeta bool
}

// New returns a core. enabled says whether the local node advertises (and
// so speaks) the partial-messages extension; without it every partial RPC
// is rejected and no topic can be enabled.
func New(cfg Config, enabled bool) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Core{cfg: cfg, enabled: enabled, peers: make(map[peer.ID]*peerState), topics: make(map[string]*topicState)}, nil
}

// Enabled reports whether the local node advertises the partial-messages
// extension.
func (c *Core) Enabled() bool { return c.enabled }

// LocalExtensions returns the Extensions control message the local node sends
// first on every /meshsub/1.3.0 stream, or nil when it supports no extension.
func (c *Core) LocalExtensions() *pb.ControlExtensions {
	if !c.enabled {
		return nil
	}
	t := true
	return &pb.ControlExtensions{PartialMessages: &t}
}

// AddPeer starts tracking p. Outcomes: OutcomePeerAdded, OutcomePeerAlreadyAdded.
func (c *Core) AddPeer(p peer.ID) Outcome {
	if _, ok := c.peers[p]; ok {
		return OutcomePeerAlreadyAdded
	}
	c.peers[p] = &peerState{}
	return OutcomePeerAdded
}

// RemovePeer forgets p, its options and its per-group state (groups it
// opened stay until they expire, still counted against it).
// Outcomes: OutcomePeerRemoved, OutcomeUnknownPeer.
func (c *Core) RemovePeer(p peer.ID) Outcome {
	if _, ok := c.peers[p]; !ok {
		return OutcomeUnknownPeer
	}
	delete(c.peers, p)
	for _, name := range c.torder {
		for _, g := range c.topics[name].groups {
			g.dropPeer(p)
		}
	}
	return OutcomePeerRemoved
}

// PeerExtensions reports the extensions p advertised on its current stream
// (false for an unknown peer).
func (c *Core) PeerExtensions(p peer.ID) (partialMessages bool) {
	ps := c.peers[p]
	return ps != nil && ps.ext
}

// HandleExtensions applies the gossipsub v1.3 rule to one received RPC: first
// is true for the first RPC of the peer's current inbound stream, ext is the
// RPC's Extensions control message (nil if none), proto the stream's
// protocol. The first RPC defines the peer's extensions (none without the
// message, or on a protocol older than /meshsub/1.3.0; /meshsub/1.4.0
// honours it as 1.3 does), and emits EvtPeerExtensionsReceived with the
// partial-messages and large-message (gossipsub v1.4) flags; an Extensions
// message in any later RPC of a v1.3 or v1.4 stream is ignored and
// penalised (on older protocols it is an unknown field, ignored). Unknown
// extensions are ignored. The core keeps only the partial-messages flag;
// the driver records the large-message flag with the router's automaton
// (the event's LargeMessages).
//
// Outcomes: OutcomeExtensionsRecorded, OutcomeExtensionsAbsent,
// OutcomeExtensionsRepeated, OutcomeExtensionsUnchanged, OutcomeUnknownPeer.
func (c *Core) HandleExtensions(now time.Time, from peer.ID, proto protocol.ID, first bool, ext *pb.ControlExtensions, out *Output) Outcome {
	ps := c.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	v13 := HasExtensions(proto)
	if !first {
		if ext == nil || !v13 {
			return OutcomeExtensionsUnchanged // before v1.3 the field means nothing
		}
		out.Penalized = append(out.Penalized, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyExtensionsMisuse, Count: 1, At: now})
		return OutcomeExtensionsRepeated
	}
	ps.ext = v13 && ext.GetPartialMessages()
	out.Extensions = append(out.Extensions, events.EvtPeerExtensionsReceived{
		Peer: from, Protocol: proto, PartialMessages: ps.ext,
		LargeMessages: v13 && ext.GetLargeMessageHandling(), At: now,
	})
	if ext == nil || !v13 {
		return OutcomeExtensionsAbsent
	}
	return OutcomeExtensionsRecorded
}

// ProtocolV13 is gossipsub v1.3's protocol id, the first on which the
// Extensions control message is honoured.
const ProtocolV13 protocol.ID = "/meshsub/1.3.0"

// ProtocolV14 is gossipsub v1.4's protocol id; it honours the Extensions
// control message as v1.3 does.
const ProtocolV14 protocol.ID = "/meshsub/1.4.0"

// HasExtensions reports whether the Extensions control message is honoured
// on proto (ProtocolV13, ProtocolV14).
func HasExtensions(proto protocol.ID) bool { return proto == ProtocolV13 || proto == ProtocolV14 }

// HandleSubOpts records a peer's partial options for topic from one SubOpts
// entry. Options of an unsubscription are ignored (and clear the topic's).
//
// Outcomes: OutcomeSubOptsRecorded, OutcomeSubOptsCleared,
// OutcomeTooManyTopics, OutcomeInvalidInput, OutcomeUnknownPeer.
func (c *Core) HandleSubOpts(from peer.ID, topic string, subscribe, requests, supports bool) Outcome {
	ps := c.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if topic == "" || len(topic) > c.cfg.MaxTopicLength {
		return OutcomeInvalidInput
	}
	if !subscribe || (!requests && !supports) {
		delete(ps.subs, topic)
		return OutcomeSubOptsCleared
	}
	if _, ok := ps.subs[topic]; !ok && len(ps.subs) >= c.cfg.MaxTopicsPerPeer {
		return OutcomeTooManyTopics
	}
	if ps.subs == nil {
		ps.subs = make(map[string]subFlags)
	}
	// Requesting partial messages implies supporting sending them.
	ps.subs[topic] = subFlags{requests: requests, supports: supports || requests}
	return OutcomeSubOptsRecorded
}

// EnableTopic sets the local partial options of topic (requests implies
// supports). Outcomes: OutcomeTopicEnabled, OutcomeNotEnabled (the
// extension is off), OutcomeInvalidInput.
func (c *Core) EnableTopic(topic string, requests, supports bool) Outcome {
	if !c.enabled {
		return OutcomeNotEnabled
	}
	if topic == "" || len(topic) > c.cfg.MaxTopicLength || (!requests && !supports) {
		return OutcomeInvalidInput
	}
	t := c.topics[topic]
	if t == nil {
		t = &topicState{name: topic, groups: make(map[string]*group), perPeer: make(map[peer.ID]int)}
		c.topics[topic] = t
		c.torder = append(c.torder, topic)
	}
	t.requests, t.supports = requests, supports || requests
	return OutcomeTopicEnabled
}

// DisableTopic drops topic's local options and every group of it (listed in
// Output.Evicted). Outcomes: OutcomeTopicDisabled, OutcomeNotEnabled.
func (c *Core) DisableTopic(topic string, out *Output) Outcome {
	t := c.topics[topic]
	if t == nil {
		return OutcomeNotEnabled
	}
	for _, id := range t.gorder {
		out.Evicted = append(out.Evicted, GroupKey{Topic: topic, GroupID: id})
	}
	delete(c.topics, topic)
	c.torder = slices.DeleteFunc(c.torder, func(s string) bool { return s == topic })
	return OutcomeTopicDisabled
}

// TopicOptions returns the local options of topic.
func (c *Core) TopicOptions(topic string) (requests, supports bool) {
	if t := c.topics[topic]; t != nil {
		return t.requests, t.supports
	}
	return false, false
}

// PeerOptions returns p's partial options for topic as it announced them.
func (c *Core) PeerOptions(p peer.ID, topic string) (requests, supports bool) {
	if ps := c.peers[p]; ps != nil {
		f := ps.subs[topic]
		return f.requests, f.supports
	}
	return false, false
}

// sendParts: we may send p encoded parts of topic (p requested them, we
// support sending, both speak the extension).
func (c *Core) sendParts(t *topicState, ps *peerState, topic string) bool {
	return ps.ext && t.supports && ps.subs[topic].requests
}

// sendMeta: we send p our parts metadata: p supports sending partial
// messages (the spec's condition for sending it metadata) and parts flow
// one way at least: we requested them, or p did and we send them.
func (c *Core) sendMeta(t *topicState, ps *peerState, topic string) bool {
	f := ps.subs[topic]
	return ps.ext && f.supports && (t.requests || (t.supports && f.requests))
}

// PartialPeer reports whether p exchanges partial messages with us on topic
// (parts or metadata flow in at least one direction).
func (c *Core) PartialPeer(p peer.ID, topic string) bool {
	t, ps := c.topics[topic], c.peers[p]
	return t != nil && ps != nil && (c.sendParts(t, ps, topic) || c.sendMeta(t, ps, topic))
}

// PartsFrom reports whether p sends us partial messages of topic instead of
// full ones: we requested partial messages on topic (EnableTopic), and p
// advertised the extension and supports sending them there. The spec's
// behaviour table has a node that supports partial messages for a topic
// send them to a peer that requested them, so p sends us no full message
// of topic, and an IDONTWANT to it for one would be wasted.
func (c *Core) PartsFrom(p peer.ID, topic string) bool {
	t, ps := c.topics[topic], c.peers[p]
	return t != nil && ps != nil && ps.ext && t.requests && ps.subs[topic].supports
}

// AppendPartsFrom appends to dst, sorted, the topics where PartsFrom(p,
// topic) holds, and returns it. There are at most
// Config.MaxTopicsPerPeer.
func (c *Core) AppendPartsFrom(dst []string, p peer.ID) []string {
	ps := c.peers[p]
	if ps == nil || !ps.ext {
		return dst
	}
	n := len(dst)
	for topic, f := range ps.subs {
		if t := c.topics[topic]; t != nil && t.requests && f.supports {
			dst = append(dst, topic)
		}
	}
	slices.Sort(dst[n:])
	return dst
}

// SkipFull reports whether full messages (and IHAVE gossip) of topic are
// withheld from p: p requested partial messages and we send them, so it
// gets parts instead, as the spec's behaviour table says.
func (c *Core) SkipFull(p peer.ID, topic string) bool {
	t, ps := c.topics[topic], c.peers[p]
	return t != nil && ps != nil && c.sendParts(t, ps, topic)
}

func (c *Core) reject(now time.Time, from peer.ID, topic, gid string, r events.PartialRejectReason, penalise bool, out *Output) Outcome {
	out.Rejected = append(out.Rejected, events.EvtPartialMessageRejected{Peer: from, Topic: topic, GroupID: gid, Reason: r, At: now})
	if penalise {
		out.Penalized = append(out.Penalized, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyBadPartial, Count: 1, At: now})
	}
	return OutcomePartialRejected
}

// HandlePartial checks one received PartialMessagesExtension RPC and, when
// it is acceptable, stores the sender's metadata, opens the group if needed
// (bounded per topic and per peer) and queues a Delivery. Every refusal is
// named in Output.Rejected; all but PartialRejectNotEnabled and a topic-wide
// PartialRejectTooManyGroups (not this peer's doing) are penalised.
//
// Outcomes: OutcomePartialAccepted, OutcomePartialGroupOpened,
// OutcomePartialRejected, OutcomeUnknownPeer.
func (c *Core) HandlePartial(now time.Time, from peer.ID, rpc *pb.PartialMessagesExtension, out *Output) Outcome {
	ps := c.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	topic, gid := rpc.GetTopicID(), string(rpc.GetGroupID())
	parts, meta := rpc.GetPartialMessage(), rpc.GetPartsMetadata()
	if len(topic) > c.cfg.MaxTopicLength {
		topic = topic[:c.cfg.MaxTopicLength] // for the event only; rejected below
	}
	if len(gid) > c.cfg.MaxGroupIDLength {
		gid = gid[:c.cfg.MaxGroupIDLength]
	}
	switch {
	case !c.enabled || !ps.ext:
		return c.reject(now, from, topic, gid, events.PartialRejectNoExtension, true, out)
	case topic == "" || len(rpc.GetTopicID()) > c.cfg.MaxTopicLength || len(rpc.GetGroupID()) == 0 || len(rpc.GetGroupID()) > c.cfg.MaxGroupIDLength || (rpc.PartialMessage == nil && rpc.PartsMetadata == nil):
		return c.reject(now, from, topic, gid, events.PartialRejectMalformed, true, out)
	case len(meta) > c.cfg.MaxMetadataSize:
		return c.reject(now, from, topic, gid, events.PartialRejectMetadataTooLarge, true, out)
	case len(parts) > c.cfg.MaxPartsSize:
		return c.reject(now, from, topic, gid, events.PartialRejectPartsTooLarge, true, out)
	}
	t := c.topics[topic]
	if t == nil {
		return c.reject(now, from, topic, gid, events.PartialRejectNotEnabled, false, out)
	}
	if len(parts) > 0 && !t.requests {
		return c.reject(now, from, topic, gid, events.PartialRejectUnrequested, true, out)
	}
	g := t.groups[gid]
	opened := false
	if g == nil {
		if t.perPeer[from] >= c.cfg.MaxPeerGroupsPerPeer {
			return c.reject(now, from, topic, gid, events.PartialRejectTooManyGroups, true, out)
		}
		if t.peerOpened >= c.cfg.MaxPeerGroupsPerTopic {
			return c.reject(now, from, topic, gid, events.PartialRejectTooManyGroups, false, out)
		}
		g = t.open(gid, from, c.cfg.GroupTTL)
		opened = true
	}
	pg := g.peer(from)
	if rpc.PartsMetadata != nil {
		pg.meta = append(pg.meta[:0], meta...) // a later metadata replaces a prior one
	}
	out.Deliveries = append(out.Deliveries, Delivery{From: from, Topic: topic, GroupID: gid, Parts: parts, Metadata: meta, Opened: opened})
	if opened {
		return OutcomePartialGroupOpened
	}
	return OutcomePartialAccepted
}

// MergeResult is what the application made of a Delivery.
type MergeResult struct {
	// Added: the parts added at least one part the local node lacked.
	Added bool
	// Complete: the local node now holds every part of the group.
	Complete bool
	// Invalid: the application refused the parts or the metadata.
	Invalid bool
	// PartBytes and MetadataBytes are the delivered sizes, for the event.
	PartBytes, MetadataBytes int
}

// Merged records the application's answer to a Delivery from peer from.
// Invalid parts are rejected (PartialRejectInvalid, penalised) and a group
// the peer opened is dropped. Otherwise EvtPartialMessageReceived is emitted
// (and EvtPartialGroupCompleted the first time the group is complete); the
// sender gets the parts it lacks (and our metadata if it changed), and when
// parts were added the group becomes local (no longer counted against the
// opener) and every partial peer of mesh and of the group gets them: eager
// push of what we learnt.
//
// Outcomes: OutcomeMerged, OutcomeMergedCompleted, OutcomePartialRejected,
// OutcomeGroupGone.
func (c *Core) Merged(now time.Time, from peer.ID, topic, gid string, res MergeResult, mesh []peer.ID, out *Output) Outcome {
	t := c.topics[topic]
	var g *group
	if t != nil {
		g = t.groups[gid]
	}
	if g == nil {
		return OutcomeGroupGone
	}
	if res.Invalid {
		if g.opener == from {
			t.evict(gid, out)
		}
		return c.reject(now, from, topic, gid, events.PartialRejectInvalid, true, out)
	}
	out.Received = append(out.Received, events.EvtPartialMessageReceived{Peer: from, Topic: topic, GroupID: gid, PartBytes: res.PartBytes, MetadataBytes: res.MetadataBytes, Extended: res.Added, At: now})
	o := OutcomeMerged
	if res.Complete && !g.complete {
		g.complete = true
		out.Completed = append(out.Completed, events.EvtPartialGroupCompleted{Topic: topic, GroupID: gid, From: from, At: now})
		o = OutcomeMergedCompleted
	}
	if res.Added {
		t.adopt(g, c.cfg.GroupTTL)
		c.push(t, g, mesh, out)
		return o
	}
	if ps := c.peers[from]; ps != nil {
		c.queue(t, g, from, ps, out)
	}
	return o
}

// Publish makes the group local (published by this node: it lives
// Config.GroupTTL heartbeats from now) and queues a Send to every partial
// peer of mesh (the topic's mesh or fanout peers) and every peer already in
// the group's state. complete says whether the local node holds every part;
// the first time it does, EvtPartialGroupCompleted is emitted.
//
// Outcomes: OutcomePublished, OutcomeTooManyGroups, OutcomeNotEnabled,
// OutcomeInvalidInput.
func (c *Core) Publish(now time.Time, topic, gid string, complete bool, mesh []peer.ID, out *Output) Outcome {
	if gid == "" || len(gid) > c.cfg.MaxGroupIDLength {
		return OutcomeInvalidInput
	}
	t := c.topics[topic]
	if t == nil {
		return OutcomeNotEnabled
	}
	g := t.groups[gid]
	if g == nil {
		if t.local >= c.cfg.MaxLocalGroupsPerTopic {
			return OutcomeTooManyGroups
		}
		g = t.open(gid, "", c.cfg.GroupTTL)
	}
	t.adopt(g, c.cfg.GroupTTL)
	if complete && !g.complete {
		g.complete = true
		out.Completed = append(out.Completed, events.EvtPartialGroupCompleted{Topic: topic, GroupID: gid, At: now})
	}
	c.push(t, g, mesh, out)
	return OutcomePublished
}

// push queues a Send to every partial peer of mesh and of the group.
func (c *Core) push(t *topicState, g *group, mesh []peer.ID, out *Output) {
	for _, p := range mesh {
		if ps := c.peers[p]; ps != nil && (c.sendParts(t, ps, t.name) || c.sendMeta(t, ps, t.name)) {
			g.peer(p)
		}
	}
	for _, p := range g.porder {
		if ps := c.peers[p]; ps != nil {
			c.queue(t, g, p, ps, out)
		}
	}
}

// queue appends a Send for p if anything may flow to it.
func (c *Core) queue(t *topicState, g *group, p peer.ID, ps *peerState, out *Output) {
	parts, meta := c.sendParts(t, ps, t.name), c.sendMeta(t, ps, t.name)
	if !parts && !meta {
		return
	}
	pg := g.peer(p)
	out.Sends = append(out.Sends, Send{To: p, Topic: t.name, GroupID: g.id, Parts: parts, PeerMeta: pg.meta, Metadata: meta, LastMeta: pg.sent, SentMeta: pg.sentMeta})
}

// Sent records what the driver wrote for a Send: sentMeta is the metadata
// sent (nil: none), peerMeta the peer's metadata once it has the parts sent
// (nil: unchanged). Outcomes: OutcomeSent, OutcomeGroupGone.
func (c *Core) Sent(to peer.ID, topic, gid string, sentMeta, peerMeta []byte) Outcome {
	t := c.topics[topic]
	if t == nil || t.groups[gid] == nil || c.peers[to] == nil {
		return OutcomeGroupGone
	}
	pg := t.groups[gid].peer(to)
	if sentMeta != nil {
		pg.sent, pg.sentMeta = append(pg.sent[:0], sentMeta...), true
	}
	if peerMeta != nil && len(peerMeta) <= c.cfg.MaxMetadataSize {
		pg.meta = append(pg.meta[:0], peerMeta...)
	}
	return OutcomeSent
}

// Gossip is the partial counterpart of IHAVE gossip for one topic at a
// heartbeat: up to Config.GossipPeers partial peers among candidates (the
// topic's non-mesh peers), picked with rng, that are not yet in a local
// group's state get a metadata-only Send for it. Outcomes: OutcomeGossiped,
// OutcomeNotEnabled.
func (c *Core) Gossip(topic string, candidates []peer.ID, rng *rand.Rand, out *Output) Outcome {
	t := c.topics[topic]
	if t == nil {
		return OutcomeNotEnabled
	}
	var pick []peer.ID
	for _, p := range candidates {
		if ps := c.peers[p]; ps != nil && c.sendMeta(t, ps, topic) {
			pick = append(pick, p)
		}
	}
	if len(pick) > c.cfg.GossipPeers {
		rng.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
		pick = pick[:c.cfg.GossipPeers]
	}
	for _, id := range t.gorder {
		g := t.groups[id]
		if g.opener != "" {
			continue
		}
		for _, p := range pick {
			if _, ok := g.peers[p]; ok {
				continue
			}
			pg := g.peer(p)
			out.Sends = append(out.Sends, Send{To: p, Topic: topic, GroupID: id, Metadata: true, LastMeta: pg.sent, SentMeta: pg.sentMeta})
		}
	}
	return OutcomeGossiped
}

// Heartbeat ages every group by one heartbeat and evicts those whose time
// is up (Output.Evicted), releasing the opener's count. Outcome: OutcomeHeartbeat.
func (c *Core) Heartbeat(out *Output) Outcome {
	for _, name := range c.torder {
		t := c.topics[name]
		for _, id := range slices.Clone(t.gorder) {
			g := t.groups[id]
			g.ttl--
			if g.ttl <= 0 {
				t.evict(id, out)
			}
		}
	}
	return OutcomeHeartbeat
}

// Groups returns the keys of every group, in topic then opening order.
func (c *Core) Groups() []GroupKey {
	var out []GroupKey
	for _, name := range c.torder {
		for _, id := range c.topics[name].gorder {
			out = append(out, GroupKey{Topic: name, GroupID: id})
		}
	}
	return out
}

// Sizes counts the bounded structures, for tests and metrics.
type Sizes struct {
	// Peers counts the peers tracked (added and not removed).
	Peers int
	// Topics counts the topics enabled locally.
	Topics int
	// Groups counts the groups of every topic, local or peer-opened.
	Groups int
	// PeerOpenedGroups counts the groups opened by peers that the local
	// node has not published or extended since, over every topic.
	PeerOpenedGroups int
	// MaxGroupPeers is the most peers any one group holds state for.
	MaxGroupPeers int
	// MaxMetadata is the longest parts metadata stored, received or sent,
	// in bytes.
	MaxMetadata int
}

// Sizes returns the current sizes.
func (c *Core) Sizes() Sizes {
	s := Sizes{Peers: len(c.peers), Topics: len(c.topics)}
	for _, t := range c.topics {
		s.Groups += len(t.groups)
		s.PeerOpenedGroups += t.peerOpened
		for _, g := range t.groups {
			s.MaxGroupPeers = max(s.MaxGroupPeers, len(g.peers))
			for _, pg := range g.peers {
				s.MaxMetadata = max(s.MaxMetadata, len(pg.meta), len(pg.sent))
			}
		}
	}
	return s
}

// PeerMetadata returns the last parts metadata p sent for a group (nil if none).
func (c *Core) PeerMetadata(p peer.ID, topic, gid string) []byte {
	if t := c.topics[topic]; t != nil {
		if g := t.groups[gid]; g != nil {
			if pg := g.peers[p]; pg != nil {
				return bytes.Clone(pg.meta)
			}
		}
	}
	return nil
}

func (t *topicState) open(gid string, opener peer.ID, ttl int) *group {
	g := &group{id: gid, ttl: ttl, opener: opener, peers: make(map[peer.ID]*peerGroup)}
	t.groups[gid] = g
	t.gorder = append(t.gorder, gid)
	if opener != "" {
		t.peerOpened++
		t.perPeer[opener]++
	} else {
		t.local++
	}
	return g
}

// adopt makes g local and refreshes its time to live.
func (t *topicState) adopt(g *group, ttl int) {
	if g.opener != "" {
		t.release(g.opener)
		g.opener = ""
		t.local++
	}
	g.ttl = ttl
}

func (t *topicState) release(opener peer.ID) {
	t.peerOpened--
	if t.perPeer[opener]--; t.perPeer[opener] <= 0 {
		delete(t.perPeer, opener)
	}
}

func (t *topicState) evict(gid string, out *Output) {
	g := t.groups[gid]
	if g == nil {
		return
	}
	if g.opener != "" {
		t.release(g.opener)
	} else {
		t.local--
	}
	delete(t.groups, gid)
	t.gorder = slices.DeleteFunc(t.gorder, func(s string) bool { return s == gid })
	out.Evicted = append(out.Evicted, GroupKey{Topic: t.name, GroupID: gid})
}

func (g *group) peer(p peer.ID) *peerGroup {
	pg := g.peers[p]
	if pg == nil {
		pg = &peerGroup{}
		g.peers[p] = pg
		g.porder = append(g.porder, p)
	}
	return pg
}

func (g *group) dropPeer(p peer.ID) {
	if _, ok := g.peers[p]; ok {
		delete(g.peers, p)
		g.porder = slices.DeleteFunc(g.porder, func(q peer.ID) bool { return q == p })
	}
}

// String describes the core's size, for logs.
func (c *Core) String() string {
	s := c.Sizes()
	return fmt.Sprintf("partial{peers:%d topics:%d groups:%d peer-opened:%d}", s.Peers, s.Topics, s.Groups, s.PeerOpenedGroups)
}
