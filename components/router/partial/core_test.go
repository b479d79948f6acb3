package partial

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

var t0 = time.Unix(1_700_000_000, 0)

func pid(i int) peer.ID { return peer.ID(fmt.Sprintf("peer-%03d", i)) }

func yes() *pb.ControlExtensions { return &pb.ControlExtensions{PartialMessages: proto.Bool(true)} }

// newCore returns an enabled core with topic "t" requesting partial messages
// and peers 1..n speaking the extension, requesting (odd) or only
// supporting (even) partial messages on "t".
func newCore(tb testing.TB, cfg Config, n int) (*Core, *Output) {
	tb.Helper()
	c, err := New(cfg, true)
	if err != nil {
		tb.Fatal(err)
	}
	if o := c.EnableTopic("t", true, true); o != OutcomeTopicEnabled {
		tb.Fatal(o)
	}
	out := &Output{}
	for i := 1; i <= n; i++ {
		c.AddPeer(pid(i))
		if o := c.HandleExtensions(t0, pid(i), ProtocolV13, true, yes(), out); o != OutcomeExtensionsRecorded {
			tb.Fatal(o)
		}
		if o := c.HandleSubOpts(pid(i), "t", true, i%2 == 1, true); o != OutcomeSubOptsRecorded {
			tb.Fatal(o)
		}
	}
	out.Reset()
	return c, out
}

func partialRPC(topic, gid string, parts, meta []byte) *pb.PartialMessagesExtension {
	return &pb.PartialMessagesExtension{TopicID: &topic, GroupID: []byte(gid), PartialMessage: parts, PartsMetadata: meta}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.GroupTTL = 2
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("GroupTTL 2: %v", err)
	}
	c = DefaultConfig()
	c.MaxPeerGroupsPerPeer = c.MaxPeerGroupsPerTopic + 1
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("per peer above per topic: %v", err)
	}
	if _, err := New(Config{}, true); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("zero config: %v", err)
	}
}

func TestOutcomeNames(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Outcomes() {
		s := o.String()
		if s == "unknown" || seen[s] {
			t.Fatalf("outcome %d named %q", o, s)
		}
		seen[s] = true
	}
	if Outcome(0).String() != "unknown" || Outcome(255).String() != "unknown" {
		t.Fatal("out-of-range outcomes must be unknown")
	}
}

