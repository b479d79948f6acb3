package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/host"
)

// ScreenshotEnv names the file the browser test saves its screenshot to
// (default: a file in the system's temporary directory).
const screenshotEnv = "MESHBUS_DASHBOARD_SCREENSHOT"

// findBrowser returns a Chromium or Chrome executable, or "".
func findBrowser() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

type browserNode struct {
	name  string
	node  *host.Node
	r     *router.Router
	topic *router.Topic
	sub   *router.Subscription
}

// TestBrowser runs six real nodes with the dashboard and checks, in headless
// Chromium, that the page draws the six nodes and exactly the mesh edges the
// routers report, and that a prune shows within 2 s.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six libp2p nodes and a browser; skipped with -short")
	}
	exe := findBrowser()
	if exe == "" {
		t.Skip("no Chromium or Chrome in PATH (on Debian: apt-get install -y chromium; or set CHROME_PATH)")
	}
	const topic = "dashboard-test"
	const fanTopic = "dashboard-fanout"
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	d, err := dashboard.New(dashboard.WithAddr("127.0.0.1:0"), dashboard.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*browserNode
	defer func() {
		d.Close()
		for _, n := range nodes {
			n.node.Close()
		}
	}()
	// Keys first: n4 and n5 are each other's direct peers.
	keys := make([]crypto.PrivKey, 6)
	kids := make([]peer.ID, 6)
	for i := range keys {
		var err error
		if keys[i], _, err = crypto.GenerateEd25519Key(rand.NewChaCha8([32]byte{byte(i + 1)})); err != nil {
			t.Fatal(err)
		}
		if kids[i], err = peer.IDFromPrivateKey(keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	direct := map[int]peer.ID{4: kids[5], 5: kids[4]}
	for i := range 6 {
		bn := &browserNode{name: fmt.Sprintf("n%d", i)}
		// Score the topic, so the page has P1 and P2 to show.
		params := scoring.DefaultParams()
		params.Topics[topic] = scoring.DefaultTopicParams()
		fxo := []fx.Option{scoring.Options(scoring.WithParams(params))}
		if p, ok := direct[i]; ok {
			fxo = append(fxo, router.Options(router.WithDirectPeers(p)))
		}
		n, err := host.New(ctx, host.WithLogger(quiet), host.WithIdentity(keys[i]), host.WithFx(fxo...))
		if err != nil {
			t.Fatal(err)
		}
		bn.node, bn.r = n, n.Router()
		nodes = append(nodes, bn)
		if err := d.Attach(dashboard.Source{
			Name: bn.name, Bus: n.Bus(), ID: n.ID(), Host: n.Host(),
			Mesh: host.RouterMeshes(bn.r), Fanout: host.RouterFanouts(bn.r), Direct: bn.r.DirectPeers,
			Breakdowns: host.ScoreBreakdowns(n.Scoring()),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, bn := range nodes {
		if bn.topic, err = bn.r.Join(topic); err != nil {
			t.Fatal(err)
		}
		if bn.sub, err = bn.topic.Subscribe(router.SubscriptionBuffer(64)); err != nil {
			t.Fatal(err)
		}
	}
	// n0's ring neighbours join a second topic, which n0 publishes to
	// without joining it: a fanout.
	for _, i := range []int{1, 5} {
		tp, err := nodes[i].r.Join(fanTopic)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Subscribe(router.SubscriptionBuffer(64)); err != nil {
			t.Fatal(err)
		}
	}
	// A ring plus seeded chords.
	rng := rand.New(rand.NewPCG(3, 3))
	var links [][2]int
	for i := range nodes {
		links = append(links, [2]int{i, (i + 1) % len(nodes)})
	}
	for range 3 {
		if a, b := rng.IntN(len(nodes)), rng.IntN(len(nodes)); a != b {
			links = append(links, [2]int{a, b})
		}
	}
	for _, l := range links {
		if err := nodes[l[0]].node.Connect(ctx, nodes[l[1]].node.AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%v: nodes connected", time.Since(t0))
	waitUntil(t, ctx, "every node has a mesh peer", func() bool {
		for _, bn := range nodes {
			if len(bn.r.Mesh(topic)) == 0 {
				return false
			}
		}
		return true
	})
	for i := range 12 {
		if err := nodes[i%len(nodes)].topic.Publish(ctx, []byte(fmt.Sprintf("m%d", i)), router.RequirePeers()); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, ctx, "n0 sees both subscribers of "+fanTopic, func() bool { return len(nodes[0].r.TopicPeers(fanTopic)) == 2 })
	if err := nodes[0].r.Publish(ctx, fanTopic, []byte("via fanout"), router.RequirePeers()); err != nil {
		t.Fatal(err)
	}
	if f := nodes[0].r.Fanout(fanTopic); len(f) != 2 {
		t.Fatalf("n0's fanout of %s is %v, want its two subscribed neighbours", fanTopic, f)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1000),
	}
	t.Logf("%v: meshes formed", time.Since(t0))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(d.URL()), chromedp.WaitVisible("g.vertex")); err != nil {
		t.Skipf("the browser (%s) could not load the page: %v", exe, err)
	}

	t.Logf("%v: page loaded", time.Since(t0))
	// Six nodes, all local, all alive.
	var local []string
	waitPage(t, bctx, "six local nodes", func() bool {
		var err error
		local, err = chromedp.Run(bctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('g.vertex')].filter(g => g.dataset.node !== "" && g.dataset.alive === "1").map(g => g.dataset.id)`))
		if err != nil {
			t.Fatal(err)
		}
		return len(local) == 6
	})
	var ids []string
	for _, bn := range nodes {
		ids = append(ids, bn.node.ID().String())
	}
	sort.Strings(local)
	sort.Strings(ids)
	if !slices.Equal(local, ids) {
		t.Fatalf("page shows nodes %v, want %v", local, ids)
	}

	// Exactly the routers' mesh edges.
	want, got := matchMesh(t, bctx, nodes, 10*time.Second)
	if !slices.Equal(got, want) {
		t.Fatalf("page mesh edges %v\nrouters report   %v", got, want)
	}
	t.Logf("page shows 6 nodes and the routers' %d mesh edges", len(want))

	// Exactly the routers' fanout edges, drawn dashed.
	wantFan, gotFan := matchEdges(t, bctx, func() []string { return routerFanout(nodes) }, fanoutJS, 10*time.Second)
	if !slices.Equal(gotFan, wantFan) || len(wantFan) != 2 {
		t.Fatalf("page fanout edges %v\nrouters report     %v (want n0's two)", gotFan, wantFan)
	}
	dashed, err := chromedp.Run(bctx, chromedp.Evaluate[bool](
		`[...document.querySelectorAll('line.fanout')].every(e => getComputedStyle(e).strokeDasharray !== "none")`))
	if err != nil || !dashed {
		t.Fatalf("fanout edges not dashed (%v)", err)
	}
	t.Logf("page shows the routers' %d fanout edges, dashed: %v", len(wantFan), gotFan)

	// The direct peers are marked: the vertices of n4 and n5 and their
	// connection.
	wantDirect := []string{kids[4].String(), kids[5].String()}
	sort.Strings(wantDirect)
	var gotDirect []string
	waitPage(t, bctx, "the direct peers", func() bool {
		var err error
		if gotDirect, err = chromedp.Run(bctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('g.vertex.direct')].filter(g => g.dataset.direct === "1").map(g => g.dataset.id).sort()`)); err != nil {
			t.Fatal(err)
		}
		return slices.Equal(gotDirect, wantDirect)
	})
	conn, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('line.conn.direct')].map(e => [e.dataset.a, e.dataset.b].sort().join(">"))`))
	if err != nil {
		t.Fatal(err)
	}
	if want := wantDirect[0] + ">" + wantDirect[1]; !slices.Equal(conn, []string{want}) {
		t.Fatalf("direct connections on the page %v, want [%s]", conn, want)
	}
	t.Logf("page marks the direct peers %v and their connection", gotDirect)
	shot := screenshot(t, bctx, "")

	// Force a prune: n0 leaves the topic and prunes its whole mesh.
	victim := nodes[0].node.ID().String()
	start := time.Now()
	if err := nodes[0].topic.Close(); err != nil {
		t.Fatal(err)
	}
	var elapsed time.Duration
	waitPage(t, bctx, "the prune", func() bool {
		edges, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](meshJS))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range edges {
			if containsPeer(e, victim) {
				return false
			}
		}
		elapsed = time.Since(start)
		return true
	})
	if elapsed > 2*time.Second {
		t.Errorf("the page showed the prune after %v, want within 2s", elapsed)
	}
	t.Logf("prune shown on the page after %v", elapsed.Round(time.Millisecond))
	want, got = matchMesh(t, bctx, nodes, 10*time.Second)
	if !slices.Equal(got, want) {
		t.Fatalf("after the prune, page mesh edges %v\nrouters report %v", got, want)
	}
	screenshot(t, bctx, strings.TrimSuffix(shot, ".png")+"-after-prune.png")
}

const fanoutJS = `[...document.querySelectorAll('line.fanout')].map(e => e.dataset.topic + " " + e.dataset.from + ">" + e.dataset.to).sort()`

// routerFanout is what the routers report: "topic from>to" for every peer
// of every fanout set of every node, sorted.
func routerFanout(nodes []*browserNode) []string {
	var out []string
	for _, bn := range nodes {
		for _, topic := range bn.r.FanoutTopics() {
			for _, p := range bn.r.Fanout(topic) {
				out = append(out, topic+" "+bn.node.ID().String()+">"+p.String())
			}
		}
	}
	sort.Strings(out)
	return out
}

// matchEdges waits until the page's edges (js) equal the routers' (want),
// and returns both.
func matchEdges(t *testing.T, bctx context.Context, want func() []string, js string, within time.Duration) (w, got []string) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		w = want()
		var err error
		if got, err = chromedp.Run(bctx, chromedp.Evaluate[[]string](js)); err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, w) && len(w) > 0 || time.Now().After(deadline) {
			return w, got
		}
		<-tick.C
	}
}

const meshJS = `[...document.querySelectorAll('line.mesh')].map(e => e.dataset.topic + " " + e.dataset.from + ">" + e.dataset.to).sort()`

func containsPeer(edge, id string) bool {
	return strings.Contains(edge, " "+id+">") || strings.HasSuffix(edge, ">"+id)
}

// routerEdges is what the routers report: "topic from>to" for every peer in
// every mesh of every node, sorted.
func routerEdges(nodes []*browserNode) []string {
	var out []string
	for _, bn := range nodes {
		for _, topic := range bn.r.Topics() {
			for _, p := range bn.r.Mesh(topic) {
				out = append(out, topic+" "+bn.node.ID().String()+">"+p.String())
			}
		}
	}
	sort.Strings(out)
	return out
}

// matchMesh waits until the page's mesh edges equal the routers' (the mesh
// may still be moving: heartbeats graft and prune), and returns both.
func matchMesh(t *testing.T, bctx context.Context, nodes []*browserNode, within time.Duration) (want, got []string) {
	t.Helper()
	return matchEdges(t, bctx, func() []string { return routerEdges(nodes) }, meshJS, within)
}

func screenshot(t *testing.T, bctx context.Context, path string) string {
	t.Helper()
	if path == "" {
		path = os.Getenv(screenshotEnv)
	}
	if path == "" {
		path = filepath.Join(os.TempDir(), "meshbus-dashboard.png")
	}
	// Wait for the force layout to cool down (the page says when).
	// The screenshot is an artifact, not an assertion: on a machine too
	// loaded for the layout to settle in time, take it anyway.
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.body.dataset.settled === "1"`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Logf("the layout was still moving after 20s (%v); screenshot taken anyway", err)
	}
	buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

func waitPage(t *testing.T, bctx context.Context, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %s", what)
		}
		<-tick.C
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
