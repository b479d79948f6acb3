// Package automaton is the dashboard's pure core: it folds the bus events of
// one or more local nodes into the view state the page draws (graph,
// meshes, scores, topics, the bus, the peer manager).
//
// It has no goroutines, no I/O, no locks and reads no clock: every input
// carries its time. One method per input; each returns a named Outcome and
// fills an Output. The driver (package dashboard) owns the only Automaton
// and calls it from one goroutine.
package automaton

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// Config bounds what the automaton remembers.
type Config struct {
	// Control lets the page kill nodes that have a kill function.
	Control bool
	// MaxLog bounds the remembered peer-manager events and threshold
	// crossings per node (default 50).
	MaxLog int
	// RateWindow is how far back the message rate looks (default 5s).
	RateWindow time.Duration
}

// NodeInfo describes a node being attached.
type NodeInfo struct {
	// Name is the node's name on the page; unique among attached nodes.
	Name string
	// ID is the node's peer id.
	ID peer.ID
	// Killable reports that the driver can stop the node.
	Killable bool
}

// Conn is one open connection, as a resync reports it.
type Conn struct {
	// ID is the connection's id (network.Conn.ID), the key that
	// EvtConnOpened and EvtConnClosed carry as ConnID.
	ID string
	// Peer is the remote peer.
	Peer peer.ID
	// Direction is who dialed; anything but DirOutbound is shown as
	// inbound.
	Direction network.Direction
}

// Resync is a node's mesh and connections read from the node itself, which
// replace what the events built (after the dashboard dropped events).
type Resync struct {
	// Mesh maps each joined topic to its mesh peers; nil leaves the mesh as
	// it is.
	Mesh map[string][]peer.ID
	// Conns are the open connections; nil leaves them as they are.
	Conns []Conn
	// Fanout maps each topic with fanout state to its fanout peers; nil
	// leaves the fanout as it is.
	Fanout map[string][]peer.ID
	// Direct are the node's direct peers; nil leaves them as they are.
	Direct []peer.ID
	// Choked maps a joined topic to its choke state (the router's
	// Choked); nil leaves the mesh's choke marks as they are, but a
	// resync of Mesh without it clears them.
	Choked map[string]ChokeState
}

// ChokeState is a topic's choke state on one node: the mesh peers it
// choked (they send it ids in IHAVE, not messages) and those that choked
// it.
type ChokeState struct {
	// Ours are the mesh peers the node choked; a peer not in the topic's
	// mesh is ignored.
	Ours []peer.ID
	// Theirs are the mesh peers that choked the node; a peer not in the
	// topic's mesh is ignored.
	Theirs []peer.ID
}

// Stats is one periodic sample of a node.
type Stats struct {
	// Subs are the bus's subscriptions (introspection).
	Subs []SubStat
	// Dropped is the dashboard subscription's running drop count.
	Dropped uint64
	// Terms are score breakdowns by peer; nil when the node has no source.
	Terms map[peer.ID]ScoreTerms
}

// Automaton is the dashboard state. Not safe for concurrent use.
type Automaton struct {
	cfg   Config
	order []string
	nodes map[string]*nodeState
}

type connRec struct {
	peer peer.ID
	dir  network.Direction
}

type meshRec struct {
	outbound bool
	// choked: we choked the peer (EvtPeerChoked, ByUs); chokedBy: it
	// choked us. Grafting starts a record unchoked; pruning drops it.
	choked, chokedBy bool
}

type sample struct {
	at    time.Time
	total uint64
}

type topicState struct {
	joined    bool
	published uint64
	delivered uint64
	dups      uint64
	rejected  map[string]uint64
	grafts    uint64
	prunes    map[string]uint64
	samples   []sample
}

type nodeState struct {
	info      NodeInfo
	alive     bool
	dropped   uint64
	resyncs   uint64
	conns     map[string]connRec
	mesh      map[string]map[peer.ID]meshRec
	fanout    map[string]map[peer.ID]struct{}
	direct    map[peer.ID]struct{}
	topics    map[string]*topicState
	scores    map[peer.ID]float64
	thr       events.ScoreThresholds
	terms     map[peer.ID]ScoreTerms
	penalties map[peer.ID]map[string]uint64
	crossings []Crossing
	subs      []SubStat
	types     map[string]uint64
	pm        pmState
}

type pmState struct {
	discovered, dials, dialsOK, backoffs, refused uint64
	failures, evictions                           map[string]uint64
	backedOff                                     map[peer.ID]time.Time
	recent                                        []LogLine
}

