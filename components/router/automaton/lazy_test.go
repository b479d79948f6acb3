package automaton

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// lazyHarness: learned lazy forwarding on (mut adjusts it), 8 peers
// subscribed to topicA, joined: a mesh of D = 6.
func lazyHarness(t *testing.T, mut func(*Config)) (*harness, []peer.ID) {
	t.Helper()
	h := newHarness(t, func(c *Config) {
		c.Lazy = DefaultLazyConfig()
		c.Lazy.MinEager = 2
		c.Lazy.FlushInterval = 0 // immediate IHAVEs; the batched tests turn it back on
		if mut != nil {
			mut(c)
		}
	})
	h.addN(1, 8, topicA)
	h.join(topicA)
	h.reset()
	mesh := h.mesh(topicA)
	if len(mesh) != 6 {
		t.Fatalf("mesh = %d peers, want 6", len(mesh))
	}
	return h, mesh
}

// receive makes src deliver a new message of size bytes (author pid(99),
// not a peer) and returns it and its id; h.out holds the forward.
func (h *harness) receive(src peer.ID, size int) (*pb.Message, string) {
	h.t.Helper()
	return h.receiveIn(src, topicA, size)
}

// receiveIn is receive for a message of topic.
func (h *harness) receiveIn(src peer.ID, topic string, size int) (*pb.Message, string) {
	h.t.Helper()
	return h.receiveFrom(src, pid(99), topic, size)
}

// receiveFrom makes src deliver a new message of author in topic, of size
// bytes, and returns it and its id; h.out holds what followed.
func (h *harness) receiveFrom(src, author peer.ID, topic string, size int) (*pb.Message, string) {
	h.t.Helper()
	h.reset()
	m, id := msg(author, topic, size)
	if o := h.a.HandleMessage(h.now, src, m, id, true, &h.out); o != OutcomeNeedsValidation {
		h.t.Fatalf("HandleMessage = %v", o)
	}
	if o := h.a.Validated(h.now, id, ValidationAccept, &h.out); o != OutcomeDelivered {
		h.t.Fatalf("Validated = %v", o)
	}
	return m, id
}

// gotMessage and gotIHave report what p was sent in h.out for id.
func (h *harness) gotMessage(p peer.ID, id string) bool {
	s := h.out.SendTo(p)
	if s == nil {
		return false
	}
	for _, sid := range s.IDs {
		if sid == id {
			return true
		}
	}
	return false
}

func (h *harness) gotIHave(p peer.ID, id string) bool { return h.gotIHaveIn(p, topicA, id) }

// gotIHaveIn reports whether p was sent an IHAVE of id for topic in h.out.
func (h *harness) gotIHaveIn(p peer.ID, topic, id string) bool {
	for _, ih := range h.rpc(p).GetControl().GetIhave() {
		for _, raw := range ih.GetMessageIDs() {
			if string(raw) == id {
				return ih.GetTopicID() == topic
			}
		}
	}
	return false
}

// teach runs n forwards from mesh[0]; after each, the peers in wasted send
// the message back (a crossing copy) or, for idw, an IDONTWANT; then the
// clock passes the horizon and a heartbeat closes the observations.
func teach(h *harness, mesh []peer.ID, n int, wasted, idw []peer.ID) {
	h.t.Helper()
	for range n {
		m, id := h.receive(mesh[0], 100)
		evidence(h, m, id, wasted, idw)
	}
}

// evidence makes the peers in wasted send m back and those in idw send
// IDONTWANT for it, then closes the observation (horizon, heartbeat).
func evidence(h *harness, m *pb.Message, id string, wasted, idw []peer.ID) {
	h.t.Helper()
	for _, p := range wasted {
		if o := h.a.HandleMessage(h.now, p, m, id, false, &h.out); o != OutcomeAlreadySeen {
			h.t.Fatalf("duplicate = %v", o)
		}
	}
	for _, p := range idw {
		if o := h.a.HandleIDontWant(h.now, p, idontwant(id), &h.out); o != OutcomeIDontWantRecorded {
			h.t.Fatalf("IDONTWANT = %v", o)
		}
	}
	h.advance(h.a.cfg.Lazy.Horizon)
	h.heartbeat()
}

