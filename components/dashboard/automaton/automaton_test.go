package automaton

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	pA = peer.ID("peer-A")
	pB = peer.ID("peer-B")
	pC = peer.ID("peer-C")
)

var (
	sA, sB, sC = pA.String(), pB.String(), pC.String()
)

func attached(t *testing.T, names ...string) *Automaton {
	t.Helper()
	a := New(Config{Control: true})
	var out Output
	for i, n := range names {
		if o := a.HandleAttached(t0, NodeInfo{Name: n, ID: []peer.ID{pA, pB, pC}[i], Killable: i == 0}, &out); o != Applied {
			t.Fatalf("attach %s: %v", n, o)
		}
	}
	return a
}

func edges(v *View) []string {
	var out []string
	for _, m := range v.Mesh {
		out = append(out, m.Topic+":"+m.From+">"+m.To)
	}
	return out
}

func fanoutEdges(v *View) []string {
	var out []string
	for _, f := range v.Fanout {
		out = append(out, f.Topic+":"+f.From+">"+f.To)
	}
	return out
}

// foldStep is one event handed to a node's fold and the outcome it must
// have.
type foldStep struct {
	node string
	ev   any
	want Outcome
}

// applySteps hands a each step's event in order and checks its outcome.
func applySteps(t *testing.T, a *Automaton, steps []foldStep) {
	t.Helper()
	var out Output
	for i, s := range steps {
		out.Reset()
		if got := a.HandleEvent(t0, s.node, s.ev, &out); got != s.want {
			t.Errorf("step %d (%T on %s): %v, want %v", i, s.ev, s.node, got, s.want)
		}
	}
}

// The fanout follows EvtFanoutPeerAdded/Removed per node and topic, a
// resync replaces it, and a stopped node has none; direct peers, from
// EvtRouterPeerAdded or a resync, mark their vertex and connection.
func TestFanoutAndDirectFold(t *testing.T) {
	a := attached(t, "a", "b")
	applySteps(t, a, []foldStep{
		{"a", events.EvtFanoutPeerAdded{Peer: pB, Topic: "t"}, Applied},
		{"a", events.EvtFanoutPeerAdded{Peer: pC, Topic: "t"}, Applied},
		{"b", events.EvtFanoutPeerAdded{Peer: pC, Topic: "u"}, Applied},
		{"a", events.EvtFanoutPeerRemoved{Peer: pC, Topic: "t", Reason: events.FanoutReasonPeerLeft}, Applied},
		{"a", events.EvtFanoutPeerRemoved{Peer: pC, Topic: "t", Reason: events.FanoutReasonPeerLeft}, Unchanged},
		{"a", events.EvtRouterPeerAdded{Peer: pC, Direct: true}, Applied},
		{"a", events.EvtRouterPeerAdded{Peer: pB}, Unchanged},
		{"a", events.EvtConnOpened{ConnID: "c1", Peer: pC, Direction: network.DirOutbound}, Applied},
		{"a", events.EvtConnOpened{ConnID: "c2", Peer: pB, Direction: network.DirOutbound}, Applied},
	})
	var out Output
	v := a.View(t0, 1)
	want := []string{"t:" + sA + ">" + sB, "u:" + sB + ">" + sC}
	if got := fanoutEdges(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("fanout %v, want %v", got, want)
	}
	for _, c := range v.Conns {
		if c.Direct != (c.To == sC) {
			t.Errorf("connection %+v: direct should be %v", c, c.To == sC)
		}
	}
	for _, x := range v.Vertices {
		if x.Direct != (x.ID == sC) {
			t.Errorf("vertex %+v: direct should be %v", x, x.ID == sC)
		}
	}
	// Expiry empties the topic's set.
	a.HandleEvent(t0, "a", events.EvtFanoutPeerRemoved{Peer: pB, Topic: "t", Reason: events.FanoutReasonExpired}, &out)
	if got := fanoutEdges(a.View(t0, 2)); !reflect.DeepEqual(got, []string{"u:" + sB + ">" + sC}) {
		t.Fatalf("fanout after expiry %v", got)
	}
	// A resync replaces fanout and direct peers.
	a.HandleResync(t0, "a", Resync{Fanout: map[string][]peer.ID{"w": {pB}}, Direct: []peer.ID{pB}}, &out)
	v = a.View(t0, 3)
	if got := fanoutEdges(v); !reflect.DeepEqual(got, []string{"u:" + sB + ">" + sC, "w:" + sA + ">" + sB}) {
		t.Fatalf("fanout after resync %v", got)
	}
	for _, c := range v.Conns {
		if c.Direct != (c.To == sB) {
			t.Errorf("after resync, connection %+v: direct should be %v", c, c.To == sB)
		}
	}
	a.HandleStopped(t0, "b", &out)
	if got := fanoutEdges(a.View(t0, 4)); !reflect.DeepEqual(got, []string{"w:" + sA + ">" + sB}) {
		t.Fatalf("fanout after b stopped %v", got)
	}
}

