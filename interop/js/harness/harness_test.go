package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKindsInterleave(t *testing.T) {
	got := kinds(3, 2)
	want := []Kind{KindGo, KindJS, KindGo, KindJS, KindGo}
	if len(got) != len(want) {
		t.Fatalf("kinds(3, 2) = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("kinds(3, 2) = %v, want %v", got, want)
		}
	}
	if got := kinds(1, 3); got[0] != KindGo || got[1] != KindJS || got[2] != KindJS || got[3] != KindJS {
		t.Fatalf("kinds(1, 3) = %v", got)
	}
}

func TestTopology(t *testing.T) {
	for _, tc := range []struct {
		kind  Topology
		n     int
		links int
	}{
		{TopologyRing, 2, 1},
		{TopologyRing, 3, 3},
		{TopologyRing, 4, 4},
		{TopologyRing, 5, 8}, // ring 5 + chords 0-2, 2-4, 4-1: 0-3 and 1-3 need relays
		{TopologyRing, 12, 18},
		{TopologyFull, 5, 10},
		{TopologyFull, 12, 66},
	} {
		links := topology(tc.kind, tc.n)
		if len(links) != tc.links {
			t.Errorf("%s/%d: %d links %v, want %d", tc.kind, tc.n, len(links), links, tc.links)
		}
		seen := map[[2]int]bool{}
		degree := make([]int, tc.n)
		for _, l := range links {
			k := [2]int{min(l.From, l.To), max(l.From, l.To)}
			if l.From == l.To || seen[k] || l.From >= tc.n || l.To >= tc.n {
				t.Fatalf("%s/%d: bad or repeated link %v in %v", tc.kind, tc.n, l, links)
			}
			seen[k] = true
			degree[l.From]++
			degree[l.To]++
		}
		for i, d := range degree {
			if d == 0 {
				t.Fatalf("%s/%d: node %d has no link", tc.kind, tc.n, i)
			}
			// Ring nodes fit in a mesh of D=6: every link is grafted.
			if tc.kind == TopologyRing && d > 4 {
				t.Fatalf("ring/%d: node %d has %d links", tc.n, i, d)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.JSPeers != 2 || c.GoNodes != 3 || c.Messages != 50 || c.MsgID != MsgIDSpec || c.Topology != TopologyRing || c.Assembly != AssemblyHost {
		t.Fatalf("defaults: %+v", c)
	}
	for field, c := range map[string]Config{
		"JSPeers":                     {JSPeers: -1},
		"GoNodes":                     {GoNodes: -1},
		"JSPeers+GoNodes":             {JSPeers: 40, GoNodes: 40},
		"Messages":                    {Messages: 1},
		"MinPayload/MaxPayload":       {MinPayload: 100, MaxPayload: 50},
		"LargeMessage":                {LargeMessage: 1 << 20},
		"MsgID":                       {MsgID: "sha256"},
		"Topology":                    {Topology: "star"},
		"Assembly":                    {Assembly: "kitchen-sink"},
		"MeshTimeout/DeliveryTimeout": {MeshTimeout: -time.Second},
	} {
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), field+" ") {
			t.Errorf("%s: got %v, want ErrInvalidConfig naming the field", field, err)
		}
	}
}

// passing is a Result of a run where everything held.
func passing() *Result {
	return &Result{
		MsgID: MsgIDSpec, Topology: TopologyRing, AllLinksInMesh: true, Messages: 2,
		Nodes: []string{"go0 (meshbus) A", "js0 (js-libp2p) B"},
		Links: []string{"go0 -> js0"},
		Pairs: []PairStats{
			{From: KindGo, To: KindGo}, {From: KindGo, To: KindJS, Expected: 1, Delivered: 1},
			{From: KindJS, To: KindGo, Expected: 1, Delivered: 1}, {From: KindJS, To: KindJS},
		},
		Negotiations: []Negotiation{
			{Observer: "go0", Peer: "js0", ObserverKind: KindGo, Protocol: "/meshsub/1.2.0", Grafts: 1},
			{Observer: "js0", Peer: "go0", ObserverKind: KindJS, Protocol: "/meshsub/1.2.0", Grafts: 1, Scored: true},
		},
		IDChecks:   2,
		GoRejected: map[string]int{},
		MeshSizes:  map[Kind][]int{KindGo: {1}, KindJS: {1}},
	}
}

func TestResultErr(t *testing.T) {
	if err := passing().Err(); err != nil {
		t.Fatalf("passing result: %v", err)
	}
	for name, tc := range map[string]struct {
		mutate func(*Result)
		want   string
	}{
		"missing":      {func(r *Result) { r.Pairs[1].Delivered = 0 }, "meshbus -> js-libp2p: 1 of 1 deliveries missing"},
		"duplicate":    {func(r *Result) { r.Pairs[2].Duplicates = 1 }, "1 duplicate deliveries"},
		"floodsub":     {func(r *Result) { r.Negotiations[0].Protocol = "/floodsub/1.0.0" }, `go0 negotiated "/floodsub/1.0.0" with js0`},
		"not grafted":  {func(r *Result) { r.Negotiations[1].Grafts = 0 }, "js0 never grafted go0"},
		"rejected":     {func(r *Result) { r.GoRejected["invalid_signature"] = 3 }, "meshbus rejected 3 messages: invalid_signature"},
		"js invalid":   {func(r *Result) { r.JSInvalid = 2 }, "js peers found 2 messages invalid"},
		"ids":          {func(r *Result) { r.IDMismatches = 1 }, "1 of 2 message ids differ"},
		"idontwant":    {func(r *Result) { r.JSIDontWantFromGo = IDontWantStat{IDs: 3, Known: 1} }, "2 of 3 IDONTWANT ids"},
		"score":        {func(r *Result) { r.Negotiations[1].Score = -5 }, "js0 scores go0 -5.00"},
		"penalty":      {func(r *Result) { r.Negotiations[0].Penalties = map[string]float64{"broken_promise": 2} }, "go0 penalised js0: map[broken_promise:2]"},
		"empty mesh":   {func(r *Result) { r.MeshSizes[KindJS][0] = 0 }, "mesh is empty"},
		"no cross":     {func(r *Result) { r.Negotiations = nil }, "no link between the two implementations"},
		"author":       {func(r *Result) { r.AuthorMismatches = 1 }, "another author"},
		"unexpected":   {func(r *Result) { r.Unexpected = 1 }, "nobody published"},
		"missing list": {func(r *Result) { r.Missing = []string{"message 3 from js0 never reached go0"} }, "message 3 from js0"},
	} {
		r := passing()
		tc.mutate(r)
		err := r.Err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Err() = %v, want it to contain %q", name, err, tc.want)
		}
	}
	// Under the JS library's own ids, differing ids are expected.
	r := passing()
	r.MsgID, r.IDMismatches, r.JSIDontWantFromGo = MsgIDJSDefault, 1, IDontWantStat{IDs: 3}
	r.Negotiations[1].Score, r.Negotiations[1].Penalties = -10, map[string]float64{"broken_promise": 1}
	if err := r.Err(); err != nil {
		t.Fatalf("js-default ids: %v", err)
	}
	// On a full topology not every link is grafted, but some must be.
	r = passing()
	r.Topology, r.AllLinksInMesh, r.Negotiations[1].Grafts = TopologyFull, false, 0
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "by js 0") {
		t.Fatalf("full topology without js grafts: %v", err)
	}
}

