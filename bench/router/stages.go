package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// -stages: where a hop's time goes. Every node records when each message
// passes a stage (stageKind), for both implementations: meshbus through
// router.WithStageTracer, go-libp2p-pubsub through its RawTracer (RecvRPC
// on its event loop, SendRPC when it queues an RPC for a peer,
// SendRPCCompleted with the write's duration). After the run the records
// are followed along the path each node's first copy took: which peer it
// came from, how long that peer held it, and where the time between the
// two nodes went.

// stageKind is a point a message passes at one node.
type stageKind uint8

const (
	// stRead: a reader decoded the message (meshbus only).
	stRead stageKind = iota
	// stReceived: the node's driver (meshbus) or event loop
	// (go-libp2p-pubsub) took the message from a peer.
	stReceived
	// stQueued: the node queued a copy for a peer.
	stQueued
	// stWriting: the peer's writer is about to write the copy.
	stWriting
	// stWritten: the write returned.
	stWritten
	// stHanded: the node handed the message to its local subscribers
	// (meshbus only).
	stHanded
	// stDelivered: the bench's subscriber read the message at the node.
	stDelivered
	// stPublished: the bench published the message (the time in its
	// data; node -1).
	stPublished
	numStageKinds
)

// stageRec is one stage one message passed at one node. other is the peer
// it came from (stRead, stReceived) or goes to.
type stageRec struct {
	at    time.Duration // since the log's start (monotonic)
	id    string
	node  int
	other peer.ID
	kind  stageKind
}

// stageLog collects the stage records of every node of a run.
type stageLog struct {
	start time.Time
	mu    sync.Mutex
	recs  []stageRec
	peers []peer.ID // node index -> its peer id
}

func newStageLog() *stageLog { return &stageLog{start: time.Now()} }

// node registers a node and returns its index; its peer id follows with
// setPeer once its host exists.
func (l *stageLog) node() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.peers = append(l.peers, "")
	return len(l.peers) - 1
}

func (l *stageLog) setPeer(node int, p peer.ID) {
	l.mu.Lock()
	l.peers[node] = p
	l.mu.Unlock()
}

// add records a stage passed now.
func (l *stageLog) add(kind stageKind, id string, node int, other peer.ID) {
	l.addAt(time.Now(), kind, id, node, other)
}

// addAt records a stage passed at t.
func (l *stageLog) addAt(t time.Time, kind stageKind, id string, node int, other peer.ID) {
	at := t.Sub(l.start)
	l.mu.Lock()
	l.recs = append(l.recs, stageRec{at: at, id: id, node: node, other: other, kind: kind})
	l.mu.Unlock()
}

// TailShare is the share of first copies, the slowest, that TailSpan
// attributes.
const TailShare = 0.01

// TailSpan attributes the time of the slowest first copies (TailShare of
// them, at least one), from their message's first queued copy at its
// origin to their arrival, to the segments of the path each took, summed
// over its hops; every duration is a mean over those copies. Held is the
// time a node kept the message before queueing the copy for the next node
// (at the origin, the wait of a copy queued after the first; at a
// forwarder, from its own arrival: the check, and with meshbus's v1.4 the
// PREAMBLE's answer or the window), Wake from queued to the writer's
// write, Write the write call, Wire from the write's return to the
// receiver taking the copy. Other is what the stamps do not cover (a
// segment an implementation does not report).
type TailSpan struct {
	N     int           `json:"n"`
	Total time.Duration `json:"total_ns"`
	Hops  float64       `json:"hops"`
	Held  time.Duration `json:"held_ns"`
	Wake  time.Duration `json:"wake_ns"`
	Write time.Duration `json:"write_ns"`
	Wire  time.Duration `json:"wire_ns"`
	Other time.Duration `json:"other_ns"`
}

