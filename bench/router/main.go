// Command router measures the GossipSub router on real libp2p hosts over
// loopback: N full meshbus nodes (host.New: connection tracking, scoring,
// router, peer manager) join one topic, and M messages are published from
// random nodes at a fixed interval. It prints the delivery ratio, duplicates,
// CPU time per delivered message, p50/p99/max delivery latency and RPCs per
// delivered message:
//
//	go run ./bench/router                       # 20 nodes, 1000 messages of 1 KiB, 1 ms apart
//	go run ./bench/router -nodes 10 -messages 200
//	go run ./bench/router -impl gossipsub        # the same run with go-libp2p-pubsub nodes
//
// Peak memory of the two implementations, one process each (build first,
// so that the figure is the binary's, not the go command's):
//
//	go build -o /tmp/routerbench ./bench/router
//	/usr/bin/time -v /tmp/routerbench -impl meshbus    # "Maximum resident set size"
//	/usr/bin/time -v /tmp/routerbench -impl gossipsub
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
	impl := flag.String("impl", "meshbus", "router implementation: meshbus, or gossipsub (go-libp2p-pubsub v0.19.0, the reference)")
	memprofile := flag.String("memprofile", "", "write a heap profile, taken when the last message is published, to this file")
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
	if *memprofile != "" {
		afterPublish = func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "router bench:", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				fmt.Fprintln(os.Stderr, "router bench:", err)
			}
		}
	}
	run := Run
	switch *impl {
	case "meshbus":
	case "gossipsub":
		run = RunGossipsub
	default:
		fmt.Fprintf(os.Stderr, "router bench: -impl %q: want meshbus or gossipsub\n", *impl)
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "router bench:", err)
		os.Exit(1) //nolint:gocritic // the profile of a failed run is not wanted
	}
	fmt.Printf("implementation           %s\n", *impl)
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
