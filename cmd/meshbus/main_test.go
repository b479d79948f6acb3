package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a bytes.Buffer safe for one writer and one reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until re matches the output, failing after 20 s.
func waitOutput(t *testing.T, b *syncBuf, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := rx.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("output never matched %q:\n%s", re, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type cli struct {
	in   *io.PipeWriter
	out  *syncBuf
	errs *syncBuf
	code chan int
	stop context.CancelFunc
}

func start(t *testing.T, args ...string) *cli {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	c := &cli{in: w, out: &syncBuf{}, errs: &syncBuf{}, code: make(chan int, 1), stop: cancel}
	go func() { c.code <- run(ctx, args, r, c.out, c.errs) }()
	t.Cleanup(func() {
		cancel()
		_ = w.Close()
	})
	return c
}

// exit stops the command as a signal would and returns its status.
func (c *cli) exit(t *testing.T) int {
	t.Helper()
	c.stop()
	select {
	case code := <-c.code:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not shut down")
		return -1
	}
}

// TestTwoNodeChat: the three-command chat of the README, in process: one
// node listens, a second joins through it with --bootstrap, a line typed in
// each is printed by the other, mesh events are printed, the identity
// persists in --key, the peer store in --store, metrics include the Go
// runtime and process collectors, and both exit 0 on shutdown.
func TestTwoNodeChat(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "alice.key")
	alice := start(t, "--key", key, "--store", filepath.Join(dir, "alice.db"), "--metrics", "127.0.0.1:0")
	addr := waitOutput(t, alice.out, `listening on (/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+)`)[1]
	metrics := waitOutput(t, alice.out, `metrics on (http://\S+)`)[1]
	waitOutput(t, alice.out, `joined chat`)
	bob := start(t, "--bootstrap", addr)
	waitOutput(t, bob.out, `\* mesh chat: \+ `)
	if _, err := io.WriteString(bob.in, "hello from bob\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, alice.out, `\[chat\] \S+: hello from bob`)
	if _, err := io.WriteString(alice.in, "hi bob\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, bob.out, `\[chat\] \S+: hi bob`)
	body := fetch(t, metrics+"")
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", "meshbus_peermgr_dials_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code := bob.exit(t); code != 0 {
		t.Fatalf("bob exited %d: %s", code, bob.errs.String())
	}
	if code := alice.exit(t); code != 0 {
		t.Fatalf("alice exited %d: %s", code, alice.errs.String())
	}
	// The identity persisted: a restart has the same peer id.
	id := waitOutput(t, alice.out, `node (\S+)`)[1]
	again := start(t, "--key", key, "--store", filepath.Join(dir, "alice.db"))
	if got := waitOutput(t, again.out, `node (\S+)`)[1]; got != id {
		t.Fatalf("restarted with id %s, want %s", got, id)
	}
	if _, err := os.Stat(filepath.Join(dir, "alice.db")); err != nil {
		t.Fatalf("no peer store written: %v", err)
	}
	if code := again.exit(t); code != 0 {
		t.Fatalf("restart exited %d", code)
	}
}

// TestEndOfInputExitsCleanly: closing standard input shuts the node down
// with status 0; bad flags give status 2.
func TestEndOfInputExitsCleanly(t *testing.T) {
	c := start(t)
	waitOutput(t, c.out, `joined chat`)
	_ = c.in.Close()
	select {
	case code := <-c.code:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, c.errs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after end of input")
	}
	if code := run(context.Background(), []string{"--listen", "not-a-multiaddr"}, strings.NewReader(""), io.Discard, io.Discard); code != 1 {
		t.Fatalf("bad listen address: exit %d, want 1", code)
	}
	if code := run(context.Background(), []string{"--nope"}, strings.NewReader(""), io.Discard, io.Discard); code != 2 {
		t.Fatalf("unknown flag: exit %d, want 2", code)
	}
}

// --dashboard serves the node's live dashboard; its state names the node.
func TestDashboardFlag(t *testing.T) {
	c := start(t, "--dashboard", "127.0.0.1:0")
	id := waitOutput(t, c.out, `node (\S+)`)[1]
	url := waitOutput(t, c.out, `dashboard on (http://\S+)`)[1]
	if body := fetch(t, url+"api/state"); !strings.Contains(body, `"id":"`+id+`"`) {
		t.Errorf("dashboard state lacks the node %s: %s", id, body)
	}
	if page := fetch(t, url); !strings.Contains(page, "meshbus") {
		t.Errorf("dashboard page: %s", page)
	}
	if code := c.exit(t); code != 0 {
		t.Fatalf("exited %d: %s", code, c.errs.String())
	}
}
