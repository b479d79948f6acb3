package netrun

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

func TestParseLogAndAnalyze(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) string { return t0.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	line := func(v map[string]any) string { b, _ := json.Marshal(v); return string(b) + "\n" }
	// Four nodes: node0 (a) publishes message 1 at 0 ms and gets an echo;
	// node1 (a) gets it at 50 ms and again at 70; node2 (b) at 100, three
	// copies; node3 (b) never. Message 2 has no publish record: its origin
	// is its first receipt (node3 at 10 ms), node1 gets it at 30.
	logs := []string{
		line(map[string]any{"time": at(0), "msg": "PeerID", "id": "p0", "node_id": 0}) +
			line(map[string]any{"time": at(0), "msg": "Published Message", "id": "1"}) +
			line(map[string]any{"time": at(90), "msg": "Received Message", "id": "1"}),
		line(map[string]any{"time": at(0), "msg": "PeerID", "id": "p1", "node_id": 1}) +
			line(map[string]any{"time": at(70), "msg": "Received Message", "id": "1"}) +
			line(map[string]any{"time": at(50), "msg": "Received Message", "id": "1"}) +
			line(map[string]any{"time": at(30), "msg": "Received Message", "id": "2"}) + "not json\n",
		line(map[string]any{"time": at(100), "msg": "Received Message", "id": "1"}) +
			line(map[string]any{"time": at(110), "msg": "Received Message", "id": "1"}) +
			line(map[string]any{"time": at(120), "msg": "Received Message", "id": "1"}),
		line(map[string]any{"time": at(10), "msg": "Received Message", "id": "2"}),
	}
	impls := []string{"a", "a", "b", "b"}
	var parsed []NodeLog
	for i, l := range logs {
		nl, err := ParseLog(i, impls[i], strings.NewReader(l))
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, nl)
	}
	if parsed[1].BadLines != 1 || parsed[1].PeerID != "p1" {
		t.Fatalf("node1 log %+v", parsed[1])
	}
	st := Analyze(parsed)
	if len(st) != 3 || st[0].Group != "overall" || st[1].Group != "a" || st[2].Group != "b" {
		t.Fatalf("groups %+v", st)
	}
	all := st[0]
	// Message 1 reached 2 of 3 non-publishers; message 2, without a
	// publisher, reached 2 of 4 (node1, node3).
	if all.Messages != 2 || !near(all.ReliabilityMean, (2.0/3+0.5)/2) || !near(all.ReliabilityMin, 0.5) {
		t.Fatalf("overall reliability %+v", all)
	}
	// Deliveries: m1 node1, node2; m2 node1, node3 = 4. Duplicates: node0's
	// echo, node1's second copy, node2's two extra = 4.
	if all.Deliveries != 4 || all.Duplicates != 4 || !near(all.DupsPerDelivery, 1) {
		t.Fatalf("overall duplicates %+v", all)
	}
	if all.ReachAllMissing != 2 || all.Reach90Missing != 2 {
		t.Fatalf("overall reach %+v", all)
	}
	a := st[1] // node1 only is a target for m1 (node0 published): 100%.
	if a.ReachAllMissing != 1 || a.ReachAll[0] != 50*time.Millisecond {
		t.Fatalf("group a %+v", a)
	}
	b := st[2] // m1 reached node2 but not node3; m2 node3 but not node2.
	if !near(b.ReliabilityMean, 0.5) || b.ReachAllMissing != 2 || b.Reach90Missing != 2 {
		t.Fatalf("group b %+v", b)
	}
	tab := FormatTable("t", st)
	if !strings.Contains(tab, "| overall | 4 | 2 | 58.3% / 50.0% |") {
		t.Fatalf("table:\n%s", tab)
	}
}

// TestReliabilityLeavesOutMessagesWithoutTargets: a message whose only
// node in a group is its publisher has nobody there to reach; it counts
// in neither the group's mean nor its minimum.
func TestReliabilityLeavesOutMessagesWithoutTargets(t *testing.T) {
	// node0 (a) publishes 1, which node1 (b) gets; node1 publishes 2,
	// which node0 gets.
	parsed := parseLogs(t, []string{"a", "b"}, []string{
		record(0, "Published Message", "1") + record(20, "Received Message", "2"),
		record(10, "Received Message", "1") + record(15, "Published Message", "2"),
	})
	st := Analyze(parsed)
	if len(st) != 3 {
		t.Fatalf("groups %+v", st)
	}
	for _, s := range st {
		if !near(s.ReliabilityMean, 1) || !near(s.ReliabilityMin, 1) {
			t.Errorf("group %s: reliability %.3f mean, %.3f min; want 1 and 1", s.Group, s.ReliabilityMean, s.ReliabilityMin)
		}
	}
}