// Peers whose copies always come back (a crossing copy or an IDONTWANT)
// get an IHAVE instead once they have MinSamples observations; the peers
// whose copies were needed stay eager; the IHAVE'd peer's IWANT is served.
func TestLazyLearnsWastefulPeers(t *testing.T) {
	h, mesh := lazyHarness(t, nil)
	useful := mesh[1:3]
	wasted := mesh[3:5]
	idw := mesh[5:]
	// Before MinSamples observations every candidate is eager.
	teach(h, mesh, h.a.cfg.Lazy.MinSamples-1, wasted, idw)
	m, id := h.receive(mesh[0], 100)
	for _, p := range mesh[1:] {
		if !h.gotMessage(p, id) || h.gotIHave(p, id) {
			t.Fatalf("learning: %s not sent the message eagerly", p)
		}
	}
	evidence(h, m, id, wasted, idw) // the MinSamples-th observation
	for _, p := range append(append([]peer.ID{}, wasted...), idw...) {
		if w, n := h.a.LazyWaste(p); w != 1 || n != h.a.cfg.Lazy.MinSamples {
			t.Fatalf("waste(%s) = %v over %d", p, w, n)
		}
	}
	_, id = h.receive(mesh[0], 100)
	for _, p := range useful {
		if !h.gotMessage(p, id) {
			t.Errorf("useful peer %s not sent the message", p)
		}
		if w, _ := h.a.LazyWaste(p); w != 0 {
			t.Errorf("useful peer %s waste %v", p, w)
		}
	}
	for _, p := range append(append([]peer.ID{}, wasted...), idw...) {
		if h.gotMessage(p, id) || !h.gotIHave(p, id) {
			t.Errorf("wasteful peer %s: message %v, IHAVE %v; want IHAVE only", p, h.gotMessage(p, id), h.gotIHave(p, id))
		}
	}
	if h.gotMessage(mesh[0], id) || h.gotIHave(mesh[0], id) {
		t.Error("the source was sent something")
	}
	// A lazy peer that lacks the message asks for it and is served.
	lazyPeer := wasted[0]
	h.reset()
	if o := h.a.HandleIWant(h.now, lazyPeer, iwant(id), &h.out); o != OutcomeIWantServed {
		t.Fatalf("IWANT after the lazy IHAVE = %v", o)
	}
	if !h.gotMessage(lazyPeer, id) {
		t.Fatal("IWANT not answered with the message")
	}
	// That IWANT is evidence the copy was needed: the waste drops below
	// the threshold and the peer is eager again.
	h.advance(h.a.cfg.Lazy.Horizon)
	h.heartbeat()
	if w, _ := h.a.LazyWaste(lazyPeer); w >= h.a.cfg.Lazy.WasteThreshold {
		t.Fatalf("waste after a needed IHAVE = %v, want < %v", w, h.a.cfg.Lazy.WasteThreshold)
	}
	_, id = h.receive(mesh[0], 100)
	if !h.gotMessage(lazyPeer, id) {
		t.Error("peer whose IHAVE was answered not eager again")
	}
	// A lazy peer that did not ask stays lazy (no IWANT: it had it).
	if !h.gotIHave(wasted[1], id) {
		t.Error("peer that never asked not lazy any more")
	}
}

