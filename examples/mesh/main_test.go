package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo forms a mesh, every node receives every message, and the output
// shows the grafts, publishes and deliveries it is meant to teach.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	cfg := config{nodes: 4, messages: 3, topic: "t", seed: 7, timeout: 60 * time.Second}
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"4 nodes up on loopback",
		" grafted ",
		" published ",
		"every node received all 3 messages",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// Each of the 3 messages is delivered at the 3 nodes that did not publish it.
	if n := strings.Count(text, " delivered "); n != 9 {
		t.Errorf("%d delivered lines, want 9:\n%s", n, text)
	}
}

func TestBadConfig(t *testing.T) {
	if err := run(context.Background(), config{nodes: 1, messages: 1}, &bytes.Buffer{}); err == nil {
		t.Fatal("one node accepted")
	}
}

// With -dashboard the demo serves one view of all its nodes and keeps them
// running until interrupted; the page's kill stops a node.
func TestDemoWithDashboard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	cfg := config{nodes: 4, messages: 2, topic: "t", seed: 7, timeout: 60 * time.Second,
		dashboard: "127.0.0.1:0", ready: func(u string) { urls <- u }}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, &out) }()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("demo ended early: %v\n%s", err, out.String())
	}
	state := func() (nodes, alive, mesh int) {
		resp, err := http.Get(url + "api/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Nodes []struct{ Alive bool } `json:"nodes"`
			Mesh  []struct{}             `json:"mesh"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		for _, n := range v.Nodes {
			if n.Alive {
				alive++
			}
		}
		return len(v.Nodes), alive, len(v.Mesh)
	}
	wait := func(what string, cond func(nodes, alive, mesh int) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for !cond(state()) {
			if time.Now().After(deadline) {
				t.Fatalf("dashboard never showed %s", what)
			}
			select {
			case err := <-done:
				t.Fatalf("demo ended while waiting for %s: %v\n%s", what, err, out.String())
			case <-tick.C:
			}
		}
	}
	wait("4 nodes with meshes", func(n, a, m int) bool { return n == 4 && a == 4 && m > 0 })
	req, _ := http.NewRequest("POST", url+"api/nodes/n1/kill", nil)
	req.Header.Set("X-Meshbus-Dashboard", "kill")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("kill: %s", resp.Status)
	}
	wait("n1 stopped", func(n, a, m int) bool { return n == 4 && a == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
}
