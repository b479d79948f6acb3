package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/meshbus/meshbus/bench/internal/cputime"
	"github.com/meshbus/meshbus/bench/internal/tracemark"
	"github.com/meshbus/meshbus/bench/internal/udpstat"
	"github.com/meshbus/meshbus/components/router"
)

// Result is what one run measured.
type Result struct {
	// Impl is the implementation measured.
	Impl string `json:"impl"`
	// Expected is Messages × (Nodes-1): every node but the publisher gets each.
	Expected int `json:"expected"`
	// Received counts first deliveries to subscribers, at all nodes.
	Received int `json:"received"`
	// Duplicates counts copies that arrived after the first, at all nodes.
	Duplicates float64 `json:"duplicates"`
	// RPCsOut counts RPCs sent by all nodes while messages flowed.
	RPCsOut float64 `json:"rpcs_out"`
	// Cancelled counts queued copies dropped unsent because the peer had
	// meanwhile sent IDONTWANT or the message itself (meshbus only; 0 for
	// implementations that do not report it).
	Cancelled float64 `json:"cancelled"`
	// UDP counts the machine's UDP datagrams (QUIC packets, on an
	// otherwise quiet machine) while messages flowed; nil where the
	// counters cannot be read.
	UDP *udpstat.Counts `json:"udp,omitempty"`
	// CPU is the process's CPU time while messages flowed.
	CPU time.Duration `json:"cpu_ns"`
	// Nodes is the number of nodes run.
	Nodes int `json:"nodes"`
	// IdleCPU is the process's CPU time over IdleWall, with the mesh
	// formed and nothing published (only with Config.Idle).
	IdleCPU  time.Duration `json:"idle_cpu_ns"`
	IdleWall time.Duration `json:"idle_wall_ns"`
	// Wall is the time from the first publish to the last delivery.
	Wall time.Duration `json:"wall_ns"`
	// Latencies are publish-to-delivery times, sorted.
	Latencies []time.Duration `json:"-"`
	// ToMedian holds, per message, the process CPU and the wall time from
	// its publish to its median delivery (the Nodes/2-th receiver). With
	// messages spaced further apart than their propagation takes, the CPU
	// is the work that came before that delivery, for every message at
	// once otherwise.
	ToMedian []Span `json:"to_median"`
	// P50, P99 and Max summarise Latencies.
	P50, P99, Max time.Duration
	// MeshSizes are the nodes' mesh sizes in the first topic when
	// publishing started.
	MeshSizes []int `json:"mesh_sizes"`
	// PeakRSS is the process's peak resident set size in bytes; only a
	// child run under -compare fills it in (from the parent's rusage).
	PeakRSS int64 `json:"peak_rss"`
	// Stages are the segments of the hops that brought each node its
	// first copy of each message, and StageHops the mean number of hops
	// those copies travelled (only with Config.Stages).
	Stages    []StageSpan `json:"stages,omitempty"`
	StageHops float64     `json:"stage_hops,omitempty"`
	// StageTail attributes the slowest first copies' time to the
	// segments of their paths (only with Config.Stages).
	StageTail *TailSpan `json:"stage_tail,omitempty"`
	// Incomplete says why delivery stopped short of Expected, if it did.
	Incomplete string `json:"incomplete,omitempty"`
}

// Span is the process CPU used over a stretch of wall time.
type Span struct {
	CPU  time.Duration `json:"cpu_ns"`
	Wall time.Duration `json:"wall_ns"`
}

// ErrIncomplete is returned with the Result of a run in which some messages
// had not arrived Drain after the last publish.
var ErrIncomplete = errors.New("incomplete delivery")