// The first RPC of a stream defines the peer's extensions; a second
// Extensions message, or one after a first RPC without it, is ignored and
// penalised; a new stream starts over; pre-1.3 streams never count.
func TestExtensionsFirstRPCOnly(t *testing.T) {
	c, _ := New(DefaultConfig(), true)
	out := &Output{}
	p := pid(1)
	if o := c.HandleExtensions(t0, p, ProtocolV13, true, yes(), out); o != OutcomeUnknownPeer {
		t.Fatalf("unknown peer: %v", o)
	}
	c.AddPeer(p)
	if o := c.HandleExtensions(t0, p, ProtocolV13, true, yes(), out); o != OutcomeExtensionsRecorded || !c.PeerExtensions(p) {
		t.Fatalf("first: %v %v", o, c.PeerExtensions(p))
	}
	if len(out.Extensions) != 1 || !out.Extensions[0].PartialMessages || out.Extensions[0].Protocol != ProtocolV13 {
		t.Fatalf("event %+v", out.Extensions)
	}
	out.Reset()
	if o := c.HandleExtensions(t0, p, ProtocolV13, false, nil, out); o != OutcomeExtensionsUnchanged || !out.Empty() {
		t.Fatalf("later without: %v %+v", o, out)
	}
	// Twice: ignored (even if it says false), penalised.
	no := &pb.ControlExtensions{PartialMessages: proto.Bool(false)}
	if o := c.HandleExtensions(t0, p, ProtocolV13, false, no, out); o != OutcomeExtensionsRepeated || !c.PeerExtensions(p) {
		t.Fatalf("twice: %v", o)
	}
	if len(out.Penalized) != 1 || out.Penalized[0].Reason != events.PenaltyExtensionsMisuse {
		t.Fatalf("penalty %+v", out.Penalized)
	}
	out.Reset()
	// A new stream whose first RPC lacks it: no extensions; a late one is misuse.
	if o := c.HandleExtensions(t0, p, ProtocolV13, true, nil, out); o != OutcomeExtensionsAbsent || c.PeerExtensions(p) {
		t.Fatalf("absent: %v", o)
	}
	if o := c.HandleExtensions(t0, p, ProtocolV13, false, yes(), out); o != OutcomeExtensionsRepeated || c.PeerExtensions(p) {
		t.Fatalf("late: %v", o)
	}
	// On /meshsub/1.2.0 the message means nothing.
	if o := c.HandleExtensions(t0, p, "/meshsub/1.2.0", true, yes(), out); o != OutcomeExtensionsAbsent || c.PeerExtensions(p) {
		t.Fatalf("v1.2: %v", o)
	}
	out.Reset()
	if o := c.HandleExtensions(t0, p, "/meshsub/1.2.0", false, yes(), out); o != OutcomeExtensionsUnchanged || len(out.Penalized) != 0 {
		t.Fatalf("v1.2 later: %v", o)
	}
	// Unknown extensions (unknown fields) are ignored.
	var unk pb.ControlExtensions
	if err := proto.Unmarshal([]byte{0x90, 0x89, 0x9f, 0x03, 0x01}, &unk); err != nil { // field 6492434 varint 1
		t.Fatal(err)
	}
	if o := c.HandleExtensions(t0, p, ProtocolV13, true, &unk, out); o != OutcomeExtensionsRecorded || c.PeerExtensions(p) {
		t.Fatalf("unknown only: %v %v", o, c.PeerExtensions(p))
	}
	if c.LocalExtensions().GetPartialMessages() != true {
		t.Fatal("local extensions")
	}
	off, _ := New(DefaultConfig(), false)
	if off.LocalExtensions() != nil || off.EnableTopic("t", true, true) != OutcomeNotEnabled {
		t.Fatal("a disabled core advertises nothing and enables no topic")
	}
}

func TestSubOpts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTopicsPerPeer = 2
	c, _ := newCore(t, cfg, 0)
	p := pid(1)
	if c.HandleSubOpts(p, "t", true, true, false) != OutcomeUnknownPeer {
		t.Fatal("unknown peer")
	}
	c.AddPeer(p)
	c.HandleSubOpts(p, "t", true, true, false)
	if r, s := c.PeerOptions(p, "t"); !r || !s {
		t.Fatalf("requests implies supports: %v %v", r, s)
	}
	// Options on an unsubscribe are ignored and clear the topic.
	if c.HandleSubOpts(p, "t", false, true, true) != OutcomeSubOptsCleared {
		t.Fatal("unsubscribe")
	}
	if r, s := c.PeerOptions(p, "t"); r || s {
		t.Fatal("cleared")
	}
	c.HandleSubOpts(p, "a", true, false, true)
	c.HandleSubOpts(p, "b", true, false, true)
	if c.HandleSubOpts(p, "c", true, false, true) != OutcomeTooManyTopics {
		t.Fatal("bound")
	}
	if c.HandleSubOpts(p, "", true, false, true) != OutcomeInvalidInput {
		t.Fatal("empty topic")
	}
}