// The mesh follows grafts and prunes, per node and topic; a prune of a peer
// not in the mesh and a rejected graft change nothing but the counters.
func TestMeshFold(t *testing.T) {
	a := attached(t, "a", "b")
	applySteps(t, a, []foldStep{
		{"a", events.EvtTopicJoined{Topic: "t"}, Applied},
		{"a", events.EvtPeerGrafted{Peer: pB, Topic: "t", Outbound: true}, Applied},
		{"b", events.EvtPeerGrafted{Peer: pA, Topic: "t"}, Applied},
		{"a", events.EvtPeerGrafted{Peer: pC, Topic: "u"}, Applied},
		{"a", events.EvtPeerPruned{Peer: pC, Topic: "t", Reason: events.PruneReasonGraftRejected}, Unchanged},
		{"a", events.EvtPeerPruned{Peer: pC, Topic: "u", Reason: events.PruneReasonRemote}, Applied},
		{"c", events.EvtPeerGrafted{Peer: pA, Topic: "t"}, UnknownNode},
		{"a", struct{ X int }{1}, Ignored},
		{"a", nil, Ignored},
	})
	var out Output
	v := a.View(t0, 1)
	want := []string{"t:" + sA + ">" + sB, "t:" + sB + ">" + sA}
	if got := edges(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("mesh %v, want %v", got, want)
	}
	if !v.Mesh[0].Outbound || v.Mesh[1].Outbound {
		t.Errorf("directions: %+v", v.Mesh)
	}
	tv := v.Nodes[0].Topics
	if len(tv) != 2 || tv[0].Topic != "t" || tv[0].Grafts != 1 || tv[0].Mesh != 1 ||
		!reflect.DeepEqual(tv[0].Prunes, []TypeCount{{"graft_rejected", 1}}) {
		t.Errorf("topic view: %+v", tv)
	}
	// Leaving clears the topic's mesh.
	a.HandleEvent(t0, "a", events.EvtTopicLeft{Topic: "t"}, &out)
	if got := edges(a.View(t0, 2)); !reflect.DeepEqual(got, []string{"t:" + sB + ">" + sA}) {
		t.Errorf("after leave: %v", got)
	}
}

// EvtPeerChoked marks a mesh lane (ByUs: the node choked the peer;
// otherwise the peer choked the node); a graft starts unmarked, a prune
// drops the lane, a peer outside the mesh changes nothing, and a resync
// with the router's choke state sets the marks again.
func TestChokeFold(t *testing.T) {
	a := attached(t, "a", "b")
	applySteps(t, a, []foldStep{
		{"a", events.EvtPeerGrafted{Peer: pB, Topic: "t"}, Applied},
		{"a", events.EvtPeerGrafted{Peer: pC, Topic: "t"}, Applied},
		{"a", events.EvtPeerChoked{Peer: pB, Topic: "t", ByUs: true, Choked: true}, Applied},
		{"a", events.EvtPeerChoked{Peer: pC, Topic: "t", Choked: true}, Applied},
		{"a", events.EvtPeerChoked{Peer: pC, Topic: "u", ByUs: true, Choked: true}, Unchanged},
	})
	var out Output
	marks := func(v *View) map[string][2]bool {
		m := map[string][2]bool{}
		for _, e := range v.Mesh {
			m[e.To] = [2]bool{e.Choked, e.ChokedBy}
		}
		return m
	}
	if got := marks(a.View(t0, 1)); got[sB] != [2]bool{true, false} || got[sC] != [2]bool{false, true} {
		t.Fatalf("marks %v", got)
	}
	a.HandleEvent(t0, "a", events.EvtPeerChoked{Peer: pB, Topic: "t", ByUs: true}, &out)
	a.HandleEvent(t0, "a", events.EvtPeerPruned{Peer: pC, Topic: "t"}, &out)
	a.HandleEvent(t0, "a", events.EvtPeerGrafted{Peer: pC, Topic: "t"}, &out)
	if got := marks(a.View(t0, 2)); got[sB] != [2]bool{} || got[sC] != [2]bool{} {
		t.Fatalf("after unchoke and a new graft: marks %v", got)
	}
	a.HandleResync(t0, "a", Resync{Mesh: map[string][]peer.ID{"t": {pB, pC}},
		Choked: map[string]ChokeState{"t": {Ours: []peer.ID{pC}, Theirs: []peer.ID{pB}}}}, &out)
	if got := marks(a.View(t0, 3)); got[sB] != [2]bool{false, true} || got[sC] != [2]bool{true, false} {
		t.Fatalf("after resync: marks %v", got)
	}
}

