package automaton

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// latHarness is a harness with latency-aware selection on and a given seed.
func latHarness(t *testing.T, seed uint64, mut func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Latency = DefaultLatencyConfig()
	if mut != nil {
		mut(&cfg)
	}
	a, err := New(pid(0), cfg, rand.New(rand.NewPCG(seed, 7)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, a: a, now: t0}
}

// rttPeers adds peers 1..n subscribed to topicA, peer i with an RTT of
// i × 10 ms (so lower ids are faster), all inbound unless outbound.
func rttPeers(h *harness, n int, outbound bool) []peer.ID {
	h.t.Helper()
	var ps []peer.ID
	for i := 1; i <= n; i++ {
		p := h.add(i, wire.ProtocolMeshsub12, outbound, topicA)
		if o := h.a.HandlePeerRTT(h.now, p, time.Duration(i)*10*time.Millisecond, &h.out); o != OutcomeRTTRecorded {
			h.t.Fatalf("HandlePeerRTT = %v", o)
		}
		ps = append(ps, p)
	}
	return ps
}

// among counts the peers of mesh that are in set.
func among(mesh, set []peer.ID) int {
	n := 0
	for _, p := range mesh {
		if slices.Contains(set, p) {
			n++
		}
	}
	return n
}

func byRTTCount(h *harness) int {
	t := h.a.topics[topicA]
	n := 0
	for _, p := range t.mesh.items {
		if _, ok := t.byRTT[p]; ok {
			n++
		}
	}
	return n
}

// Join with measured peers: ceil(6/3) = 2 peers at random, the other 4 the
// fastest of the rest; over seeds the random two land outside the fastest
// six some of the time (the random share is real).
func TestLatencyJoinPrefersLowRTT(t *testing.T) {
	outside := 0
	for seed := uint64(1); seed <= 40; seed++ {
		h := latHarness(t, seed, nil)
		ps := rttPeers(h, 20, false)
		h.join(topicA)
		mesh := h.mesh(topicA)
		if len(mesh) != 6 {
			t.Fatalf("seed %d: mesh of %d, want 6", seed, len(mesh))
		}
		fast := among(mesh, ps[:6])
		if fast < 4 {
			t.Fatalf("seed %d: %d of the 6 fastest in the mesh, want >= 4: %v", seed, fast, mesh)
		}
		// The RTT-ranked four are the fastest peers not picked at random.
		if n := byRTTCount(h); n != 4 {
			t.Fatalf("seed %d: %d peers tagged as chosen for RTT, want 4", seed, n)
		}
		outside += 6 - fast
	}
	if outside == 0 {
		t.Fatal("over 40 seeds the random share never picked a slower peer")
	}
}

// Unknown peers rank after measured ones in the RTT part, and are eligible
// in the random part.
func TestLatencyUnknownPeersRankLast(t *testing.T) {
	h := latHarness(t, 3, nil)
	measured := rttPeers(h, 6, false)
	for i := 101; i <= 114; i++ {
		h.add(i, wire.ProtocolMeshsub12, false, topicA)
	}
	h.join(topicA)
	if n := among(h.mesh(topicA), measured); n < 4 {
		t.Fatalf("%d measured peers in the mesh, want >= 4 (the RTT part)", n)
	}
}

// Negative-score peers are never chosen, however fast: not at Join, not
// when filling, not by swaps.
func TestLatencyNegativeScoreExcluded(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		h := latHarness(t, seed, nil)
		ps := rttPeers(h, 20, false)
		kv := []any{}
		for _, p := range ps[:5] {
			kv = append(kv, p, -1.0)
		}
		h.scores(events.ScoreThresholds{Gossip: -10, Publish: -20, Graylist: -30}, kv...)
		h.join(topicA)
		for range 30 {
			h.heartbeat()
		}
		if n := among(h.mesh(topicA), ps[:5]); n != 0 {
			t.Fatalf("seed %d: %d negative-score peers in the mesh", seed, n)
		}
	}
}

