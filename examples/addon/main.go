// Command addon shows a user-written component (an uptime tracker, in
// uptime.go) added to a meshbus node with one option, without changing any
// meshbus code. It starts three nodes on loopback, runs a short scripted
// scenario against a simulated clock (so the report is the same on every
// run), prints what the add-on saw, and exits.
//
//	go run ./examples/addon
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/host"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "addon:", err)
		os.Exit(1)
	}
}

// run starts alice (with the add-on), bob and carol, scripts connections
// and prints the add-on's report to w.
func run(ctx context.Context, w io.Writer) error {
	clk := clock.NewMock()
	start := clk.Now()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	common := []host.Option{
		host.WithClock(clk),
		host.WithLogger(quiet),
		// The peer manager would redial bob by itself; this script dials.
		host.WithoutComponent(host.ComponentPeerMgr),
	}

	var uptime *Uptime
	alice, err := host.New(ctx, append(common,
		// The add-on: one option. fx.Populate hands us the instance.
		host.WithFx(UptimeModule, fx.Populate(&uptime)))...)
	if err != nil {
		return err
	}
	defer alice.Close()
	bob, err := host.New(ctx, common...)
	if err != nil {
		return err
	}
	defer bob.Close()
	carol, err := host.New(ctx, common...)
	if err != nil {
		return err
	}
	defer carol.Close()
	names := map[peer.ID]string{alice.ID(): "alice", bob.ID(): "bob", carol.ID(): "carol"}

	// The script waits on the add-on's own events to know it saw each step.
	sub, err := alice.Bus().Subscribe([]any{new(EvtSessionStarted), new(EvtSessionEnded)},
		eventbus.BufSize(16), eventbus.WithPolicy(eventbus.Block), eventbus.Name("addon-script"))
	if err != nil {
		return err
	}
	defer sub.Close()
	await := func(what string, match func(any) bool) (any, error) {
		for {
			select {
			case e, ok := <-sub.Out():
				if !ok {
					return nil, fmt.Errorf("waiting for %s: subscription closed", what)
				}
				if match(e) {
					return e, nil
				}
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
			}
		}
	}
	started := func(p peer.ID) func(any) bool {
		return func(e any) bool { s, ok := e.(EvtSessionStarted); return ok && s.Peer == p }
	}
	ended := func(p peer.ID) func(any) bool {
		return func(e any) bool { s, ok := e.(EvtSessionEnded); return ok && s.Peer == p }
	}
	step := func(who *host.Node, action string) {
		fmt.Fprintf(w, "  +%-6v %s %s\n", clk.Now().Sub(start), names[who.ID()], action)
	}

	fmt.Fprintln(w, "alice runs the uptime add-on, added with one option: host.WithFx(UptimeModule)")
	connectTo := func(n *host.Node, action string) error {
		if err := n.Connect(ctx, alice.AddrInfo()); err != nil {
			return err
		}
		step(n, action)
		_, err := await(names[n.ID()]+"'s session start", started(n.ID()))
		return err
	}
	disconnect := func(n *host.Node) error {
		if err := n.Host().Network().ClosePeer(alice.ID()); err != nil {
			return err
		}
		e, err := await(names[n.ID()]+"'s session end", ended(n.ID()))
		if err != nil {
			return err
		}
		step(n, fmt.Sprintf("disconnects (the add-on saw a session of %v)", e.(EvtSessionEnded).Lasted))
		return nil
	}
	for _, s := range []func() error{
		func() error { return connectTo(bob, "connects") },
		func() error { clk.Add(time.Minute); return connectTo(carol, "connects") },
		func() error { clk.Add(30 * time.Second); return disconnect(bob) },
		func() error { clk.Add(10 * time.Second); return connectTo(bob, "reconnects") },
		func() error { clk.Add(20 * time.Second); return disconnect(carol) },
	} {
		if err := s(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nuptime report from alice's add-on:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tSESSIONS\tCONNECTED\tUPTIME")
	rows := uptime.Report()
	sort.Slice(rows, func(i, j int) bool { return names[rows[i].Peer] < names[rows[j].Peer] })
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\n", names[r.Peer], r.Sessions, yesNo(r.Connected), r.Total)
	}
	tw.Flush()

	metrics, err := alice.Registry().Gather()
	if err != nil {
		return err
	}
	for _, mf := range metrics {
		if mf.GetName() == "uptime_sessions_total" {
			fmt.Fprintf(w, "\nthe add-on's metric, on alice's registry: uptime_sessions_total %v\n", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	if alice.Host().Network().Connectedness(bob.ID()) != network.Connected {
		return fmt.Errorf("bob should still be connected")
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
