package main

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The report follows each node's first copy back along its path: a message
// from node 0 reaches node 1 directly and node 2 through node 1 (a later
// copy from node 0 does not count), and every segment is the difference of
// the stamps on that path.
func TestStageReport(t *testing.T) {
	l := newStageLog()
	ids := []peer.ID{"p0", "p1", "p2"}
	for i, p := range ids {
		if n := l.node(); n != i {
			t.Fatalf("node index %d, want %d", n, i)
		}
		l.setPeer(i, p)
	}
	ms := func(n int) time.Time { return l.start.Add(time.Duration(n) * time.Millisecond) }
	for _, r := range []struct {
		at    int
		kind  stageKind
		node  int
		other peer.ID
	}{
		{0, stQueued, 0, "p1"}, {0, stQueued, 0, "p2"},
		{1, stWriting, 0, "p1"}, {2, stWritten, 0, "p1"},
		{3, stRead, 1, "p0"}, {4, stReceived, 1, "p0"},
		{6, stQueued, 1, "p2"}, {7, stWriting, 1, "p2"}, {9, stWritten, 1, "p2"},
		{10, stRead, 2, "p1"}, {12, stReceived, 2, "p1"},
		{20, stWriting, 0, "p2"}, {21, stWritten, 0, "p2"}, {22, stReceived, 2, "p0"}, // late
		{30, stReceived, 0, "p2"}, // the message back at its origin: not an arrival
		{-2, stPublished, -1, ""}, {5, stDelivered, 1, ""}, {15, stDelivered, 2, ""},
		{4, stHanded, 1, "p0"}, {13, stHanded, 2, "p1"},
	} {
		l.addAt(ms(r.at), r.kind, "m", r.node, r.other)
	}
	spans, hops, tail := l.report()
	if hops != 1.5 {
		t.Errorf("mean hops %v, want 1.5 (1 to node 1, 2 to node 2)", hops)
	}
	// The tail is the one slowest copy (1% of two, at least one): node
	// 2's, 12 ms from the origin's first queued copy over two hops. Node
	// 1 held it 2 ms (4 to 6); wakes 1+1, writes 1+2, wires 2+3.
	ms1 := time.Millisecond
	if want := (TailSpan{N: 1, Total: 12 * ms1, Hops: 2, Held: 2 * ms1, Wake: 2 * ms1, Write: 3 * ms1, Wire: 5 * ms1}); tail != want {
		t.Errorf("tail %+v, want %+v", tail, want)
	}
	want := map[string][2]int{ // p50, p90 in ms over the two hops (quantile takes the lower)
		segQueue:    {2, 2}, // published at -2, queued at 0
		segArrival:  {4, 4}, // 4 and 12
		segDeliver:  {1, 1}, // 5-4 and 15-12
		segHanded:   {0, 0}, // 4-4 and 13-12
		segHandRead: {1, 1}, // 5-4 and 15-13
		segHeld:     {2, 2}, // node 1: received at 4, queued for node 2 at 6
		segWake:     {1, 1}, // 1 and 1
		segWrite:    {1, 1}, // 1 and 2
		segWire:     {2, 2}, // 4-2 and 12-9
		segWireRead: {1, 1}, // 3-2 and 10-9
		segReadRecv: {1, 1}, // 4-3 and 12-10
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected segment %q", s.Name)
			continue
		}
		if s.P50 != time.Duration(w[0])*time.Millisecond || s.P90 != time.Duration(w[1])*time.Millisecond {
			t.Errorf("%s: p50 %v p90 %v, want %dms %dms", s.Name, s.P50, s.P90, w[0], w[1])
		}
	}
	if !slices.Equal(names, segOrder) {
		t.Errorf("segments %q, want %q", names, segOrder)
	}
	for _, s := range spans {
		if wantN := map[string]int{segHeld: 1, segQueue: 1}[s.Name]; wantN == 0 && s.N != 2 || wantN != 0 && s.N != wantN {
			t.Errorf("%s counted %d hops", s.Name, s.N)
		}
	}
}

// The tail is the slowest TailShare of the first copies, and time the
// stamps do not cover (here: no writer stamps) is reported as Other.
func TestStageTail(t *testing.T) {
	l := newStageLog()
	const receivers = 300
	for i := 0; i <= receivers; i++ {
		l.node()
		l.setPeer(i, peer.ID("p"+strconv.Itoa(i)))
	}
	ms := func(n int) time.Time { return l.start.Add(time.Duration(n) * time.Millisecond) }
	for i := 1; i <= receivers; i++ {
		l.addAt(ms(0), stQueued, "m", 0, l.peers[i])
		l.addAt(ms(i), stReceived, "m", i, "p0")
	}
	_, hops, tail := l.report()
	if hops != 1 {
		t.Errorf("mean hops %v, want 1", hops)
	}
	// 1% of 300: the three slowest, 300, 299 and 298 ms.
	if want := (TailSpan{N: 3, Total: 299 * time.Millisecond, Hops: 1, Other: 299 * time.Millisecond}); tail != want {
		t.Errorf("tail %+v, want %+v", tail, want)
	}
}

// A -stages run of each implementation reports the segments it can see
// (meshbus also the reader's), and -compare prints them with their ratios.
func TestStagesRun(t *testing.T) {
	for _, impl := range []string{implMeshbus, implGossipSub} {
		t.Run(impl, func(t *testing.T) {
			cfg := smallConfig(impl)
			cfg.Stages = true
			res, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.StageHops < 1 {
				t.Errorf("mean hops %v", res.StageHops)
			}
			// Both implementations stamp every segment of a path.
			if tl := res.StageTail; tl == nil || tl.N == 0 || tl.Hops < 1 || tl.Total <= 0 || tl.Other != 0 {
				t.Errorf("tail %+v", tl)
			}
			for _, name := range []string{segQueue, segArrival, segDeliver, segWake, segWrite, segWire} {
				if s, ok := res.stage(name); !ok || s.N == 0 || s.P90 < s.P50 {
					t.Errorf("segment %q: %+v (measured %v)", name, s, ok)
				}
			}
			// Only meshbus reports its reader and its hand-off to the
			// subscribers.
			for _, name := range []string{segWireRead, segReadRecv, segHanded, segHandRead} {
				if _, ok := res.stage(name); ok != (impl == implMeshbus) {
					t.Errorf("segment %q reported: %v", name, ok)
				}
			}
			var out bytes.Buffer
			res.Print(&out, cfg)
			if !strings.Contains(out.String(), "first copies' hops") || !strings.Contains(out.String(), segWake) || !strings.Contains(out.String(), "slowest 1% of first copies") {
				t.Errorf("report lacks the stages:\n%s", out.String())
			}
		})
	}
	if args := childArgs(Config{Stages: true}, implMeshbus); !slices.Contains(args, "-stages=true") {
		t.Errorf("child args %q lack -stages=true", args)
	}
	var out, errs bytes.Buffer
	if code := run([]string{"-compare", "-stages", "-runs", "1", "-nodes", "4", "-messages", "10", "-size", "64", "-degree", "2"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"hop " + segWake + " p50", "hop " + segWireRead + " p90", "first copies' hops", "tail: held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