// Trimming above Dhi keeps the fastest peers beside the random share.
func TestLatencyTrimKeepsFastest(t *testing.T) {
	h := latHarness(t, 5, func(c *Config) { c.Latency.SwapTicks = 0; c.Dout = 0 })
	h.join(topicA)              // no peers yet: an empty mesh
	ps := rttPeers(h, 13, true) // outbound: their GRAFTs pass Dhi
	for _, p := range ps {
		h.graftIn(p, topicA)
	}
	h.reset()
	h.heartbeat()
	mesh := h.mesh(topicA)
	if len(mesh) != 6 {
		t.Fatalf("mesh of %d after trim, want 6", len(mesh))
	}
	if n := among(mesh, ps[:6]); n < 4 {
		t.Fatalf("%d of the 6 fastest kept, want >= 4: %v", n, mesh)
	}
	// The kept peers outside the random lead (ceil(6/3) = 2) are tagged as
	// chosen for their RTT, so that swaps keep the random share.
	if n := len(h.a.topics[topicA].byRTT); n != 4 {
		t.Fatalf("%d kept peers tagged as chosen for their RTT, want 4", n)
	}
	pruned := 0
	for _, e := range FactPeerPruned.In(&h.out) {
		if e.Reason != events.PruneReasonOversubscribed {
			t.Fatalf("prune reason %v", e.Reason)
		}
		pruned++
	}
	if pruned != 7 {
		t.Fatalf("%d pruned, want 7", pruned)
	}
}

// A mesh built before any RTT is known converges by swaps: at most one per
// SwapTicks heartbeats, never into a peer in backoff, the random share
// kept, and then no more GRAFT or PRUNE while RTTs stay the same.
func TestLatencySwapBoundedBackoffNoChurn(t *testing.T) {
	h := latHarness(t, 9, nil)
	var ps []peer.ID
	for i := 1; i <= 20; i++ {
		ps = append(ps, h.add(i, wire.ProtocolMeshsub12, false, topicA))
	}
	h.join(topicA) // all unknown: a random mesh
	// The fastest peer refuses us for a long time.
	h.a.HandlePrune(h.now, ps[0], prune(topicA, 3600), &h.out)
	for i, p := range ps {
		h.a.HandlePeerRTT(h.now, p, time.Duration(i+1)*10*time.Millisecond, &h.out)
	}
	lastChange, swaps := -1, 0
	for tick := 1; tick <= 120; tick++ {
		h.reset()
		h.heartbeat()
		grafts := FactPeerGrafted.In(&h.out)
		prunes := FactPeerPruned.In(&h.out)
		for _, g := range grafts {
			if g.Peer == ps[0] {
				t.Fatalf("tick %d: grafted a peer in backoff", tick)
			}
		}
		if len(grafts)+len(prunes) == 0 {
			continue
		}
		if len(prunes) != 1 || len(grafts) != 1 || prunes[0].Reason != events.PruneReasonLatencySwap {
			t.Fatalf("tick %d: %d grafts, %d prunes (%v), want one swap", tick, len(grafts), len(prunes), prunes)
		}
		if lastChange >= 0 && tick-lastChange < h.a.cfg.Latency.SwapTicks {
			t.Fatalf("swaps at ticks %d and %d, closer than SwapTicks", lastChange, tick)
		}
		lastChange = tick
		swaps++
	}
	if swaps == 0 {
		t.Fatal("no swap: the random mesh was never improved")
	}
	if lastChange > 60 {
		t.Fatalf("still swapping at tick %d of 120 with stable RTTs", lastChange)
	}
	mesh := h.mesh(topicA)
	if len(mesh) != 6 {
		t.Fatalf("mesh of %d", len(mesh))
	}
	if n := len(mesh) - byRTTCount(h); n < 2 {
		t.Fatalf("%d mesh peers not chosen for RTT, want >= 2 (the random share)", n)
	}
	if n := among(mesh, ps[1:5]); n != 4 {
		t.Fatalf("%d of the 4 fastest eligible peers in the converged mesh: %v", n, mesh)
	}
}