// New returns an empty automaton.
func New(cfg Config) *Automaton {
	if cfg.MaxLog <= 0 {
		cfg.MaxLog = 50
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = 5 * time.Second
	}
	return &Automaton{cfg: cfg, nodes: make(map[string]*nodeState)}
}

// HandleAttached adds a node. A second attach under the same name with the
// same id is Unchanged; under another id it replaces the old node's state.
func (a *Automaton) HandleAttached(now time.Time, n NodeInfo, out *Output) Outcome {
	if old, ok := a.nodes[n.Name]; ok && old.info.ID == n.ID && old.alive {
		return Unchanged
	} else if !ok {
		a.order = append(a.order, n.Name)
	}
	a.nodes[n.Name] = &nodeState{
		info:      n,
		alive:     true,
		conns:     make(map[string]connRec),
		mesh:      make(map[string]map[peer.ID]meshRec),
		fanout:    make(map[string]map[peer.ID]struct{}),
		direct:    make(map[peer.ID]struct{}),
		topics:    make(map[string]*topicState),
		scores:    make(map[peer.ID]float64),
		penalties: make(map[peer.ID]map[string]uint64),
		types:     make(map[string]uint64),
		pm: pmState{
			failures:  make(map[string]uint64),
			evictions: make(map[string]uint64),
			backedOff: make(map[peer.ID]time.Time),
		},
	}
	out.Changed = true
	out.note("attached %s (%s)", n.Name, n.ID)
	return Applied
}

// HandleStopped marks a node stopped: its bus closed, so no more events come.
// Its connections and meshes are cleared; its counters stay readable.
func (a *Automaton) HandleStopped(now time.Time, name string, out *Output) Outcome {
	n, ok := a.nodes[name]
	if !ok {
		return UnknownNode
	}
	if !n.alive {
		return Unchanged
	}
	n.alive = false
	clear(n.conns)
	clear(n.mesh)
	clear(n.fanout)
	out.Changed = true
	out.note("%s stopped", name)
	return Applied
}

func (a *Automaton) live(name string) (*nodeState, Outcome) {
	n, ok := a.nodes[name]
	if !ok {
		return nil, UnknownNode
	}
	if !n.alive {
		return nil, NodeDown
	}
	return n, Applied
}

// HandleResync replaces a node's mesh, connections, fanout and direct
// peers with what the node reports (see Resync).
func (a *Automaton) HandleResync(now time.Time, name string, r Resync, out *Output) Outcome {
	n, o := a.live(name)
	if n == nil {
		return o
	}
	if r.Mesh != nil {
		// A peer still in a mesh keeps who grafted (the snapshot does not
		// say); its choke state is restated below.
		old := n.mesh
		n.mesh = make(map[string]map[peer.ID]meshRec, len(r.Mesh))
		for topic, peers := range r.Mesh {
			n.topic(topic).joined = true
			m := make(map[peer.ID]meshRec, len(peers))
			for _, p := range peers {
				m[p] = meshRec{outbound: old[topic][p].outbound}
			}
			n.mesh[topic] = m
		}
	}
	if r.Choked != nil {
		for topic, st := range r.Choked {
			m := n.mesh[topic]
			for p, rec := range m {
				rec.choked, rec.chokedBy = slices.Contains(st.Ours, p), slices.Contains(st.Theirs, p)
				m[p] = rec
			}
		}
	}
	if r.Conns != nil {
		clear(n.conns)
		for _, c := range r.Conns {
			n.conns[c.ID] = connRec{peer: c.Peer, dir: c.Direction}
		}
	}
	if r.Fanout != nil {
		clear(n.fanout)
		for topic, peers := range r.Fanout {
			if len(peers) == 0 {
				continue
			}
			m := make(map[peer.ID]struct{}, len(peers))
			for _, p := range peers {
				m[p] = struct{}{}
			}
			n.fanout[topic] = m
		}
	}
	if r.Direct != nil {
		clear(n.direct)
		for _, p := range r.Direct {
			n.direct[p] = struct{}{}
		}
	}
	n.resyncs++
	out.Changed = true
	out.note("%s resynced", name)
	return Applied
}

