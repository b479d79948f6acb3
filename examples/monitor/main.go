// Command monitor prints the connection events of meshbus nodes live, as a
// table. By default it starts a few nodes on loopback in this process, runs
// a short scripted scenario (connect, disconnect, reconnect; the scenario
// does all the dialing, so those nodes run without a peer manager) and exits:
//
//	go run ./examples/monitor
//	go run ./examples/monitor -nodes 5
//	go run ./examples/monitor -keep                   # keep running after the scenario (Ctrl-C stops)
//	go run ./examples/monitor -join /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...
//
// With -join it starts one node, dials the given multiaddr and prints
// events until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
)

// config is what the flags set.
type config struct {
	nodes   int
	join    string
	keep    bool
	timeout time.Duration
	// waiting, when set, is called once run waits for the interrupt.
	waiting func()
}

func main() {
	var cfg config
	flag.IntVar(&cfg.nodes, "nodes", 3, "local nodes to start (at least 2) for the scripted scenario")
	flag.StringVar(&cfg.join, "join", "", "multiaddr (with /p2p/<id>) of a node to join; implies -keep")
	flag.BoolVar(&cfg.keep, "keep", false, "keep running after the scenario until interrupted")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "bound on each scenario step")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(1)
	}
}

// run starts the nodes, prints their events to w and plays the scenario
// (or joins cfg.join); it returns when the scenario is over, or when ctx
// ends with cfg.keep or cfg.join.
func run(ctx context.Context, cfg config, w io.Writer) error {
	if cfg.join == "" && cfg.nodes < 2 {
		return fmt.Errorf("-nodes %d: need at least 2", cfg.nodes)
	}
	var target *peer.AddrInfo
	if cfg.join != "" {
		a, err := ma.NewMultiaddr(cfg.join)
		if err != nil {
			return fmt.Errorf("-join %q: %w", cfg.join, err)
		}
		if target, err = peer.AddrInfoFromP2pAddr(a); err != nil {
			return fmt.Errorf("-join %q: %w", cfg.join, err)
		}
		cfg.nodes, cfg.keep = 1, true
	}

	clk := clock.New()
	tab := newTable(w, clk)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var printers sync.WaitGroup
	// Each printer hands each event it printed to the scenario, so that the
	// scenario waits for what every node has printed and its notes come
	// after the rows they follow.
	printed := make(chan seen)
	scenarioDone := make(chan struct{})
	nodes := make([]*host.Node, 0, cfg.nodes)
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
		printers.Wait() // each printer ends when its node's bus closes
	}()
	for i := 0; i < cfg.nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		opts := []host.Option{host.WithClock(clk), host.WithLogger(quiet)}
		// Loopback is exempt from the peer manager's per-IP limit by
		// default: no option is needed for many nodes on one machine.
		if target == nil {
			// The scripted scenario does all the dialing: a peer manager
			// redialing n1 while it disconnects would overlap the old and
			// the new connection, and n0 would never see n1 leave.
			opts = append(opts, host.WithoutComponent(host.ComponentPeerMgr))
		}
		n, err := host.New(ctx, opts...)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		tab.name(n.ID(), name)
		sub, err := n.Bus().Subscribe(monitoredTypes, eventbus.Name("monitor"),
			eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Block))
		if err != nil {
			return err
		}
		printers.Add(1)
		go func() {
			defer printers.Done()
			for e := range sub.Out() {
				tab.print(name, e)
				select {
				case printed <- seen{n.ID(), e}:
				case <-scenarioDone:
				}
			}
		}()
		addrs, _ := n.Addrs()
		tab.note("%s is %s, listening on %v", name, n.ID(), addrs)
	}

	if target != nil {
		close(scenarioDone)
		tab.name(target.ID, "remote")
		tab.note("n0 joins %s", cfg.join)
		if err := nodes[0].Connect(ctx, *target); err != nil {
			if ctx.Err() != nil {
				return nil // interrupted while joining: a normal exit
			}
			return fmt.Errorf("joining: %w", err)
		}
	} else {
		err := scenario(ctx, cfg, tab, nodes, printed)
		close(scenarioDone)
		if err != nil {
			return err
		}
	}
	if cfg.keep {
		tab.note("running until interrupted (Ctrl-C)")
		if cfg.waiting != nil {
			cfg.waiting()
		}
		<-ctx.Done()
	}
	return nil
}

// seen is one event a node's printer printed.
type seen struct {
	node peer.ID
	e    any
}

// want is an event the scenario waits for: one that match accepts, printed
// by node.
type want struct {
	node  peer.ID
	match func(any) bool
}

// scenario connects every node to n0, disconnects n1 and reconnects it,
// waiting after each step for the printers to have printed its outcome.
func scenario(ctx context.Context, cfg config, tab *table, nodes []*host.Node, printed <-chan seen) error {
	hub := nodes[0]
	// await reads what the printers printed until every want was met (in
	// any order: printers run concurrently), within cfg.timeout.
	await := func(what string, wants ...want) error {
		timer := time.NewTimer(cfg.timeout)
		defer timer.Stop()
		for len(wants) > 0 {
			select {
			case s := <-printed:
				wants = slices.DeleteFunc(wants, func(w want) bool { return w.node == s.node && w.match(s.e) })
			case <-timer.C:
				return fmt.Errorf("waiting for %s: no event within %v", what, cfg.timeout)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	identified := func(p peer.ID) func(any) bool {
		return func(e any) bool { x, ok := e.(events.EvtPeerIdentificationCompleted); return ok && x.Peer == p }
	}
	changed := func(p peer.ID, c network.Connectedness) func(any) bool {
		return func(e any) bool {
			x, ok := e.(events.EvtPeerConnectednessChanged)
			return ok && x.Peer == p && x.Connectedness == c
		}
	}

	tab.note("step 1: every node connects to n0")
	for _, n := range nodes[1:] {
		if err := n.Connect(ctx, hub.AddrInfo()); err != nil {
			return err
		}
		if err := await("n0 to identify "+tab.nameOf(n.ID()), want{hub.ID(), identified(n.ID())}); err != nil {
			return err
		}
	}
	n1 := nodes[1]
	tab.note("step 2: n1 disconnects from n0")
	if err := n1.Host().Network().ClosePeer(hub.ID()); err != nil {
		return err
	}
	if err := await("n0 to see n1 leave", want{hub.ID(), changed(n1.ID(), network.NotConnected)}); err != nil {
		return err
	}
	tab.note("step 3: n1 reconnects")
	if err := n1.Connect(ctx, hub.AddrInfo()); err != nil {
		return err
	}
	// Both sides: the nodes close right after the scenario, and every row
	// the test expects must be printed by then.
	if err := await("n0 and n1 to see each other again",
		want{hub.ID(), changed(n1.ID(), network.Connected)},
		want{hub.ID(), identified(n1.ID())},
		want{n1.ID(), changed(hub.ID(), network.Connected)},
	); err != nil {
		return err
	}
	tab.note("scenario done")
	return nil
}
