package netrun

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

// Config is one run.
type Config struct {
	// Params is the params.json path (the plans' format).
	Params string
	// Composition is the implementation mix.
	Composition []Share
	// Bins maps an implementation name to its node binary.
	Bins map[string]string
	// Links holds one link per node; its length is the node count.
	Links []LinkSpec
	// Out is the directory for the node logs and the results.
	Out string
	// Seed seeds the implementation assignment.
	Seed uint64
	// Timeout bounds the run after the script's last waitUntil (default 60 s).
	Timeout time.Duration
	// ForceRelay uses the userspace relay even where netem exists.
	ForceRelay bool
	// ARP resolves neighbours with ARP instead of permanent entries (see
	// NetOptions.ARP).
	ARP bool
	// Log receives progress (default slog.Default()).
	Log *slog.Logger
}

// Result is what a run produced.
type Result struct {
	// Impls is each node's implementation (Assign), indexed by node.
	Impls []string
	// Netem is whether netem applied the delays; false: the userspace
	// relay did (see Relay).
	Netem bool
	// ProbeRTT is the measured TCP connect round trip node0 -> node1 (p50)
	// against ExpectedRTT, 2 x (lat0 + lat1).
	ProbeRTT, ExpectedRTT time.Duration
	// Relay is the userspace relay's counters; zero under netem.
	Relay RelayStats
	// Failed lists nodes that exited non-zero or were killed, with the last
	// line of their stderr.
	Failed []string
	// Stats is Analyze's result: the "overall" row, then one per
	// implementation when there are several.
	Stats []Stats
	// Partial is the partial-message completion figure (nil when no node
	// completed a partial-message group).
	Partial []PartialStats
	// DupSources splits the copies received by sender (nil without Mesh
	// records).
	DupSources []DupSources
	// CPU is each node process's CPU time (user + system, from its exit
	// status), indexed by node; CPUStats sums it per group of nodes.
	CPU []time.Duration
	// CPUStats is AnalyzeCPU's result, one row per Stats row.
	CPUStats []CPUStats
	// Hops is the per-hop time beyond the links' delay.
	Hops []HopStats
	// Logs holds each node's parsed stdout, indexed by node; left out of
	// result.json.
	Logs []NodeLog `json:"-"`
}

// Run sets up the network, runs every node to the end of its script (or
// until ctx ends), tears everything down and analyses the logs.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if err := Check(); err != nil {
		return nil, err
	}
	params, err := script.ReadParams(cfg.Params)
	if err != nil {
		return nil, err
	}
	n := len(cfg.Links)
	impls := Assign(cfg.Composition, n, cfg.Seed)
	for _, im := range impls {
		bin, ok := cfg.Bins[im]
		if !ok {
			return nil, fmt.Errorf("%w: no binary for implementation %q", ErrBadConfig, im)
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%w: %s binary: %w", ErrBadConfig, im, err)
		}
	}
	params2, err := filepath.Abs(cfg.Params)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	res := &Result{Impls: impls}
	if err := raisePriority(-10); err != nil {
		cfg.Log.Warn("could not raise the relay's priority; delays may run late under load", "err", err)
	}
	cfg.Log.Info("setting up network", "nodes", n)
	net, err := Setup(ctx, Prefix(), cfg.Links, NetOptions{ForceRelay: cfg.ForceRelay, ARP: cfg.ARP})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := net.Teardown(); err != nil {
			cfg.Log.Error("teardown", "err", err)
		}
	}()
	res.Netem = net.Netem()
	if n >= 2 {
		s, err := net.MeasureRTT(ctx, 0, 1, 9)
		if err != nil {
			return nil, err
		}
		res.ProbeRTT = s[len(s)/2]
		res.ExpectedRTT = 2 * (cfg.Links[0].Latency + cfg.Links[1].Latency)
		cfg.Log.Info("delay probe node0 -> node1", "measured_rtt_p50", res.ProbeRTT, "configured_rtt", res.ExpectedRTT, "netem", res.Netem)
	}
	procs := make([]*exec.Cmd, n)
	files := make([]*os.File, 0, 2*n)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	stopAll := func(sig syscall.Signal) {
		for _, c := range procs {
			if c != nil && c.Process != nil && c.ProcessState == nil {
				_ = c.Process.Signal(sig)
			}
		}
	}
	exited := make(chan int, n)
	defer func() {
		// Whatever happened, no node outlives the run.
		stopAll(syscall.SIGKILL)
	}()
	start := time.Now()
	for i := range n {

		out, err := os.Create(filepath.Join(cfg.Out, fmt.Sprintf("node%d.stdout", i)))
		if err != nil {
			return nil, err
		}
		files = append(files, out)
		errf, err := os.Create(filepath.Join(cfg.Out, fmt.Sprintf("node%d.stderr", i)))
		if err != nil {
			return nil, err
		}
		files = append(files, errf)
		c := exec.Command("ip", "netns", "exec", net.Namespace(i), self, "--params", params2)
		c.Env = append(os.Environ(), envHostname+"="+fmt.Sprintf("node%d", i), envExec+"="+cfg.Bins[impls[i]],
			// go-libp2p dials TCP from its listening port by default. Here a
			// node that closes a refused or rate-limited connection keeps
			// the (port 9000, port 9000) pair in TIME_WAIT, and the next
			// dial of that pair times out for a minute. Ephemeral source
			// ports avoid it; every go-libp2p based node gets the same.
			"LIBP2P_TCP_REUSEPORT=false",
			// Mesh records let the analysis tell where duplicates come from.
			script.MeshEnv+"=1")
		c.Stdout, c.Stderr = out, errf
		c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS, Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			return nil, fmt.Errorf("starting node%d: %w", i, err)
		}
		procs[i] = c
		go func(i int) {
			_ = c.Wait()
			exited <- i
		}(i)
	}
	cfg.Log.Info("nodes started", "took", time.Since(start).Round(time.Millisecond))
	deadline := time.NewTimer(scriptEnd(params) + cfg.Timeout)
	defer deadline.Stop()
	left := n
	var runErr error
