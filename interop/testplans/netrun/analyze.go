package netrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// MeshChange is one Mesh record: Peer entered (Graft) or left the node's
// mesh (the scenarios have one topic).
type MeshChange struct {
	// At is the record's time.
	At time.Time
	// Graft is true for op "graft", false for anything else (a prune).
	Graft bool
	// Peer is the record's peer id string.
	Peer string
}

// NodeLog is what one node's stdout said.
type NodeLog struct {
	// Node is the node id, as given to ParseLog.
	Node int
	// Impl is the node's implementation name, as given to ParseLog.
	Impl string
	// PeerID is the id of the node's PeerID record; empty without one.
	PeerID string
	// Received holds the receipt times of every copy of each message id
	// (decimal, as logged), in log order.
	Received map[string][]time.Time
	// Published holds the publish time of each message this node published.
	Published map[string]time.Time
	// From holds the sender (peer id) of each copy, parallel to Received.
	From map[string][]string
	// Mesh holds the Mesh records (when the node wrote them), in log order.
	Mesh []MeshChange
	// Completed holds, per partial-message group id (decimal), the first
	// "All parts received" record of the group (the node held every part).
	Completed map[string]time.Time
	// PublishedPartial holds, per partial-message group id (decimal), the
	// node's first "Published Partial" record (it offered the group).
	PublishedPartial map[string]time.Time
	// BadLines counts lines that were not JSON objects.
	BadLines int
}

