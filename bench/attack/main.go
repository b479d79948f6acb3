// Command attack plays GossipSub attacks in the router's simulator, once
// with meshbus's peer scoring (components/scoring, one pure Scorer per
// simulated node) and once without, and prints what honest nodes received
// and who held their mesh slots.
//
//	go run ./bench/attack                 # 300 honest nodes, 300 attackers
//	go run ./bench/attack -honest 500 -ihave 400 -graft 400 -seed 3
//
// The attackers are IHAVE spammers (bogus ids, broken promises, never
// forward) and graft spammers (GRAFT inside their own PRUNE backoff, never
// forward). Scoring uses DefaultParams and DefaultTopicParams, untuned.
// Columns: delivery ratio at honest nodes, mean hops and latency, RPCs sent
// by honest nodes per delivered message, broken-promise and graft-backoff
// penalties counted, attacker-held slots of all honest mesh slots, and
// (honest node, attacker) pairs below the gossip threshold.
//
// In this simulator the attackers cannot stop delivery outright (flood
// publishing and gossip route around them); the damage scoring removes is
// mesh capture and the RPCs honest nodes waste on them. The exit code is 1
// when scoring on misses its targets: honest delivery >= 99% and no
// attacker left in an honest mesh.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/meshbus/meshbus/components/router/sim"
	"github.com/meshbus/meshbus/events"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main with its arguments and outputs injected; it returns the exit
// code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sc := defaultScenario()
	fs.IntVar(&sc.Honest, "honest", sc.Honest, "honest nodes")
	fs.IntVar(&sc.IHave, "ihave", sc.IHave, "IHAVE spammers")
	fs.IntVar(&sc.Graft, "graft", sc.Graft, "graft spammers")
	fs.IntVar(&sc.Degree, "degree", sc.Degree, "connections each node opens")
	fs.Uint64Var(&sc.Seed, "seed", sc.Seed, "random seed")
	fs.IntVar(&sc.Messages, "messages", sc.Messages, "messages published per phase")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fmt.Fprintf(stdout, "attack: %d honest, %d IHAVE spammers, %d graft spammers, degree %d, seed %d, %d messages per phase every %v\n\n",
		sc.Honest, sc.IHave, sc.Graft, sc.Degree, sc.Seed, sc.Messages, sc.Gap)
	fmt.Fprintf(stdout, "%-7s %-6s %8s %6s %8s %8s %9s %9s %9s %11s %11s\n",
		"scoring", "phase", "delivery", "hops", "latency", "max lat", "rpcs/msg", "promises", "backoffs", "atk mesh", "atk<gossip")
	code := 0
	for _, on := range []bool{false, true} {
		start := time.Now()
		r, err := sc.run(on)
		if err != nil {
			fmt.Fprintf(stderr, "attack: %v\n", err)
			return 1
		}
		name := map[bool]string{false: "off", true: "on"}[on]
		for _, ph := range []struct {
			name string
			st   sim.Stats
		}{{"early", r.Early}, {"steady", r.Steady}} {
			fmt.Fprintf(stdout, "%-7s %-6s %8.4f %6.2f %8v %8v %9.2f %9d %9d %5d/%-5d %5d/%-5d\n",
				name, ph.name, ph.st.DeliveryRatio, ph.st.MeanHops,
				ph.st.MeanLatency.Round(time.Millisecond), ph.st.MaxLatency.Round(time.Millisecond),
				ph.st.RPCsPerDelivered, ph.st.Penalties[events.PenaltyBrokenPromise], ph.st.Penalties[events.PenaltyGraftBackoff],
				r.AttackerMeshSlots, r.AttackerMeshSlots+r.HonestMeshSlots, r.AttackersBelowGossip, r.AttackerPairs)
		}
		fmt.Fprintf(stdout, "%-7s false positives (honest peers scored < 0 by honest nodes): %d/%d; run took %v\n",
			name, r.HonestBelowZero, r.HonestPairs, time.Since(start).Round(time.Millisecond))
		if on && (r.Steady.DeliveryRatio < 0.99 || r.AttackerMeshSlots != 0) {
			fmt.Fprintf(stdout, "MISS: with scoring, steady delivery %.4f (target >= 0.99), attacker mesh slots %d (target 0)\n",
				r.Steady.DeliveryRatio, r.AttackerMeshSlots)
			code = 1
		}
	}
	if code == 0 {
		fmt.Fprintln(stdout, "\nPASS: with scoring, honest delivery >= 99% and no attacker in an honest mesh")
	}
	return code
}