// Run performs one measured run of cfg.Impl in this process.
func Run(cfg Config) (*Result, error) {
	if cfg.Nodes < 2 || cfg.Messages < 1 || cfg.Size < 12 || cfg.Topics < 1 {
		return nil, errors.New("need at least 2 nodes, 1 message, 1 topic and 12-byte messages")
	}
	newNode, ok := factories[cfg.Impl]
	if !ok {
		return nil, fmt.Errorf("unknown implementation %q (want %s or %s)", cfg.Impl, implMeshbus, implGossipSub)
	}
	ctx := context.Background()
	if cfg.Stages {
		cfg.stages = newStageLog()
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed))
	topics := make([]string, cfg.Topics)
	for i := range topics {
		topics[i] = "bench-" + strconv.Itoa(i)
	}
	perTopic := cfg.Messages/cfg.Topics + 1
	nodes := make([]benchNode, 0, cfg.Nodes)
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := 0; i < cfg.Nodes; i++ {
		n, err := newNode(ctx, cfg)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		for _, t := range topics {
			if err := n.Join(t, perTopic); err != nil {
				return nil, err
			}
		}
	}
	// A ring keeps the graph connected; random links give it a degree.
	// degree counts each node's links (both directions): its mesh can
	// fill from them alone, without waiting for the peer manager to find
	// more peers.
	degree := make([]int, len(nodes))
	linked := map[[2]int]bool{}
	for i := range nodes {
		peers := map[int]bool{(i + 1) % len(nodes): true}
		for len(peers) < cfg.Degree+1 && len(peers) < len(nodes)-1 {
			if j := rng.IntN(len(nodes)); j != i {
				peers[j] = true
			}
		}
		for _, j := range slices.Sorted(maps.Keys(peers)) {
			cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			err := nodes[i].Connect(cctx, nodes[j].AddrInfo())
			cancel()
			if err != nil {
				return nil, fmt.Errorf("connect %d-%d: %w", i, j, err)
			}
			if l := [2]int{min(i, j), max(i, j)}; !linked[l] {
				linked[l] = true
				degree[i]++
				degree[j]++
			}
		}
	}
	// Wait until every node has a mesh of at least Dlo (or as many peers
	// as it has links, if fewer) in every topic.
	dlo := router.DefaultGossipConfig().Dlo
	if err := waitFor(cfg.Timeout, func() bool {
		for i, n := range nodes {
			for _, t := range topics {
				if n.MeshSize(t) < min(dlo, degree[i]) {
					return false
				}
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("mesh formation (every node >= min(%d, its links) mesh peers in each topic): %w", dlo, err)
	}
	res := &Result{Impl: cfg.Impl, Expected: cfg.Messages * (cfg.Nodes - 1), Nodes: cfg.Nodes}
	if cfg.Idle > 0 {
		idle0, idleStart := cputime.Process(), time.Now()
		time.Sleep(cfg.Idle)
		res.IdleCPU, res.IdleWall = cputime.Process()-idle0, time.Since(idleStart)
	}
	for _, n := range nodes {
		res.MeshSizes = append(res.MeshSizes, n.MeshSize(topics[0]))
	}

	// Receivers: each node reads each subscription and records latencies,
	// and the CPU used up to each message's median delivery.
	var mu sync.Mutex
	published := make([]time.Duration, cfg.Messages) // process CPU at each publish
	got := make([]int, cfg.Messages)                 // deliveries of each message
	half := cfg.Nodes / 2
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	for ni, n := range nodes {
		for _, t := range topics {
			wg.Add(1)
			go func() {
				defer wg.Done()
				self := n.ID()
				for {
					from, id, data, err := n.Next(rctx, t)
					if err != nil {
						return
					}
					if from == self {
						continue // its own publish, delivered locally
					}
					pub := time.Unix(0, int64(binary.BigEndian.Uint64(data)))
					if cfg.stages != nil {
						cfg.stages.add(stDelivered, id, ni, "")
						cfg.stages.addAt(pub, stPublished, id, -1, "")
					}
					lat := time.Since(pub)
					i := int(binary.BigEndian.Uint32(data[len(data)-4:]))
					mu.Lock()
					res.Received++
					res.Latencies = append(res.Latencies, lat)
					if i < len(got) {
						if got[i]++; got[i] == half {
							res.ToMedian = append(res.ToMedian, Span{CPU: cputime.Process() - published[i], Wall: lat})
							tracemark.Log(tracemark.Median, i)
						}
					}
					mu.Unlock()
				}
			}()
		}
	}

	dup0, rpc0 := counters(nodes)
	cancelled0 := cancelled(nodes)
	udp0, udpErr := udpstat.Read()
	cpu0, start := cputime.Process(), time.Now()
	tick := time.NewTicker(cfg.Interval)
	for i := 0; i < cfg.Messages; i++ {
		data := make([]byte, cfg.Size)
		binary.BigEndian.PutUint64(data, uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint32(data[len(data)-4:], uint32(i)) // distinct even within one ns
		mu.Lock()
		published[i] = cputime.Process()
		mu.Unlock()
		tracemark.Log(tracemark.Publish, i)
		if err := nodes[rng.IntN(len(nodes))].Publish(ctx, topics[i%len(topics)], data); err != nil {
			return nil, fmt.Errorf("publish %d: %w", i, err)
		}
		<-tick.C
	}
	tick.Stop()
	if cfg.HeapProfile != "" {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return nil, err
		}
	}
	err := waitFor(cfg.Drain, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return res.Received >= res.Expected
	})
	res.Wall, res.CPU = time.Since(start), cputime.Process()-cpu0
	if udp1, err := udpstat.Read(); err == nil && udpErr == nil {
		d := udp1.Sub(udp0)
		res.UDP = &d
	}
	stop()
	wg.Wait()
	dup1, rpc1 := counters(nodes)
	res.Duplicates, res.RPCsOut = dup1-dup0, rpc1-rpc0
	res.Cancelled = cancelled(nodes) - cancelled0
	if cfg.stages != nil {
		var tail TailSpan
		res.Stages, res.StageHops, tail = cfg.stages.report()
		if tail.N > 0 {
			res.StageTail = &tail
		}
	}
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	res.P50, res.P99, res.Max = quantile(res.Latencies, 0.5), quantile(res.Latencies, 0.99), quantile(res.Latencies, 1)
	if err != nil {
		res.Incomplete = fmt.Sprintf("received %d of %d within %s of the last publish", res.Received, res.Expected, cfg.Drain)
		return res, fmt.Errorf("%w: %s", ErrIncomplete, res.Incomplete)
	}
	return res, nil
}

// writeHeapProfile writes a summary of the runtime's memory to standard
// error, forces a garbage collection and writes the heap profile (in use
// as of that collection, and allocated) to file.
func writeHeapProfile(file string) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "at the last publish: heap in use %.1f MiB, heap sys %.1f MiB, next GC %.1f MiB, stacks %.1f MiB, %d goroutines, sys %.1f MiB\n",
		float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys)/(1<<20), float64(ms.NextGC)/(1<<20),
		float64(ms.StackInuse)/(1<<20), runtime.NumGoroutine(), float64(ms.Sys)/(1<<20))
	runtime.GC() // the profile then shows what is live now
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "live heap after a forced GC: %.2f MiB in %d objects\n", float64(ms.HeapAlloc)/(1<<20), ms.HeapObjects)
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cancelled sums the queued copies the nodes cancelled, for those that
// count them.
func cancelled(nodes []benchNode) float64 {
	var n float64
	for _, nd := range nodes {
		if c, ok := nd.(cancelCounter); ok {
			n += c.Cancelled()
		}
	}
	return n
}

func counters(nodes []benchNode) (dup, rpcs float64) {
	for _, n := range nodes {
		d, r := n.Counters()
		dup += d
		rpcs += r
	}
	return dup, rpcs
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