func TestWriteReport(t *testing.T) {
	var b strings.Builder
	r := passing()
	r.MeshFormed, r.DeliveryTime = 1200*time.Millisecond, 30*time.Millisecond
	if err := r.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"links (1, ring): go0 -> js0",
		"meshbus    js-libp2p  1         1          1.000  0",
		"negotiated between the implementations: /meshsub/1.2.0",
		"PASS: every message reached every node exactly once, both ways",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	r.Pairs[1].Delivered = 0
	r.Stderr = "--- js0 stderr ---\nboom\n"
	_ = r.WriteReport(&b)
	if !strings.Contains(b.String(), "FAIL:\n  meshbus -> js-libp2p: 1 of 1 deliveries missing") || !strings.Contains(b.String(), "boom") {
		t.Errorf("failing report:\n%s", b.String())
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tb := &tailBuffer{max: 8}
	_, _ = tb.Write([]byte("0123456789"))
	_, _ = tb.Write([]byte("ab"))
	if got := tb.String(); got != "[...]\n456789ab" {
		t.Fatalf("tail %q", got)
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if err := poll(context.Background(), time.Second, time.Millisecond, func() (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Fatalf("poll: %v after %d calls", err, n)
	}
	err := poll(context.Background(), 20*time.Millisecond, time.Millisecond, func() (bool, error) { return false, nil })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("poll never true: %v", err)
	}
	boom := errors.New("boom")
	if err := poll(context.Background(), time.Second, time.Millisecond, func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("poll error: %v", err)
	}
}

func TestPrerequisitesNameTheFix(t *testing.T) {
	empty := t.TempDir()
	_, err := CheckPrerequisites(empty)
	switch {
	case errors.Is(err, ErrNodeMissing):
		if !strings.Contains(err.Error(), SkipEnv) {
			t.Fatalf("error does not say what to do: %v", err)
		}
		return // without node the other checks are not reached
	case !errors.Is(err, ErrPeerNotInstalled) || !strings.Contains(err.Error(), PeerDirEnv):
		t.Fatalf("empty directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(empty, "peer.mjs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = CheckPrerequisites(empty)
	if !errors.Is(err, ErrPeerNotInstalled) || !strings.Contains(err.Error(), InstallCommand) || !strings.Contains(err.Error(), SkipEnv) {
		t.Fatalf("no node_modules: %v", err)
	}
	// node_modules from before floodsub was added: reinstall, naming it.
	gs := filepath.Join(empty, "node_modules", "@chainsafe", "libp2p-gossipsub")
	if err := os.MkdirAll(gs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gs, "package.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = CheckPrerequisites(empty)
	if !errors.Is(err, ErrPeerNotInstalled) || !strings.Contains(err.Error(), "floodsub") || !strings.Contains(err.Error(), InstallCommand) {
		t.Fatalf("node_modules without @libp2p/floodsub: %v", err)
	}
}

// Floodsub peers take none of gossipsub's options: StartJSPeer refuses the
// combination, naming it, before starting a process.
func TestStartJSPeerRefusesGossipsubOptionsForFloodsub(t *testing.T) {
	for _, o := range []JSOptions{
		{Floodsub: true, MsgID: MsgIDSpec},
		{Floodsub: true, Protocols: []string{"/meshsub/1.1.0"}},
		{Floodsub: true, Sparse: true},
		{Floodsub: true, NoMesh: true},
	} {
		p, err := StartJSPeer(context.Background(), "node-not-run", t.TempDir(), "fs", o)
		if p != nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Floodsub") {
			t.Fatalf("%+v: %v, %v", o, p, err)
		}
	}
	p, err := StartJSPeer(context.Background(), "node-not-run", t.TempDir(), "nm", JSOptions{Sparse: true, NoMesh: true})
	if p != nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "NoMesh") {
		t.Fatalf("Sparse with NoMesh: %v, %v", p, err)
	}
}
