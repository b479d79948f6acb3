package main

import (
	"bytes"
	"context"
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
