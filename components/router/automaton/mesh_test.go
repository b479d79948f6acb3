package automaton

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// Heartbeat mesh upkeep scenarios, one table row per rule.
func TestHeartbeatMeshUpkeep(t *testing.T) {
	type check func(t *testing.T, h *harness, ps []peer.ID)
	cases := []struct {
		name  string
		setup func(h *harness) []peer.ID
		check check
	}{
		{
			name: "mesh below Dlo grafts to D",
			setup: func(h *harness) []peer.ID {
				h.join(topicA) // no peers yet: empty mesh
				ps := h.addN(1, 20, topicA)
				h.reset()
				h.heartbeat()
				return ps
			},
			check: func(t *testing.T, h *harness, ps []peer.ID) {
				mesh := h.mesh(topicA)
				if len(mesh) != h.a.cfg.D {
					t.Fatalf("mesh = %d peers, want D=%d", len(mesh), h.a.cfg.D)
				}
				if len(FactPeerGrafted.In(&h.out)) != h.a.cfg.D {
					t.Fatalf("%d EvtPeerGrafted, want %d", len(FactPeerGrafted.In(&h.out)), h.a.cfg.D)
				}
				for _, g := range FactPeerGrafted.In(&h.out) {
					if !g.Outbound || g.Topic != topicA || !hasPeer(mesh, g.Peer) {
						t.Errorf("bad graft event %+v", g)
					}
					if graftsIn(h.rpc(g.Peer), topicA) != 1 {
						t.Errorf("no GRAFT sent to %s", g.Peer)
					}
				}
			},
		},
		{
			name: "above Dhi prunes to D keeping Dscore best and Dout outbound",
			setup: func(h *harness) []peer.ID {
				h.join(topicA)
				var ps []peer.ID
				for i := 1; i <= 12; i++ { // inbound up to Dhi
					p := h.add(i, wire.ProtocolMeshsub12, false, topicA)
					h.graftIn(p, topicA)
					ps = append(ps, p)
				}
				for i := 13; i <= 15; i++ { // outbound peers are accepted over Dhi
					p := h.add(i, wire.ProtocolMeshsub12, true, topicA)
					h.graftIn(p, topicA)
					ps = append(ps, p)
				}
				var kv []any
				for i, p := range ps {
					s := 1.0
					if i < 4 {
						s = 10.0 - float64(i)
					}
					kv = append(kv, p, s)
				}
				h.scores(events.ScoreThresholds{}, kv...)
				h.reset()
				h.heartbeat()
				return ps
			},
			check: func(t *testing.T, h *harness, ps []peer.ID) {
				mesh := h.mesh(topicA)
				if len(mesh) != h.a.cfg.D {
					t.Fatalf("mesh = %d, want %d", len(mesh), h.a.cfg.D)
				}
				for _, best := range ps[:4] {
					if !hasPeer(mesh, best) {
						t.Errorf("top-scoring peer %s was pruned", best)
					}
				}
				outbound := 0
				for _, p := range mesh {
					if h.a.peers[p].outbound {
						outbound++
					}
				}
				if outbound < h.a.cfg.Dout {
					t.Errorf("%d outbound peers kept, want >= Dout=%d", outbound, h.a.cfg.Dout)
				}
				if len(FactPeerPruned.In(&h.out)) != 15-h.a.cfg.D {
					t.Fatalf("%d prunes, want %d", len(FactPeerPruned.In(&h.out)), 15-h.a.cfg.D)
				}
				for _, e := range FactPeerPruned.In(&h.out) {
					if e.Reason != events.PruneReasonOversubscribed || e.Backoff != h.a.cfg.PruneBackoff {
						t.Errorf("bad prune event %+v", e)
					}
					prs := prunesIn(h.rpc(e.Peer), topicA)
					if len(prs) != 1 || prs[0].GetBackoff() != 60 {
						t.Errorf("PRUNE to %s = %v", e.Peer, prs)
					}
				}
			},
		},
		{
			name: "negative score pruned",
			setup: func(h *harness) []peer.ID {
				h.a.cfg.PeerExchange = true
				ps := h.addN(1, 6, topicA)
				h.join(topicA)
				h.scores(events.ScoreThresholds{Gossip: -10, Publish: -20, Graylist: -30}, ps[0], -1.0)
				h.reset()
				h.heartbeat()
				return ps
			},
			check: func(t *testing.T, h *harness, ps []peer.ID) {
				if hasPeer(h.mesh(topicA), ps[0]) {
					t.Fatal("negative-score peer still in mesh")
				}
				if len(FactPeerPruned.In(&h.out)) != 1 || FactPeerPruned.In(&h.out)[0].Reason != events.PruneReasonNegativeScore {
					t.Fatalf("prunes = %+v", FactPeerPruned.In(&h.out))
				}
				prs := prunesIn(h.rpc(ps[0]), topicA)
				if len(prs) != 1 || len(prs[0].GetPeers()) != 0 {
					t.Fatalf("PRUNE to negative peer must carry no PX: %v", prs)
				}
				if _, ok := h.a.Backoff(topicA, ps[0]); !ok {
					t.Fatal("no backoff recorded")
				}
			},
		},
		{
			name: "mesh with Dlo..Dhi peers is left alone",
			setup: func(h *harness) []peer.ID {
				ps := h.addN(1, 8, topicA)
				h.join(topicA)
				h.reset()
				h.heartbeat()
				return ps
			},
			check: func(t *testing.T, h *harness, ps []peer.ID) {
				if len(FactPeerGrafted.In(&h.out))+len(FactPeerPruned.In(&h.out)) != 0 {
					t.Fatalf("unexpected mesh change: %d grafts, %d prunes", len(FactPeerGrafted.In(&h.out)), len(FactPeerPruned.In(&h.out)))
				}
			},
		},
		{
			name: "too few outbound peers grafts outbound",
			setup: func(h *harness) []peer.ID {
				h.join(topicA)
				var ps []peer.ID
				for i := 1; i <= 6; i++ {
					p := h.add(i, wire.ProtocolMeshsub12, false, topicA)
					h.graftIn(p, topicA)
				}
				for i := 10; i < 14; i++ {
					ps = append(ps, h.add(i, wire.ProtocolMeshsub12, true, topicA))
				}
				h.reset()
				h.heartbeat()
				return ps
			},
			check: func(t *testing.T, h *harness, outbound []peer.ID) {
				if len(FactPeerGrafted.In(&h.out)) != h.a.cfg.Dout {
					t.Fatalf("%d grafts, want Dout=%d", len(FactPeerGrafted.In(&h.out)), h.a.cfg.Dout)
				}
				for _, g := range FactPeerGrafted.In(&h.out) {
					if !hasPeer(outbound, g.Peer) {
						t.Errorf("grafted inbound peer %s", g.Peer)
					}
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ps := c.setup(h)
			c.check(t, h, ps)
		})
	}
}

func TestBackoffRespectedWithSlack(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, true, topicA)
	h.graftIn(p, topicA)
	if o := h.a.HandlePrune(h.now, p, prune(topicA, 10), &h.out); o != OutcomePruned {
		t.Fatalf("prune = %v", o)
	}
	pruneAt := h.now
	var graftedAt time.Time
	for range 20 {
		h.reset()
		h.heartbeat()
		if len(FactPeerGrafted.In(&h.out)) > 0 {
			graftedAt = h.now
			break
		}
	}
	want := pruneAt.Add(10*time.Second + h.a.cfg.HeartbeatInterval)
	if !graftedAt.Equal(want) {
		t.Fatalf("regrafted at +%v, want +%v (backoff 10 s + 1 heartbeat slack)", graftedAt.Sub(pruneAt), want.Sub(pruneAt))
	}
}

