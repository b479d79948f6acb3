package router

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// chokeTestConfig keeps one eager peer and decides on 3 first deliveries,
// the first decision too.
// Its MaxRTT (1 s) still needs a measured RTT, but one a loaded machine's
// loopback ping cannot miss (the default 10 ms it can, under -race).
func chokeTestConfig() ChokeConfig {
	c := DefaultChokeConfig()
	c.Unchoked, c.MinFirsts, c.FirstFirsts, c.ExploreEvery = 1, 3, 3, 0
	c.MaxRTT = time.Second
	return c
}

// In a diamond a-b, a-c, b-d, c-d, d gets a's messages through b and c;
// with choking it chokes the one that brought fewer first at a heartbeat,
// that peer records it, and every later message still reaches d (through
// the eager one, and the choked one's IHAVE). d learns b's and c's RTTs
// from the RTT prober on its bus, as a host's router does: choking needs
// them (MaxRTT).
func TestChokingDiamond(t *testing.T) {
	const topic = "choke"
	clk := clock.NewMock()
	opt := WithChoking(chokeTestConfig())
	a, b, c, d := newNode(t, clk, opt), newNode(t, clk, opt), newNode(t, clk, opt), newNode(t, clk, opt)
	startProber(t, d, clk)
	tops := map[*node]*Topic{}
	for _, n := range []*node{a, b, c, d} {
		tp, err := n.r.Join(topic)
		if err != nil {
			t.Fatal(err)
		}
		tops[n] = tp
	}
	sub, err := tops[d].Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	chokesAt := map[*node]*eventbus.Subscription[events.EvtPeerChoked]{}
	for _, n := range []*node{b, c, d} {
		s, err := eventbus.Subscribe[events.EvtPeerChoked](n.bus, eventbus.BufSize(64))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		chokesAt[n] = s
	}
	edges := [][2]*node{{a, b}, {a, c}, {b, d}, {c, d}}
	for _, e := range edges {
		testhost.Connect(t, e[0].h, e[1].h)
	}
	for _, e := range edges {
		waitMeshed(t, clk, topic, e[0], e[1])
	}
	for _, e := range edges {
		if x, ok := e[1].r.PeerExtensions(e[0].h.ID()); !ok || !x.Choke {
			t.Fatalf("extensions seen across an edge: %+v %v", x, ok)
		}
	}
	// d chokes only peers whose RTT it knows: the messages below are all
	// the first deliveries its decisions get, so its router must have
	// both RTTs before they flow (a slow ping on a loaded machine let the
	// decisions pass with nobody chokable, and the test time out).
	bustest.Eventually(t, 20*time.Second, "d's router to know b's and c's RTTs", func() bool {
		v, _ := metrictest.Value(t, d.reg, "meshbus_router_outcomes_total", "outcome", "rtt_recorded")
		return v >= 2
	}, heartbeat(clk))
	publish := func(i int) {
		t.Helper()
		want := fmt.Sprintf("m%d", i)
		if err := tops[a].Publish(context.Background(), []byte(want), RequirePeers()); err != nil {
			t.Fatal(err)
		}
		if got := next(t, sub); string(got.Data) != want {
			t.Fatalf("d read %q, want %q", got.Data, want)
		}
	}
	for i := range 6 {
		publish(i)
	}
	var choked *node
	bustest.Eventually(t, 20*time.Second, "d chokes b or c", func() bool {
		ours, _ := d.r.Choked(topic)
		if len(ours) != 1 {
			return false
		}
		for _, n := range []*node{b, c} {
			if _, theirs := n.r.Choked(topic); len(theirs) == 1 && theirs[0] == d.h.ID() && ours[0] == n.h.ID() {
				choked = n
				return true
			}
		}
		return false
	}, heartbeat(clk))
	// Both sides published it as an event on their bus.
	bustest.Next(t, chokesAt[d], func(e events.EvtPeerChoked) bool {
		return e.ByUs && e.Choked && e.Peer == choked.h.ID() && e.Topic == topic
	}, 10*time.Second)
	bustest.Next(t, chokesAt[choked], func(e events.EvtPeerChoked) bool {
		return !e.ByUs && e.Choked && e.Peer == d.h.ID() && e.Topic == topic
	}, 10*time.Second)
	for i := 6; i < 16; i++ {
		publish(i)
	}
	if ours, _ := d.r.Choked(topic); len(ours) != 1 || ours[0] != choked.h.ID() {
		t.Fatalf("d's choked peers after 10 more messages: %v (had %s)", ours, choked.h.ID())
	}
	// The choked peer's IHAVEs to d wait in a batch that goes out on the
	// flush interval's tick, between heartbeats (flushTimer).
	flushed := func() float64 {
		v, _ := metrictest.Value(t, choked.reg, "meshbus_router_outcomes_total", "outcome", "lazy_flushed")
		return v
	}
	before, i := flushed(), 16
	bustest.Eventually(t, 20*time.Second, "a batch flushed between heartbeats", func() bool { return flushed() > before }, func() {
		publish(i)
		i++
		clk.Add(chokeTestConfig().FlushInterval)
	})
}

// A meshbus node with choking on and a go-libp2p-pubsub node exchange
// messages as without it: the flag in our Extensions is an unknown field
// to it, and it is never choked.
func TestChokingWithGoPubsub(t *testing.T) {
	const topic = "choke-go"
	clk := clock.NewMock()
	a := newNode(t, clk, WithChoking(chokeTestConfig()))
	ta, err := a.r.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	subA, err := ta.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	tr := newGoTracer()
	hb, tb, subB := goNode(t, topic, pubsub.WithRawTracer(tr))
	testhost.Connect(t, a.h, hb)
	// Both sides' meshes: the go node (flood publishing off) publishes to
	// its mesh only, so a message it publishes before it has taken our
	// GRAFT reaches nobody. Waiting for our side alone, the first message
	// was lost under load now and then.
	bustest.Eventually(t, 20*time.Second, "mesh with the go node, both ways", func() bool {
		_, grafted, _, _ := tr.snapshot(a.h.ID())
		return grafted && contains(a.r.Mesh(topic), hb.ID())
	}, heartbeat(clk))
	if e, ok := a.r.PeerExtensions(hb.ID()); !ok || e.Choke {
		t.Fatalf("go node's extensions %+v %v", e, ok)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	for i := range 5 {
		want := fmt.Sprintf("go%d", i)
		if err := tb.Publish(rctx, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if got := next(t, subA); string(got.Data) != want {
			t.Fatalf("meshbus got %q, want %q", got.Data, want)
		}
		clk.Add(time.Second) // heartbeats: nothing to choke
	}
	if ours, theirs := a.r.Choked(topic); len(ours)+len(theirs) != 0 {
		t.Fatalf("choked %v, %v with a go peer", ours, theirs)
	}
	if err := ta.Publish(rctx, []byte("from meshbus")); err != nil {
		t.Fatal(err)
	}
	for { // its own messages first
		m, err := subB.Next(rctx)
		if err != nil {
			t.Fatalf("go node: %v", err)
		}
		if string(m.Data) == "from meshbus" {
			break
		}
	}
}

func TestWithChokingValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	t.Cleanup(func() { _ = bus.Close() })
	bad := DefaultChokeConfig()
	bad.Unchoked = 0
	if _, err := New(h, bus, WithChoking(bad)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("Unchoked 0: %v", err)
	}
	r, err := New(h, bus, WithChoking(DefaultChokeConfig()), WithGossipConfig(DefaultGossipConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if !r.cfg.gossip.Choke.Enabled {
		t.Fatal("WithGossipConfig after WithChoking turned it off")
	}
}