// However wasteful, at least MinEager candidates get the message, the
// least wasteful first.
func TestLazyKeepsMinEager(t *testing.T) {
	h, mesh := lazyHarness(t, func(c *Config) { c.Lazy.MinEager = 3 })
	teach(h, mesh, 4, mesh[1:], nil)
	_, id := h.receive(mesh[0], 100)
	eager, lazy := 0, 0
	for _, p := range mesh[1:] {
		switch {
		case h.gotMessage(p, id) && !h.gotIHave(p, id):
			eager++
		case h.gotIHave(p, id) && !h.gotMessage(p, id):
			lazy++
		default:
			t.Fatalf("%s got both or neither", p)
		}
	}
	if eager != 3 || lazy != 2 {
		t.Fatalf("eager %d lazy %d, want 3 and 2", eager, lazy)
	}
}

// No peer gets more immediate IHAVEs per heartbeat interval than
// MaxIHaves (default MaxIHaveMessages/2): past it, messages go eagerly,
// so a peer's IHAVE budget never drops one.
func TestLazyIHaveBudget(t *testing.T) {
	h, mesh := lazyHarness(t, func(c *Config) { c.MaxIHaveMessages = 6 })
	teach(h, mesh, 4, mesh[3:], nil)
	p := mesh[5]
	ihaves, eager := 0, 0
	for range 5 {
		_, id := h.receive(mesh[0], 100)
		if h.gotIHave(p, id) {
			ihaves++
		}
		if h.gotMessage(p, id) {
			eager++
		}
	}
	if ihaves != 3 || eager != 2 {
		t.Fatalf("in one interval: %d IHAVEs, %d eager; want 3 and 2", ihaves, eager)
	}
	h.heartbeat()
	if _, id := h.receive(mesh[0], 100); !h.gotIHave(p, id) {
		t.Fatal("budget not renewed by the heartbeat")
	}
}

// Off, and for messages over MaxData, every candidate gets the message.
func TestLazyOffAndLargeMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		on   bool
		size int
	}{{"off", false, 100}, {"large", true, 20 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			h, mesh := lazyHarness(t, func(c *Config) { c.Lazy.Enabled, c.Stagger.MinData = tc.on, 0 })
			teach(h, mesh, 4, mesh[1:], nil)
			_, id := h.receive(mesh[0], tc.size)
			for _, p := range mesh[1:] {
				if !h.gotMessage(p, id) || h.gotIHave(p, id) {
					t.Fatalf("%s not sent the message eagerly", p)
				}
			}
		})
	}
}

// A removed peer's open observations are dropped at close without harm,
// and MaxOpen bounds the open observations.
func TestLazyBoundedAndPeerRemoval(t *testing.T) {
	h, mesh := lazyHarness(t, func(c *Config) { c.Lazy.MaxOpen = 3 })
	for range 10 {
		h.receive(mesh[0], 100)
	}
	if n := h.a.lazy.order.len(); n != 3 {
		t.Fatalf("open observations = %d, want 3", n)
	}
	if o := h.a.RemovePeer(h.now, mesh[2], &h.out); o != OutcomePeerRemoved {
		t.Fatalf("RemovePeer = %v", o)
	}
	h.advance(h.a.cfg.Lazy.Horizon)
	h.heartbeat()
	if n := h.a.lazy.order.len(); n != 0 || len(h.a.lazy.open) != 0 {
		t.Fatalf("after the horizon: %d queued, %d open", n, len(h.a.lazy.open))
	}
	if _, n := h.a.LazyWaste(mesh[1]); n != 10 {
		t.Fatalf("samples of a mesh peer = %d, want 10 (7 closed early by MaxOpen, 3 at the heartbeat)", n)
	}
}