func TestPruneBackoffClamped(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	h.graftIn(p, topicA)
	h.a.HandlePrune(h.now, p, prune(topicA, 1<<62), &h.out)
	until, ok := h.a.Backoff(topicA, p)
	if !ok || !until.Equal(h.now.Add(h.a.cfg.MaxPruneBackoff)) {
		t.Fatalf("backoff until %v, want now+%v", until, h.a.cfg.MaxPruneBackoff)
	}
	if FactPeerPruned.In(&h.out)[0].Backoff != h.a.cfg.MaxPruneBackoff || FactPeerPruned.In(&h.out)[0].Reason != events.PruneReasonRemote {
		t.Fatalf("prune event %+v", FactPeerPruned.In(&h.out)[0])
	}
}

func TestGraftDuringBackoffPenalisedAndRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	h.a.HandlePrune(h.now, p, prune(topicA, 60), &h.out)
	h.advance(2 * time.Second)
	h.reset()
	if o := h.a.HandleGraft(h.now, p, topicA, &h.out); o != OutcomeGraftFlood {
		t.Fatalf("graft = %v", o)
	}
	if penalties(&h.out, events.PenaltyGraftBackoff)[p] != 1 || penalties(&h.out, events.PenaltyGraftFlood)[p] != 1 {
		t.Fatalf("penalties = %+v", FactPeerPenalized.In(&h.out))
	}
	if prs := prunesIn(h.rpc(p), topicA); len(prs) != 1 || len(prs[0].GetPeers()) != 0 {
		t.Fatalf("refusal PRUNE = %v", prs)
	}
	if len(FactPeerPruned.In(&h.out)) != 1 || FactPeerPruned.In(&h.out)[0].Reason != events.PruneReasonGraftRejected {
		t.Fatalf("pruned events = %+v", FactPeerPruned.In(&h.out))
	}
	if hasPeer(h.mesh(topicA), p) {
		t.Fatal("peer entered the mesh")
	}
	// The refusal extends the backoff from now.
	until, _ := h.a.Backoff(topicA, p)
	if !until.Equal(h.now.Add(h.a.cfg.PruneBackoff)) {
		t.Fatalf("backoff until +%v", until.Sub(h.now))
	}
	// A GRAFT late in the backoff is penalised but not a flood.
	h.advance(30 * time.Second)
	h.reset()
	if o := h.a.HandleGraft(h.now, p, topicA, &h.out); o != OutcomeGraftBackoff {
		t.Fatalf("late graft = %v", o)
	}
	if len(penalties(&h.out, events.PenaltyGraftFlood)) != 0 {
		t.Fatal("late graft counted as flood")
	}
}

