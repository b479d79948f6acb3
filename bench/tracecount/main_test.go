package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/bench/internal/tracemark"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// spinner is a goroutine kind the account must find: it works for a
// while on each request, then blocks for the next.
func spinner(work <-chan time.Duration, done chan<- struct{}) {
	for d := range work {
		for end := time.Now().Add(d); time.Now().Before(end); {
		}
		done <- struct{}{}
	}
}

// recordTrace traces messages rounds of: the publish mark, a spinner run
// of 2 ms, the median mark; then a mark-free gap.
func recordTrace(t *testing.T, messages int, marks bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Skipf("tracing unavailable: %v", err)
	}
	work, done := make(chan time.Duration), make(chan struct{})
	go spinner(work, done)
	for i := range messages {
		if marks {
			tracemark.Log(tracemark.Publish, i)
		}
		work <- 2 * time.Millisecond
		<-done
		if marks {
			tracemark.Log(tracemark.Median, i)
		}
	}
	close(work)
	trace.Stop()
	return buf.Bytes()
}

// The spinner's runs fall between each publish and median mark: the
// account finds every message and the spinner's kind, whose running time
// is within the window (one goroutine cannot run longer than the wall
// time) and within the total.
func TestAccount(t *testing.T) {
	rep, err := Account(bytes.NewReader(recordTrace(t, 3, true)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 3 {
		t.Fatalf("%d messages, want 3", rep.Messages)
	}
	var spin *Kind
	for i := range rep.Kinds {
		if strings.HasPrefix(rep.Kinds[i].Name, "tracecount.spinner") {
			spin = &rep.Kinds[i]
		}
	}
	if spin == nil {
		t.Fatalf("no spinner kind in %+v", rep.Kinds)
	}
	if spin.Runs < 1 || spin.Running <= 0 || spin.Running > rep.Wall {
		t.Fatalf("spinner: %+v, wall %.0f ns", *spin, rep.Wall)
	}
	if rep.Running < spin.Running {
		t.Fatalf("total running %.0f ns under the spinner's %.0f ns", rep.Running, spin.Running)
	}
	var out bytes.Buffer
	rep.Print(&out, 5)
	if !strings.Contains(out.String(), "3 messages") || !strings.Contains(out.String(), "tracecount.spinner") {
		t.Fatalf("report:\n%s", out.String())
	}
}

// A trace without the marks has nothing to account for; bytes that are
// not a trace are an error too, and neither panics.
func TestAccountRejects(t *testing.T) {
	if _, err := Account(bytes.NewReader(recordTrace(t, 1, false))); !errors.Is(err, ErrNoMessages) {
		t.Fatalf("unmarked trace: %v, want ErrNoMessages", err)
	}
	if _, err := Account(strings.NewReader("not a trace")); err == nil {
		t.Fatal("garbage accepted")
	}
}

// The command prints the account of a file and exits 0; it exits 2 without
// a file and 1 for a missing one.
func TestRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.trace")
	if err := os.WriteFile(file, recordTrace(t, 2, true), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run([]string{"-top", "3", file}, &out, &errs); code != 0 || !strings.Contains(out.String(), "2 messages") {
		t.Fatalf("exit %d: %s%s", code, out.String(), errs.String())
	}
	if code := run(nil, &out, &errs); code != 2 {
		t.Fatalf("no file: exit %d", code)
	}
	if code := run([]string{file + ".missing"}, &out, &errs); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
}

// Frames of packages with a dot in their path's first element, and of
// main, are outside the standard library.
func TestOutsideStd(t *testing.T) {
	for fn, want := range map[string]bool{
		"github.com/meshbus/meshbus/components/router.(*Router).run": true,
		"main.run": true,
		"golang.org/x/exp/trace.(*Reader).ReadEvent": true,
		"crypto/tls.(*Conn).Read":                    false,
		"runtime.gopark":                             false,
		"sync.(*Mutex).Lock":                         false,
	} {
		if got := outsideStd(fn); got != want {
			t.Errorf("outsideStd(%q) = %v, want %v", fn, got, want)
		}
	}
}