func TestLazyConfigValidate(t *testing.T) {
	for _, mut := range []func(*LazyConfig){
		func(l *LazyConfig) { l.MinEager = 0 },
		func(l *LazyConfig) { l.WasteThreshold = 0 },
		func(l *LazyConfig) { l.WasteThreshold = 1.1 },
		func(l *LazyConfig) { l.MinSamples = 0 },
		func(l *LazyConfig) { l.Weight = 0 },
		func(l *LazyConfig) { l.Horizon = 0 },
		func(l *LazyConfig) { l.MaxIHaves = -1 },
		func(l *LazyConfig) { l.MaxData = -1 },
		func(l *LazyConfig) { l.MaxOpen = 0 },
		func(l *LazyConfig) { l.FlushInterval = -1 },
	} {
		cfg := DefaultConfig()
		cfg.Lazy = DefaultLazyConfig()
		mut(&cfg.Lazy)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidConfig", cfg.Lazy, err)
		}
		cfg.Lazy.Enabled = false
		if err := cfg.Validate(); err != nil {
			t.Errorf("disabled: Validate = %v", err)
		}
	}
	cfg := DefaultConfig()
	cfg.Lazy = DefaultLazyConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// GraftLimitD: an inbound GRAFT is refused (PRUNE) once the mesh holds D
// peers; an outbound peer's is accepted while the mesh has fewer than
// Dout outbound peers, and refused after.
func TestGraftLimitD(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.GraftLimitD = true; c.Dout = 1 })
	h.join(topicA) // no peers yet: grafts come in one by one
	var in, outb []peer.ID
	for i := 1; i <= 8; i++ {
		in = append(in, h.add(i, wire.ProtocolMeshsub12, false, topicA))
	}
	for i := 9; i <= 10; i++ {
		outb = append(outb, h.add(i, wire.ProtocolMeshsub12, true, topicA))
	}
	h.reset()
	for _, p := range in[:6] {
		h.graftIn(p, topicA)
	}
	if o := h.a.HandleGraft(h.now, in[6], topicA, &h.out); o != OutcomeMeshFull {
		t.Fatalf("inbound GRAFT at D = %v, want OutcomeMeshFull", o)
	}
	if len(prunesIn(h.rpc(in[6]), topicA)) != 1 {
		t.Fatal("refused GRAFT not answered with PRUNE")
	}
	if o := h.a.HandleGraft(h.now, outb[0], topicA, &h.out); o != OutcomeGraftAccepted {
		t.Fatalf("outbound GRAFT below the Dout quota = %v", o)
	}
	if o := h.a.HandleGraft(h.now, outb[1], topicA, &h.out); o != OutcomeMeshFull {
		t.Fatalf("outbound GRAFT with the Dout quota met = %v", o)
	}
	// Without the option the same mesh accepts up to Dhi.
	h.a.cfg.GraftLimitD = false
	if o := h.a.HandleGraft(h.now, in[7], topicA, &h.out); o != OutcomeGraftAccepted {
		t.Fatalf("inbound GRAFT below Dhi without the option = %v", o)
	}
}

// batchHarness is lazyHarness with batched IHAVEs (FlushInterval 200 ms)
// and the peers mesh[3:] taught to be wasteful (MinEager 2): those are
// lazy, mesh[1:3] eager. It then forwards one message, whose IHAVE goes to
// the lazy peers at once (none had one for FlushInterval), so that the
// next ones within a heartbeat interval are queued; it returns that
// message's id.
func batchHarness(t *testing.T, mut func(*Config)) (*harness, []peer.ID, string) {
	t.Helper()
	h, mesh := lazyHarness(t, func(c *Config) {
		c.Lazy.FlushInterval = 200 * time.Millisecond
		if mut != nil {
			mut(c)
		}
	})
	teach(h, mesh, h.a.cfg.Lazy.MinSamples, mesh[3:], nil)
	_, id := h.receive(mesh[0], 100)
	for _, p := range mesh[3:] {
		if e := h.ihaveIDs(p); len(e) != 1 || !slices.Equal(e[0], []string{id}) || h.a.LazyQueued(p) != 0 {
			t.Fatalf("first lazy copy for %s: IHAVE entries %q, %d queued; want an immediate IHAVE", p, e, h.a.LazyQueued(p))
		}
	}
	h.reset()
	return h, mesh, id
}