// Connections are folded per peer with their directions; a stopped node
// loses its edges but keeps its vertex, marked dead, and ignores events.
func TestConnsAndStop(t *testing.T) {
	a := attached(t, "a", "b")
	var out Output
	a.HandleEvent(t0, "a", events.EvtConnOpened{Peer: pB, ConnID: "1", Direction: network.DirOutbound}, &out)
	a.HandleEvent(t0, "a", events.EvtConnOpened{Peer: pB, ConnID: "2", Direction: network.DirInbound}, &out)
	a.HandleEvent(t0, "a", events.EvtConnOpened{Peer: pC, ConnID: "3", Direction: network.DirInbound}, &out)
	a.HandleEvent(t0, "b", events.EvtConnOpened{Peer: pA, ConnID: "9", Direction: network.DirInbound}, &out)
	if o := a.HandleEvent(t0, "a", events.EvtConnClosed{Peer: pC, ConnID: "3"}, &out); o != Applied {
		t.Errorf("close: %v", o)
	}
	if o := a.HandleEvent(t0, "a", events.EvtConnClosed{Peer: pC, ConnID: "3"}, &out); o != Unchanged {
		t.Errorf("second close: %v", o)
	}
	v := a.View(t0, 1)
	want := []ConnEdge{{From: sA, To: sB, Outbound: 1, Inbound: 1}, {From: sB, To: sA, Inbound: 1}}
	if !reflect.DeepEqual(v.Conns, want) {
		t.Errorf("conns %+v, want %+v", v.Conns, want)
	}
	if len(v.Vertices) != 2 {
		t.Errorf("vertices %+v", v.Vertices)
	}
	if o := a.HandleStopped(t0, "b", &out); o != Applied {
		t.Fatalf("stop: %v", o)
	}
	if o := a.HandleStopped(t0, "b", &out); o != Unchanged {
		t.Errorf("second stop: %v", o)
	}
	if o := a.HandleEvent(t0, "b", events.EvtTopicJoined{Topic: "t"}, &out); o != NodeDown {
		t.Errorf("event after stop: %v", o)
	}
	v = a.View(t0, 2)
	if len(v.Conns) != 1 || v.Nodes[1].Alive || v.Nodes[1].Killable {
		t.Errorf("after stop: conns %+v nodes %+v", v.Conns, v.Nodes)
	}
	for _, x := range v.Vertices {
		if x.ID == sB && (x.Alive || x.Node != "b") {
			t.Errorf("stopped vertex %+v", x)
		}
	}
	if !v.Nodes[0].Killable {
		t.Error("node a, attached with a kill function, is not killable")
	}
}

// Scores, thresholds, crossings, penalties and breakdowns reach the peer view.
func TestScores(t *testing.T) {
	a := attached(t, "a")
	var out Output
	thr := events.ScoreThresholds{Gossip: -10, Publish: -50, Graylist: -80, AcceptPX: 10, OpportunisticGraft: 1}
	a.HandleEvent(t0, "a", events.EvtPeerScoreThresholdCrossed{Peer: pB, Threshold: events.ThresholdGossip, Below: true, Score: -20}, &out)
	a.HandleEvent(t0, "a", events.EvtPeerPenalized{Peer: pB, Reason: events.PenaltyBrokenPromise, Count: 3}, &out)
	a.HandleEvent(t0, "a", events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: pB, Score: -20}, {Peer: pC, Score: 12}}, Thresholds: thr}, &out)
	a.HandleStats(t0, "a", Stats{Terms: map[peer.ID]ScoreTerms{pB: {Score: -20, P7: 4}}}, &out)
	n := a.View(t0, 1).Nodes[0]
	if len(n.Peers) != 2 {
		t.Fatalf("peers %+v", n.Peers)
	}
	b, c := n.Peers[0], n.Peers[1]
	if !reflect.DeepEqual(b.Below, []string{"gossip", "accept_px", "opportunistic_graft"}) || len(c.Below) != 0 {
		t.Errorf("below: %v / %v", b.Below, c.Below)
	}
	if b.Terms == nil || b.Terms.P7 != 4 || c.Terms != nil {
		t.Errorf("terms: %+v / %+v", b.Terms, c.Terms)
	}
	if !reflect.DeepEqual(b.Penalties, []TypeCount{{"broken_promise", 3}}) {
		t.Errorf("penalties %+v", b.Penalties)
	}
	if len(n.Crossings) != 1 || n.Crossings[0].Threshold != "gossip" || !n.Crossings[0].Below {
		t.Errorf("crossings %+v", n.Crossings)
	}
	if n.Thresholds.AcceptPX != 10 {
		t.Errorf("thresholds %+v", n.Thresholds)
	}
	// Once B is no longer scored, its penalties are forgotten at the next
	// sample.
	a.HandleEvent(t0, "a", events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: pC, Score: 12}}, Thresholds: thr}, &out)
	a.HandleStats(t0, "a", Stats{}, &out)
	if len(a.nodes["a"].penalties) != 0 {
		t.Errorf("penalties of an unscored peer kept: %v", a.nodes["a"].penalties)
	}
}