collect:
	for left > 0 {
		select {
		case <-exited:
			left--
		case <-ctx.Done():
			runErr = ctx.Err()
			cfg.Log.Warn("interrupted: stopping nodes")
			break collect
		case <-deadline.C:
			cfg.Log.Warn("deadline passed: stopping nodes", "still_running", left)
			break collect
		}
	}
	if left > 0 {
		stopAll(syscall.SIGTERM)
		grace := time.After(5 * time.Second)
	wait:
		for left > 0 {
			select {
			case <-exited:
				left--
			case <-grace:
				stopAll(syscall.SIGKILL)
				break wait
			}
		}
		for left > 0 {
			<-exited
			left--
		}
	}
	if net.Relay() != nil {
		res.Relay = net.Relay().Stats()
	}
	res.CPU = make([]time.Duration, n)
	for i, c := range procs {
		if c.ProcessState != nil {
			if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
				res.CPU[i] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
		}
		if c.ProcessState == nil || !c.ProcessState.Success() {
			res.Failed = append(res.Failed, fmt.Sprintf("node%d (%s): %v: %s", i, impls[i], c.ProcessState, lastLine(filepath.Join(cfg.Out, fmt.Sprintf("node%d.stderr", i)))))
		}
	}
	if runErr != nil {
		return res, runErr
	}
	for i := range n {
		f, err := os.Open(filepath.Join(cfg.Out, fmt.Sprintf("node%d.stdout", i)))
		if err != nil {
			return res, err
		}
		l, err := ParseLog(i, impls[i], f)
		f.Close()
		if err != nil {
			return res, err
		}
		res.Logs = append(res.Logs, l)
	}
	res.Stats = Analyze(res.Logs)
	res.Partial = AnalyzePartial(res.Logs)
	res.DupSources = AnalyzeDupSources(res.Logs)
	res.CPUStats = AnalyzeCPU(res.Logs, res.CPU, res.Stats)
	lat := make([]time.Duration, n)
	for i, l := range cfg.Links {
		lat[i] = l.Latency
	}
	res.Hops = AnalyzeHops(res.Logs, lat)
	js, _ := json.MarshalIndent(res, "", " ")
	_ = os.WriteFile(filepath.Join(cfg.Out, "result.json"), js, 0o644)
	return res, nil
}

func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