// logEpoch is the time the records of record count from.
var logEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// record is one JSON log line: msg about message id, ms after logEpoch.
func record(ms int, msg, id string) string {
	b, _ := json.Marshal(map[string]any{"time": logEpoch.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano), "msg": msg, "id": id})
	return string(b) + "\n"
}

// parseLogs parses node i's log logs[i] as implementation impls[i].
func parseLogs(t *testing.T, impls, logs []string) []NodeLog {
	t.Helper()
	var parsed []NodeLog
	for i, l := range logs {
		nl, err := ParseLog(i, impls[i], strings.NewReader(l))
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, nl)
	}
	return parsed
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// A repeated publish writes a second "Published Message" record; the
// message's origin stays the first publish.
func TestRepeatedPublishKeepsFirstOrigin(t *testing.T) {
	t0 := logEpoch
	parsed := parseLogs(t, []string{"a", "a"}, []string{
		record(40, "Published Message", "1") + record(0, "Published Message", "1") + record(60, "Published Message", "1"),
		record(50, "Received Message", "1"),
	})
	if got := parsed[0].Published["1"]; !got.Equal(t0) {
		t.Fatalf("origin %v, want the first publish %v", got, t0)
	}
	if st := Analyze(parsed); len(st) == 0 || st[0].ReachAll[0] != 50*time.Millisecond {
		t.Fatalf("reach-all %+v, want a p50 of 50ms", st)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	if p := percentiles(d); p != [3]time.Duration{50 * time.Millisecond, 90 * time.Millisecond, 99 * time.Millisecond} {
		t.Fatal(p)
	}
	if p := percentiles(nil); p != [3]time.Duration{} {
		t.Fatal(p)
	}
}

func TestComposition(t *testing.T) {
	s, err := ParseComposition("go=50,meshbus=50")
	if err != nil || len(s) != 2 {
		t.Fatal(s, err)
	}
	for _, bad := range []string{"go=60,meshbus=50", "go", "go=x", "=100", "go=-1,meshbus=101"} {
		if _, err := ParseComposition(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	s, _ = ParseComposition("go=34,meshbus=33,x=33")
	got := Assign(s, 32, 7)
	count := map[string]int{}
	for _, im := range got {
		count[im]++
	}
	// 32*34/100=10, 32*33/100=10, 10, remainder 2 to the first shares.
	if len(got) != 32 || count["go"] != 11 || count["meshbus"] != 11 || count["x"] != 10 {
		t.Fatal(count)
	}
	if strings.Join(Assign(s, 32, 7), ",") != strings.Join(got, ",") {
		t.Fatal("Assign is not deterministic")
	}
}

func TestScenarioParams(t *testing.T) {
	for _, name := range []string{"basic", "blob"} {
		sc := DefaultScenario(name, 32, 3)
		js, err := sc.Params()
		if err != nil {
			t.Fatal(err)
		}
		p, err := script.Parse(strings.NewReader(string(js)))
		if err != nil {
			t.Fatal(err)
		}
		var inits, publishes, delays int
		degree := make([]int, 32)
		for _, in := range p.Script {
			if c, ok := in.(script.IfNodeIDEquals); ok {
				switch v := c.Instruction.(type) {
				case script.InitGossipSub:
					inits++
				case script.Publish:
					publishes++
					if v.MessageSizeBytes != sc.MessageSize() {
						t.Fatalf("size %d", v.MessageSizeBytes)
					}
				case script.Connect:
					for _, to := range v.ConnectTo {
						degree[c.NodeID]++
						degree[to]++
					}
				}
			}
			if _, ok := in.(script.SetTopicValidationDelay); ok {
				delays++
			}
		}
		if inits != 32 || publishes != 16 || (delays == 1) != (name == "blob") {
			t.Fatalf("%s: inits %d publishes %d delays %d", name, inits, publishes, delays)
		}
		for i, d := range degree {
			if d < 20 {
				t.Fatalf("%s: node%d has %d links, want >= 20", name, i, d)
			}
		}
		if scriptEnd(p) != sc.Duration() {
			t.Fatalf("end %v, want %v", scriptEnd(p), sc.Duration())
		}
	}
	if _, err := (Scenario{Name: "nope", Nodes: 4, Messages: 1, Interval: 1, Setup: 1}).Params(); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}

// "All parts received" records count once per node and group; a node that
// completed nothing is counted as such, overall and per implementation.
func TestAnalyzePartial(t *testing.T) {
	rec := func(g int) string {
		return fmt.Sprintf(`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"All parts received","service":"gossipsub","group id":%d}`+"\n", g)
	}
	inputs := []struct {
		impl string
		log  string
	}{
		{"go", rec(1) + rec(2) + rec(2)},
		{"go", rec(1)},
		{"meshbus", rec(2) + rec(1)},
		{"meshbus", ""},
	}
	var logs []NodeLog
	for i, in := range inputs {
		l, err := ParseLog(i, in.impl, strings.NewReader(in.log))
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	got := AnalyzePartial(logs)
	want := []PartialStats{
		// No publish record: no completion time.
		{Group: "overall", Nodes: 4, Groups: 2, Completions: 5, NodesAll: 2, NodesNone: 1, CompleteAllMissing: 2, Complete90Missing: 2},
		{Group: "go", Nodes: 2, Groups: 2, Completions: 3, NodesAll: 1, NodesNone: 0, CompleteAllMissing: 2, Complete90Missing: 2},
		{Group: "meshbus", Nodes: 2, Groups: 2, Completions: 2, NodesAll: 1, NodesNone: 1, CompleteAllMissing: 2, Complete90Missing: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if AnalyzePartial(logs[3:]) != nil {
		t.Fatal("stats without any completion")
	}
	if tab := FormatPartialTable(got); !strings.Contains(tab, "| meshbus | 2 | 2 | 2 / 4 | 1 / 1 |") {
		t.Fatalf("table:\n%s", tab)
	}
}

// The completion time of a group counts from its first publish record
// anywhere until the last node (and the 90% node) of each group of nodes
// completed it; a node complete before the publish counts as 0.
func TestAnalyzePartialCompletionTime(t *testing.T) {
	at := func(ms int) string {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
	}
	pub := func(ms, g int) string {
		return fmt.Sprintf(`{"time":%q,"msg":"Published Partial","group id":%d,"topic":"t"}`+"\n", at(ms), g)
	}
	done := func(ms, g int) string {
		return fmt.Sprintf(`{"time":%q,"msg":"All parts received","group id":%d}`+"\n", at(ms), g)
	}
	inputs := []struct {
		impl string
		log  string
	}{
		{"go", done(90, 1) + pub(100, 1) + pub(1000, 2) + done(1300, 2)},
		{"go", pub(105, 1) + done(250, 1) + pub(1000, 2) + done(1200, 2)},
		{"meshbus", pub(100, 1) + done(180, 1) + pub(1001, 2) + done(1500, 2)},
		{"meshbus", pub(101, 1) + done(400, 1) + pub(1000, 2)},
	}
	var logs []NodeLog
	for i, in := range inputs {
		l, err := ParseLog(i, in.impl, strings.NewReader(in.log))
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	got := AnalyzePartial(logs)
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	// overall: group 1 complete everywhere at 400-100 = 300 ms, 90% of 4
	// nodes is 4 nodes (300 ms); group 2 never complete everywhere.
	if g := got[0]; g.CompleteAll != [3]time.Duration{ms(300), ms(300), ms(300)} || g.CompleteAllMissing != 1 || g.Complete90 != g.CompleteAll || g.Complete90Missing != 1 {
		t.Fatalf("overall: %+v", g)
	}
	// go: group 1 at max(0, 150) = 150 ms, group 2 at 300 ms.
	if g := got[1]; g.CompleteAll != [3]time.Duration{ms(150), ms(300), ms(300)} || g.CompleteAllMissing != 0 {
		t.Fatalf("go: %+v", g)
	}
	if tab := FormatPartialTable(got); !strings.Contains(tab, "| go | 2 | 2 | 4 / 4 | 2 / 0 | 150 / 300 / 300 | 150 / 300 / 300 |") ||
		!strings.Contains(tab, "(1 never)") {
		t.Fatalf("table:\n%s", tab)
	}
}

// CPU time sums per group of nodes, per node and per delivered message.
func TestAnalyzeCPU(t *testing.T) {
	logs := []NodeLog{{Node: 0, Impl: "go"}, {Node: 1, Impl: "meshbus"}, {Node: 2, Impl: "meshbus"}}
	cpu := []time.Duration{3 * time.Second, 1 * time.Second, 2 * time.Second}
	stats := []Stats{{Group: "overall", Deliveries: 600}, {Group: "go", Deliveries: 200}, {Group: "meshbus", Deliveries: 400}}
	got := AnalyzeCPU(logs, cpu, stats)
	want := []CPUStats{
		{Group: "overall", Nodes: 3, PerNode: 2 * time.Second, PerDelivery: 10 * time.Millisecond},
		{Group: "go", Nodes: 1, PerNode: 3 * time.Second, PerDelivery: 15 * time.Millisecond},
		{Group: "meshbus", Nodes: 2, PerNode: 1500 * time.Millisecond, PerDelivery: 7500 * time.Microsecond},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if tab := FormatCPU(got); !strings.Contains(tab, "| meshbus | 2 | 1.50 | 7.50 |") {
		t.Fatalf("table:\n%s", tab)
	}
	if AnalyzeCPU(logs, nil, stats) != nil {
		t.Fatal("stats without CPU figures")
	}
}

// A hop's time beyond the link delay: from the sender's first copy (or
// publish) to the receiver's first copy, minus both nodes' latency; counted
// for the sender's implementation.
func TestAnalyzeHops(t *testing.T) {
	at := func(ms int) string {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
	}
	peer := func(id string) string { return fmt.Sprintf(`{"msg":"PeerID","id":%q}`+"\n", id) }
	pub := func(ms int) string { return fmt.Sprintf(`{"time":%q,"msg":"Published Message","id":7}`+"\n", at(ms)) }
	recv := func(ms int, from string) string {
		return fmt.Sprintf(`{"time":%q,"msg":"Received Message","id":7,"from":%q}`+"\n", at(ms), from)
	}
	inputs := []struct{ impl, log string }{
		{"go", peer("A") + pub(0)},
		{"meshbus", peer("B") + recv(35, "A") + recv(90, "C")}, // 35 - 10 - 20 = 5 (by go)
		{"go", peer("C") + recv(60, "B") + recv(61, "A")},      // 60 - 35 - 20 - 3 = 2 (by meshbus)
	}
	var logs []NodeLog
	for i, in := range inputs {
		l, err := ParseLog(i, in.impl, strings.NewReader(in.log))
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	lat := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 3 * time.Millisecond}
	got := AnalyzeHops(logs, lat)
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	want := []HopStats{
		{Group: "overall", Hops: 2, Overhead: [3]time.Duration{ms(2), ms(5), ms(5)}},
		{Group: "go", Hops: 1, Overhead: [3]time.Duration{ms(5), ms(5), ms(5)}},
		{Group: "meshbus", Hops: 1, Overhead: [3]time.Duration{ms(2), ms(2), ms(2)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if tab := FormatHops(got); !strings.Contains(tab, "| meshbus | 1 | 2.0 / 2.0 / 2.0 |") {
		t.Fatalf("table:\n%s", tab)
	}
}

// Four nodes in one full mesh (degree 3); node 0 publishes and every other
// node forwards at once to the two others: each gets one first copy and
// two duplicates, the mesh-edge figure n×k/(n-1)-2 = 4×3/3-2 = 2, and
// nothing beyond it.
func TestDupSourcesEdgeDups(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	ids := []string{"p0", "p1", "p2", "p3"}
	var logs []NodeLog
	for i := range 4 {
		l := NodeLog{Node: i, Impl: []string{"a", "b"}[i%2], PeerID: ids[i], Received: map[string][]time.Time{}, From: map[string][]string{}, Published: map[string]time.Time{}}
		for j := range 4 {
			if j != i {
				l.Mesh = append(l.Mesh, MeshChange{At: ms(-10), Graft: true, Peer: ids[j]})
			}
		}
		if i == 0 {
			l.Published["1"] = ms(0)
		} else {
			l.Received["1"] = []time.Time{ms(10)}
			l.From["1"] = []string{"p0"}
			for j := 1; j < 4; j++ {
				if j != i {
					l.Received["1"] = append(l.Received["1"], ms(20))
					l.From["1"] = append(l.From["1"], ids[j])
				}
			}
		}
		logs = append(logs, l)
	}
	st := AnalyzeDupSources(logs)
	if len(st) != 3 || st[0].Group != "overall" {
		t.Fatalf("groups %+v", st)
	}
	o := st[0]
	if o.MeshDegree != 3 || o.EdgeDups != 2 || o.Deliveries != 3 || o.FromMesh != 6 || o.FirstFromPublisher != 3 {
		t.Fatalf("overall %+v", o)
	}
	if st[1].EdgeDups != 0 || st[2].EdgeDups != 0 {
		t.Fatalf("per-implementation rows have a mesh-edge figure: %+v", st[1:])
	}
	if got := FormatDupSources(st); !strings.Contains(got, "| 2.00 / +0.00 |") {
		t.Fatalf("table lacks the mesh-edge figure:\n%s", got)
	}
}