func TestMeshFullStillAcceptsOutbound(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PeerExchange = true })
	h.join(topicA)
	for i := 1; i <= h.a.cfg.Dhi; i++ {
		h.graftIn(h.add(i, wire.ProtocolMeshsub12, false, topicA), topicA)
	}
	in := h.add(50, wire.ProtocolMeshsub12, false, topicA)
	h.reset()
	if o := h.a.HandleGraft(h.now, in, topicA, &h.out); o != OutcomeMeshFull {
		t.Fatalf("inbound graft = %v", o)
	}
	if prs := prunesIn(h.rpc(in), topicA); len(prs) != 1 || len(prs[0].GetPeers()) == 0 {
		t.Fatalf("mesh-full PRUNE should carry PX: %v", prs)
	}
	out := h.add(51, wire.ProtocolMeshsub12, true, topicA)
	if o := h.a.HandleGraft(h.now, out, topicA, &h.out); o != OutcomeGraftAccepted {
		t.Fatalf("outbound graft = %v", o)
	}
}

func TestOpportunisticGrafting(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	var mesh, good []peer.ID
	for i := 1; i <= 6; i++ {
		p := h.add(i, wire.ProtocolMeshsub12, true, topicA)
		h.graftIn(p, topicA)
		mesh = append(mesh, p)
	}
	for i := 10; i < 14; i++ {
		good = append(good, h.add(i, wire.ProtocolMeshsub12, true, topicA))
	}
	var kv []any
	for _, p := range mesh {
		kv = append(kv, p, 1.0)
	}
	for _, p := range good {
		kv = append(kv, p, 10.0)
	}
	h.scores(events.ScoreThresholds{OpportunisticGraft: 5}, kv...)
	for tick := 1; tick <= h.a.cfg.OpportunisticGraftTicks; tick++ {
		h.reset()
		h.heartbeat()
		if tick < h.a.cfg.OpportunisticGraftTicks && len(FactPeerGrafted.In(&h.out)) > 0 {
			t.Fatalf("graft at tick %d before the opportunistic tick", tick)
		}
	}
	if len(FactPeerGrafted.In(&h.out)) != h.a.cfg.OpportunisticGraftPeers {
		t.Fatalf("%d opportunistic grafts, want %d", len(FactPeerGrafted.In(&h.out)), h.a.cfg.OpportunisticGraftPeers)
	}
	for _, g := range FactPeerGrafted.In(&h.out) {
		if !hasPeer(good, g.Peer) {
			t.Errorf("grafted %s, which does not score above the median", g.Peer)
		}
	}
	// Above the threshold nothing happens.
	h.scores(events.ScoreThresholds{OpportunisticGraft: 0.5}, kv...)
	for range h.a.cfg.OpportunisticGraftTicks {
		h.reset()
		h.heartbeat()
		if len(FactPeerGrafted.In(&h.out)) > 0 {
			t.Fatal("opportunistic graft with median above threshold")
		}
	}
}