// HandleStats records a periodic sample: the bus's subscriptions, the
// dashboard's drop count, score breakdowns, and a message-rate sample. It
// also forgets expired backoffs and the penalties of peers that are no
// longer scored, so the state stays bounded by the live peers.
func (a *Automaton) HandleStats(now time.Time, name string, s Stats, out *Output) Outcome {
	n, o := a.live(name)
	if n == nil {
		return o
	}
	n.subs = s.Subs
	n.dropped = s.Dropped
	if s.Terms != nil {
		n.terms = s.Terms
	}
	// Forget what would otherwise grow with peer churn: expired backoffs,
	// and penalties of peers no longer scored.
	for p, until := range n.pm.backedOff {
		if !until.IsZero() && !until.After(now) {
			delete(n.pm.backedOff, p)
		}
	}
	for p := range n.penalties {
		if _, ok := n.scores[p]; !ok {
			delete(n.penalties, p)
		}
	}
	for _, t := range n.topics {
		t.samples = append(t.samples, sample{at: now, total: t.delivered + t.published})
		cut := 0
		for cut < len(t.samples)-1 && now.Sub(t.samples[cut].at) > a.cfg.RateWindow {
			cut++
		}
		t.samples = t.samples[cut:]
	}
	out.Changed = true
	return Applied
}

func (n *nodeState) topic(name string) *topicState {
	t := n.topics[name]
	if t == nil {
		t = &topicState{rejected: make(map[string]uint64), prunes: make(map[string]uint64)}
		n.topics[name] = t
	}
	return t
}

func (a *Automaton) pmLog(n *nodeState, at time.Time, format string, args ...any) {
	n.pm.recent = append(n.pm.recent, LogLine{At: at, Text: fmt.Sprintf(format, args...)})
	if len(n.pm.recent) > a.cfg.MaxLog {
		n.pm.recent = slices.Delete(n.pm.recent, 0, len(n.pm.recent)-a.cfg.MaxLog)
	}
}

// HandleEvent folds one bus event of the named node. Every event is counted
// by type; the types the dashboard understands (connections, router, scoring
// and peer-manager events) change the view, the others are Ignored.
func (a *Automaton) HandleEvent(now time.Time, name string, ev any, out *Output) Outcome {
	n, o := a.live(name)
	if n == nil {
		return o
	}
	if ev == nil {
		return Ignored
	}
	n.types[reflect.TypeOf(ev).String()]++
	out.Changed = true
	switch e := ev.(type) {
	case events.EvtConnOpened:
		n.conns[e.ConnID] = connRec{peer: e.Peer, dir: e.Direction}
	case events.EvtConnClosed:
		if _, ok := n.conns[e.ConnID]; !ok {
			return Unchanged
		}
		delete(n.conns, e.ConnID)
	case events.EvtRouterPeerAdded:
		if !e.Direct {
			return Unchanged
		}
		n.direct[e.Peer] = struct{}{}
	case events.EvtFanoutPeerAdded:
		m := n.fanout[e.Topic]
		if m == nil {
			m = make(map[peer.ID]struct{})
			n.fanout[e.Topic] = m
		}
		m[e.Peer] = struct{}{}
	case events.EvtFanoutPeerRemoved:
		m := n.fanout[e.Topic]
		if _, ok := m[e.Peer]; !ok {
			return Unchanged
		}
		delete(m, e.Peer)
		if len(m) == 0 {
			delete(n.fanout, e.Topic)
		}
	case events.EvtTopicJoined:
		n.topic(e.Topic).joined = true
	case events.EvtTopicLeft:
		n.topic(e.Topic).joined = false
		delete(n.mesh, e.Topic)
	case events.EvtPeerGrafted:
		m := n.mesh[e.Topic]
		if m == nil {
			m = make(map[peer.ID]meshRec)
			n.mesh[e.Topic] = m
		}
		m[e.Peer] = meshRec{outbound: e.Outbound}
		n.topic(e.Topic).grafts++
	case events.EvtPeerPruned:
		n.topic(e.Topic).prunes[e.Reason.String()]++
		if _, ok := n.mesh[e.Topic][e.Peer]; !ok {
			return Unchanged
		}
		delete(n.mesh[e.Topic], e.Peer)
	case events.EvtPeerChoked:
		m := n.mesh[e.Topic]
		rec, ok := m[e.Peer]
		if !ok {
			return Unchanged
		}
		if e.ByUs {
			rec.choked = e.Choked
		} else {
			rec.chokedBy = e.Choked
		}
		m[e.Peer] = rec
	case events.EvtMessagePublished:
		n.topic(e.Topic).published++
	case events.EvtMessageDelivered:
		n.topic(e.Topic).delivered++
	case events.EvtMessageDuplicated:
		n.topic(e.Topic).dups++
	case events.EvtMessageRejected:
		n.topic(e.Topic).rejected[e.Reason.String()]++
	case events.EvtPeerScoresUpdated:
		clear(n.scores)
		for _, s := range e.Scores {
			n.scores[s.Peer] = s.Score
		}
		n.thr = e.Thresholds
	case events.EvtPeerScoreThresholdCrossed:
		n.crossings = append(n.crossings, Crossing{
			At: e.At, Peer: e.Peer.String(), Threshold: e.Threshold.String(), Below: e.Below, Score: e.Score,
		})
		if len(n.crossings) > a.cfg.MaxLog {
			n.crossings = slices.Delete(n.crossings, 0, len(n.crossings)-a.cfg.MaxLog)
		}
	case events.EvtPeerPenalized:
		m := n.penalties[e.Peer]
		if m == nil {
			m = make(map[string]uint64)
			n.penalties[e.Peer] = m
		}
		m[e.Reason.String()] += uint64(max(e.Count, 1))
	case events.EvtPeerDiscovered:
		n.pm.discovered++
		a.pmLog(n, e.At, "discovered %s (%s)", short(e.Peer), e.Source)
	case events.EvtDialAttempted:
		n.pm.dials++
		a.pmLog(n, e.At, "dial %s (attempt %d)", short(e.Peer), e.Attempt)
	case events.EvtDialSucceeded:
		n.pm.dialsOK++
		delete(n.pm.backedOff, e.Peer)
		a.pmLog(n, e.At, "dialed %s in %v", short(e.Peer), e.Took.Round(time.Millisecond))
	case events.EvtDialFailed:
		n.pm.failures[e.Reason.String()]++
		a.pmLog(n, e.At, "dial %s failed: %s (%d in a row)", short(e.Peer), e.Reason, e.Failures)
	case events.EvtPeerBackedOff:
		n.pm.backoffs++
		until := e.Until
		if e.Permanent {
			until = time.Time{}
		}
		n.pm.backedOff[e.Peer] = until
		switch {
		case e.Permanent:
			a.pmLog(n, e.At, "backoff %s: permanent after %d failures", short(e.Peer), e.Failures)
		case e.Graylisted:
			a.pmLog(n, e.At, "backoff %s until %s (graylisted)", short(e.Peer), e.Until.Format(time.TimeOnly))
		default:
			a.pmLog(n, e.At, "backoff %s until %s", short(e.Peer), e.Until.Format(time.TimeOnly))
		}
	case events.EvtPeerEvicted:
		n.pm.evictions[e.Reason.String()]++
		a.pmLog(n, e.At, "evicted %s: %s", short(e.Peer), e.Reason)
	case events.EvtPeerRecordRejected:
		n.pm.refused++
		a.pmLog(n, e.At, "record from %s refused: %s", short(e.From), e.Reason)
	default:
		return Ignored
	}
	return Applied
}