// Each bad RPC is refused with its named reason; the penalised ones cost a
// PenaltyBadPartial.
func TestHandlePartialRejections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxMetadataSize, cfg.MaxPartsSize, cfg.MaxGroupIDLength = 8, 16, 4
	c, out := newCore(t, cfg, 2)
	c.EnableTopic("sup", false, true) // we only support sending on "sup"
	c.HandleSubOpts(pid(1), "sup", true, true, true)
	noExt := pid(9)
	c.AddPeer(noExt)
	c.HandleExtensions(t0, noExt, ProtocolV13, true, nil, out)
	out.Reset()
	for _, tc := range []struct {
		from     peer.ID
		rpc      *pb.PartialMessagesExtension
		reason   events.PartialRejectReason
		penalise bool
	}{
		{noExt, partialRPC("t", "g", nil, []byte{1}), events.PartialRejectNoExtension, true},
		{pid(1), partialRPC("", "g", nil, []byte{1}), events.PartialRejectMalformed, true},
		{pid(1), partialRPC("t", "", nil, []byte{1}), events.PartialRejectMalformed, true},
		{pid(1), partialRPC("t", "group-too-long", nil, []byte{1}), events.PartialRejectMalformed, true},
		{pid(1), partialRPC("t", "g", nil, nil), events.PartialRejectMalformed, true},
		{pid(1), partialRPC("t", "g", nil, make([]byte, 9)), events.PartialRejectMetadataTooLarge, true},
		{pid(1), partialRPC("t", "g", make([]byte, 17), nil), events.PartialRejectPartsTooLarge, true},
		{pid(1), partialRPC("off", "g", nil, []byte{1}), events.PartialRejectNotEnabled, false},
		{pid(1), partialRPC("sup", "g", []byte{1}, nil), events.PartialRejectUnrequested, true},
	} {
		out.Reset()
		if o := c.HandlePartial(t0, tc.from, tc.rpc, out); o != OutcomePartialRejected {
			t.Fatalf("%v: %v", tc.reason, o)
		}
		if len(out.Rejected) != 1 || out.Rejected[0].Reason != tc.reason || len(out.Deliveries) != 0 {
			t.Fatalf("%v: rejected %+v", tc.reason, out.Rejected)
		}
		if got := len(out.Penalized) == 1 && out.Penalized[0].Reason == events.PenaltyBadPartial; got != tc.penalise {
			t.Fatalf("%v: penalised %v, want %v", tc.reason, got, tc.penalise)
		}
	}
	if s := c.Sizes(); s.Groups != 0 {
		t.Fatalf("rejected RPCs opened %d groups", s.Groups)
	}
	// Metadata only on "sup" is fine: the peer asks for parts.
	out.Reset()
	if o := c.HandlePartial(t0, pid(1), partialRPC("sup", "g", nil, []byte{1}), out); o != OutcomePartialGroupOpened {
		t.Fatal(o)
	}
}

// A peer flooding unknown groups is bounded per peer (penalised) and all
// peers together per topic (not penalised: not this peer's doing), and the
// counts come back when the groups expire.
func TestUnknownGroupFloodBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPeerGroupsPerPeer, cfg.MaxPeerGroupsPerTopic, cfg.GroupTTL = 3, 4, 3
	c, out := newCore(t, cfg, 3)
	for i := range 100 {
		c.HandlePartial(t0, pid(1), partialRPC("t", fmt.Sprint("g", i), nil, []byte{1}), out)
	}
	if s := c.Sizes(); s.Groups != 3 || s.PeerOpenedGroups != 3 {
		t.Fatalf("sizes %+v", s)
	}
	if len(out.Penalized) != 97 || len(out.Rejected) != 97 || out.Rejected[0].Reason != events.PartialRejectTooManyGroups {
		t.Fatalf("%d penalties, %d rejections", len(out.Penalized), len(out.Rejected))
	}
	out.Reset()
	if o := c.HandlePartial(t0, pid(2), partialRPC("t", "x", nil, []byte{1}), out); o != OutcomePartialGroupOpened {
		t.Fatal(o)
	}
	if o := c.HandlePartial(t0, pid(3), partialRPC("t", "y", nil, []byte{1}), out); o != OutcomePartialRejected || len(out.Penalized) != 0 {
		t.Fatalf("topic-wide limit: %v %+v", o, out.Penalized)
	}
	// A known group is always accepted.
	if o := c.HandlePartial(t0, pid(3), partialRPC("t", "x", nil, []byte{2}), out); o != OutcomePartialAccepted {
		t.Fatal(o)
	}
	for range cfg.GroupTTL {
		c.Heartbeat(out)
	}
	if s := c.Sizes(); s.Groups != 0 || s.PeerOpenedGroups != 0 || len(out.Evicted) != 4 {
		t.Fatalf("after TTL: %+v, evicted %d", s, len(out.Evicted))
	}
	out.Reset()
	if o := c.HandlePartial(t0, pid(1), partialRPC("t", "again", nil, []byte{1}), out); o != OutcomePartialGroupOpened {
		t.Fatal(o)
	}
}