func TestFanoutLifecycle(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FloodPublish = false })
	ps := h.addN(1, 10, topicA)
	m, id := msg(pid(0), topicA, 10)
	if o := h.a.Publish(h.now, m, id, &h.out); o != OutcomePublished {
		t.Fatalf("publish = %v", o)
	}
	fan := h.a.Fanout(topicA)
	if len(fan) != h.a.cfg.D || len(h.out.Sends) != h.a.cfg.D {
		t.Fatalf("fanout %d peers, %d sends; want D", len(fan), len(h.out.Sends))
	}
	// A fanout peer unsubscribes: the next heartbeat refills.
	h.a.HandleSubscription(h.now, fan[0], topicA, false, &h.out)
	h.heartbeat()
	if got := h.a.Fanout(topicA); len(got) != h.a.cfg.D || hasPeer(got, fan[0]) {
		t.Fatalf("fanout after refill = %v", got)
	}
	// It expires FanoutTTL after the last publish.
	for h.now.Before(t0.Add(h.a.cfg.FanoutTTL - time.Second)) {
		h.heartbeat()
	}
	if len(h.a.Fanout(topicA)) == 0 {
		t.Fatal("fanout expired early")
	}
	h.heartbeat()
	if f := h.a.Fanout(topicA); f != nil {
		t.Fatalf("fanout alive after TTL: %v", f)
	}
	// Joining uses the fanout peers first.
	m, id = msg(pid(0), topicA, 10)
	h.a.Publish(h.now, m, id, &h.out)
	fan = h.a.Fanout(topicA)
	h.reset()
	h.join(topicA)
	mesh := h.mesh(topicA)
	for _, p := range fan {
		if !hasPeer(mesh, p) {
			t.Errorf("fanout peer %s not in the new mesh", p)
		}
	}
	if h.a.Fanout(topicA) != nil {
		t.Fatal("fanout survived join")
	}
	_ = ps
}

func TestJoinAndLeave(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PeerExchange = true })
	ps := h.addN(1, 10, topicA)
	h.reset()
	h.join(topicA)
	for _, p := range ps {
		subs := h.rpc(p).GetSubscriptions()
		if len(subs) != 1 || !subs[0].GetSubscribe() || subs[0].GetTopicid() != topicA {
			t.Fatalf("subscription announcement to %s = %v", p, subs)
		}
	}
	if h.out.Facts[0].Kind != FactTopicJoined.Kind() || len(FactPeerGrafted.In(&h.out)) != h.a.cfg.D {
		t.Fatalf("facts %v, %d grafts", h.out.Facts, len(FactPeerGrafted.In(&h.out)))
	}
	mesh := h.mesh(topicA)
	h.reset()
	if o := h.a.Leave(h.now, topicA, &h.out); o != OutcomeLeft {
		t.Fatalf("leave = %v", o)
	}
	for _, p := range mesh {
		prs := prunesIn(h.rpc(p), topicA)
		if len(prs) != 1 || prs[0].GetBackoff() != 10 || len(prs[0].GetPeers()) == 0 {
			t.Fatalf("leave PRUNE to %s = %v", p, prs)
		}
		if until, ok := h.a.Backoff(topicA, p); !ok || !until.Equal(h.now.Add(10*time.Second)) {
			t.Fatalf("no unsubscribe backoff for %s", p)
		}
	}
	last := h.out.Facts[len(h.out.Facts)-1]
	if last.Kind != FactTopicLeft.Kind() || len(FactPeerPruned.In(&h.out)) != len(mesh) {
		t.Fatalf("EvtTopicLeft must come after the %d prunes: %v", len(mesh), h.out.Facts)
	}
	for _, e := range FactPeerPruned.In(&h.out) {
		if e.Reason != events.PruneReasonLeave {
			t.Fatalf("prune reason %v", e.Reason)
		}
	}
	if h.a.Joined(topicA) || h.a.HelloRPC() != nil {
		t.Fatal("still joined")
	}
}

