package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/dashboard"
	"github.com/meshbus/meshbus/components/peermgr"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
)

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

type options struct {
	topics, listen, bootstrap listFlag
	metrics, store, key       string
	dashboard                 string
	mdns, dht                 bool
	wait                      time.Duration
	verbose                   bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("meshbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.topics, "topic", "topic to join (repeatable; default chat)")
	fs.Var(&o.listen, "listen", "multiaddr to listen on (repeatable; default loopback TCP and QUIC on free ports)")
	fs.Var(&o.bootstrap, "bootstrap", "multiaddr with /p2p/<id> of a peer to join through (repeatable)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on this host:port (for example 127.0.0.1:9464)")
	fs.StringVar(&o.dashboard, "dashboard", "", "serve the live dashboard (graph, meshes, scores, bus) on this host:port (for example 127.0.0.1:8080)")
	fs.StringVar(&o.store, "store", "", "file of the persistent peer store")
	fs.StringVar(&o.key, "key", "", "file of the node's private key (created if missing)")
	fs.BoolVar(&o.mdns, "mdns", false, "find peers on the local network by mDNS")
	fs.BoolVar(&o.dht, "dht", false, "find peers of the topics by DHT rendezvous (through --bootstrap peers)")
	fs.DurationVar(&o.wait, "wait", 10*time.Second, "how long a line waits for a peer on its topic before it is dropped")
	fs.BoolVar(&o.verbose, "v", false, "log debug output to standard error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(o.topics) == 0 {
		o.topics = listFlag{"chat"}
	}
	return o, nil
}

// run is the command; it returns the exit status: 0 after a clean shutdown
// (ctx canceled or standard input ended), 2 for bad flags, 1 otherwise.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "meshbus:", err)
		return 2
	}
	if err := serve(ctx, o, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "meshbus:", err)
		return 1
	}
	return 0
}

// out serialises lines written by several goroutines.
type out struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *out) printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, format+"\n", args...)
}

func serve(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := []host.Option{host.WithLogger(log), host.WithRegistry(reg)}
	if len(o.listen) > 0 {
		opts = append(opts, host.WithListenAddrs(o.listen...))
	}
	if len(o.bootstrap) > 0 {
		opts = append(opts, host.WithBootstrapPeers(o.bootstrap...))
	}
	if o.key != "" {
		k, err := loadOrCreateKey(o.key)
		if err != nil {
			return err
		}
		opts = append(opts, host.WithIdentity(k))
	}
	if o.store != "" {
		opts = append(opts, host.WithFx(peermgr.Options(peermgr.WithDatabase(o.store))))
	}
	if o.mdns {
		opts = append(opts, host.WithMDNS())
	}
	if o.dht {
		opts = append(opts, host.WithDHT(o.topics))
	}
	var dash *dashboard.Dashboard
	if o.dashboard != "" {
		opts = append(opts, host.WithDashboard(o.dashboard), host.WithFx(fx.Populate(&dash)))
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	node, err := host.New(startCtx, opts...)
	cancel()
	if err != nil {
		return err
	}
	defer node.Close()
	w := &out{w: stdout}
	addrs, _ := node.Addrs()
	w.printf("node %s", node.ID())
	for _, a := range addrs {
		w.printf("listening on %s", a)
	}

	if dash != nil {
		w.printf("dashboard on %s", dash.URL())
	}

	var httpSrv *http.Server
	if o.metrics != "" {
		ln, err := net.Listen("tcp", o.metrics)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = httpSrv.Serve(ln) }()
		w.printf("metrics on http://%s/metrics", ln.Addr())
	}

	// Mesh and connection events.
	evs, err := node.Bus().Subscribe([]any{
		new(events.EvtPeerGrafted), new(events.EvtPeerPruned), new(events.EvtPeerConnectednessChanged),
	}, eventbus.Name("cli-events"), eventbus.BufSize(256), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range evs.Out() {
			switch e := e.(type) {
			case events.EvtPeerGrafted:
				w.printf("* mesh %s: + %s", e.Topic, short(e.Peer))
			case events.EvtPeerPruned:
				w.printf("* mesh %s: - %s (%s)", e.Topic, short(e.Peer), e.Reason)
			case events.EvtPeerConnectednessChanged:
				if e.Connectedness == network.Connected {
					w.printf("* connected %s", short(e.Peer))
				} else {
					w.printf("* disconnected %s", short(e.Peer))
				}
			}
		}
	}()

	r := node.Router()
	var topics []*router.Topic
	for _, name := range o.topics {
		t, err := r.Join(name)
		if err != nil {
			return err
		}
		topics = append(topics, t)
		sub, err := t.Subscribe()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				if m.From == node.ID() {
					continue
				}
				w.printf("[%s] %s: %s", m.Topic, short(m.From), m.Data)
			}
		}()
		w.printf("joined %s", name)
	}

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case line, ok := <-lines:
			if !ok {
				running = false
				break
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			for _, t := range topics {
				pctx, cancel := context.WithTimeout(ctx, o.wait)
				err := t.Publish(pctx, []byte(line), router.WithReadiness(router.MinTopicSize(1)))
				cancel()
				if err != nil {
					w.printf("! %s: not sent: %v", t, err)
				}
			}
		}
	}
	w.printf("shutting down")
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = httpSrv.Shutdown(sctx)
		cancel()
	}
	err = node.Close()
	_ = evs.Close()
	wg.Wait()
	return err
}

// short is the last 8 characters of a peer id, for display.
func short(p peer.ID) string {
	s := p.String()
	if len(s) > 8 {
		return s[len(s)-8:]
	}
	return s
}

// loadOrCreateKey reads a private key written by crypto.MarshalPrivateKey,
// or creates an Ed25519 key and writes it (mode 0600).
func loadOrCreateKey(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return k, nil
}
