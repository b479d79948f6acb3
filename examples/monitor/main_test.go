package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for the printers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// count counts table rows of node showing event about peer.
func count(out, node, event, peer string) int {
	re := regexp.MustCompile(`(?m)^\S+\s+` + node + `\s+` + event + `\s+` + peer + `\s`)
	return len(re.FindAllString(out, -1))
}

// TestScenario runs the default scripted scenario: it terminates by itself
// and the table shows n0 seeing n1 connect, leave and come back.
func TestScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out syncBuffer
	if err := run(ctx, config{nodes: 3, timeout: 10 * time.Second}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "TIME") || !strings.Contains(s, "--- scenario done") {
		t.Fatalf("no header or no end:\n%s", s)
	}
	for _, c := range []struct {
		node, event, peer string
		min               int
	}{
		{"n0", "connected", "n1", 2},
		{"n0", "disconnected", "n1", 1},
		{"n0", "conn-opened", "n1", 2},
		{"n0", "conn-closed", "n1", 1},
		{"n0", "identified", "n1", 2},
		{"n0", "connected", "n2", 1},
		{"n0", "identified", "n2", 1},
		{"n1", "connected", "n0", 2},
	} {
		if n := count(s, c.node, c.event, c.peer); n < c.min {
			t.Errorf("%s %s %s: %d rows, want at least %d", c.node, c.event, c.peer, n, c.min)
		}
	}
	// The scenario's notes follow the rows they wait for.
	step2 := strings.Index(s, "--- step 2")
	if i := strings.Index(s[:step2], "identified    n2"); i < 0 {
		t.Errorf("step 2 announced before n0 printed n2's identification:\n%s", s)
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
}

// TestJoin: -join dials a given node and prints until interrupted.
func TestJoin(t *testing.T) {
	remote, err := host.New(context.Background(), host.WithoutComponent(host.ComponentPeerMgr))
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	seen, err := eventbus.Subscribe[events.EvtPeerIdentificationCompleted](remote.Bus(), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	addrs, err := remote.Addrs()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	joined := make(chan struct{})
	cfg := config{join: addrs[0].String(), timeout: 10 * time.Second, waiting: func() { close(joined) }}
	go func() { done <- run(ctx, cfg, &out) }()
	// Both must happen while the monitor runs: it joined and waits for the
	// interrupt, and the remote identified the monitor's node.
	identified := seen.Out()
	timeout := time.After(30 * time.Second)
	waiting := (<-chan struct{})(joined)
	for waiting != nil || identified != nil {
		select {
		case <-waiting:
			waiting = nil
		case <-identified:
			identified = nil
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		case <-timeout:
			t.Fatalf("monitor never joined:\n%s", out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "n0 joins") || !strings.Contains(s, "running until interrupted") {
		t.Fatalf("output:\n%s", s)
	}

	if err := run(context.Background(), config{join: "/not/a/multiaddr"}, &out); err == nil {
		t.Fatal("bad -join accepted")
	}
	if err := run(context.Background(), config{nodes: 1}, &out); err == nil {
		t.Fatal("-nodes 1 accepted")
	}
}
