// Command mesh is the meshbus demo: it starts a handful of nodes on
// loopback, connects them, lets the GossipSub router form a mesh on one
// topic, publishes a few messages from random nodes, and prints the mesh and
// message events of every node live, as they cross each node's event bus.
// It exits by itself once every node has received every message:
//
//	go run ./examples/mesh
//	go run ./examples/mesh -nodes 8 -messages 10
//
// With -dashboard it also serves the live dashboard of all the nodes as one
// graph, and keeps them running (publishing a message a second) until
// interrupted; the page's kill button (or the k key) stops a node, so you
// can watch the mesh heal:
//
//	go run ./examples/mesh -dashboard 127.0.0.1:8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
)

// config is what the flags set.
type config struct {
	nodes    int
	messages int
	topic    string
	seed     uint64
	timeout  time.Duration
	// dashboard is the address of the live dashboard, "" for none.
	dashboard string
	// readOnly hides the dashboard's kill button.
	readOnly bool
	// ready, when set, is called with the dashboard's URL once the demo is
	// over and the nodes are held running (tests use it).
	ready func(url string)
}

func main() {
	var cfg config
	flag.IntVar(&cfg.nodes, "nodes", 6, "nodes to start on loopback (at least 2)")
	flag.IntVar(&cfg.messages, "messages", 5, "messages to publish")
	flag.StringVar(&cfg.topic, "topic", "meshbus-demo", "topic to join")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed choosing the links and the publishers")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "bound on the whole demo (with -dashboard: on the part before it holds)")
	flag.StringVar(&cfg.dashboard, "dashboard", "", "serve the live dashboard of all nodes at this host:port (e.g. 127.0.0.1:8080) and keep the nodes running until interrupted")
	flag.BoolVar(&cfg.readOnly, "readonly", false, "with -dashboard: no kill button")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mesh:", err)
		os.Exit(1)
	}
}

// routerEvents are the bus events the demo prints.
var routerEvents = []any{
	new(events.EvtTopicJoined), new(events.EvtPeerSubscribed),
	new(events.EvtPeerGrafted), new(events.EvtPeerPruned),
	new(events.EvtMessagePublished), new(events.EvtMessageDelivered),
}

// demoNode is one running node with what the demo keeps of it.
type demoNode struct {
	name  string
	node  *host.Node
	r     *router.Router
	topic *router.Topic
	sub   *router.Subscription
}

