package host

import (
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
)

// pxTopic is the topic of the peer-exchange test.
const pxTopic = "px"

// pxGossipConfig is a small mesh (D 3, Dhi 3) with peer exchange on, so that
// a hub with three mesh peers is full and answers a fourth GRAFT with a
// PRUNE carrying PX records.
func pxGossipConfig() router.GossipConfig {
	c := router.DefaultGossipConfig()
	c.D, c.Dlo, c.Dhi = 3, 2, 3
	c.Dscore, c.Dout, c.Dlazy = 1, 1, 3
	c.PeerExchange = true
	c.PrunePeers = 8
	return c
}

// pxNode is a full node from New (conntrack, scoring with its default
// parameters, router, peer manager with its defaults) on the shared mock
// clock, joined to pxTopic.
type pxNode struct {
	*Node
	r *router.Router
}

func newPXNode(t *testing.T, clk clock.Clock, seed uint64) pxNode {
	t.Helper()
	var r *router.Router
	n := newNode(t, WithClock(clk), WithFx(
		router.Options(router.WithGossipConfig(pxGossipConfig()), router.WithSeed(seed)),
		fx.Populate(&r),
	))
	if _, err := r.Join(pxTopic); err != nil {
		t.Fatal(err)
	}
	return pxNode{n, r}
}

// untilAll reads events until every predicate has matched one, failing
// after waitFor.
func (r *recorder) untilAll(preds ...func(any) bool) {
	r.t.Helper()
	left := slices.Clone(preds)
	r.until(func(e any) bool {
		left = slices.DeleteFunc(left, func(p func(any) bool) bool { return p(e) })
		return len(left) == 0
	})
}

func subscribed(p peer.ID) func(any) bool {
	return func(e any) bool {
		ev, ok := e.(events.EvtPeerSubscribed)
		return ok && ev.Peer == p && ev.Topic == pxTopic
	}
}

// grafted matches p entering the mesh of pxTopic, whichever side grafted.
func grafted(p peer.ID) func(any) bool {
	return func(e any) bool {
		ev, ok := e.(events.EvtPeerGrafted)
		return ok && ev.Peer == p && ev.Topic == pxTopic
	}
}