// ihaveIDs returns the ids of every IHAVE entry for topicA in p's RPC of
// h.out, one slice per entry.
func (h *harness) ihaveIDs(p peer.ID) [][]string {
	var entries [][]string
	for _, ih := range h.rpc(p).GetControl().GetIhave() {
		if ih.GetTopicID() != topicA {
			h.t.Fatalf("IHAVE for topic %q", ih.GetTopicID())
		}
		var ids []string
		for _, raw := range ih.GetMessageIDs() {
			ids = append(ids, string(raw))
		}
		entries = append(entries, ids)
	}
	return entries
}

// With FlushInterval, a lazy copy within a heartbeat interval of the
// peer's last lazy IHAVE is an id queued for the peer, not an RPC: FlushLazy sends
// each lazy peer one IHAVE with every queued id, in order; the eager peers
// get the messages at once; an IWANT in answer to the batch is served and
// counts as needed; a peer idle for a heartbeat interval gets an
// immediate IHAVE.
func TestLazyBatchedIHaves(t *testing.T) {
	h, mesh, _ := batchHarness(t, nil)
	lazy := mesh[3:]
	var ids []string
	for i := range 3 {
		h.advance(10 * time.Millisecond)
		_, id := h.receive(mesh[0], 100)
		ids = append(ids, id)
		for _, p := range mesh[1:3] {
			if !h.gotMessage(p, id) {
				t.Fatalf("message %d: eager peer %s not sent it", i, p)
			}
		}
		for _, p := range lazy {
			if h.rpc(p) != nil {
				t.Fatalf("message %d: lazy peer %s sent an RPC before the flush: %v", i, p, h.rpc(p))
			}
			if n := h.a.LazyQueued(p); n != i+1 {
				t.Fatalf("message %d: %d ids queued for %s, want %d", i, n, p, i+1)
			}
		}
	}
	h.reset()
	if o := h.a.FlushLazy(h.now, &h.out); o != OutcomeLazyFlushed {
		t.Fatalf("FlushLazy = %v", o)
	}
	for _, p := range lazy {
		got := h.ihaveIDs(p)
		if len(got) != 1 || !slices.Equal(got[0], ids) {
			t.Fatalf("%s: IHAVE entries %q, want one with %q", p, got, ids)
		}
		if len(h.rpc(p).GetPublish()) != 0 {
			t.Fatalf("%s: sent a message with the batch", p)
		}
		if n := h.a.LazyQueued(p); n != 0 {
			t.Fatalf("%s: %d ids still queued", p, n)
		}
	}
	for _, p := range mesh[:3] {
		if h.rpc(p) != nil {
			t.Fatalf("non-lazy peer %s got %v", p, h.rpc(p))
		}
	}
	h.reset()
	if o := h.a.FlushLazy(h.now, &h.out); o != OutcomeNothingToFlush || !h.out.Empty() {
		t.Fatalf("second FlushLazy = %v, output empty %v", o, h.out.Empty())
	}
	// The IWANT answering the batch is served and makes the peer eager.
	if o := h.a.HandleIWant(h.now, lazy[0], iwant(ids[1]), &h.out); o != OutcomeIWantServed {
		t.Fatalf("IWANT after the batch = %v", o)
	}
	if !h.gotMessage(lazy[0], ids[1]) {
		t.Fatal("IWANT not answered with the message")
	}
	h.advance(h.a.cfg.Lazy.Horizon)
	h.heartbeat()
	if w, _ := h.a.LazyWaste(lazy[0]); w >= h.a.cfg.Lazy.WasteThreshold {
		t.Fatalf("waste after a needed batched IHAVE = %v", w)
	}
	if w, _ := h.a.LazyWaste(lazy[1]); w < h.a.cfg.Lazy.WasteThreshold {
		t.Fatalf("waste of a peer that never asked = %v", w)
	}
	// Long after the last flush: an immediate IHAVE, nothing queued.
	_, id := h.receive(mesh[0], 100)
	if !h.gotMessage(lazy[0], id) {
		t.Fatal("peer whose batched IHAVE was answered not eager again")
	}
	if e := h.ihaveIDs(lazy[1]); len(e) != 1 || !slices.Equal(e[0], []string{id}) || h.a.LazyQueued(lazy[1]) != 0 {
		t.Fatalf("idle lazy peer: IHAVE entries %q, %d queued; want an immediate IHAVE", e, h.a.LazyQueued(lazy[1]))
	}
}

