package main

import (
	"strings"
	"testing"
)

// Bad flags and configs exit 2 with a message naming the problem, before
// any node or process starts. (The interop run itself is tested in package
// harness.)
func TestRunRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-msgid", "sha256"}, "MsgID"},
		{[]string{"-topology", "star"}, "Topology"},
		{[]string{"-assembly", "kitchen-sink"}, "Assembly"},
		{[]string{"-js", "-1"}, "JSPeers"},
		{[]string{"-messages", "1"}, "Messages"},
		{[]string{"-min-size", "100", "-max-size", "50"}, "MinPayload/MaxPayload"},
	} {
		var out, errOut strings.Builder
		if code := run(tc.args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errOut.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed a report: %q", tc.args, out.String())
		}
	}
}
