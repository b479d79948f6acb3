// Command router measures a GossipSub router on real libp2p hosts over
// loopback: N nodes join T topics, are linked in a ring plus random chords,
// and M messages are published from random nodes at a fixed interval, round
// robin over the topics. It prints the delivery ratio, duplicates and RPCs
// per delivered message, CPU time per delivered message and p50/p99/max
// delivery latency.
//
// It measures meshbus (full nodes from host.New with default options,
// but metrics: only the router's, the counterpart of the tracer the
// go-libp2p-pubsub side installs) or go-libp2p-pubsub v0.19.0 configured to
// match (same listen addresses, D parameters, StrictSign, default message
// id, scoring with the same global parameters and thresholds), and with
// -compare runs both, each in its own process, alternating, and prints one
// table of medians with the ratios (meshbus / go-libp2p-pubsub, pair by
// pair) and each process's peak RSS:
//
//	go run ./bench/router                          # meshbus: 20 nodes, 1000 messages of 1 KiB, 1 ms apart
//	go run ./bench/router -impl gossipsub          # the same run on go-libp2p-pubsub
//	go run ./bench/router -compare -runs 3         # both, alternating, one table
//	go run ./bench/router -compare -interval 4ms -size 65536
//	go run ./bench/router -compare -nodes 50 -topics 10
//	go run ./bench/router -scale -runs 1                # 10/20/50 nodes, 1/10/100 topics
//	go run ./bench/router -compare -stages -transport tcp -interval 100ms -messages 100 -size 65536 # where a hop's time goes
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

// Config is one run's shape.
type Config struct {
	Impl                                  string
	Nodes, Degree, Messages, Size, Topics int
	Interval, Timeout, Drain              time.Duration
	// Idle, if positive, is how long the nodes sit idle (mesh formed, no
	// publish) while the process's CPU is measured, before publishing.
	Idle time.Duration
	Seed uint64
	// Transport is the one transport the nodes listen on (and so dial):
	// transportQUIC or transportTCP.
	Transport string
	// HeapProfile, if set, is the file a heap profile is written to right
	// after the last publish.
	HeapProfile string
	// FloodPublish makes both implementations send their own messages to
	// every topic peer, not only to their mesh (go-libp2p-pubsub's
	// WithFloodPublish, meshbus's GossipConfig.FloodPublish). Off by
	// default, go-libp2p-pubsub's default, so that both publish alike;
	// meshbus's own default is on.
	FloodPublish bool
	// Stages records when every message passes each stage at each node
	// and reports where the first copies' hops spent their time
	// (Result.Stages; stages.go). The records cost CPU and memory: read
	// the other figures of such a run as perturbed.
	Stages bool
	// stages is the run's stage log (Run makes it when Stages is set).
	stages *stageLog
}

func defaultConfig() Config {
	return Config{Impl: implMeshbus, Nodes: 20, Degree: 3, Messages: 1000, Size: 1024, Topics: 1,
		Interval: time.Millisecond, Transport: transportQUIC, Seed: 1, Timeout: 60 * time.Second, Drain: 10 * time.Second}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main with its arguments and outputs injected; it returns the exit
// code (0, 1 for a failed run, 2 for bad flags).
func run(args []string, stdout, stderr io.Writer) int {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Impl, "impl", cfg.Impl, "implementation: meshbus or gossipsub (go-libp2p-pubsub)")
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes on loopback")
	fs.IntVar(&cfg.Degree, "degree", cfg.Degree, "random links per node (plus a ring)")
	fs.IntVar(&cfg.Messages, "messages", cfg.Messages, "messages to publish")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "message size in bytes (at least 12)")
	fs.IntVar(&cfg.Topics, "topics", cfg.Topics, "topics every node joins; messages go round robin over them")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time between publishes")
	fs.StringVar(&cfg.Transport, "transport", cfg.Transport, "the transport nodes listen on and dial: quic (libp2p's QUIC v1) or tcp (TCP with libp2p's default security and muxer)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for links and publishers")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on connecting and on mesh formation")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "how long after the last publish to wait for missing deliveries")
	fs.DurationVar(&cfg.Idle, "idle", cfg.Idle, "measure the process's CPU over this long with the mesh formed and nothing published, before publishing (0: skip)")
	fs.BoolVar(&cfg.FloodPublish, "flood-publish", cfg.FloodPublish, "both implementations send their own messages to every topic peer, not only the mesh (off: go-libp2p-pubsub's default)")
	fs.BoolVar(&cfg.Stages, "stages", cfg.Stages, "record each message's stages at every node and report where the first copies' hops spent their time (perturbs CPU and memory)")
	var (
		compareBoth = fs.Bool("compare", false, "run meshbus and go-libp2p-pubsub, each in its own process, alternating, and print one table")
		scaleBoth   = fs.Bool("scale", false, "-compare at 10, 20 and 50 nodes and at 1, 10 and 100 topics: how CPU per message and RSS grow")
		runs        = fs.Int("runs", 3, "with -compare or -scale: runs of each implementation")
		asJSON      = fs.Bool("json", false, "print the result as JSON (what -compare reads from its children)")
		cpuprofile  = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		tracefile   = fs.String("trace", "", "write a runtime execution trace of the run to this file (go tool trace)")
		memprofile  = fs.String("memprofile", "", "write a heap profile to this file right after the last publish (near the peak)")
		memrate     = fs.Int("memprofilerate", runtime.MemProfileRate, "with -memprofile: bytes allocated per heap profile sample (1 records every allocation; slow)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *scaleBoth {
		if err := scale(cfg, *runs, scaleShapes, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "router bench:", err)
			return 1
		}
		return 0
	}
	if *compareBoth {
		if err := compare(cfg, *runs, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "router bench:", err)
			return 1
		}
		return 0
	}
	for _, rec := range []struct {
		file  string
		start func(io.Writer) error
		stop  func()
	}{{*cpuprofile, pprof.StartCPUProfile, pprof.StopCPUProfile}, {*tracefile, trace.Start, trace.Stop}} {
		if rec.file == "" {
			continue
		}
		stop, err := record(rec.file, rec.start, rec.stop)
		if err != nil {
			fmt.Fprintln(stderr, "router bench:", err)
			return 1
		}
		defer stop()
	}
	cfg.HeapProfile = *memprofile
	if *memprofile != "" {
		runtime.MemProfileRate = *memrate
	}
	res, err := Run(cfg)
	if err != nil && (res == nil || !*asJSON) {
		fmt.Fprintln(stderr, "router bench:", err)
		return 1
	}
	if *asJSON { // an incomplete run is a result too: its delivery ratio says so
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			fmt.Fprintln(stderr, "router bench:", err)
			return 1
		}
		return 0
	}
	res.Print(stdout, cfg)
	return 0
}

// record creates file and starts writing a profile or trace into it; the
// returned func stops the recording and closes the file.
func record(file string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { stop(); f.Close() }, nil
}