// The budget counts IHAVE RPCs (immediate ones and batches), not
// messages: with MaxIHaves 3 a peer gets three per heartbeat interval
// whatever the message count, then messages eagerly until the heartbeat,
// which flushes what is queued (within the interval's budget) and renews
// it. MaxIHaveLength caps the ids per interval.
func TestLazyBatchBudget(t *testing.T) {
	h, mesh, _ := batchHarness(t, func(c *Config) { c.MaxIHaveMessages = 6 }) // one immediate IHAVE spent
	p := mesh[5]
	for round := range 3 {
		h.advance(300 * time.Millisecond) // past FlushInterval, within a heartbeat interval: queued
		for range 10 {
			_, id := h.receive(mesh[0], 100)
			if round < 2 && (h.gotMessage(p, id) || h.a.LazyQueued(p) == 0) {
				t.Fatalf("round %d: message sent eagerly within the budget", round)
			}
			if round == 2 && (!h.gotMessage(p, id) || h.a.LazyQueued(p) != 0) {
				t.Fatalf("round %d: budget spent, yet the id was queued", round)
			}
		}
		h.reset()
		h.a.FlushLazy(h.now, &h.out)
		e := h.ihaveIDs(p)
		if round < 2 && (len(e) != 1 || len(e[0]) != 10) {
			t.Fatalf("round %d: IHAVE entries %v, want one of 10 ids", round, e)
		}
		if round == 2 && len(e) != 0 {
			t.Fatalf("round %d: IHAVE past the budget: %v", round, e)
		}
	}
	h.heartbeat()
	if _, id := h.receive(mesh[0], 100); h.gotMessage(p, id) {
		t.Fatal("budget not renewed by the heartbeat")
	}
	_, id := h.receive(mesh[0], 100)
	if h.a.LazyQueued(p) != 1 {
		t.Fatalf("%d queued, want 1", h.a.LazyQueued(p))
	}
	// The next heartbeat flushes the queued id, before renewing the budget.
	h.reset()
	h.heartbeat()
	if e := h.ihaveIDs(p); len(e) != 1 || !slices.Equal(e[0], []string{id}) {
		t.Fatalf("heartbeat flushed %v, want [[%s]]", e, id)
	}

	// MaxIHaveLength: ids per interval (the first, immediate, counts).
	h, mesh, _ = batchHarness(t, func(c *Config) { c.MaxIHaveLength = 4 })
	p = mesh[5]
	for i := range 5 {
		_, id := h.receive(mesh[0], 100)
		if lazy := !h.gotMessage(p, id); lazy != (i < 3) {
			t.Fatalf("message %d: lazy %v with MaxIHaveLength 4", i, lazy)
		}
	}
}