// ParseLog reads a node's NDJSON stdout.
func ParseLog(node int, impl string, r io.Reader) (NodeLog, error) {
	l := NodeLog{Node: node, Impl: impl, Received: map[string][]time.Time{}, Published: map[string]time.Time{}, Completed: map[string]time.Time{}, PublishedPartial: map[string]time.Time{}, From: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			ID     any       `json:"id"`
			NodeID *int      `json:"node_id"`
			Group  any       `json:"group id"`
			From   string    `json:"from"`
			Op     string    `json:"op"`
			Peer   string    `json:"peer"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			l.BadLines++
			continue
		}
		id := fmt.Sprint(rec.ID)
		switch rec.Msg {
		case "PeerID":
			l.PeerID = id
			if rec.NodeID != nil && *rec.NodeID != node {
				return l, fmt.Errorf("node%d logged node_id %d", node, *rec.NodeID)
			}
		case "Received Message":
			l.Received[id] = append(l.Received[id], rec.Time)
			l.From[id] = append(l.From[id], rec.From)
		case "Mesh":
			l.Mesh = append(l.Mesh, MeshChange{At: rec.Time, Graft: rec.Op == "graft", Peer: rec.Peer})
		case "Published Message":
			// A repeated publish of an id (the script may ask for it; the
			// router drops the repeat) writes a second record: the
			// message's origin is the first.
			if at, ok := l.Published[id]; !ok || rec.Time.Before(at) {
				l.Published[id] = rec.Time
			}
		case "All parts received":
			g := fmt.Sprint(rec.Group)
			if _, ok := l.Completed[g]; !ok {
				l.Completed[g] = rec.Time
			}
		case "Published Partial":
			g := fmt.Sprint(rec.Group)
			if at, ok := l.PublishedPartial[g]; !ok || rec.Time.Before(at) {
				l.PublishedPartial[g] = rec.Time
			}
		}
	}
	return l, sc.Err()
}

// Stats is the three figures of the plans for one group of receiving nodes.
type Stats struct {
	// Group is "overall" or an implementation name (NodeLog.Impl); Analyze
	// adds per-implementation rows only when there are several.
	Group string
	// Nodes is how many nodes the group holds, publishers included.
	Nodes int
	// Messages is how many messages were published (seen anywhere).
	Messages int
	// Reliability is, over the messages the group has a node to reach
	// with (a node other than the publisher), the mean and the minimum
	// share of those nodes the message reached.
	ReliabilityMean, ReliabilityMin float64
	// ReachAll and Reach90 are percentiles (p50, p90, p99) over messages of
	// the time from publish until every node, and 90% of the nodes, of the
	// group had the message; messages that never got there are left out and
	// counted in ReachAllMissing, Reach90Missing.
	ReachAll, Reach90               [3]time.Duration
	ReachAllMissing, Reach90Missing int // messages left out of ReachAll, Reach90
	// DupsPerDelivery is the copies received beyond the first, divided by
	// the first copies (deliveries), summed over the group and the messages.
	DupsPerDelivery float64
	// Deliveries counts the (node, message) pairs of the group where the
	// node, not the message's publisher, received at least one copy.
	Deliveries int
	// Duplicates counts the group's copies beyond each node's first, plus
	// every copy a publisher received of its own message.
	Duplicates int
}

// Analyze computes the figures overall and per implementation. A message's
// time origin is its publish record, or its first receipt anywhere when the
// publisher did not log one (as the plans' analysis does).
func Analyze(logs []NodeLog) []Stats {
	impls := map[string]bool{}
	for _, l := range logs {
		impls[l.Impl] = true
	}
	groups := []string{"overall"}
	var names []string
	for k := range impls {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 1 {
		groups = append(groups, names...)
	}
	// Every message id seen, its publisher and origin.
	type msgInfo struct {
		publisher int
		origin    time.Time
	}
	msgs := map[string]*msgInfo{}
	for _, l := range logs {
		for id, at := range l.Published {
			msgs[id] = &msgInfo{publisher: l.Node, origin: at}
		}
	}
	for _, l := range logs {
		for id, ts := range l.Received {
			mi := msgs[id]
			if mi == nil {
				mi = &msgInfo{publisher: -1}
				msgs[id] = mi
			}
			if mi.publisher < 0 {
				for _, t := range ts {
					if mi.origin.IsZero() || t.Before(mi.origin) {
						mi.origin = t
					}
				}
			}
		}
	}
	var out []Stats
	for _, g := range groups {
		s := Stats{Group: g, Messages: len(msgs), ReliabilityMin: 1}
		var members []NodeLog
		for _, l := range logs {
			if g == "overall" || l.Impl == g {
				members = append(members, l)
			}
		}
		s.Nodes = len(members)
		var all, p90 []time.Duration
		relSum, relN := 0.0, 0
		for id, mi := range msgs {
			var firsts []time.Duration
			targets := 0
			for _, l := range members {
				ts := l.Received[id]
				if l.Node == mi.publisher {
					s.Duplicates += len(ts)
					continue
				}
				targets++
				if len(ts) == 0 {
					continue
				}
				first := slices.MinFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
				firsts = append(firsts, first.Sub(mi.origin))
				s.Deliveries++
				s.Duplicates += len(ts) - 1
			}
			if targets == 0 {
				continue
			}
			rel := float64(len(firsts)) / float64(targets)
			relSum += rel
			relN++
			s.ReliabilityMin = min(s.ReliabilityMin, rel)
			slices.Sort(firsts)
			if len(firsts) == targets {
				all = append(all, firsts[len(firsts)-1])
			} else {
				s.ReachAllMissing++
			}
			need := int(math.Ceil(0.9 * float64(targets)))
			if need >= 1 && len(firsts) >= need {
				p90 = append(p90, firsts[need-1])
			} else {
				s.Reach90Missing++
			}
		}
		if relN > 0 {
			s.ReliabilityMean = relSum / float64(relN)
		} else {
			s.ReliabilityMin = 0
		}
		s.ReachAll = percentiles(all)
		s.Reach90 = percentiles(p90)
		if s.Deliveries > 0 {
			s.DupsPerDelivery = float64(s.Duplicates) / float64(s.Deliveries)
		}
		out = append(out, s)
	}
	return out
}

// percentiles returns p50, p90, p99 (nearest rank); zero without samples.
func percentiles(d []time.Duration) [3]time.Duration {
	var p [3]time.Duration
	if len(d) == 0 {
		return p
	}
	slices.Sort(d)
	for i, q := range []float64{0.5, 0.9, 0.99} {
		k := int(math.Ceil(q*float64(len(d)))) - 1
		p[i] = d[max(k, 0)]
	}
	return p
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)) }

// FormatTable renders stats as a Markdown table, one row per group.
func FormatTable(title string, stats []Stats) string {
	var b strings.Builder
	if title != "" {
		fmt.Fprintf(&b, "%s\n\n", title)
	}
	b.WriteString("| group | nodes | msgs | reliability mean / min | reach all p50 / p90 / p99 (ms) | reach 90% p50 / p90 / p99 (ms) | dups per delivery |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, s := range stats {
		miss := ""
		if s.ReachAllMissing > 0 {
			miss = fmt.Sprintf(" (%d never)", s.ReachAllMissing)
		}
		miss90 := ""
		if s.Reach90Missing > 0 {
			miss90 = fmt.Sprintf(" (%d never)", s.Reach90Missing)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f%% / %.1f%% | %s / %s / %s%s | %s / %s / %s%s | %.2f |\n",
			s.Group, s.Nodes, s.Messages, 100*s.ReliabilityMean, 100*s.ReliabilityMin,
			ms(s.ReachAll[0]), ms(s.ReachAll[1]), ms(s.ReachAll[2]), miss,
			ms(s.Reach90[0]), ms(s.Reach90[1]), ms(s.Reach90[2]), miss90, s.DupsPerDelivery)
	}
	return b.String()
}

// PartialStats is the partial-message figure for one group of nodes: the
// plans' check wants every node to log "All parts received" (for every
// group, here).
type PartialStats struct {
	// Group is "overall" or an implementation name (NodeLog.Impl), as in
	// Stats.
	Group string
	// Nodes is how many nodes the group holds.
	Nodes int
	// Groups is how many partial-message groups any node completed.
	Groups int
	// Completions counts (node, group) pairs completed, out of Nodes x Groups.
	Completions int
	// NodesAll counts nodes that completed every group; NodesNone those that
	// completed none (the plans' check fails for them).
	NodesAll, NodesNone int
	// CompleteAll and Complete90 are percentiles (p50, p90, p99) over the
	// partial-message groups of the time from a group's first publish
	// record (any node's "Published Partial") until every node of this
	// group of nodes, and 90% of them, had logged "All parts received" for
	// it; a node that held every part before the publish counts as 0.
	// Groups that never got there, or have no publish record, are left out
	// and counted in CompleteAllMissing, Complete90Missing.
	CompleteAll, Complete90               [3]time.Duration
	CompleteAllMissing, Complete90Missing int // partial groups left out of CompleteAll, Complete90
}

// AnalyzePartial computes PartialStats overall and per implementation; nil
// when no node completed a partial-message group.
func AnalyzePartial(logs []NodeLog) []PartialStats {
	ids := map[string]bool{}
	impls := map[string]bool{}
	for _, l := range logs {
		impls[l.Impl] = true
		for g := range l.Completed {
			ids[g] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	groups := []string{"overall"}
	if len(impls) > 1 {
		groups = append(groups, slices.Sorted(maps.Keys(impls))...)
	}
	origin := map[string]time.Time{}
	for _, l := range logs {
		for id, at := range l.PublishedPartial {
			if o, ok := origin[id]; !ok || at.Before(o) {
				origin[id] = at
			}
		}
	}
	var out []PartialStats
	for _, g := range groups {
		s := PartialStats{Group: g, Groups: len(ids)}
		var members []NodeLog
		for _, l := range logs {
			if g != "overall" && l.Impl != g {
				continue
			}
			members = append(members, l)
			s.Nodes++
			n := 0
			for id := range ids {
				if _, ok := l.Completed[id]; ok {
					n++
				}
			}
			s.Completions += n
			if n == len(ids) {
				s.NodesAll++
			}
			if n == 0 {
				s.NodesNone++
			}
		}
		var all, p90 []time.Duration
		for id := range ids {
			o, ok := origin[id]
			if !ok {
				s.CompleteAllMissing++
				s.Complete90Missing++
				continue
			}
			var done []time.Duration
			for _, l := range members {
				if at, ok := l.Completed[id]; ok {
					done = append(done, max(at.Sub(o), 0))
				}
			}
			slices.Sort(done)
			if len(done) == len(members) && len(done) > 0 {
				all = append(all, done[len(done)-1])
			} else {
				s.CompleteAllMissing++
			}
			if need := int(math.Ceil(0.9 * float64(len(members)))); need >= 1 && len(done) >= need {
				p90 = append(p90, done[need-1])
			} else {
				s.Complete90Missing++
			}
		}
		s.CompleteAll, s.Complete90 = percentiles(all), percentiles(p90)
		out = append(out, s)
	}
	return out
}

// FormatPartialTable renders partial stats as a Markdown table.
func FormatPartialTable(stats []PartialStats) string {
	var b strings.Builder
	b.WriteString("| group | nodes | partial groups | completions | nodes with all / none | all complete p50 / p90 / p99 (ms) | 90% complete p50 / p90 / p99 (ms) |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	never := func(n int) string {
		if n > 0 {
			return fmt.Sprintf(" (%d never)", n)
		}
		return ""
	}
	for _, s := range stats {
		fmt.Fprintf(&b, "| %s | %d | %d | %d / %d | %d / %d | %s / %s / %s%s | %s / %s / %s%s |\n", s.Group, s.Nodes, s.Groups, s.Completions, s.Nodes*s.Groups, s.NodesAll, s.NodesNone,
			ms(s.CompleteAll[0]), ms(s.CompleteAll[1]), ms(s.CompleteAll[2]), never(s.CompleteAllMissing),
			ms(s.Complete90[0]), ms(s.Complete90[1]), ms(s.Complete90[2]), never(s.Complete90Missing))
	}
	return b.String()
}

// DupSources tells where the copies a group of nodes received came from,
// from the nodes' Mesh records: the message's publisher (flood publishing
// sends to every topic peer), a peer in the receiver's mesh at that instant,
// or another peer (an IWANT answer, or a peer whose mesh holds the receiver
// while the receiver's does not hold it).
type DupSources struct {
	// Group is "overall" or an implementation name (NodeLog.Impl): the
	// receiving nodes counted.
	Group string
	// Deliveries counts first copies, of messages that have a publish
	// record, at nodes other than their publisher; so do the counts below.
	Deliveries int
	// FromPublisher, FromMesh and Other count the copies beyond the first:
	// from the publisher, from a peer in the receiver's mesh when the copy
	// arrived, from any other peer.
	FromPublisher, FromMesh, Other int
	// FirstFromPublisher, FirstFromMesh, FirstOther split the first copies.
	FirstFromPublisher, FirstFromMesh, FirstOther int
	// MeshDegree is the mean mesh size of the group's nodes at the publish
	// instants; MeshMin and MeshMax its extremes.
	MeshDegree       float64
	MeshMin, MeshMax int // 0 when no message has a publish record
	// EdgeDups (overall only, 0 in per-implementation rows) is the
	// duplicates per delivery that the meshes alone make when every node
	// forwards at once: with n nodes of mean mesh degree k, n×k/2 mesh
	// edges, n-1 of them carry a message's first copies (one copy each)
	// and every other edge carries one copy each way (both ends get the
	// message from elsewhere before the other's copy or IDONTWANT can
	// arrive), so dups per delivery = n×k/(n-1) - 2. Measured duplicates
	// above it are copies from outside the meshes (a publisher's extra
	// copies, IWANT answers); below it, forwards that IDONTWANT or a
	// skipped peer saved.
	EdgeDups float64
}

// meshAt returns the node's mesh at instant t from its Mesh records.
func meshAt(l NodeLog, t time.Time) map[string]bool {
	m := map[string]bool{}
	for _, c := range l.Mesh {
		if c.At.After(t) {
			break
		}
		if c.Graft {
			m[c.Peer] = true
		} else {
			delete(m, c.Peer)
		}
	}
	return m
}

// AnalyzeDupSources computes DupSources overall and per implementation;
// nil when no node wrote Mesh records.
func AnalyzeDupSources(logs []NodeLog) []DupSources {
	any := false
	impls := map[string]bool{}
	peerNode := map[string]int{}
	for _, l := range logs {
		impls[l.Impl] = true
		peerNode[l.PeerID] = l.Node
		if len(l.Mesh) > 0 {
			any = true
		}
	}
	if !any {
		return nil
	}
	// Time order, on copies: the caller's logs are left as they were.
	logs = slices.Clone(logs)
	for i := range logs {
		logs[i].Mesh = slices.Clone(logs[i].Mesh)
		slices.SortStableFunc(logs[i].Mesh, func(a, b MeshChange) int { return a.At.Compare(b.At) })
	}
	publisher := map[string]int{}
	pubAt := map[string]time.Time{}
	for _, l := range logs {
		for id, at := range l.Published {
			publisher[id], pubAt[id] = l.Node, at
		}
	}
	groups := []string{"overall"}
	if len(impls) > 1 {
		groups = append(groups, slices.Sorted(maps.Keys(impls))...)
	}
	var out []DupSources
	for _, g := range groups {
		s := DupSources{Group: g, MeshMin: math.MaxInt}
		degSum, degN := 0, 0
		for _, l := range logs {
			if g != "overall" && l.Impl != g {
				continue
			}
			for _, at := range pubAt {
				d := len(meshAt(l, at))
				degSum += d
				degN++
				s.MeshMin, s.MeshMax = min(s.MeshMin, d), max(s.MeshMax, d)
			}
			for id, ts := range l.Received {
				pub, ok := publisher[id]
				if !ok || pub == l.Node {
					continue
				}
				order := make([]int, len(ts))
				for i := range order {
					order[i] = i
				}
				slices.SortStableFunc(order, func(a, b int) int { return ts[a].Compare(ts[b]) })
				for k, i := range order {
					from := l.From[id][i]
					n, known := peerNode[from]
					switch {
					case known && n == pub:
						if k == 0 {
							s.FirstFromPublisher++
						} else {
							s.FromPublisher++
						}
					case meshAt(l, ts[i])[from]:
						if k == 0 {
							s.FirstFromMesh++
						} else {
							s.FromMesh++
						}
					default:
						if k == 0 {
							s.FirstOther++
						} else {
							s.Other++
						}
					}
					if k == 0 {
						s.Deliveries++
					}
				}
			}
		}
		if degN > 0 {
			s.MeshDegree = float64(degSum) / float64(degN)
			if g == "overall" && len(logs) > 1 {
				n := float64(len(logs))
				s.EdgeDups = n*s.MeshDegree/(n-1) - 2
			}
		} else {
			s.MeshMin = 0
		}
		out = append(out, s)
	}
	return out
}

// FormatDupSources renders DupSources as a Markdown table; copies are per
// delivery.
func FormatDupSources(stats []DupSources) string {
	var b strings.Builder
	b.WriteString("| group | mesh degree mean (min-max) | first copy from publisher / mesh / other | dups per delivery from publisher / mesh / other | mesh-edge dups n×k/(n-1)-2 / measured beyond it |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, s := range stats {
		d := float64(max(s.Deliveries, 1))
		edge := "-"
		if s.EdgeDups != 0 {
			all := float64(s.FromPublisher+s.FromMesh+s.Other) / d
			edge = fmt.Sprintf("%.2f / %+.2f", s.EdgeDups, all-s.EdgeDups)
		}
		fmt.Fprintf(&b, "| %s | %.2f (%d-%d) | %.0f%% / %.0f%% / %.0f%% | %.2f / %.2f / %.2f | %s |\n", s.Group, s.MeshDegree, s.MeshMin, s.MeshMax,
			100*float64(s.FirstFromPublisher)/d, 100*float64(s.FirstFromMesh)/d, 100*float64(s.FirstOther)/d,
			float64(s.FromPublisher)/d, float64(s.FromMesh)/d, float64(s.Other)/d, edge)
	}
	return b.String()
}

// CPUStats is the CPU time (user + system) the node processes of one group
// used over the whole run (start-up, connects and heartbeats included, the
// same for every implementation): per node, and per message the group's
// nodes received (their first copies, Stats.Deliveries).
type CPUStats struct {
	// Group is the Stats row's group: "overall" or an implementation name.
	Group string
	// Nodes is how many of the group's nodes the cpu argument covers.
	Nodes int
	// PerNode is the group's CPU time divided by Nodes.
	PerNode     time.Duration
	PerDelivery time.Duration // 0 without deliveries
}

// AnalyzeCPU sums cpu (indexed by node) overall and per implementation;
// stats gives the deliveries per group (Analyze's result). Nil without
// CPU figures.
func AnalyzeCPU(logs []NodeLog, cpu []time.Duration, stats []Stats) []CPUStats {
	if len(cpu) == 0 {
		return nil
	}
	var out []CPUStats
	for _, st := range stats {
		s := CPUStats{Group: st.Group}
		var sum time.Duration
		for _, l := range logs {
			if (st.Group == "overall" || l.Impl == st.Group) && l.Node < len(cpu) {
				s.Nodes++
				sum += cpu[l.Node]
			}
		}
		if s.Nodes > 0 {
			s.PerNode = sum / time.Duration(s.Nodes)
		}
		if st.Deliveries > 0 {
			s.PerDelivery = sum / time.Duration(st.Deliveries)
		}
		out = append(out, s)
	}
	return out
}

// FormatCPU renders CPUStats as a Markdown table.
func FormatCPU(stats []CPUStats) string {
	var b strings.Builder
	b.WriteString("| group | nodes | CPU per node (s) | CPU per delivered message (ms) |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, s := range stats {
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f |\n", s.Group, s.Nodes, s.PerNode.Seconds(), float64(s.PerDelivery)/float64(time.Millisecond))
	}
	return b.String()
}

// HopStats is how long a message's first copies took per hop beyond the
// link's delay, by the forwarding node's implementation: for each node B
// and message, with A the sender of B's first copy, the time from A's first
// copy (or A's publish) to B's, minus latency(A) + latency(B). What is left
// is A's processing and sending (validation, queueing, transfer at the
// link's rate: a large message's serialisation shows here), the relay's
// lateness and B's reading; it is where an implementation's CPU per
// message shows, apart from the topology.
type HopStats struct {
	// Group is "overall" or the forwarding node's (A's) implementation.
	Group string
	// Hops is how many hops (receiving node, message) were measured.
	Hops int
	// Overhead is p50, p90, p99 over hops.
	Overhead [3]time.Duration
}

// AnalyzeHops computes HopStats overall and per implementation of the
// forwarding node; latency holds each node's one-way link latency (indexed
// by node). Hops whose sender is not a node of the run are left out.
func AnalyzeHops(logs []NodeLog, latency []time.Duration) []HopStats {
	byPeer := map[string]int{}
	impls := map[string]bool{}
	for i, l := range logs {
		byPeer[l.PeerID] = i
		impls[l.Impl] = true
	}
	first := func(l NodeLog, id string) (time.Time, string, bool) {
		if at, ok := l.Published[id]; ok {
			return at, "", true
		}
		ts := l.Received[id]
		if len(ts) == 0 {
			return time.Time{}, "", false
		}
		k := 0
		for i := range ts {
			if ts[i].Before(ts[k]) {
				k = i
			}
		}
		return ts[k], l.From[id][k], true
	}
	hops := map[string][]time.Duration{}
	for _, l := range logs {
		for id := range l.Received {
			if _, pub := l.Published[id]; pub {
				continue
			}
			tb, from, ok := first(l, id)
			a, known := byPeer[from]
			if !ok || !known || logs[a].Node >= len(latency) || l.Node >= len(latency) {
				continue
			}
			ta, _, ok := first(logs[a], id)
			if !ok {
				continue
			}
			d := tb.Sub(ta) - latency[logs[a].Node] - latency[l.Node]
			hops["overall"] = append(hops["overall"], d)
			hops[logs[a].Impl] = append(hops[logs[a].Impl], d)
		}
	}
	if len(hops["overall"]) == 0 {
		return nil
	}
	groups := []string{"overall"}
	if len(impls) > 1 {
		groups = append(groups, slices.Sorted(maps.Keys(impls))...)
	}
	var out []HopStats
	for _, g := range groups {
		out = append(out, HopStats{Group: g, Hops: len(hops[g]), Overhead: percentiles(hops[g])})
	}
	return out
}

// FormatHops renders HopStats as a Markdown table (milliseconds, one decimal).
func FormatHops(stats []HopStats) string {
	var b strings.Builder
	b.WriteString("| forwarded by | hops | per-hop time beyond the link delay p50 / p90 / p99 (ms) |\n")
	b.WriteString("|---|---|---|\n")
	f := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	for _, s := range stats {
		fmt.Fprintf(&b, "| %s | %d | %s / %s / %s |\n", s.Group, s.Hops, f(s.Overhead[0]), f(s.Overhead[1]), f(s.Overhead[2]))
	}
	return b.String()
}