// A mesh chosen with RTTs known is not churned: 200 heartbeats, no swap.
func TestLatencyStableMeshNoSwap(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		h := latHarness(t, seed, nil)
		rttPeers(h, 20, false)
		h.join(topicA)
		for tick := 1; tick <= 200; tick++ {
			h.reset()
			h.heartbeat()
			if g, p := FactPeerGrafted.In(&h.out), FactPeerPruned.In(&h.out); len(g)+len(p) > 0 {
				t.Fatalf("seed %d tick %d: %d grafts %d prunes on a stable mesh", seed, tick, len(g), len(p))
			}
		}
	}
}

// Swaps never take the mesh below Dout outbound peers, even when the
// outbound peers are the slowest.
func TestLatencySwapKeepsDout(t *testing.T) {
	h := latHarness(t, 2, nil)
	var slowOut []peer.ID
	for i := 1; i <= 2; i++ {
		p := h.add(100+i, wire.ProtocolMeshsub12, true, topicA)
		h.a.HandlePeerRTT(h.now, p, time.Second, &h.out)
		slowOut = append(slowOut, p)
	}
	h.join(topicA) // only the two outbound peers exist: both grafted
	for _, p := range rttPeers(h, 20, false)[10:] {
		h.graftIn(p, topicA) // slow inbound peers fill the mesh
	}
	for range 60 {
		h.heartbeat()
	}
	if n := among(h.mesh(topicA), slowOut); n != 2 {
		t.Fatalf("%d of the 2 outbound peers left in the mesh, want 2 (Dout)", n)
	}
}

// With latency-aware selection off, RTTs change nothing: two automata with
// the same seed build the same meshes, one told the RTTs and one not.
func TestLatencyOffIgnoresRTT(t *testing.T) {
	run := func(withRTT bool) [][]peer.ID {
		h := newHarness(t, nil)
		for i := 1; i <= 20; i++ {
			p := h.add(i, wire.ProtocolMeshsub12, i%3 == 0, topicA)
			if withRTT {
				h.a.HandlePeerRTT(h.now, p, time.Duration(i)*time.Millisecond, &h.out)
			}
		}
		h.join(topicA)
		var meshes [][]peer.ID
		for range 10 {
			h.heartbeat()
			meshes = append(meshes, h.mesh(topicA))
		}
		return meshes
	}
	a, b := run(false), run(true)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("heartbeat %d: meshes differ with RTTs known while off", i)
		}
	}
}

func TestLatencyConfigValidate(t *testing.T) {
	for _, mod := range []func(*LatencyConfig){
		func(l *LatencyConfig) { l.RandomShare = 0 },
		func(l *LatencyConfig) { l.RandomShare = 1.5 },
		func(l *LatencyConfig) { l.SwapTicks = -1 },
		func(l *LatencyConfig) { l.SwapMinGain = 1 },
		func(l *LatencyConfig) { l.SwapMinDelta = -time.Millisecond },
	} {
		cfg := DefaultConfig()
		cfg.Latency = DefaultLatencyConfig()
		mod(&cfg.Latency)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig", cfg.Latency, err)
		}
	}
	off := DefaultConfig()
	off.Latency = LatencyConfig{RandomShare: -1} // ignored while off
	if err := off.Validate(); err != nil {
		t.Fatalf("disabled latency config validated: %v", err)
	}
	h := latHarness(t, 1, nil)
	if o := h.a.HandlePeerRTT(h.now, pid(42), time.Millisecond, &h.out); o != OutcomeUnknownPeer {
		t.Fatalf("RTT of an unknown peer: %v", o)
	}
	p := h.add(1, wire.ProtocolMeshsub12, false)
	if o := h.a.HandlePeerRTT(h.now, p, -time.Millisecond, &h.out); o != OutcomeInvalidInput {
		t.Fatalf("negative RTT: %v", o)
	}
	h.a.HandlePeerRTT(h.now, p, 40*time.Millisecond, &h.out)
	h.a.HandlePeerRTT(h.now, p, 20*time.Millisecond, &h.out)
	if d, ok := h.a.RTT(p); !ok || d != 30*time.Millisecond {
		t.Fatalf("smoothed RTT %v %v, want 30ms", d, ok)
	}
}