// short is the last 6 characters of a peer id, as the page shows it.
func short(p peer.ID) string {
	s := p.String()
	if len(s) > 6 {
		return s[len(s)-6:]
	}
	return s
}

func counts(m map[string]uint64) []TypeCount {
	out := make([]TypeCount, 0, len(m))
	for k, v := range m {
		out = append(out, TypeCount{Name: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// View builds the view state as of now, numbered seq. The result shares
// nothing with the automaton.
func (a *Automaton) View(now time.Time, seq uint64) *View {
	v := &View{Seq: seq, At: now, Control: a.cfg.Control,
		Nodes: []NodeView{}, Vertices: []Vertex{}, Conns: []ConnEdge{}, Mesh: []MeshEdge{}, Fanout: []FanoutEdge{}}
	vert := make(map[string]*Vertex)
	addVertex := func(id string) {
		if vert[id] == nil {
			vert[id] = &Vertex{ID: id, Alive: true}
		}
	}
	for _, name := range a.order {
		n := a.nodes[name]
		self := n.info.ID.String()
		addVertex(self)
		vert[self].Node, vert[self].Alive = name, n.alive
		v.Nodes = append(v.Nodes, a.nodeView(now, n))

		conns := make(map[peer.ID]*ConnEdge)
		for _, c := range n.conns {
			e := conns[c.peer]
			if e == nil {
				_, direct := n.direct[c.peer]
				e = &ConnEdge{From: self, To: c.peer.String(), Direct: direct}
				conns[c.peer] = e
			}
			if c.dir == network.DirOutbound {
				e.Outbound++
			} else {
				e.Inbound++
			}
		}
		for _, e := range conns {
			addVertex(e.To)
			if e.Direct {
				vert[e.To].Direct = true
			}
			v.Conns = append(v.Conns, *e)
		}
		for topic, m := range n.mesh {
			for p, r := range m {
				addVertex(p.String())
				v.Mesh = append(v.Mesh, MeshEdge{From: self, To: p.String(), Topic: topic, Outbound: r.outbound,
					Choked: r.choked, ChokedBy: r.chokedBy})
			}
		}
		for topic, m := range n.fanout {
			for p := range m {
				addVertex(p.String())
				v.Fanout = append(v.Fanout, FanoutEdge{From: self, To: p.String(), Topic: topic})
			}
		}
	}
	for _, x := range vert {
		v.Vertices = append(v.Vertices, *x)
	}
	sort.Slice(v.Vertices, func(i, j int) bool { return v.Vertices[i].ID < v.Vertices[j].ID })
	sort.Slice(v.Conns, func(i, j int) bool {
		x, y := v.Conns[i], v.Conns[j]
		return x.From < y.From || x.From == y.From && x.To < y.To
	})
	sort.Slice(v.Mesh, func(i, j int) bool {
		x, y := v.Mesh[i], v.Mesh[j]
		if x.Topic != y.Topic {
			return x.Topic < y.Topic
		}
		return x.From < y.From || x.From == y.From && x.To < y.To
	})
	sort.Slice(v.Fanout, func(i, j int) bool {
		x, y := v.Fanout[i], v.Fanout[j]
		if x.Topic != y.Topic {
			return x.Topic < y.Topic
		}
		return x.From < y.From || x.From == y.From && x.To < y.To
	})
	return v
}

func (a *Automaton) nodeView(now time.Time, n *nodeState) NodeView {
	nv := NodeView{
		Name: n.info.Name, ID: n.info.ID.String(), Alive: n.alive,
		Killable: a.cfg.Control && n.info.Killable && n.alive,
		Dropped:  n.dropped, Resyncs: n.resyncs,
		Joined: []string{}, Topics: []TopicView{}, Peers: []PeerView{},
		Crossings: slices.Clone(n.crossings), Subs: slices.Clone(n.subs),
		EventTypes: counts(n.types),
		Thresholds: Thresholds(n.thr),
	}
	if nv.Crossings == nil {
		nv.Crossings = []Crossing{}
	}
	if nv.Subs == nil {
		nv.Subs = []SubStat{}
	}
	for name, t := range n.topics {
		if t.joined {
			nv.Joined = append(nv.Joined, name)
		}
		tv := TopicView{
			Topic: name, Joined: t.joined, Published: t.published, Delivered: t.delivered,
			Dups: t.dups, Rejected: counts(t.rejected), Mesh: len(n.mesh[name]), Fanout: len(n.fanout[name]),
			Grafts: t.grafts, Prunes: counts(t.prunes),
		}
		if len(t.samples) > 1 {
			first, last := t.samples[0], t.samples[len(t.samples)-1]
			if d := last.at.Sub(first.at).Seconds(); d > 0 {
				tv.Rate = float64(last.total-first.total) / d
			}
		}
		nv.Topics = append(nv.Topics, tv)
	}
	sort.Strings(nv.Joined)
	sort.Slice(nv.Topics, func(i, j int) bool { return nv.Topics[i].Topic < nv.Topics[j].Topic })
	for p, s := range n.scores {
		pv := PeerView{ID: p.String(), Score: s, Below: []string{}, Penalties: counts(n.penalties[p])}
		if t, ok := n.terms[p]; ok {
			pv.Terms = &t
		}
		for _, th := range []struct {
			name string
			v    float64
		}{
			{events.ThresholdGossip.String(), n.thr.Gossip},
			{events.ThresholdPublish.String(), n.thr.Publish},
			{events.ThresholdGraylist.String(), n.thr.Graylist},
			{events.ThresholdAcceptPX.String(), n.thr.AcceptPX},
			{events.ThresholdOpportunisticGraft.String(), n.thr.OpportunisticGraft},
		} {
			if s < th.v {
				pv.Below = append(pv.Below, th.name)
			}
		}
		nv.Peers = append(nv.Peers, pv)
	}
	sort.Slice(nv.Peers, func(i, j int) bool { return nv.Peers[i].ID < nv.Peers[j].ID })
	pm := n.pm
	nv.PeerMgr = PeerMgrView{
		Discovered: pm.discovered, Dials: pm.dials, DialsOK: pm.dialsOK,
		DialFailures: counts(pm.failures), Backoffs: pm.backoffs,
		Evictions: counts(pm.evictions), RecordsRefused: pm.refused,
		Recent: slices.Clone(pm.recent),
	}
	if nv.PeerMgr.Recent == nil {
		nv.PeerMgr.Recent = []LogLine{}
	}
	for _, until := range pm.backedOff {
		if until.IsZero() || until.After(now) {
			nv.PeerMgr.BackedOffNow++
		}
	}
	return nv
}
