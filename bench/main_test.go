package main

import (
	"bytes"
	"strings"
	"testing"
)

// tiny makes a whole run fast enough for a -race test.
var tiny = []string{"-subs", "1,2", "-bufs", "4", "-rounds", "1", "-budget", "40", "-min-events", "20",
	"-stall-events", "100", "-slow-events", "20", "-slow-period", "1µs",
	"-churn-iterations", "20", "-churn-rounds", "1"}

func TestRunPrintsTable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(append([]string{"-v"}, tiny...), &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	for _, want := range []string{"command: go run ./bench -v -subs", "ns/event", "p99", "Targets"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "round 1 ") {
		t.Errorf("-v printed no progress:\n%s", errOut.String())
	}
}

func TestRunRowsFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(append([]string{"-rows", "^stall/impl=meshbus-typed/policy=drop$"}, tiny...), &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	s := out.String()
	if strings.Contains(s, "ns/event") || !strings.Contains(s, "drop") || !strings.Contains(s, "always-block") {
		t.Errorf("-rows selected the wrong rows:\n%s", s)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-subs", "x"}, {"-bufs", ""}, {"-rows", "("}, {"-rounds", "-1"}, {"-nope"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("run(%q) printed no error", args)
		}
	}
}