// With PublishExtra, the local node's own small messages also go to the
// fastest measured non-mesh peers at or above the publish threshold; large
// messages and forwarded ones go to the mesh only.
func TestLatencyPublishExtra(t *testing.T) {
	h := latHarness(t, 4, func(c *Config) {
		c.FloodPublish = false
		c.Latency.PublishExtra = 3
		c.Latency.PublishExtraMaxData = 100
	})
	h.join(topicA) // no peers yet: an empty mesh
	ps := rttPeers(h, 12, false)
	for _, p := range ps[6:] {
		h.graftIn(p, topicA) // the slow half is the mesh
	}
	h.scores(events.ScoreThresholds{Gossip: -10, Publish: -20, Graylist: -30}, ps[0], -25.0) // fastest below publish
	unknown := h.add(50, wire.ProtocolMeshsub12, false, topicA)
	sentTo := func(size int) []peer.ID {
		h.reset()
		m, id := msg(pid(0), topicA, size)
		h.a.Publish(h.now, m, id, &h.out)
		var got []peer.ID
		for _, p := range append(slices.Clone(ps), unknown) {
			if h.rpc(p) != nil && len(h.rpc(p).GetPublish()) > 0 {
				got = append(got, p)
			}
		}
		return got
	}
	got := sentTo(50)
	want := append([]peer.ID{ps[1], ps[2], ps[3]}, ps[6:]...)
	if !slices.Equal(got, want) {
		t.Fatalf("small message sent to %v, want the mesh and peers 2-4", got)
	}
	if got := sentTo(200); !slices.Equal(got, ps[6:]) {
		t.Fatalf("large message sent to %v, want the mesh only", got)
	}
}

// With PublishExtraRandom, every publish draws its PublishExtra extras
// afresh among the eligible non-mesh peers, measured or not: always that
// many, never a mesh peer or one below the publish threshold, and over
// many publishes not only the fastest.
func TestLatencyPublishExtraRandom(t *testing.T) {
	h := latHarness(t, 5, func(c *Config) {
		c.FloodPublish = false
		c.Latency.PublishExtra = 3
		c.Latency.PublishExtraRandom = true
	})
	h.join(topicA)
	ps := rttPeers(h, 12, false)
	for _, p := range ps[6:] {
		h.graftIn(p, topicA)
	}
	h.scores(events.ScoreThresholds{Gossip: -10, Publish: -20, Graylist: -30}, ps[0], -25.0)
	unknown := h.add(50, wire.ProtocolMeshsub12, false, topicA)
	eligible := append(slices.Clone(ps[1:6]), unknown)
	seen := map[peer.ID]int{}
	for range 60 {
		h.reset()
		m, id := msg(pid(0), topicA, 50)
		h.a.Publish(h.now, m, id, &h.out)
		n := 0
		for _, p := range append(slices.Clone(ps), unknown) {
			if r := h.rpc(p); r == nil || len(r.GetPublish()) == 0 {
				continue
			}
			if slices.Contains(ps[6:], p) {
				continue // the mesh
			}
			if !slices.Contains(eligible, p) {
				t.Fatalf("extra copy to %v, not an eligible non-mesh peer", p)
			}
			seen[p]++
			n++
		}
		if n != 3 {
			t.Fatalf("%d extras, want 3", n)
		}
	}
	if len(seen) != len(eligible) {
		t.Fatalf("60 draws reached %d of the %d eligible peers: %v", len(seen), len(eligible), seen)
	}
}