// A batch leaves out the ids the peer sent IDONTWANT for and the ids no
// longer cached (an IWANT could not be served); a removed peer's batch is
// dropped; nothing left to send is OutcomeNothingToFlush.
func TestLazyBatchSkipsAndRemoval(t *testing.T) {
	h, mesh, _ := batchHarness(t, nil)
	_, id1 := h.receive(mesh[0], 100)
	_, id2 := h.receive(mesh[0], 100)
	if o := h.a.HandleIDontWant(h.now, mesh[3], idontwant(id1), &h.out); o != OutcomeIDontWantRecorded {
		t.Fatalf("IDONTWANT = %v", o)
	}
	if !slices.Contains(h.a.lazy.pending, mesh[4]) {
		t.Fatal("peer with queued ids not listed pending")
	}
	if o := h.a.RemovePeer(h.now, mesh[4], &h.out); o != OutcomePeerRemoved {
		t.Fatalf("RemovePeer = %v", o)
	}
	if slices.Contains(h.a.lazy.pending, mesh[4]) {
		t.Fatal("removed peer still listed pending")
	}
	h.reset()
	h.a.FlushLazy(h.now, &h.out)
	if e := h.ihaveIDs(mesh[3]); len(e) != 1 || !slices.Equal(e[0], []string{id2}) {
		t.Fatalf("after IDONTWANT: %v, want [[%s]]", e, id2)
	}
	if h.rpc(mesh[4]) != nil {
		t.Fatal("removed peer sent its batch")
	}
	// Ids evicted from the message cache are left out: an entry only
	// with those is not sent at all.
	h.receive(mesh[0], 100)
	if h.a.LazyQueued(mesh[5]) != 1 {
		t.Fatalf("%d queued, want 1", h.a.LazyQueued(mesh[5]))
	}
	for range h.a.cfg.HistoryLength {
		h.a.mcache.shift()
	}
	h.reset()
	if o := h.a.FlushLazy(h.now, &h.out); o != OutcomeNothingToFlush || h.rpc(mesh[5]) != nil {
		t.Fatalf("FlushLazy of evicted ids = %v, %v", o, h.rpc(mesh[5]))
	}
}

// A flushed batch is one IHAVE RPC whatever its topics, and the lazy
// budget counts it once, as receivers count RPCs: with MaxIHaves 2, after
// an immediate IHAVE a peer still takes ids of two topics in one batch
// (counted per entry, the second topic's message went eagerly); after
// the batch the budget is spent.
func TestLazyBatchBudgetCountsRPCs(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Lazy = DefaultLazyConfig()
		c.Lazy.MinEager = 1
		c.MaxIHaveMessages = 4 // MaxIHaves 2
	})
	for i := 1; i <= 8; i++ {
		h.add(i, wire.ProtocolMeshsub12, false, topicA, topicB)
	}
	h.join(topicA)
	h.join(topicB)
	var common []peer.ID
	meshB := h.mesh(topicB)
	for _, p := range h.mesh(topicA) {
		if slices.Contains(meshB, p) {
			common = append(common, p)
		}
	}
	if len(common) < 3 {
		t.Fatalf("meshes share %d peers, want at least 3", len(common))
	}
	// src forwards to us; keeper stays the least wasteful (eager) in both
	// topics; every other peer learns to be wasteful, p among them.
	src, keeper, p := common[0], common[1], common[2]
	var wasted []peer.ID
	for _, q := range h.mesh(topicA) {
		if q != src && q != keeper {
			wasted = append(wasted, q)
		}
	}
	teach(h, []peer.ID{src}, h.a.cfg.Lazy.MinSamples, wasted, nil)
	if _, id := h.receiveIn(src, topicA, 100); !h.gotIHaveIn(p, topicA, id) {
		t.Fatal("the first lazy copy was not an immediate IHAVE")
	}
	_, idA := h.receiveIn(src, topicA, 100)
	_, idB := h.receiveIn(src, topicB, 100)
	if h.gotMessage(p, idA) || h.gotMessage(p, idB) || h.a.LazyQueued(p) != 2 {
		t.Fatalf("sent eagerly: %v (topicA), %v (topicB); %d queued, want both ids queued",
			h.gotMessage(p, idA), h.gotMessage(p, idB), h.a.LazyQueued(p))
	}
	h.reset()
	h.a.FlushLazy(h.now, &h.out)
	if ihs := h.rpc(p).GetControl().GetIhave(); len(ihs) != 2 {
		t.Fatalf("flushed %d IHAVE entries, want 2 (one per topic) in one RPC", len(ihs))
	}
	if _, id := h.receiveIn(src, topicA, 100); !h.gotMessage(p, id) {
		t.Fatal("budget of 2 RPCs spent, yet not sent eagerly")
	}
}
