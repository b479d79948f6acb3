//go:build linux

// Command netrunner runs the libp2p GossipSub interop test plans
// (libp2p/test-plans, gossipsub-interop) on one Linux machine, doing what
// Shadow does there: every node in its own network namespace and UTS
// namespace (host name nodeN, /etc/hosts naming every node), linked through
// a hub namespace by veth pairs, each link shaped (tc tbf) and delayed (netem
// where the kernel has it, else a userspace delaying relay that treats
// every packet of every implementation alike). It mixes implementations
// (--composition go=50,meshbus=50), collects every node's stdout and prints
// the plans' three figures per implementation and overall: reliability,
// dissemination latency (time to reach all and 90% of the nodes, p50, p90,
// p99) and duplicates per delivered message.
//
// It needs root and iproute2, uses only addresses of 10.213.0.0/16 inside
// namespaces it creates, and removes everything it created when it ends,
// fails or is interrupted (SIGINT, SIGTERM). --cleanup removes what a killed
// run (SIGKILL) left behind.
//
// Examples:
//
//	netrunner --scenario basic --nodes 32 --composition go=50,meshbus=50
//	netrunner --params params.json --nodes 64 --composition meshbus=100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/meshbus/meshbus/interop/testplans/netrun"
)

func main() {
	netrun.MaybeHelper()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "netrunner:", err)
		if errors.Is(err, netrun.ErrNotPermitted) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