// pollFor polls cond until it holds (true) or d passes (false).
func pollFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// TestPeerExchangeDiscovery: a newcomer that knows only a hub whose mesh is
// full ends up connected to, and grafted with, the hub's mesh peers, which it
// learns only from the PX records of the hub's PRUNE.
//
// Every node runs the built-in components with their defaults except the
// router's mesh degree and PX flag. The accept-PX threshold is the default
// scoring's 100, which a fresh peer (score 0) does not meet; the newcomer
// meets it the way the spec advises, by giving its bootstrap peer (the hub)
// an application score of 100 (term P₅, weight 1 by default) before
// connecting. The members' PX records are the signed peer records identify
// gave the hub; the newcomer's peer manager verifies them and dials. Time is
// a mock clock shared by all nodes: each heartbeat is one explicit step.
func TestPeerExchangeDiscovery(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Unix(1_700_000_000, 0))
	hub := newPXNode(t, clk, 1)
	hubRec := record(t, hub.Bus(), new(events.EvtPeerSubscribed), new(events.EvtPeerGrafted))

	// Three members fill the hub's mesh (Dhi 3). They know only the hub.
	var members []pxNode
	var memberRecs []*recorder
	var joinedHub, filledHub []func(any) bool
	for i := range 3 {
		m := newPXNode(t, clk, uint64(10+i))
		mRec := record(t, m.Bus(), new(events.EvtPeerSubscribed))
		connect(t, m.Node, hub.Node)
		mRec.untilAll(subscribed(hub.ID()))
		members = append(members, m)
		memberRecs = append(memberRecs, mRec)
		joinedHub = append(joinedHub, subscribed(m.ID()))
		filledHub = append(filledHub, grafted(m.ID()))
	}
	hubRec.untilAll(joinedHub...)
	clk.Add(time.Second) // one heartbeat everywhere: hub and members graft each other
	hubRec.untilAll(filledHub...)
	if mesh := hub.r.Mesh(pxTopic); len(mesh) != 3 {
		t.Fatalf("hub mesh %v, want the 3 members", mesh)
	}

	// The newcomer trusts its bootstrap peer for PX, and knows nothing else.
	newcomer := newPXNode(t, clk, 99)
	nRec := record(t, newcomer.Bus(),
		new(events.EvtPeerSubscribed), new(events.EvtPeerGrafted), new(events.EvtPeerPruned),
		new(events.EvtPeerExchangeReceived), new(events.EvtPeerDiscovered), new(events.EvtDialSucceeded))
	scores := record(t, newcomer.Bus(), new(events.EvtPeerScoresUpdated))
	appScore, err := eventbus.NewEmitter[events.EvtPeerAppScoreSet](newcomer.Bus())
	if err != nil {
		t.Fatal(err)
	}
	defer appScore.Close()
	if err := appScore.Emit(events.EvtPeerAppScoreSet{Peer: hub.ID(), Score: 100}); err != nil {
		t.Fatal(err)
	}
	connect(t, newcomer.Node, hub.Node)
	nRec.untilAll(subscribed(hub.ID()))
	hubRec.untilAll(subscribed(newcomer.ID()))
	scores.until(func(e any) bool {
		ev := e.(events.EvtPeerScoresUpdated)
		return slices.ContainsFunc(ev.Scores, func(s events.PeerScore) bool {
			return s.Peer == hub.ID() && s.Score >= ev.Thresholds.AcceptPX
		})
	})
	// That snapshot is the newcomer's first (no heartbeat has run since it
	// started); once its router has applied one, the hub's PX is accepted.
	bustest.Eventually(t, waitFor, "the newcomer's router applies the score snapshot", func() bool {
		return metrictest.Sum(t, newcomer.Registry(), "meshbus_router_outcomes_total", "outcome", "scores_updated") >= 1
	}, nil)

	// Heartbeat: the newcomer grafts the hub, whose full mesh refuses it
	// with a PRUNE carrying PX; the peer manager dials what it learned.
	clk.Add(time.Second)
	var px events.EvtPeerExchangeReceived
	// The peer manager may react to the exchange (discover, dial) before
	// the router's emit reaches this recorder: the emitter hands the event
	// to its subscribers one after the other. Events read while waiting
	// for the exchange count for what comes next.
	early := nRec.until(func(e any) bool {
		ev, ok := e.(events.EvtPeerExchangeReceived)
		px = ev
		return ok
	})
	if px.From != hub.ID() || px.Topic != pxTopic {
		t.Fatalf("exchange %+v, want from the hub on %q", px, pxTopic)
	}
	var learned []func(any) bool
	for _, m := range members {
		if !slices.ContainsFunc(px.Records, func(r events.PeerExchangeRecord) bool {
			return r.Peer == m.ID() && len(r.SignedPeerRecord) > 0
		}) {
			t.Fatalf("exchange records %+v lack a signed record of member %s", px.Records, m.ID())
		}
		id := m.ID()
		learned = append(learned,
			func(e any) bool {
				ev, ok := e.(events.EvtPeerDiscovered)
				return ok && ev.Peer == id && ev.Source == events.SourceExchange && len(ev.Addrs) > 0
			},
			func(e any) bool { ev, ok := e.(events.EvtDialSucceeded); return ok && ev.Peer == id },
			subscribed(id))
	}
	for _, e := range early {
		learned = slices.DeleteFunc(learned, func(p func(any) bool) bool { return p(e) })
	}
	if len(learned) > 0 {
		nRec.untilAll(learned...)
	}
	// The newcomer knows the members' subscriptions; before the heartbeat
	// the members must know the newcomer's too (it reaches each member on
	// the newcomer's own stream, which may open later than the member's):
	// a member that has not yet heard it neither grafts the newcomer on
	// this heartbeat nor is there another heartbeat to do it later.
	for _, mRec := range memberRecs {
		mRec.untilAll(subscribed(newcomer.ID()))
	}

	// Heartbeat: the newcomer, refused by the hub (backoff), and the
	// members, whose meshes hold only the hub, graft each other. One
	// heartbeat does it when every pubsub stream is open; a member whose
	// stream to the newcomer is still being retried (the retry delay runs
	// on the mock clock) grafts on a later one, so allow a few.
	meshedWithAll := func() bool {
		mesh := newcomer.r.Mesh(pxTopic)
		return !slices.ContainsFunc(members, func(m pxNode) bool { return !slices.Contains(mesh, m.ID()) })
	}
	for beat := 1; ; beat++ {
		clk.Add(time.Second)
		if pollFor(2*time.Second, meshedWithAll) {
			break
		}
		if beat == 4 {
			t.Fatalf("after %d heartbeats the newcomer's mesh is %v", beat, newcomer.r.Mesh(pxTopic))
		}
	}
	for _, m := range members {
		if c := newcomer.Host().Network().Connectedness(m.ID()); c != network.Connected {
			t.Fatalf("newcomer to member %s: %v", m.ID(), c)
		}
	}
	mesh := newcomer.r.Mesh(pxTopic)
	slices.Sort(mesh)
	var want []peer.ID
	for _, m := range members {
		want = append(want, m.ID())
	}
	slices.Sort(want)
	if !slices.Equal(mesh, want) {
		t.Fatalf("newcomer mesh %v, want the members %v", mesh, want)
	}
}