func TestAddPeerSendsHelloAndRemovePeerOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	h.join("topic-b")
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA, "topic-b")
	if subs := h.rpc(p).GetSubscriptions(); len(subs) != 2 {
		t.Fatalf("hello = %v", subs)
	}
	if hello := h.a.HelloRPC(); len(hello.GetSubscriptions()) != 2 {
		t.Fatalf("HelloRPC = %v", hello)
	}
	h.graftIn(p, topicA)
	h.graftIn(p, "topic-b")
	h.a.HandlePrune(h.now, p, prune(topicA, 30), &h.out)
	h.reset()
	if o := h.a.RemovePeer(h.now, p, &h.out); o != OutcomePeerRemoved {
		t.Fatal(o)
	}
	kinds := []FactKind{}
	for _, f := range h.out.Facts {
		kinds = append(kinds, f.Kind)
	}
	// topic-a: not in mesh any more (pruned): only unsubscribed; topic-b: pruned then unsubscribed.
	want := []FactKind{FactPeerUnsubscribed.Kind(), FactPeerPruned.Kind(), FactPeerUnsubscribed.Kind(), FactPeerRemoved.Kind()}
	if len(kinds) != len(want) {
		t.Fatalf("facts %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("facts %v, want %v", kinds, want)
		}
	}
	if FactPeerPruned.In(&h.out)[0].Reason != events.PruneReasonPeerRemoved || len(h.out.Sends) != 0 {
		t.Fatalf("prune %+v, sends %d", FactPeerPruned.In(&h.out)[0], len(h.out.Sends))
	}
	// Backoff survives removal: a reconnecting peer cannot skip it.
	if _, ok := h.a.Backoff(topicA, p); !ok {
		t.Fatal("backoff forgotten on removal")
	}
	if h.a.HasPeer(p) || len(h.a.TopicPeers(topicA)) != 0 {
		t.Fatal("peer state left behind")
	}
}