// run plays the demo, printing to w; it returns once every node received
// every message, or with an error.
func run(ctx context.Context, cfg config, w io.Writer) error {
	if cfg.nodes < 2 || cfg.messages < 1 {
		return errors.New("need at least 2 nodes and 1 message")
	}
	holdCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	out := &printer{w: w, start: time.Now(), names: map[peer.ID]string{}}
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	var printers sync.WaitGroup
	nodes := make([]*demoNode, 0, cfg.nodes)
	var dash *dashboard.Dashboard
	if cfg.dashboard != "" {
		opts := []dashboard.Option{dashboard.WithAddr(cfg.dashboard), dashboard.WithLogger(quiet)}
		if !cfg.readOnly {
			opts = append(opts, dashboard.WithControl())
		}
		var err error
		if dash, err = dashboard.New(opts...); err != nil {
			return err
		}
	}
	defer func() {
		if dash != nil {
			dash.Close()
		}
		for _, n := range nodes {
			n.node.Close()
		}
		printers.Wait() // each printer ends when its node's bus closes
	}()
	for i := 0; i < cfg.nodes; i++ {
		d := &demoNode{name: fmt.Sprintf("n%d", i)}
		var opts []host.Option
		if dash != nil {
			// Score the topic, so the dashboard shows the score terms.
			params := scoring.DefaultParams()
			params.Topics[cfg.topic] = scoring.DefaultTopicParams()
			opts = append(opts, host.WithFx(scoring.Options(scoring.WithParams(params))))
		}
		// Loopback is exempt from the peer manager's per-IP limit by
		// default, so many nodes on one machine need no option.
		n, err := host.New(ctx, append(opts, host.WithLogger(quiet))...)
		if err != nil {
			return err
		}
		d.r = n.Router()
		d.node = n
		nodes = append(nodes, d)
		out.name(n.ID(), d.name)
		sub, err := n.Bus().Subscribe(routerEvents, eventbus.Name("mesh-demo"),
			eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Block))
		if err != nil {
			return err
		}
		if dash != nil {
			if err := dash.Attach(dashboard.Source{
				Name: d.name, Bus: n.Bus(), ID: n.ID(), Host: n.Host(),
				Mesh: host.RouterMeshes(d.r), Choked: host.RouterChoked(d.r), Fanout: host.RouterFanouts(d.r), Direct: d.r.DirectPeers,
				Breakdowns: host.ScoreBreakdowns(n.Scoring()),
				Kill:       n.Close,
			}); err != nil {
				return err
			}
		}
		printers.Add(1)
		go func() {
			defer printers.Done()
			for e := range sub.Out() {
				out.event(d.name, e)
			}
		}()
	}
	if dash != nil {
		if err := dash.Start(ctx); err != nil {
			return err
		}
		out.note("dashboard: %s", dash.URL())
	}
	out.note("%d nodes up on loopback; each joins %q", cfg.nodes, cfg.topic)
	for _, d := range nodes {
		t, err := d.r.Join(cfg.topic)
		if err != nil {
			return err
		}
		if d.sub, err = t.Subscribe(router.SubscriptionBuffer(cfg.messages * 2)); err != nil {
			return err
		}
		d.topic = t
	}

	// A ring, so the graph is connected, plus a few random chords.
	links := ring(cfg.nodes)
	for i := 0; i < cfg.nodes/2; i++ {
		a, b := rng.IntN(cfg.nodes), rng.IntN(cfg.nodes)
		if a != b {
			links = append(links, [2]int{a, b})
		}
	}
	for _, l := range links {
		a, b := nodes[l[0]], nodes[l[1]]
		if err := a.node.Connect(ctx, b.node.AddrInfo()); err != nil {
			return fmt.Errorf("connect %s-%s: %w", a.name, b.name, err)
		}
	}
	out.note("connected %d links; waiting for every node to have a mesh peer", len(links))
	if err := waitFor(ctx, func() bool {
		for _, d := range nodes {
			if len(d.r.Mesh(cfg.topic)) == 0 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("mesh formation: %w", err)
	}

	for i := 0; i < cfg.messages; i++ {
		d := nodes[rng.IntN(cfg.nodes)]
		data := fmt.Sprintf("message %d from %s", i, d.name)
		out.note("%s publishes %q", d.name, data)
		if err := d.topic.Publish(ctx, []byte(data), router.RequirePeers()); err != nil {
			return fmt.Errorf("%s publish: %w", d.name, err)
		}
	}
	// Every node, the publisher included, receives every message once.
	for _, d := range nodes {
		for i := 0; i < cfg.messages; i++ {
			if _, err := d.sub.Next(ctx); err != nil {
				return fmt.Errorf("%s received %d of %d messages: %w", d.name, i, cfg.messages, err)
			}
		}
	}
	// The bus events trail the subscriptions a little: print them all first.
	want := (cfg.nodes - 1) * cfg.messages
	if err := waitFor(ctx, func() bool { return out.deliveredCount() >= want }); err != nil {
		return fmt.Errorf("delivery events: %d of %d: %w", out.deliveredCount(), want, err)
	}
	out.note("every node received all %d messages; meshes:", cfg.messages)
	for _, d := range nodes {
		var mesh []string
		for _, p := range d.r.Mesh(cfg.topic) {
			mesh = append(mesh, out.nameOf(p))
		}
		sort.Strings(mesh)
		out.note("  %s: %s", d.name, strings.Join(mesh, " "))
	}
	out.finish()
	if dash != nil {
		fmt.Fprintf(w, "-- the nodes keep running, one message a second; dashboard at %s (Ctrl-C to stop)\n", dash.URL())
		if cfg.ready != nil {
			cfg.ready(dash.URL())
		}
		hold(holdCtx, nodes, rng)
	}
	return nil
}

// hold keeps the nodes running until ctx ends, publishing a message a second
// from a random node still up, so the dashboard shows traffic.
func hold(ctx context.Context, nodes []*demoNode, rng *rand.Rand) {
	var readers sync.WaitGroup
	defer readers.Wait()
	for _, d := range nodes {
		readers.Add(1)
		go func() {
			// Read what arrives, so the subscription never fills up; it
			// ends with ctx or when the node stops.
			defer readers.Done()
			for {
				if _, err := d.sub.Next(ctx); err != nil {
					return
				}
			}
		}()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var up []*demoNode
		for _, d := range nodes {
			if d.node.Context().Err() == nil {
				up = append(up, d)
			}
		}
		if len(up) == 0 {
			continue
		}
		d := up[rng.IntN(len(up))]
		// Errors (no peers left, node stopping) are part of the show.
		_ = d.topic.Publish(ctx, []byte(fmt.Sprintf("tick %d from %s", i, d.name)))
	}
}

// ring links node i to node i+1, and the last to the first.
func ring(n int) [][2]int {
	links := make([][2]int, 0, n)
	for i := 0; i < n; i++ {
		if n == 2 && i == 1 {
			break
		}
		links = append(links, [2]int{i, (i + 1) % n})
	}
	return links
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
