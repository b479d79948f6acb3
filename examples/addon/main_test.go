package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/host"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example's scenario: with the simulated clock its output
// is the same on every run.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	const want = `alice runs the uptime add-on, added with one option: host.WithFx(UptimeModule)
  +0s     bob connects
  +1m0s   carol connects
  +1m30s  bob disconnects (the add-on saw a session of 1m30s)
  +1m40s  bob reconnects
  +2m0s   carol disconnects (the add-on saw a session of 1m0s)

uptime report from alice's add-on:
PEER   SESSIONS  CONNECTED  UPTIME
bob    2         yes        1m50s
carol  1         no         1m0s

the add-on's metric, on alice's registry: uptime_sessions_total 3
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestWithoutMetrics: in a node that keeps no metrics the add-on starts
// and keeps none either.
func TestWithoutMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var u *Uptime
	n, err := host.New(ctx, host.WithoutMetrics(), host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		host.WithFx(UptimeModule, fx.Populate(&u)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if u == nil || u.sessions != nil {
		t.Fatalf("add-on %+v: want one without a counter", u)
	}
}