// With PublishMeshSkip, a message that goes to extras skips as many of the
// slowest measured mesh peers (at most the number of extras, only
// /meshsub/1.2.0 peers): they get an IDONTWANT for its id instead. A large
// message, which has no extras, goes to the whole mesh.
func TestLatencyPublishMeshSkip(t *testing.T) {
	h := latHarness(t, 4, func(c *Config) {
		c.FloodPublish = false
		c.Latency.PublishExtra = 2
		c.Latency.PublishMeshSkip = 3 // capped at the 2 extras
		c.Latency.PublishExtraMaxData = 100
	})
	h.join(topicA)
	ps := rttPeers(h, 10, false)
	old := h.add(11, wire.ProtocolMeshsub11, false, topicA) // no IDONTWANT: never skipped
	if o := h.a.HandlePeerRTT(h.now, old, time.Second, &h.out); o != OutcomeRTTRecorded {
		t.Fatalf("HandlePeerRTT = %v", o)
	}
	mesh := append(slices.Clone(ps[5:]), old)
	for _, p := range mesh {
		h.graftIn(p, topicA)
	}
	publish := func(size int) (msgTo, idwTo []peer.ID, id string) {
		h.reset()
		m, id := msg(pid(0), topicA, size)
		h.a.Publish(h.now, m, id, &h.out)
		for _, p := range append(slices.Clone(ps), old) {
			r := h.rpc(p)
			if r == nil {
				continue
			}
			if len(r.GetPublish()) > 0 {
				msgTo = append(msgTo, p)
			}
			for _, d := range r.GetControl().GetIdontwant() {
				for _, raw := range d.GetMessageIDs() {
					if string(raw) != id {
						t.Fatalf("IDONTWANT to %v for %q, want %q", p, raw, id)
					}
				}
				idwTo = append(idwTo, p)
			}
		}
		return msgTo, idwTo, id
	}
	msgTo, idwTo, _ := publish(50)
	if want := []peer.ID{ps[8], ps[9]}; !slices.Equal(idwTo, want) {
		t.Fatalf("IDONTWANT to %v, want the 2 slowest 1.2 mesh peers %v", idwTo, want)
	}
	if want := append([]peer.ID{ps[0], ps[1], ps[5], ps[6], ps[7]}, old); !slices.Equal(msgTo, want) {
		t.Fatalf("message to %v, want extras 1-2, mesh peers 6-8 and the 1.1 peer", msgTo)
	}
	msgTo, idwTo, _ = publish(200)
	if len(idwTo) != 0 || !slices.Equal(msgTo, mesh) {
		t.Fatalf("large message to %v, IDONTWANT to %v; want the whole mesh and none", msgTo, idwTo)
	}
	h.a.cfg.Latency.PublishMeshSkipFastest = true
	if _, idwTo, _ = publish(50); !slices.Equal(idwTo, []peer.ID{ps[5], ps[6]}) {
		t.Fatalf("IDONTWANT to %v, want the 2 fastest mesh peers", idwTo)
	}
}

// A topic first published to (its state made by the fanout) and then
// joined gets latency-aware selection like any other.
func TestLatencyJoinAfterPublish(t *testing.T) {
	h := latHarness(t, 6, func(c *Config) { c.FloodPublish = false })
	ps := rttPeers(h, 20, false)
	m, id := msg(pid(0), topicA, 10)
	h.a.Publish(h.now, m, id, &h.out)
	h.join(topicA) // the fanout peers (random) become the mesh, as the spec says
	for range 40 {
		h.heartbeat() // swaps bring the fastest in
	}
	if n := among(h.mesh(topicA), ps[:6]); n < 4 {
		t.Fatalf("%d of the 6 fastest in the mesh after publish, join and swaps", n)
	}
}
