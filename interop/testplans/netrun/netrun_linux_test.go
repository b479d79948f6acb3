package netrun

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needNamespaces skips the test, saying why, unless this machine lets the
// runner create network namespaces.
func needNamespaces(t *testing.T) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// TestRelayDelay checks that the delay the nodes see is the configured one:
// a TCP connect between two namespaces takes one round trip, 2 x (15 ms +
// 25 ms). The relay may run late under load (it reports by how much), never
// early.
func TestRelayDelay(t *testing.T) {
	needNamespaces(t)
	links := []LinkSpec{{Latency: 15 * time.Millisecond, RateMbit: 50}, {Latency: 25 * time.Millisecond, RateMbit: 50}}
	n, err := Setup(context.Background(), Prefix(), links, NetOptions{ForceRelay: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Teardown(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat("/run/netns/" + n.hub); !os.IsNotExist(err) {
			t.Errorf("hub namespace left behind: %v", err)
		}
	}()
	s, err := n.MeasureRTT(context.Background(), 0, 1, 15)
	if err != nil {
		t.Fatal(err)
	}
	want := 80 * time.Millisecond
	st := n.Relay().Stats()
	t.Logf("RTT samples %v; relay %+v", s, st)
	if s[0] < want-time.Millisecond {
		t.Fatalf("fastest RTT %v is below the configured %v", s[0], want)
	}
	// The median allows the relay's own lateness (a loaded machine).
	if med := s[len(s)/2]; med > want+50*time.Millisecond {
		t.Fatalf("median RTT %v is far above the configured %v (relay lateness max %v)", med, want, st.MaxLate)
	}
	if st.Frames == 0 {
		t.Fatal("relay saw no frames")
	}
}

// buildNodes builds both node binaries into a temporary directory of t.
func buildNodes(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: -short")
	}
	needNamespaces(t)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go toolchain to build the nodes: %v", err)
	}
	dir := t.TempDir()
	// One build command: both binaries link in parallel.
	b := exec.Command(gobin, "build", "-o", dir+"/", "../../../cmd/meshbus-interop", "../../../cmd/gopubsub-interop")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("building the nodes: %v\n%s", err, out)
	}
	return map[string]string{"go": filepath.Join(dir, "gopubsub-interop"), "meshbus": filepath.Join(dir, "meshbus-interop")}
}

// runMixed runs sc on 8 nodes, half meshbus and half go-libp2p-pubsub, and
// fails the test if a node failed or a namespace was left behind.
func runMixed(t *testing.T, bins map[string]string, sc Scenario) *Result {
	t.Helper()
	dir := t.TempDir()
	js, err := sc.Params()
	if err != nil {
		t.Fatal(err)
	}
	params := filepath.Join(dir, "params.json")
	if err := os.WriteFile(params, js, 0o644); err != nil {
		t.Fatal(err)
	}
	shares, _ := ParseComposition("go=50,meshbus=50")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{
		Params: params, Composition: shares, Bins: bins,
		Links: Links(sc.Nodes, 5*time.Millisecond, 15*time.Millisecond, 50, 5), Out: filepath.Join(dir, "out"), Seed: 5,
		Timeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) > 0 {
		t.Fatalf("nodes failed: %q", res.Failed)
	}
	for _, ns := range []string{Prefix() + "hub", Prefix() + "n0"} {
		if _, err := os.Stat("/run/netns/" + ns); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	if res.ProbeRTT < res.ExpectedRTT-time.Millisecond {
		t.Errorf("probe RTT %v below configured %v", res.ProbeRTT, res.ExpectedRTT)
	}
	return res
}

// TestMixedNetwork runs 8 nodes, half meshbus and half go-libp2p-pubsub, on
// the basic scenario end to end: every message must reach every node of
// both implementations.
func TestMixedNetwork(t *testing.T) {
	res := runMixed(t, buildNodes(t), Scenario{Name: "basic", Nodes: 8, Conns: 4, Setup: 4, Interval: 1, Messages: 5, Drain: 2, Seed: 5})
	t.Logf("\n%s", FormatTable("", res.Stats))
	if len(res.Stats) != 3 {
		t.Fatalf("want overall, go and meshbus rows: %+v", res.Stats)
	}
	for _, s := range res.Stats {
		if s.Messages != 5 || s.ReliabilityMin != 1 || s.ReachAllMissing != 0 {
			t.Errorf("%s: %d messages, reliability min %.2f, %d never reached all", s.Group, s.Messages, s.ReliabilityMin, s.ReachAllMissing)
		}
		// No message can beat the shortest path: two links of >= 5 ms.
		if s.ReachAll[0] < 10*time.Millisecond {
			t.Errorf("%s: reach-all p50 %v is below the network's minimum delay", s.Group, s.ReachAll[0])
		}
	}
}

// TestMixedPartial runs the partial-message scenarios on 8 mixed nodes:
// every node of both implementations must log "All parts received" for
// every group (partial: parts spread over all nodes, everyone publishes;
// partial-fanout: node 0, unsubscribed, offers whole groups to nodes 1-7).
func TestMixedPartial(t *testing.T) {
	bins := buildNodes(t)
	for _, name := range []string{"partial", "partial-fanout"} {
		t.Run(name, func(t *testing.T) {
			const groups = 3
			res := runMixed(t, bins, Scenario{Name: name, Nodes: 8, Conns: 4, Setup: 4, Interval: 2, Messages: groups, Drain: 4, Seed: 5})
			t.Logf("\n%s", FormatPartialTable(res.Partial))
			if len(res.Partial) != 3 {
				t.Fatalf("want overall, go and meshbus rows: %+v", res.Partial)
			}
			for _, s := range res.Partial {
				if s.Groups != groups || s.NodesAll != s.Nodes || s.Completions != s.Nodes*groups {
					t.Errorf("%s: %d groups, %d of %d nodes completed all (%d of %d completions)", s.Group, s.Groups, s.NodesAll, s.Nodes, s.Completions, s.Nodes*groups)
				}
			}
		})
	}
}