// Topic counters and the message rate over the sampling window.
func TestTopicCountersAndRate(t *testing.T) {
	a := attached(t, "a")
	var out Output
	a.HandleEvent(t0, "a", events.EvtTopicJoined{Topic: "t"}, &out)
	a.HandleStats(t0, "a", Stats{}, &out)
	for range 10 {
		a.HandleEvent(t0, "a", events.EvtMessageDelivered{Topic: "t"}, &out)
	}
	a.HandleEvent(t0, "a", events.EvtMessagePublished{Topic: "t"}, &out)
	a.HandleEvent(t0, "a", events.EvtMessageDuplicated{Topic: "t"}, &out)
	a.HandleEvent(t0, "a", events.EvtMessageRejected{Topic: "t", Reason: events.RejectInvalidSignature}, &out)
	a.HandleEvent(t0, "a", events.EvtMessageRejected{Topic: "t", Reason: events.RejectInvalidSignature}, &out)
	a.HandleStats(t0.Add(2*time.Second), "a", Stats{}, &out)
	tv := a.View(t0, 1).Nodes[0].Topics[0]
	if tv.Delivered != 10 || tv.Published != 1 || tv.Dups != 1 || tv.Rate != 5.5 {
		t.Errorf("topic %+v", tv)
	}
	if !reflect.DeepEqual(tv.Rejected, []TypeCount{{"invalid_signature", 2}}) {
		t.Errorf("rejected %+v", tv.Rejected)
	}
	// Samples older than the window are forgotten.
	a.HandleStats(t0.Add(20*time.Second), "a", Stats{}, &out)
	if r := a.View(t0, 2).Nodes[0].Topics[0].Rate; r != 0 {
		t.Errorf("idle rate %v", r)
	}
}

// Peer-manager events become counters and a bounded log.
func TestPeerMgr(t *testing.T) {
	a := New(Config{MaxLog: 3})
	var out Output
	a.HandleAttached(t0, NodeInfo{Name: "a", ID: pA}, &out)
	for _, ev := range []any{
		events.EvtPeerDiscovered{Peer: pB, Source: events.SourceStatic},
		events.EvtDialAttempted{Peer: pB, Attempt: 1},
		events.EvtDialFailed{Peer: pB, Reason: events.DialFailTimeout, Failures: 1},
		events.EvtPeerBackedOff{Peer: pB, Until: t0.Add(time.Minute), Failures: 1},
		events.EvtPeerBackedOff{Peer: pC, Permanent: true},
		events.EvtPeerEvicted{Peer: pC, Reason: events.EvictColocation},
		events.EvtPeerRecordRejected{From: pB, Reason: "bad signature"},
	} {
		if o := a.HandleEvent(t0, "a", ev, &out); o != Applied {
			t.Errorf("%T: %v", ev, o)
		}
	}
	pm := a.View(t0, 1).Nodes[0].PeerMgr
	if pm.Discovered != 1 || pm.Dials != 1 || pm.Backoffs != 2 || pm.BackedOffNow != 2 || pm.RecordsRefused != 1 {
		t.Errorf("peermgr %+v", pm)
	}
	if !reflect.DeepEqual(pm.Evictions, []TypeCount{{"colocation", 1}}) || !reflect.DeepEqual(pm.DialFailures, []TypeCount{{"timeout", 1}}) {
		t.Errorf("reasons %+v %+v", pm.Evictions, pm.DialFailures)
	}
	if len(pm.Recent) != 3 {
		t.Errorf("recent %d lines, want 3 (MaxLog)", len(pm.Recent))
	}
	// The timed backoff ends; the permanent one stays, also after a stats
	// sample forgot the expired one.
	if n := a.View(t0.Add(2*time.Minute), 2).Nodes[0].PeerMgr.BackedOffNow; n != 1 {
		t.Errorf("backed off after expiry: %d", n)
	}
	a.HandleStats(t0.Add(2*time.Minute), "a", Stats{}, &out)
	if n := len(a.nodes["a"].pm.backedOff); n != 1 {
		t.Errorf("%d backoffs remembered after the sample, want 1 (the permanent one)", n)
	}
}

