package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// A -compare child: this test binary stands in for the command.
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

func smallConfig(impl string) Config {
	return Config{Impl: impl, Nodes: 5, Degree: 2, Messages: 30, Size: 64, Topics: 1,
		Interval: time.Millisecond, Seed: 3, Timeout: 60 * time.Second, Drain: 30 * time.Second}
}

// A small run of each implementation delivers everything and reports every
// figure.
func TestSmallRun(t *testing.T) {
	for _, impl := range []string{implMeshbus, implGossipSub} {
		t.Run(impl, func(t *testing.T) {
			cfg := smallConfig(impl)
			res, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Received != res.Expected || res.Expected != 4*30 {
				t.Fatalf("received %d of %d", res.Received, res.Expected)
			}
			if len(res.Latencies) != res.Received || res.RPCsOut <= 0 || res.P99 <= 0 {
				t.Fatalf("latencies %d, RPCs %v, p99 %v", len(res.Latencies), res.RPCsOut, res.P99)
			}
			// Every message reached its median receiver once, after its
			// publish, and used some CPU on the way.
			if len(res.ToMedian) != cfg.Messages {
				t.Fatalf("%d spans to the median delivery, want one per message (%d)", len(res.ToMedian), cfg.Messages)
			}
			for _, s := range res.ToMedian {
				if s.Wall <= 0 || s.CPU < 0 {
					t.Fatalf("span to the median delivery %+v", s)
				}
			}
			// QUIC runs over UDP: where the counters exist, packets flowed.
			if res.UDP != nil && (res.UDP.In == 0 || res.UDP.Out == 0) {
				t.Fatalf("UDP datagrams %+v", *res.UDP)
			}
			if res.cpuToMedian() <= 0 {
				t.Fatalf("no CPU before the median deliveries: %+v", res.ToMedian)
			}
			var out bytes.Buffer
			res.Print(&out, cfg)
			for _, want := range []string{"delivery ratio           1.0000 (120 of 120)", "RPCs per delivered", "CPU per delivered", "to median delivery", "latency p50"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// Several topics: every message reaches every other node once.
func TestTopics(t *testing.T) {
	cfg := smallConfig(implMeshbus)
	cfg.Topics = 3
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != res.Expected {
		t.Fatalf("received %d of %d", res.Received, res.Expected)
	}
}

// -compare runs both implementations in child processes and prints one
// table with every figure and a ratio.
func TestCompare(t *testing.T) {
	var out, errs bytes.Buffer
	code := run([]string{"-compare", "-runs", "1", "-nodes", "4", "-messages", "10", "-size", "64", "-degree", "2"}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"meshbus", "go-libp2p-pubsub", "flood publish off", "delivery ratio", "1.0000", "peak RSS", "CPU per delivered msg", "CPU to median delivery", "cores busy to median", "x\n", "targets (issue 15", "meshbus delivers every message in every run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// With flood publishing on, both implementations still deliver everything,
// and -compare's children are given the setting.
func TestFloodPublish(t *testing.T) {
	deliversAll(t, func(c *Config) { c.FloodPublish = true })
	for _, on := range []bool{false, true} {
		cfg := defaultConfig()
		cfg.FloodPublish = on
		want := fmt.Sprintf("-flood-publish=%v", on)
		if args := childArgs(cfg, implGossipSub); !slices.Contains(args, want) {
			t.Errorf("child args %q lack %s", args, want)
		}
	}
}

// Both implementations deliver everything over TCP too.
func TestTCP(t *testing.T) {
	deliversAll(t, func(c *Config) { c.Transport = transportTCP })
}

// deliversAll runs the small configuration, changed by tweak, with each
// implementation and checks that every message reached every node.
func deliversAll(t *testing.T, tweak func(*Config)) {
	t.Helper()
	for _, impl := range []string{implMeshbus, implGossipSub} {
		t.Run(impl, func(t *testing.T) {
			cfg := smallConfig(impl)
			tweak(&cfg)
			res, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Received != res.Expected {
				t.Fatalf("received %d of %d", res.Received, res.Expected)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := Run(Config{Impl: implMeshbus, Transport: "carrier-pigeon", Nodes: 2, Messages: 1, Size: 12, Topics: 1}); err == nil || !strings.Contains(err.Error(), "unknown transport") {
		t.Fatalf("unknown transport: %v", err)
	}
	if _, err := Run(Config{Impl: implMeshbus, Nodes: 1, Messages: 1, Size: 12, Topics: 1}); err == nil {
		t.Fatal("one node accepted")
	}
	if _, err := Run(Config{Impl: "nope", Nodes: 2, Messages: 1, Size: 12, Topics: 1}); err == nil {
		t.Fatal("unknown implementation accepted")
	}
	var out, errs bytes.Buffer
	if code := run([]string{"-compare", "-runs", "0"}, &out, &errs); code != 1 {
		t.Fatalf("-runs 0: exit %d", code)
	}
}

// -scale prints one row per shape with both implementations' figures.
func TestScale(t *testing.T) {
	cfg := smallConfig(implMeshbus)
	cfg.Messages = 12
	var out, errs bytes.Buffer
	if err := scale(cfg, 1, [][2]int{{3, 1}, {3, 2}}, &out, &errs); err != nil {
		t.Fatalf("%v: %s", err, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 { // the heading, the column names, two shapes
		t.Fatalf("want 4 lines:\n%s", out.String())
	}
	for _, l := range lines[2:] {
		if !strings.Contains(l, "1.0000/1.0000") || strings.Count(l, "x") < 2 {
			t.Errorf("row lacks full delivery or ratios: %q", l)
		}
		// One table: the rows share the columns (tabwriter pads by runes;
		// "µs" is one rune, two bytes).
		if utf8.RuneCountInString(l) != utf8.RuneCountInString(lines[1]) {
			t.Errorf("row %q not aligned with the column names %q", l, lines[1])
		}
	}
}

// -cpuprofile and -trace write their files; a path that cannot be created
// fails the run before it starts.
func TestRecordings(t *testing.T) {
	dir := t.TempDir()
	prof, tr := dir+"/cpu.prof", dir+"/run.trace"
	var out, errs bytes.Buffer
	args := []string{"-nodes", "2", "-degree", "1", "-messages", "3", "-size", "64", "-cpuprofile", prof, "-trace", tr}
	if code := run(args, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, f := range []string{prof, tr} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", f)
		}
	}
	errs.Reset()
	if code := run([]string{"-trace", dir + "/missing/run.trace", "-nodes", "2", "-messages", "1"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "missing") {
		t.Fatalf("unwritable trace: exit %d, %q", code, errs.String())
	}
}
