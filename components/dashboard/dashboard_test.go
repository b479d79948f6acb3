package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/dashboard/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
)

const (
	self  = peer.ID("self-node")
	other = peer.ID("other-node")
)

// start returns a started dashboard on a free loopback port with a mock
// clock; it is closed when the test ends.
func start(t *testing.T, srcs []dashboard.Source, opts ...dashboard.Option) (*dashboard.Dashboard, *clock.Mock) {
	t.Helper()
	clk := clock.NewMock()
	opts = append([]dashboard.Option{dashboard.WithAddr("127.0.0.1:0"), dashboard.WithClock(clk)}, opts...)
	d, err := dashboard.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, s := range srcs {
		if err := d.Attach(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d, clk
}

// waitView publishes until the view satisfies cond, or fails after 10s.
func waitView(t *testing.T, d *dashboard.Dashboard, what string, cond func(*automaton.View) bool) *automaton.View {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := d.Publish(context.Background()); err != nil {
			t.Fatalf("publish: %v", err)
		}
		v, err := d.View()
		if err != nil {
			t.Fatal(err)
		}
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("view never showed %s; last: %+v", what, v)
		}
		<-tick.C
	}
}

func emitter[T any](t *testing.T, b *eventbus.Bus) *eventbus.Emitter[T] {
	t.Helper()
	e, err := eventbus.NewEmitter[T](b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func newBus(t *testing.T) *eventbus.Bus {
	t.Helper()
	b := eventbus.New()
	t.Cleanup(func() { b.Close() })
	return b
}

func TestOptionsValidated(t *testing.T) {
	for name, opt := range map[string]dashboard.Option{
		"no port":          dashboard.WithAddr("127.0.0.1"),
		"garbage":          dashboard.WithAddr("::::"),
		"zero publish":     dashboard.WithPublishInterval(0),
		"negative stats":   dashboard.WithStatsInterval(-time.Second),
		"zero buffer":      dashboard.WithBufSize(0),
		"nil option":       nil,
		"metric collision": dashboard.WithRegisterer(collidingRegistry(t)),
	} {
		if _, err := dashboard.New(opt); !errors.Is(err, dashboard.ErrBadOption) {
			t.Errorf("%s: %v, want ErrBadOption", name, err)
		}
	}
	// nil clock and logger mean the defaults.
	d, err := dashboard.New(dashboard.WithClock(nil), dashboard.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := d.Start(context.Background()); !errors.Is(err, dashboard.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func collidingRegistry(t *testing.T) prometheus.Registerer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "meshbus_dashboard_streams"}))
	return reg
}

func TestAttachValidated(t *testing.T) {
	b := newBus(t)
	d, err := dashboard.New(dashboard.WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for name, s := range map[string]dashboard.Source{
		"no name": {Bus: b, ID: self},
		"no bus":  {Name: "a", ID: self},
		"no id":   {Name: "a", Bus: b},
	} {
		if err := d.Attach(s); !errors.Is(err, dashboard.ErrBadSource) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := d.Attach(dashboard.Source{Name: "a", Bus: b, ID: self}); err != nil {
		t.Fatal(err)
	}
	if err := d.Attach(dashboard.Source{Name: "a", Bus: b, ID: other}); !errors.Is(err, dashboard.ErrBadSource) {
		t.Errorf("duplicate before start: %v", err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); !errors.Is(err, dashboard.ErrStarted) {
		t.Errorf("second Start: %v", err)
	}
	if err := d.Attach(dashboard.Source{Name: "a", Bus: newBus(t), ID: other}); !errors.Is(err, dashboard.ErrBadSource) {
		t.Errorf("duplicate after start: %v", err)
	}
	d.Close()
	if err := d.Attach(dashboard.Source{Name: "b", Bus: b, ID: other}); !errors.Is(err, dashboard.ErrClosed) {
		t.Errorf("attach after close: %v", err)
	}
}

// The dashboard folds the bus's events: a graft shows as a mesh edge, a
// prune removes it, a connection shows with its direction; attaching a
// second node later adds it to the same graph.
func TestFoldsBusEvents(t *testing.T) {
	b := newBus(t)
	reg := prometheus.NewRegistry()
	d, _ := start(t, []dashboard.Source{{Name: "a", Bus: b, ID: self}}, dashboard.WithRegisterer(reg))
	grafted := emitter[events.EvtPeerGrafted](t, b)
	pruned := emitter[events.EvtPeerPruned](t, b)
	opened := emitter[events.EvtConnOpened](t, b)

	opened.Emit(events.EvtConnOpened{Peer: other, ConnID: "c1", Direction: 2})
	grafted.Emit(events.EvtPeerGrafted{Peer: other, Topic: "t", Outbound: true})
	v := waitView(t, d, "the graft", func(v *automaton.View) bool { return len(v.Mesh) == 1 && len(v.Conns) == 1 })
	if m := v.Mesh[0]; m.From != self.String() || m.To != other.String() || m.Topic != "t" || !m.Outbound {
		t.Errorf("mesh edge %+v", m)
	}
	if len(v.Vertices) != 2 || len(v.Nodes) != 1 || v.Nodes[0].Name != "a" {
		t.Errorf("graph: %+v", v)
	}
	pruned.Emit(events.EvtPeerPruned{Peer: other, Topic: "t", Reason: events.PruneReasonRemote})
	waitView(t, d, "the prune", func(v *automaton.View) bool { return len(v.Mesh) == 0 })

	b2 := newBus(t)
	if err := d.Attach(dashboard.Source{Name: "b", Bus: b2, ID: other}); err != nil {
		t.Fatal(err)
	}
	emitter[events.EvtPeerGrafted](t, b2).Emit(events.EvtPeerGrafted{Peer: self, Topic: "t"})
	v = waitView(t, d, "node b's graft", func(v *automaton.View) bool { return len(v.Mesh) == 1 })
	if v.Mesh[0].From != other.String() || len(v.Nodes) != 2 {
		t.Errorf("after second attach: %+v", v)
	}
	if n := metrictest.Must(t, reg, "meshbus_dashboard_events_total"); n < 4 {
		t.Errorf("events metric %v, want >= 4", n)
	}
}

// The bus introspection, the dashboard's drop count, and the breakdowns are
// sampled at each stats tick.
func TestStatsSampled(t *testing.T) {
	b := newBus(t)
	other, err := b.Subscribe(new(events.EvtPeerGrafted), eventbus.Name("slow-addon"), eventbus.WithPolicy(eventbus.Drop), eventbus.BufSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// An add-on that takes the dashboard's name is not the dashboard.
	impostor, err := b.Subscribe(new(events.EvtPeerPruned), eventbus.Name(dashboard.SubscriptionName))
	if err != nil {
		t.Fatal(err)
	}
	defer impostor.Close()
	var calls atomic.Int32
	src := dashboard.Source{Name: "a", Bus: b, ID: self, Breakdowns: func() map[peer.ID]automaton.ScoreTerms {
		calls.Add(1)
		return map[peer.ID]automaton.ScoreTerms{"x": {P7: 9}}
	}}
	d, clk := start(t, []dashboard.Source{src})
	em := emitter[events.EvtPeerGrafted](t, b)
	for range 3 {
		em.Emit(events.EvtPeerGrafted{Peer: "x", Topic: "t"})
	}
	before := calls.Load()
	clk.Add(time.Second)
	v := waitView(t, d, "the slow add-on's drops", func(v *automaton.View) bool {
		for _, s := range v.Nodes[0].Subs {
			if s.Name == "slow-addon" && s.Dropped == 2 && s.Policy == "drop" {
				return calls.Load() > before
			}
		}
		return false
	})
	var self int
	for _, s := range v.Nodes[0].Subs {
		if s.Self {
			self++
			if s.Name != dashboard.SubscriptionName || !s.Wildcard {
				t.Errorf("own subscription %+v", s)
			}
		}
	}
	if self != 1 {
		t.Errorf("%d subscriptions marked as the dashboard's", self)
	}
}

// A stalled dashboard never stalls the node: emitters keep going while the
// driver is stuck, the dashboard's subscription drops and counts, and once
// the driver resumes it reloads the mesh from the node.
func TestSlowDashboardNeverBlocksNode(t *testing.T) {
	b := newBus(t)
	var stall atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	var meshCalls atomic.Int32
	src := dashboard.Source{
		Name: "a", Bus: b, ID: self,
		Breakdowns: func() map[peer.ID]automaton.ScoreTerms {
			if stall.CompareAndSwap(true, false) {
				close(entered)
				<-release
			}
			return nil
		},
		Mesh: func() map[string][]peer.ID {
			meshCalls.Add(1)
			// Topic u: the events queued before the resync (prunes in t)
			// may be folded after it and must not touch what it loaded.
			return map[string][]peer.ID{"u": {other}}
		},
		// Read with the mesh: we choked other in u.
		Choked: func() map[string]automaton.ChokeState {
			return map[string]automaton.ChokeState{"u": {Ours: []peer.ID{other}}}
		},
	}
	d, clk := start(t, []dashboard.Source{src}, dashboard.WithBufSize(8))
	stall.Store(true)
	clk.Add(time.Second) // the stats tick: the driver blocks in Breakdowns
	<-entered
	em := emitter[events.EvtPeerPruned](t, b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			em.Emit(events.EvtPeerPruned{Peer: other, Topic: "t"})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("emitters blocked behind a stalled dashboard")
	}
	close(release)
	clk.Add(time.Second)
	v := waitView(t, d, "the drops and a resync", func(v *automaton.View) bool {
		return v.Nodes[0].Dropped > 0 && v.Nodes[0].Resyncs >= 2
	})
	if len(v.Mesh) != 1 || v.Mesh[0].To != other.String() || v.Mesh[0].Topic != "u" || !v.Mesh[0].Choked {
		t.Errorf("mesh after resync: %+v", v.Mesh)
	}
	if meshCalls.Load() < 2 {
		t.Errorf("mesh read %d times, want the attach and the resync", meshCalls.Load())
	}
}

// Server-Sent Events: the stream starts with the current view and sends a
// newer one after each change.
func TestEventStream(t *testing.T) {
	b := newBus(t)
	d, _ := start(t, []dashboard.Source{{Name: "a", Bus: b, ID: self}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", d.URL()+"api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	next := func() automaton.View {
		t.Helper()
		var v automaton.View
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(data), &v); err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
	}
	first := next()
	if len(first.Nodes) != 1 {
		t.Fatalf("first view %+v", first)
	}
	emitter[events.EvtPeerGrafted](t, b).Emit(events.EvtPeerGrafted{Peer: other, Topic: "t"})
	// Once a view with the graft is published, the stream catches up to it.
	waitView(t, d, "the graft", func(v *automaton.View) bool { return len(v.Mesh) == 1 })
	last := first.Seq
	for {
		v := next()
		if v.Seq <= last {
			t.Fatalf("seq went from %d to %d", last, v.Seq)
		}
		last = v.Seq
		if len(v.Mesh) == 1 {
			break
		}
	}
}

// Kill requests: refused while read-only, and without the header; with
// control they stop the node, whose vertex then shows dead.
func TestKill(t *testing.T) {
	ro, _ := start(t, []dashboard.Source{{Name: "a", Bus: newBus(t), ID: self, Kill: func() error { return nil }}})
	if code := post(t, ro.URL()+"api/nodes/a/kill", true); code != http.StatusForbidden {
		t.Errorf("read-only kill: %d", code)
	}

	b := newBus(t)
	var kills atomic.Int32
	var once sync.Once
	kill := func() error {
		kills.Add(1)
		once.Do(func() { b.Close() })
		return nil
	}
	d, _ := start(t, []dashboard.Source{
		{Name: "a", Bus: b, ID: self, Kill: kill},
		{Name: "b", Bus: newBus(t), ID: other},
	}, dashboard.WithControl())
	v := waitView(t, d, "two nodes", func(v *automaton.View) bool { return len(v.Nodes) == 2 })
	if !v.Control || !v.Nodes[0].Killable || v.Nodes[1].Killable {
		t.Errorf("killable flags: %+v", v.Nodes)
	}
	for _, c := range []struct {
		path   string
		header bool
		want   int
	}{
		{"api/nodes/a/kill", false, http.StatusForbidden},
		{"api/nodes/zz/kill", true, http.StatusNotFound},
		{"api/nodes/b/kill", true, http.StatusConflict},
		{"api/nodes/a/kill", true, http.StatusAccepted},
	} {
		if code := post(t, d.URL()+c.path, c.header); code != c.want {
			t.Errorf("POST %s (header %v): %d, want %d", c.path, c.header, code, c.want)
		}
	}
	waitView(t, d, "node a stopped", func(v *automaton.View) bool { return !v.Nodes[0].Alive })
	if code := post(t, d.URL()+"api/nodes/a/kill", true); code != http.StatusConflict {
		t.Errorf("second kill: %d", code)
	}
	if kills.Load() != 1 {
		t.Errorf("kill ran %d times", kills.Load())
	}
}

func post(t *testing.T, url string, header bool) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	if header {
		req.Header.Set(dashboard.KillHeader, dashboard.KillHeaderValue)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func newBusF(f *testing.F) *eventbus.Bus {
	b := eventbus.New()
	f.Cleanup(func() { b.Close() })
	return b
}