// StageSpan summarises one segment of the first copies' paths over a run.
type StageSpan struct {
	Name string        `json:"name"`
	N    int           `json:"n"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
}

// Stage segment names, in the order they are printed.
const (
	segQueue    = "publish -> origin queued"
	segArrival  = "origin queued -> first received"
	segDeliver  = "first received -> delivered"
	segHanded   = "first received -> handed to subscribers"
	segHandRead = "handed -> subscriber read"
	segHeld     = "received -> queued (forwarder)"
	segWake     = "queued -> writing"
	segWrite    = "writing -> written"
	segWire     = "written -> received"
	segWireRead = "written -> read"
	segReadRecv = "read -> received"
)

var segOrder = []string{segQueue, segArrival, segDeliver, segHanded, segHandRead, segHeld, segWake, segWrite, segWire, segWireRead, segReadRecv}

// hopKey names one copy: message id, the node holding it, the peer it
// goes to or came from.
type hopKey struct {
	id    string
	node  int
	other peer.ID
}

// arrival is a node's first copy of a message: when, and from whom.
type arrival struct {
	at   time.Duration
	from peer.ID
}

// hopSegs are the segments of one hop (stageLog.report's hopOf), by index
// (segHeldAt ...), with has saying which the stamps give; written is when
// the sender's write returned, prev the sender's own first copy (or the
// origin, fromOrigin).
type hopSegs struct {
	d          [4]time.Duration
	has        [4]bool
	written    time.Duration
	prev       hopKey
	fromOrigin bool
}

// Indexes of hopSegs: held (the sender kept the message before queueing
// the copy), queued -> writing, writing -> written, written -> received.
const (
	segHeldAt = iota
	segWakeAt
	segWriteAt
	segWireAt
)

func (h *hopSegs) set(i int, d time.Duration, ok bool) { h.d[i], h.has[i] = d, ok }

// report follows each node's first copy of each message back to the peer
// it came from and summarises the segments of those hops (StageSpan),
// returns the mean number of hops the first copies travelled, and
// attributes the slowest copies' time along their whole paths (TailSpan).
func (l *stageLog) report() ([]StageSpan, float64, TailSpan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	index := make(map[peer.ID]int, len(l.peers))
	for i, p := range l.peers {
		index[p] = i
	}
	var stamp [numStageKinds]map[hopKey]time.Duration // the first time of each
	for k := range stamp {
		stamp[k] = map[hopKey]time.Duration{}
	}
	first := map[hopKey]arrival{}          // (id, node, "") -> first received
	origin := map[string]hopKey{}          // id -> (id, origin node, "")
	originAt := map[string]time.Duration{} // id -> the origin's first queued
	for _, r := range l.recs {
		k := hopKey{r.id, r.node, r.other}
		if t, ok := stamp[r.kind][k]; !ok || r.at < t {
			stamp[r.kind][k] = r.at
		}
		switch r.kind {
		case stReceived:
			nk := hopKey{id: r.id, node: r.node}
			if a, ok := first[nk]; !ok || r.at < a.at {
				first[nk] = arrival{at: r.at, from: r.other}
			}
		case stQueued:
			if t, ok := originAt[r.id]; !ok || r.at < t {
				originAt[r.id], origin[r.id] = r.at, hopKey{id: r.id, node: r.node}
			}
		}
	}
	segs := map[string][]time.Duration{}
	for id, at := range originAt {
		if pub, ok := stamp[stPublished][hopKey{id: id, node: -1}]; ok {
			segs[segQueue] = append(segs[segQueue], at-pub)
		}
	}
	// hopOf is the hop that brought node k.node its first copy of k.id:
	// whose copy it was (prev) and the segments its stamps give.
	hopOf := func(k hopKey) (h hopSegs, ok bool) {
		a, ok := first[k]
		from, known := index[a.from]
		if !ok || !known {
			return h, false
		}
		h.prev = hopKey{id: k.id, node: from}
		h.fromOrigin = h.prev == origin[k.id]
		out := hopKey{k.id, from, l.peers[k.node]}
		queued, okQ := stamp[stQueued][out]
		writing, okW := stamp[stWriting][out]
		written, okWr := stamp[stWritten][out]
		held, okH := originAt[k.id], true // the origin: its copies wait from its first
		if !h.fromOrigin {
			var fa arrival
			fa, okH = first[h.prev]
			held = fa.at
		}
		h.written = written
		h.set(segHeldAt, queued-held, okQ && okH)
		h.set(segWakeAt, writing-queued, okQ && okW)
		h.set(segWriteAt, written-writing, okW && okWr)
		h.set(segWireAt, a.at-written, okWr)
		return h, true
	}
	hops := map[hopKey]int{}
	var depth func(k hopKey, guard int) int
	depth = func(k hopKey, guard int) int {
		if k == origin[k.id] || guard == 0 {
			return 0
		}
		if h, ok := hops[k]; ok {
			return h
		}
		hp, ok := hopOf(k)
		if !ok {
			return 0
		}
		h := depth(hp.prev, guard-1) + 1
		hops[k] = h
		return h
	}
	type copyTime struct {
		k     hopKey
		total time.Duration
	}
	var copies []copyTime
	totalHops, n := 0, 0
	for k, a := range first {
		o, ok := origin[k.id]
		if !ok || k == o {
			continue // not a message of the run, or its origin
		}
		copies = append(copies, copyTime{k, a.at - originAt[k.id]})
		segs[segArrival] = append(segs[segArrival], a.at-originAt[k.id])
		delivered, okDel := stamp[stDelivered][hopKey{id: k.id, node: k.node}]
		if okDel {
			segs[segDeliver] = append(segs[segDeliver], delivered-a.at)
		}
		if h, ok := stamp[stHanded][hopKey{k.id, k.node, a.from}]; ok {
			segs[segHanded] = append(segs[segHanded], h-a.at)
			if okDel {
				segs[segHandRead] = append(segs[segHandRead], delivered-h)
			}
		}
		h, ok := hopOf(k)
		if !ok {
			continue
		}
		totalHops += depth(k, len(l.peers))
		n++
		for i, name := range []string{segHeld, segWake, segWrite, segWire} {
			if h.has[i] && (i != segHeldAt || !h.fromOrigin) { // held: forwarders only
				segs[name] = append(segs[name], h.d[i])
			}
		}
		if h.has[segWireAt] {
			if read, ok := stamp[stRead][hopKey{k.id, k.node, a.from}]; ok {
				segs[segWireRead] = append(segs[segWireRead], read-h.written)
				segs[segReadRecv] = append(segs[segReadRecv], a.at-read)
			}
		}
	}
	var spans []StageSpan
	for _, name := range segOrder {
		xs := segs[name]
		if len(xs) == 0 {
			continue
		}
		slices.Sort(xs)
		spans = append(spans, StageSpan{Name: name, N: len(xs), P50: quantile(xs, 0.5), P90: quantile(xs, 0.9)})
	}
	var tail TailSpan
	if len(copies) > 0 {
		slices.SortFunc(copies, func(x, y copyTime) int { return cmp.Compare(y.total, x.total) })
		copies = copies[:max(1, int(TailShare*float64(len(copies))))]
		var total time.Duration
		var sum [4]time.Duration
		steps := 0
		for _, c := range copies {
			total += c.total
			steps += depth(c.k, len(l.peers))
			// Back along the path; a path visits each node at most once.
			for i, k := 0, c.k; i < len(l.peers) && k != origin[k.id]; i++ {
				h, ok := hopOf(k)
				if !ok {
					break
				}
				for j := range sum {
					if h.has[j] {
						sum[j] += h.d[j]
					}
				}
				k = h.prev
			}
		}
		m := time.Duration(len(copies))
		tail = TailSpan{N: len(copies), Total: total / m, Hops: float64(steps) / float64(len(copies)),
			Held: sum[segHeldAt] / m, Wake: sum[segWakeAt] / m, Write: sum[segWriteAt] / m, Wire: sum[segWireAt] / m}
		tail.Other = tail.Total - tail.Held - tail.Wake - tail.Write - tail.Wire
	}
	if n == 0 {
		return spans, 0, tail
	}
	return spans, float64(totalHops) / float64(n), tail
}

// stage returns the named segment of the run, if it was measured.
func (r *Result) stage(name string) (StageSpan, bool) {
	for _, s := range r.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return StageSpan{}, false
}

// stageMetrics are the comparison rows of a -stages run: each segment's
// p50 and p90, "-" where an implementation does not report it.
func stageMetrics(mesh, gs []*Result) []metric {
	if len(mesh) == 0 || len(mesh[0].Stages) == 0 {
		return nil
	}
	dur := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return time.Duration(v).Round(time.Microsecond).String()
	}
	hops := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	ms := []metric{{"first copies' hops", func(r *Result) float64 { return r.StageHops }, hops}}
	for _, name := range segOrder {
		for _, q := range []struct {
			label string
			pick  func(StageSpan) time.Duration
		}{{"p50", func(s StageSpan) time.Duration { return s.P50 }}, {"p90", func(s StageSpan) time.Duration { return s.P90 }}} {
			ms = append(ms, metric{"hop " + name + " " + q.label, func(r *Result) float64 {
				s, ok := r.stage(name)
				if !ok {
					return 0
				}
				return float64(q.pick(s))
			}, dur})
		}
	}
	tail := func(pick func(*TailSpan) float64) func(*Result) float64 {
		return func(r *Result) float64 {
			if r.StageTail == nil {
				return 0
			}
			return pick(r.StageTail)
		}
	}
	d := func(f func(*TailSpan) time.Duration) func(*TailSpan) float64 {
		return func(t *TailSpan) float64 { return float64(f(t)) }
	}
	return append(ms,
		metric{fmt.Sprintf("tail: slowest %g%% from origin", 100*TailShare), tail(d(func(t *TailSpan) time.Duration { return t.Total })), dur},
		metric{"tail: hops", tail(func(t *TailSpan) float64 { return t.Hops }), hops},
		metric{"tail: held", tail(d(func(t *TailSpan) time.Duration { return t.Held })), dur},
		metric{"tail: queued -> writing", tail(d(func(t *TailSpan) time.Duration { return t.Wake })), dur},
		metric{"tail: writing -> written", tail(d(func(t *TailSpan) time.Duration { return t.Write })), dur},
		metric{"tail: written -> received", tail(d(func(t *TailSpan) time.Duration { return t.Wire })), dur},
	)
}