// A resync replaces the mesh and the connections built from events.
func TestResync(t *testing.T) {
	a := attached(t, "a")
	var out Output
	a.HandleEvent(t0, "a", events.EvtPeerGrafted{Peer: pB, Topic: "t"}, &out)
	a.HandleEvent(t0, "a", events.EvtPeerGrafted{Peer: pC, Topic: "u", Outbound: true}, &out)
	a.HandleEvent(t0, "a", events.EvtConnOpened{Peer: pB, ConnID: "1", Direction: network.DirOutbound}, &out)
	a.HandleResync(t0, "a", Resync{
		Mesh:  map[string][]peer.ID{"t": {pC}, "u": {pC}},
		Conns: []Conn{{ID: "7", Peer: pC, Direction: network.DirInbound}},
	}, &out)
	v := a.View(t0, 1)
	if got := edges(v); !reflect.DeepEqual(got, []string{"t:" + sA + ">" + sC, "u:" + sA + ">" + sC}) {
		t.Errorf("mesh %v", got)
	}
	// Who grafted survives for the peer still in u's mesh; the snapshot
	// cannot tell for the one it added to t.
	for _, e := range v.Mesh {
		if want := e.Topic == "u"; e.Outbound != want {
			t.Errorf("edge %s>%s in %s: outbound %v, want %v", e.From, e.To, e.Topic, e.Outbound, want)
		}
	}
	if len(v.Conns) != 1 || v.Conns[0].To != sC || v.Nodes[0].Resyncs != 1 {
		t.Errorf("conns %+v", v.Conns)
	}
	// A later close of the resynced connection is matched by id.
	if o := a.HandleEvent(t0, "a", events.EvtConnClosed{Peer: pC, ConnID: "7"}, &out); o != Applied {
		t.Errorf("close after resync: %v", o)
	}
	if o := a.HandleResync(t0, "zz", Resync{}, &out); o != UnknownNode {
		t.Errorf("resync of unknown node: %v", o)
	}
}

// Views of the same state marshal identically (sorted lists), and every
// list is present (never null) so the page need not guard.
func TestViewDeterministic(t *testing.T) {
	build := func() []byte {
		a := attached(t, "a", "b", "c")
		var out Output
		for _, p := range []peer.ID{pC, pB} {
			a.HandleEvent(t0, "a", events.EvtPeerGrafted{Peer: p, Topic: "z"}, &out)
			a.HandleEvent(t0, "a", events.EvtPeerGrafted{Peer: p, Topic: "y"}, &out)
			a.HandleEvent(t0, "a", events.EvtConnOpened{Peer: p, ConnID: string(p)}, &out)
		}
		b, err := json.Marshal(a.View(t0, 1))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := build()
	for range 20 {
		if b := build(); string(b) != string(first) {
			t.Fatalf("views differ:\n%s\n%s", first, b)
		}
	}
	empty, _ := json.Marshal(New(Config{}).View(t0, 0))
	var m map[string]any
	json.Unmarshal(empty, &m)
	for _, k := range []string{"nodes", "vertices", "conns", "mesh"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("empty view: %s is %v, want []", k, m[k])
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	seen := map[string]bool{}
	for o := Applied; o <= NodeDown; o++ {
		s := o.String()
		if seen[s] || s == "" {
			t.Errorf("outcome %d named %q (repeated or empty)", o, s)
		}
		seen[s] = true
	}
	if Outcome(0).String() != "outcome(0)" {
		t.Errorf("zero outcome: %q", Outcome(0).String())
	}
}

// Re-attaching the same node is Unchanged; under a new id it starts over.
func TestReattach(t *testing.T) {
	a := attached(t, "a")
	var out Output
	a.HandleEvent(t0, "a", events.EvtPeerGrafted{Peer: pB, Topic: "t"}, &out)
	if o := a.HandleAttached(t0, NodeInfo{Name: "a", ID: pA}, &out); o != Unchanged {
		t.Errorf("same attach: %v", o)
	}
	if o := a.HandleAttached(t0, NodeInfo{Name: "a", ID: pC}, &out); o != Applied {
		t.Errorf("new id: %v", o)
	}
	v := a.View(t0, 1)
	if len(v.Nodes) != 1 || len(v.Mesh) != 0 || v.Nodes[0].ID != sC {
		t.Errorf("after re-attach: %+v", v)
	}
}