func run() error {
	var (
		paramsPath  = flag.String("params", "", "params.json in the plans' format (instead of --scenario)")
		scen        = flag.String("scenario", "basic", "generated scenario: basic (1 KiB messages), blob (96 KiB, 5 ms validation, like subnet-blob-msg), partial (partial-messages: random parts per node, all publish), partial-fanout (node 0 holds all parts and publishes to nodes 1-7)")
		nodes       = flag.Int("nodes", 32, "node count")
		comp        = flag.String("composition", "go=100", "implementation mix, e.g. go=50,meshbus=50")
		bins        = flag.String("bin", "", "binaries, e.g. go=./gopubsub-interop,meshbus=./meshbus-interop (default: those names beside netrunner)")
		out         = flag.String("out", "", "output directory (default netrun-out/<scenario>-<nodes>-<composition>)")
		latency     = flag.String("latency", "10ms-40ms", "one-way latency of each node's link, a duration or a lo-hi range drawn per node")
		rate        = flag.Int("rate", 50, "bandwidth of each node's link, Mbit/s each way (0 = unshaped)")
		seed        = flag.Uint64("seed", 1, "seed of the topology, the publishers, the latencies and the mix")
		forceRelay  = flag.Bool("relay", false, "use the userspace delay relay even where netem exists")
		arp         = flag.Bool("arp", false, "resolve neighbours with ARP broadcasts instead of permanent entries (the old behaviour, for comparison)")
		setup       = flag.Int("setup", 0, "scenario: seconds before the first publish (default per scenario)")
		interval    = flag.Int("interval", 0, "scenario: seconds between publishes (default per scenario)")
		messages    = flag.Int("messages", 0, "scenario: message count (default 16)")
		cleanup     = flag.Bool("cleanup", false, "remove namespaces left by killed runs, then exit")
		timeoutFlag = flag.Duration("timeout", 60*time.Second, "grace after the script's end before nodes are killed")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *cleanup {
		removed, err := netrun.CleanupStale()
		fmt.Println("removed:", removed)
		return err
	}
	shares, err := netrun.ParseComposition(*comp)
	if err != nil {
		return err
	}
	binMap, err := binaries(*bins, shares)
	if err != nil {
		return err
	}
	lo, hi, err := parseLatency(*latency)
	if err != nil {
		return err
	}
	name := *scen
	if *paramsPath != "" {
		name = strings.TrimSuffix(filepath.Base(*paramsPath), ".json")
	}
	if *out == "" {
		*out = filepath.Join("netrun-out", fmt.Sprintf("%s-%d-%s", name, *nodes, strings.NewReplacer("=", "", ",", "-").Replace(*comp)))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if *paramsPath == "" {
		s := netrun.DefaultScenario(*scen, *nodes, *seed)
		if *setup > 0 {
			s.Setup = *setup
		}
		if *interval > 0 {
			s.Interval = *interval
		}
		if *messages > 0 {
			s.Messages = *messages
		}
		js, err := s.Params()
		if err != nil {
			return err
		}
		*paramsPath = filepath.Join(*out, "params.json")
		if err := os.WriteFile(*paramsPath, js, 0o644); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := netrun.Run(ctx, netrun.Config{
		Params: *paramsPath, Composition: shares, Bins: binMap,
		Links: netrun.Links(*nodes, lo, hi, *rate, *seed), Out: *out, Seed: *seed,
		Timeout: *timeoutFlag, ForceRelay: *forceRelay, ARP: *arp, Log: log,
	})
	if res != nil {
		for _, f := range res.Failed {
			fmt.Fprintln(os.Stderr, "FAILED:", f)
		}
	}
	if err != nil {
		return err
	}
	delay := "userspace relay"
	if res.Netem {
		delay = "netem"
	}
	title := fmt.Sprintf("%s, %d nodes, %s, latency %s per link (%s), %d Mbit/s; delay probe node0->node1 RTT %v (configured %v); logs in %s",
		name, *nodes, *comp, *latency, delay, *rate, res.ProbeRTT.Round(100*time.Microsecond), res.ExpectedRTT, *out)
	if res.Partial == nil || (len(res.Stats) > 0 && res.Stats[0].Messages > 0) {
		fmt.Println(netrun.FormatTable(title, res.Stats))
	} else {
		fmt.Printf("%s\n\n", title)
	}
	if res.Partial != nil {
		fmt.Println(netrun.FormatPartialTable(res.Partial))
	}
	if res.DupSources != nil && res.Partial == nil {
		fmt.Println(netrun.FormatDupSources(res.DupSources))
	}
	if res.Hops != nil {
		fmt.Println(netrun.FormatHops(res.Hops))
	}
	if res.CPUStats != nil {
		fmt.Println(netrun.FormatCPU(res.CPUStats))
	}
	if !res.Netem {
		st := res.Relay
		avgLate := time.Duration(0)
		if st.Frames > 0 {
			avgLate = st.Late / time.Duration(st.Frames)
		}
		fmt.Printf("relay: %d frames (%d flooded), %d MB, %d dropped, lateness avg %v max %v\n", st.Frames, st.Flooded, st.Bytes>>20, st.Dropped, avgLate.Round(time.Microsecond), st.MaxLate.Round(time.Microsecond))
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d nodes failed", len(res.Failed))
	}
	return nil
}

func binaries(spec string, shares []netrun.Share) (map[string]string, error) {
	m := map[string]string{}
	self, _ := os.Executable()
	dir := filepath.Dir(self)
	m["go"] = filepath.Join(dir, "gopubsub-interop")
	m["meshbus"] = filepath.Join(dir, "meshbus-interop")
	if spec != "" {
		for _, kv := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("%w: --bin %q: want impl=path", netrun.ErrBadConfig, kv)
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return nil, err
			}
			m[k] = abs
		}
	}
	for _, s := range shares {
		if _, ok := m[s.Impl]; !ok {
			return nil, fmt.Errorf("%w: no binary for %q (give --bin %s=path)", netrun.ErrBadConfig, s.Impl, s.Impl)
		}
	}
	return m, nil
}

func parseLatency(s string) (time.Duration, time.Duration, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := time.ParseDuration(a)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: --latency %q: %v", netrun.ErrBadConfig, s, err)
	}
	hi := lo
	if isRange {
		if hi, err = time.ParseDuration(b); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("%w: --latency %q: want lo-hi with lo <= hi", netrun.ErrBadConfig, s)
		}
	}
	return lo, hi, nil
}
