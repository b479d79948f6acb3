// Package tracemark marks a message's publish and its median delivery in a
// runtime execution trace, for the router benchmark (bench/router, which
// writes them) and its trace account (bench/tracecount, which reads them).
package tracemark

import (
	"context"
	"runtime/trace"
	"strconv"
	"strings"
)

// Category is the user log category of the marks.
const Category = "meshbus-bench"

// The marks: Publish just before message i is published, Median at its
// median delivery. A mark is logged as "<mark> <i>".
const (
	Publish = "publish"
	Median  = "median"
)

// Log logs mark for message i, if a trace is being recorded (nothing
// otherwise: no allocation on the benchmark's path).
func Log(mark string, i int) {
	if trace.IsEnabled() {
		trace.Log(context.Background(), Category, mark+" "+strconv.Itoa(i))
	}
}

// Parse reads a mark logged by Log: its name and message index; ok is
// false for a message of another form.
func Parse(message string) (mark string, i int, ok bool) {
	mark, idx, found := strings.Cut(message, " ")
	i, err := strconv.Atoi(idx)
	if !found || err != nil || i < 0 {
		return "", 0, false
	}
	return mark, i, true
}
