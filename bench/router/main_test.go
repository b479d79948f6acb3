package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A small run delivers everything and reports every figure.
func TestSmallRun(t *testing.T) {
	cfg := Config{Nodes: 5, Degree: 2, Messages: 30, Size: 64, Interval: time.Millisecond, Seed: 3, Timeout: 60 * time.Second}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != res.Expected || res.Expected != 4*30 {
		t.Fatalf("received %d of %d", res.Received, res.Expected)
	}
	if len(res.Latencies) != res.Received || res.RPCsOut <= 0 {
		t.Fatalf("latencies %d, RPCs %v", len(res.Latencies), res.RPCsOut)
	}
	var out bytes.Buffer
	res.Print(&out, cfg)
	for _, want := range []string{"delivery ratio           1.0000 (120 of 120)", "RPCs per delivered", "CPU per delivered", "latency p50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := Run(Config{Nodes: 1, Messages: 1, Size: 8}); err == nil {
		t.Fatal("one node accepted")
	}
}

// The reference implementation runs in the same harness and delivers everything.
func TestSmallRunGossipsub(t *testing.T) {
	cfg := Config{Nodes: 5, Degree: 2, Messages: 30, Size: 64, Interval: time.Millisecond, Seed: 3, Timeout: 60 * time.Second}
	res, err := RunGossipsub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != res.Expected || res.Expected != 4*30 || len(res.Latencies) != res.Received {
		t.Fatalf("received %d of %d, %d latencies", res.Received, res.Expected, len(res.Latencies))
	}
}