// TestFanoutEvents: every change of a fanout set is an event, so that a
// subscriber that folds EvtFanoutPeerAdded/Removed has the set the
// automaton has, with the reason of each exit: creation on publish, a peer
// unsubscribing, a peer disconnecting (before its EvtRouterPeerRemoved), a
// score below the publish threshold, refills, expiry after FanoutTTL, and
// the join that turns the fanout into the mesh (before its grafts).
func TestFanoutEvents(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FloodPublish = false })
	h.addN(1, 10, topicA)
	folded := map[peer.ID]bool{}
	var reasons []events.FanoutReason
	// fold applies the Output's fanout events in order, checks them against
	// the automaton's set, and empties the Output.
	fold := func(step string) {
		t.Helper()
		h.out.ForEachFact(func(ev any) {
			switch e := ev.(type) {
			case events.EvtFanoutPeerAdded:
				if e.Topic != topicA || folded[e.Peer] || e.At != h.now {
					t.Fatalf("%s: %+v (in the set already: %v)", step, e, folded[e.Peer])
				}
				folded[e.Peer] = true
			case events.EvtFanoutPeerRemoved:
				if e.Topic != topicA || !folded[e.Peer] || e.At != h.now {
					t.Fatalf("%s: %+v (in the set: %v)", step, e, folded[e.Peer])
				}
				delete(folded, e.Peer)
				reasons = append(reasons, e.Reason)
			case events.EvtRouterPeerRemoved:
				if folded[e.Peer] {
					t.Fatalf("%s: %s removed while still in the folded fanout", step, e.Peer)
				}
			case events.EvtPeerGrafted:
				if len(folded) != 0 {
					t.Fatalf("%s: graft while the folded fanout still has %d peers", step, len(folded))
				}
			}
		})
		h.reset()
		var got []peer.ID
		for p := range folded {
			got = append(got, p)
		}
		slices.Sort(got)
		if want := h.a.Fanout(topicA); !slices.Equal(got, want) {
			t.Fatalf("%s: folded fanout %v, automaton's %v", step, got, want)
		}
	}
	wantReasons := func(step string, want ...events.FanoutReason) {
		t.Helper()
		if !slices.Equal(reasons, want) {
			t.Fatalf("%s: exits %v, want %v", step, reasons, want)
		}
		reasons = nil
	}
	publish := func() {
		m, id := msg(pid(0), topicA, 10)
		if o := h.a.Publish(h.now, m, id, &h.out); o != OutcomePublished {
			t.Fatalf("publish = %v", o)
		}
	}

	publish()
	fold("first publish")
	if len(folded) != h.a.cfg.D {
		t.Fatalf("fanout of %d peers after the first publish, want D", len(folded))
	}
	fan := h.a.Fanout(topicA)
	h.a.HandleSubscription(h.now, fan[0], topicA, false, &h.out)
	fold("unsubscription")
	wantReasons("unsubscription", events.FanoutReasonPeerLeft)
	h.a.RemovePeer(h.now, fan[1], &h.out)
	fold("disconnection")
	wantReasons("disconnection", events.FanoutReasonPeerLeft)
	h.heartbeat()
	fold("refill")
	if len(folded) != h.a.cfg.D {
		t.Fatalf("fanout of %d peers after the refill, want D", len(folded))
	}
	fan = h.a.Fanout(topicA)
	h.scores(events.ScoreThresholds{Gossip: -10, Publish: -20, Graylist: -30}, fan[2], -25.0)
	h.heartbeat()
	fold("score below publish")
	wantReasons("score below publish", events.FanoutReasonBelowPublish)
	for h.now.Before(t0.Add(h.a.cfg.FanoutTTL)) {
		h.heartbeat()
	}
	fold("expiry")
	if len(folded) != 0 || len(reasons) != h.a.cfg.D {
		t.Fatalf("after FanoutTTL: %d peers left, %d exits", len(folded), len(reasons))
	}
	for _, r := range reasons {
		if r != events.FanoutReasonExpired {
			t.Fatalf("exit on expiry: %v", r)
		}
	}
	reasons = nil
	publish()
	fold("publish again")
	n := len(folded)
	h.join(topicA)
	fold("join")
	if len(reasons) != n || len(h.mesh(topicA)) == 0 {
		t.Fatalf("join: %d exits of %d fanout peers, mesh %v", len(reasons), n, h.mesh(topicA))
	}
	for _, r := range reasons {
		if r != events.FanoutReasonJoined {
			t.Fatalf("exit on join: %v", r)
		}
	}
}

// TestDirectPeerAddedEvent: EvtRouterPeerAdded says whether the peer is
// direct.
func TestDirectPeerAddedEvent(t *testing.T) {
	h := newHarness(t, nil)
	h.a.AddPeer(h.now, PeerSpec{ID: pid(1), Protocol: wire.ProtocolMeshsub12, Direct: true}, &h.out)
	h.a.AddPeer(h.now, PeerSpec{ID: pid(2), Protocol: wire.ProtocolMeshsub12}, &h.out)
	evs := FactPeerAdded.In(&h.out)
	if len(evs) != 2 || !evs[0].Direct || evs[1].Direct {
		t.Fatalf("peer added events %+v", evs)
	}
}

func TestSetPeerLargeMessages(t *testing.T) {
	h := newHarness(t, nil)
	p := h.add(1, wire.ProtocolMeshsub13, true)
	if h.a.PeerLargeMessages(p) {
		t.Fatal("a new peer supports v1.4 before it said so")
	}
	if got := h.a.SetPeerLargeMessages(p, true); got != OutcomePeerFeaturesSet {
		t.Fatalf("SetPeerLargeMessages = %v", got)
	}
	if !h.a.PeerLargeMessages(p) {
		t.Fatal("the peer's v1.4 support was not recorded")
	}
	h.a.SetPeerLargeMessages(p, false)
	if h.a.PeerLargeMessages(p) {
		t.Fatal("the peer's v1.4 support was not cleared")
	}
	// Before v1.3 there is no Extensions control message to advertise it.
	old := h.add(2, wire.ProtocolMeshsub12, true)
	if h.a.SetPeerLargeMessages(old, true); h.a.PeerLargeMessages(old) {
		t.Fatal("a /meshsub/1.2.0 peer was marked v1.4")
	}
	if got := h.a.SetPeerLargeMessages("nobody", true); got != OutcomeUnknownPeer {
		t.Fatalf("SetPeerLargeMessages(unknown) = %v", got)
	}
}