// Publish sends parts to peers that requested them and metadata to peers
// that support sending; Sent records both, so a repeat sends nothing new.
func TestPublishAndSent(t *testing.T) {
	c, out := newCore(t, DefaultConfig(), 4)
	nonPartial := pid(7)
	c.AddPeer(nonPartial)
	mesh := []peer.ID{pid(1), pid(2), pid(3), nonPartial}
	if o := c.Publish(t0, "t", "g", true, mesh, out); o != OutcomePublished {
		t.Fatal(o)
	}
	if len(out.Completed) != 1 || out.Completed[0].From != "" {
		t.Fatalf("completed %+v", out.Completed)
	}
	var to []peer.ID
	for _, s := range out.Sends {
		to = append(to, s.To)
		if s.Parts != (s.To == pid(1) || s.To == pid(3)) || !s.Metadata || s.PeerMeta != nil || s.SentMeta {
			t.Fatalf("send %+v", s)
		}
	}
	if !slices.Equal(to, []peer.ID{pid(1), pid(2), pid(3)}) {
		t.Fatalf("sent to %v", to)
	}
	c.Sent(pid(1), "t", "g", []byte("M"), []byte("P"))
	out.Reset()
	c.Publish(t0, "t", "g", true, mesh, out)
	if len(out.Completed) != 0 {
		t.Fatal("completed twice")
	}
	s := out.Sends[0]
	if s.To != pid(1) || !bytes.Equal(s.LastMeta, []byte("M")) || !s.SentMeta || !bytes.Equal(s.PeerMeta, []byte("P")) {
		t.Fatalf("second send %+v", s)
	}
	if c.Publish(t0, "off", "g", true, mesh, out) != OutcomeNotEnabled || c.Publish(t0, "t", "", true, mesh, out) != OutcomeInvalidInput {
		t.Fatal("bad publish")
	}
	cfg := DefaultConfig()
	cfg.MaxLocalGroupsPerTopic = 1
	c2, out2 := newCore(t, cfg, 0)
	c2.Publish(t0, "t", "a", false, nil, out2)
	if c2.Publish(t0, "t", "b", false, nil, out2) != OutcomeTooManyGroups {
		t.Fatal("local bound")
	}
}

