// Command router measures the GossipSub router on real libp2p hosts over
// loopback: N full meshbus nodes (host.New: connection tracking, scoring,
// router, peer manager) join one topic, and M messages are published from
// random nodes at a fixed interval. It prints the delivery ratio, duplicates,
// CPU time per delivered message, p50/p99/max delivery latency and RPCs per
// delivered message:
//
//	go run ./bench/router                       # 20 nodes, 1000 messages of 1 KiB, 1 ms apart
//	go run ./bench/router -nodes 10 -messages 200
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes on loopback")
	flag.IntVar(&cfg.Degree, "degree", cfg.Degree, "random links per node (plus a ring)")
	flag.IntVar(&cfg.Messages, "messages", cfg.Messages, "messages to publish")
	flag.IntVar(&cfg.Size, "size", cfg.Size, "message size in bytes (at least 8)")
	flag.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time between publishes")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for links and publishers")
	flag.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on each phase")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "router bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "router bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := Run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "router bench:", err)
		os.Exit(1) //nolint:gocritic // the profile of a failed run is not wanted
	}
	res.Print(os.Stdout, cfg)
}

// Config is one run's shape.
type Config struct {
	Nodes, Degree, Messages, Size int
	Interval, Timeout             time.Duration
	Seed                          uint64
}

func defaultConfig() Config {
	return Config{Nodes: 20, Degree: 3, Messages: 1000, Size: 1024, Interval: time.Millisecond, Seed: 1, Timeout: 60 * time.Second}
}