// A delivery that added parts adopts the group (no longer the opener's),
// completes it once, and pushes to every partial peer; one that added
// nothing replies to the sender only; invalid parts are penalised and drop
// a group the sender opened.
func TestMerged(t *testing.T) {
	c, out := newCore(t, DefaultConfig(), 3)
	if o := c.HandlePartial(t0, pid(1), partialRPC("t", "g", []byte("parts"), []byte("m1")), out); o != OutcomePartialGroupOpened {
		t.Fatal(o)
	}
	d := out.Deliveries[0]
	if !d.Opened || string(d.Parts) != "parts" || string(d.Metadata) != "m1" {
		t.Fatalf("delivery %+v", d)
	}
	out.Reset()
	mesh := []peer.ID{pid(1), pid(2), pid(3)}
	if o := c.Merged(t0, pid(1), "t", "g", MergeResult{Added: true, Complete: true, PartBytes: 5}, mesh, out); o != OutcomeMergedCompleted {
		t.Fatal(o)
	}
	if len(out.Received) != 1 || !out.Received[0].Extended || len(out.Completed) != 1 || out.Completed[0].From != pid(1) {
		t.Fatalf("facts %+v %+v", out.Received, out.Completed)
	}
	if len(out.Sends) != 3 || !bytes.Equal(out.Sends[0].PeerMeta, []byte("m1")) {
		t.Fatalf("push %+v", out.Sends)
	}
	if s := c.Sizes(); s.PeerOpenedGroups != 0 {
		t.Fatalf("adopted group still counted: %+v", s)
	}
	out.Reset()
	c.HandlePartial(t0, pid(2), partialRPC("t", "g", nil, []byte("m2")), out)
	out.Reset()
	if o := c.Merged(t0, pid(2), "t", "g", MergeResult{Complete: true}, mesh, out); o != OutcomeMerged || len(out.Completed) != 0 {
		t.Fatalf("%v %+v", o, out.Completed)
	}
	if len(out.Sends) != 1 || out.Sends[0].To != pid(2) || string(out.Sends[0].PeerMeta) != "m2" {
		t.Fatalf("reply %+v", out.Sends)
	}
	out.Reset()
	c.HandlePartial(t0, pid(3), partialRPC("t", "h", []byte("bad"), nil), out)
	out.Reset()
	if o := c.Merged(t0, pid(3), "t", "h", MergeResult{Invalid: true}, mesh, out); o != OutcomePartialRejected {
		t.Fatal(o)
	}
	if len(out.Penalized) != 1 || out.Rejected[0].Reason != events.PartialRejectInvalid || len(out.Evicted) != 1 {
		t.Fatalf("invalid: %+v %+v %+v", out.Penalized, out.Rejected, out.Evicted)
	}
	if c.Merged(t0, pid(3), "t", "h", MergeResult{}, mesh, out) != OutcomeGroupGone {
		t.Fatal("gone")
	}
}

func TestGossipAndDisable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GossipPeers = 2
	c, out := newCore(t, cfg, 6)
	c.Publish(t0, "t", "g", false, []peer.ID{pid(1)}, out)
	c.HandlePartial(t0, pid(2), partialRPC("t", "peer-opened", nil, []byte{1}), out)
	out.Reset()
	rng := rand.New(rand.NewPCG(1, 2))
	c.Gossip("t", []peer.ID{pid(2), pid(3), pid(4), pid(5), pid(6)}, rng, out)
	if len(out.Sends) != 2 {
		t.Fatalf("gossip sends %+v", out.Sends)
	}
	for _, s := range out.Sends {
		if s.GroupID != "g" || s.Parts || !s.Metadata {
			t.Fatalf("gossip %+v", s)
		}
	}
	if c.Gossip("off", nil, rng, out) != OutcomeNotEnabled {
		t.Fatal("off")
	}
	out.Reset()
	if c.DisableTopic("t", out) != OutcomeTopicDisabled || len(out.Evicted) != 2 || c.Sizes().Topics != 0 {
		t.Fatalf("disable %+v", out.Evicted)
	}
	if c.RemovePeer(pid(1)) != OutcomePeerRemoved || c.RemovePeer(pid(1)) != OutcomeUnknownPeer {
		t.Fatal("remove")
	}
}

// Two cores with a bitmap application converge: each holds half the
// parts, and after exchanging RPCs as the driver would, both hold all.
func TestTwoCoresConverge(t *testing.T) {
	type node struct {
		c    *Core
		id   peer.ID
		have byte // bitmap of 8 parts
	}
	mk := func(id peer.ID, have byte, other peer.ID) *node {
		c, _ := New(DefaultConfig(), true)
		c.EnableTopic("t", true, true)
		c.AddPeer(other)
		c.HandleExtensions(t0, other, ProtocolV13, true, yes(), &Output{})
		c.HandleSubOpts(other, "t", true, true, true)
		return &node{c: c, id: id, have: have}
	}
	a := mk("A", 0x0f, "B")
	b := mk("B", 0xf0, "A")
	type msg struct {
		to, from *node
		rpc      *pb.PartialMessagesExtension
	}
	var queue []msg
	run := func(n, other *node, out *Output) {
		for _, s := range out.Sends {
			var rpc pb.PartialMessagesExtension
			rpc.TopicID, rpc.GroupID = proto.String("t"), []byte("g")
			var after []byte
			if s.Parts {
				lacks := n.have
				if s.PeerMeta != nil {
					lacks &^= s.PeerMeta[0]
				}
				if lacks != 0 {
					rpc.PartialMessage = []byte{lacks}
					if s.PeerMeta != nil {
						after = []byte{s.PeerMeta[0] | lacks}
					}
				}
			}
			var sent []byte
			if s.Metadata && (!s.SentMeta || !bytes.Equal(s.LastMeta, []byte{n.have})) {
				rpc.PartsMetadata, sent = []byte{n.have}, []byte{n.have}
			}
			if rpc.PartialMessage == nil && rpc.PartsMetadata == nil {
				continue
			}
			n.c.Sent(s.To, "t", "g", sent, after)
			queue = append(queue, msg{to: other, from: n, rpc: &rpc})
		}
	}
	out := &Output{}
	a.c.Publish(t0, "t", "g", false, []peer.ID{"B"}, out)
	run(a, b, out)
	out.Reset()
	b.c.Publish(t0, "t", "g", false, []peer.ID{"A"}, out)
	run(b, a, out)
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 20 {
			t.Fatal("no convergence")
		}
		m := queue[0]
		queue = queue[1:]
		out.Reset()
		if o := m.to.c.HandlePartial(t0, m.from.id, m.rpc, out); o != OutcomePartialAccepted {
			t.Fatal(o)
		}
		d := out.Deliveries[0]
		res := MergeResult{}
		if d.Parts != nil {
			res.Added = d.Parts[0]&^m.to.have != 0
			m.to.have |= d.Parts[0]
		}
		res.Complete = m.to.have == 0xff
		out.Reset()
		m.to.c.Merged(t0, m.from.id, "t", "g", res, []peer.ID{m.from.id}, out)
		run(m.to, m.from, out)
	}
	if a.have != 0xff || b.have != 0xff {
		t.Fatalf("a %08b b %08b", a.have, b.have)
	}
}

// PartsFrom: a peer sends us parts of a topic (so it gets no IDONTWANT for
// it) when we requested them there and it advertised the extension and
// supports sending them; AppendPartsFrom lists those topics, sorted.
func TestPartsFrom(t *testing.T) {
	c, out := newCore(t, DefaultConfig(), 2)
	p, q := pid(1), pid(2) // both already take parts on "t" (newCore)
	for _, topic := range []string{"z", "a", "only-we-send"} {
		if o := c.EnableTopic(topic, topic != "only-we-send", true); o != OutcomeTopicEnabled {
			t.Fatalf("EnableTopic(%s) = %v", topic, o)
		}
	}
	c.HandleSubOpts(p, "z", true, false, true)           // supports sending
	c.HandleSubOpts(p, "a", true, true, false)           // requests (implies supports)
	c.HandleSubOpts(p, "only-we-send", true, true, true) // we did not request there
	c.HandleSubOpts(p, "not-ours", true, true, true)     // a topic we have no options for
	if got := c.AppendPartsFrom(nil, p); !slices.Equal(got, []string{"a", "t", "z"}) {
		t.Fatalf("AppendPartsFrom = %v", got)
	}
	if !c.PartsFrom(p, "z") || c.PartsFrom(p, "only-we-send") || c.PartsFrom(p, "not-ours") || c.PartsFrom(pid(9), "z") {
		t.Fatal("PartsFrom disagrees with AppendPartsFrom")
	}
	// Unsubscribing clears the topic; without the extension, nothing.
	c.HandleSubOpts(p, "z", false, false, false)
	if got := c.AppendPartsFrom(nil, p); !slices.Equal(got, []string{"a", "t"}) {
		t.Fatalf("after unsubscribing: %v", got)
	}
	c.HandleSubOpts(q, "a", true, true, true)
	c.HandleExtensions(t0, q, ProtocolV13, true, nil, out)
	if got := c.AppendPartsFrom(nil, q); len(got) != 0 || c.PartsFrom(q, "a") {
		t.Fatalf("peer without the extension: %v", got)
	}
}
