package sim

import (
	"github.com/meshbus/meshbus/components/router/wire"

	"container/heap"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
)

// Sim is one simulation run. It is not safe for concurrent use.
type Sim struct {
	cfg   Config
	rng   *rand.Rand // graph, latencies, churn choices
	now   time.Time
	seq   uint64
	queue eventQueue

	nodes []*node
	byID  map[peer.ID]int
	links map[linkKey]time.Duration // connected links and their latency
	cut   []linkKey                 // links cut by Partition, restored by Heal

	invalid []invalidMsg // recent messages InvalidSenders authored, oldest first
	track   tracker
}

type node struct {
	idx      int
	id       peer.ID
	behavior Behavior
	a        *automaton.Automaton // nil for adversaries
	out      automaton.Output
	outcomes []automaton.Outcome
	alive    bool
	joinedAt time.Time
	neigh    []int // connected neighbours, in connection order
	proto    protocol.ID
	seqno    uint64
	spamSeq  uint64
	adv      *adversary // nil for honest nodes
}

type linkKey struct{ a, b int } // a < b

func key(i, j int) linkKey {
	if i > j {
		i, j = j, i
	}
	return linkKey{i, j}
}

type eventKind uint8

const (
	evDeliver eventKind = iota + 1
	evHeartbeat
	evValidate
	evFlush // batched IHAVEs (lazy forwarding, choking): FlushLazy
)

type event struct {
	at   time.Time
	seq  uint64
	kind eventKind
	node int
	from int
	rpc  *pb.RPC
	hops []int16                    // hop count of each rpc.Publish entry on arrival
	id   string                     // evValidate
	res  automaton.ValidationResult // evValidate
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// New builds the network: every honest node joins the topic, then each node
// connects to Degree random others; adversaries connect to Degree random
// honest nodes. Nothing runs until Run.
func New(cfg Config) (*Sim, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		now:   cfg.Start,
		byID:  make(map[peer.ID]int),
		links: make(map[linkKey]time.Duration),
	}
	s.track.init()
	s.track.isAdv = func(p peer.ID) bool {
		i, ok := s.byID[p]
		return ok && s.nodes[i].behavior != Honest
	}
	for range cfg.Nodes {
		if _, err := s.spawn(Honest); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Nodes {
		s.connectRandom(i, cfg.Degree, cfg.Nodes)
	}
	for _, b := range cfg.Adversaries {
		i, err := s.spawn(b)
		if err != nil {
			return nil, err
		}
		s.connectRandom(i, cfg.Degree, cfg.Nodes)
	}
	for i := range cfg.Nodes {
		s.dialAdversaries(i)
	}
	return s, nil
}

// spawn creates a node (honest ones join the topic) and schedules its
// first heartbeat at a random phase within one interval.
func (s *Sim) spawn(b Behavior) (int, error) {
	i := len(s.nodes)
	n := &node{idx: i, id: PeerID(i), behavior: b, alive: true, joinedAt: s.now, proto: wire.ProtocolMeshsub12}
	if b == Honest && s.cfg.Protocol != nil {
		n.proto = s.cfg.Protocol(i)
		if versionRank(n.proto) == 0 {
			return 0, fmt.Errorf("%w: Protocol(%d) = %q, want a GossipSub version", ErrInvalidConfig, i, n.proto)
		}
	}
	if b != Honest {
		n.adv = newAdversary()
	}
	if b == Honest {
		a, err := automaton.New(n.id, s.cfg.Router, rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)+1)))
		if err != nil {
			return 0, fmt.Errorf("sim: node %d: %w", i, err)
		}
		n.a = a
		for k := range s.cfg.ExtraTopics + 1 {
			a.Join(s.now, s.topic(k), &n.out)
		}
	}
	s.nodes = append(s.nodes, n)
	s.byID[n.id] = i
	s.flush(n)
	phase := time.Duration(s.rng.Int64N(int64(s.cfg.Router.HeartbeatInterval)))
	s.push(&event{at: s.now.Add(phase), kind: evHeartbeat, node: i})
	// Batched IHAVEs (lazy forwarding, choking) go out every
	// FlushInterval, as a driver sends them.
	if d := s.cfg.Router.FlushInterval(); d > 0 && b == Honest {
		s.push(&event{at: s.now.Add(d), kind: evFlush, node: i})
	}
	return i, nil
}

// connectRandom connects node i to up to k random live honest nodes among
// the first limit indices (or all nodes if limit <= 0).
func (s *Sim) connectRandom(i, k, limit int) {
	if limit <= 0 || limit > len(s.nodes) {
		limit = len(s.nodes)
	}
	var cands []int
	for j := range limit {
		if j != i && s.nodes[j].alive && s.nodes[j].behavior == Honest {
			if _, ok := s.links[key(i, j)]; !ok {
				cands = append(cands, j)
			}
		}
	}
	s.rng.Shuffle(len(cands), func(x, y int) { cands[x], cands[y] = cands[y], cands[x] })
	for _, j := range cands[:min(k, len(cands))] {
		s.connect(i, j)
	}
}

// dialAdversaries connects honest node i to up to AdversaryDials random
// live adversaries it is not linked to yet, i being the dialer.
func (s *Sim) dialAdversaries(i int) {
	if s.cfg.AdversaryDials == 0 {
		return
	}
	var cands []int
	for j := s.cfg.Nodes; j < len(s.nodes); j++ {
		if s.nodes[j].alive && s.nodes[j].behavior != Honest {
			if _, ok := s.links[key(i, j)]; !ok {
				cands = append(cands, j)
			}
		}
	}
	s.rng.Shuffle(len(cands), func(x, y int) { cands[x], cands[y] = cands[y], cands[x] })
	for _, j := range cands[:min(s.cfg.AdversaryDials, len(cands))] {
		s.connect(i, j)
	}
}

// connect opens a link from i (outbound) to j (inbound) and introduces the
// peers to each other.
func (s *Sim) connect(i, j int) {
	lat := s.cfg.Latency
	if s.cfg.Jitter > 0 {
		lat += time.Duration(s.rng.Int64N(int64(s.cfg.Jitter)))
	}
	s.links[key(i, j)] = lat
	a, b := s.nodes[i], s.nodes[j]
	a.neigh = append(a.neigh, j)
	b.neigh = append(b.neigh, i)
	s.introduce(a, b, true, lat)
	s.introduce(b, a, false, lat)
}

// introduce tells n about a new neighbour m, lat away (one way).
func (s *Sim) introduce(n, m *node, outbound bool, lat time.Duration) {
	if n.a != nil {
		proto := n.proto
		if versionRank(m.proto) < versionRank(proto) {
			proto = m.proto
		}
		n.a.AddPeer(s.now, automaton.PeerSpec{ID: m.id, Protocol: proto, Outbound: outbound}, &n.out)
		// Both ends' Extensions: the choke extension when both run it.
		n.a.SetPeerChoke(m.id, m.a != nil && s.cfg.Router.Choke.Enabled)
		if s.cfg.KnownRTT {
			n.a.HandlePeerRTT(s.now, m.id, 2*lat, &n.out)
		}
		s.flush(n)
		return
	}
	// Adversaries announce the topic so that honest nodes consider them.
	sub, topic := true, s.cfg.Topic
	s.send(n, m.idx, &pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: &sub, Topicid: &topic}}}, nil)
}

// disconnect closes the link between i and j; both sides forget each other.
func (s *Sim) disconnect(i, j int) {
	if _, ok := s.links[key(i, j)]; !ok {
		return
	}
	delete(s.links, key(i, j))
	for _, pair := range [][2]int{{i, j}, {j, i}} {
		n := s.nodes[pair[0]]
		n.neigh = slices.DeleteFunc(n.neigh, func(x int) bool { return x == pair[1] })
		if n.adv != nil {
			delete(n.adv.mesh, pair[1])
		}
		if n.a != nil && n.alive {
			n.a.RemovePeer(s.now, s.nodes[pair[1]].id, &n.out)
			s.flush(n)
		}
	}
}

func (s *Sim) push(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.queue, e)
}

// send schedules an RPC from n to node j, with the hop counts of its messages.
func (s *Sim) send(n *node, j int, rpc *pb.RPC, ids []string) {
	lat, ok := s.links[key(n.idx, j)]
	if !ok {
		s.track.dropped++
		return
	}
	var hops []int16
	if len(rpc.Publish) > 0 {
		hops = make([]int16, len(rpc.Publish))
		for k := range rpc.Publish {
			if k < len(ids) {
				hops[k] = s.track.hopOf(ids[k], n.idx) + 1
			}
		}
	}
	if n.behavior == Honest {
		s.track.rpcs++
	}
	s.push(&event{at: s.now.Add(lat), kind: evDeliver, node: j, from: n.idx, rpc: rpc, hops: hops})
}

// flush turns n's Output into scheduled sends, statistics and scorer input.
func (s *Sim) flush(n *node) {
	o := &n.out
	if o.Empty() {
		return
	}
	// Staggered copies (automaton.StaggerConfig) count as written when
	// sent: the simulated links have latency but no bandwidth, so a copy
	// holds the next one back for no time.
	var done []pacedCopy
	for _, snd := range o.Sends {
		for i, p := range snd.Paced {
			if p {
				done = append(done, pacedCopy{snd.To, snd.IDs[i]})
			}
		}
		j, ok := s.byID[snd.To]
		if !ok {
			continue
		}
		s.send(n, j, snd.RPC, snd.IDs)
	}
	s.track.observe(n, s.now, o)
	if s.cfg.Scorer != nil {
		s.cfg.Scorer.Observe(n.id, s.now, o)
	}
	o.Reset()
	if len(done) > 0 {
		for _, c := range done {
			n.a.HandleCopyDone(s.now, c.to, c.id, o)
		}
		s.flush(n)
	}
}

// pacedCopy is a staggered copy sent by flush.
type pacedCopy struct {
	to peer.ID
	id string
}

// Run processes events until the virtual clock has advanced by d.
func (s *Sim) Run(d time.Duration) {
	until := s.now.Add(d)
	for len(s.queue) > 0 && !s.queue[0].at.After(until) {
		e := heap.Pop(&s.queue).(*event)
		s.now = e.at
		s.handle(e)
	}
	s.now = until
}

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.now }

func (s *Sim) handle(e *event) {
	n := s.nodes[e.node]
	if !n.alive {
		return
	}
	switch e.kind {
	case evHeartbeat:
		s.heartbeat(n)
		s.push(&event{at: s.now.Add(s.cfg.Router.HeartbeatInterval), kind: evHeartbeat, node: n.idx})
	case evFlush:
		n.a.FlushLazy(s.now, &n.out)
		s.flush(n)
		s.push(&event{at: s.now.Add(s.cfg.Router.FlushInterval()), kind: evFlush, node: n.idx})
	case evDeliver:
		if _, ok := s.links[key(e.node, e.from)]; !ok {
			s.track.dropped++ // the link was cut while the RPC was in flight
			return
		}
		if n.a == nil {
			s.adversaryReceive(n, e)
			return
		}
		s.receive(n, s.nodes[e.from].id, e)
	case evValidate:
		s.validated(n, e.id, e.res)
		s.flush(n)
	}
}

// receive hands an RPC to n's automaton the way a driver would.
func (s *Sim) receive(n *node, from peer.ID, e *event) {
	a, now, out := n.a, s.now, &n.out
	for _, sub := range e.rpc.GetSubscriptions() {
		a.HandleSubscription(now, from, sub.GetTopicid(), sub.GetSubscribe(), out)
	}
	for k, m := range e.rpc.GetPublish() {
		id := string(m.GetFrom()) + string(m.GetSeqno())
		if a.HandleMessage(now, from, m, id, true, out) != automaton.OutcomeNeedsValidation {
			continue
		}
		s.track.firstCopy(id, n.idx, e.hops[k])
		res := validate(m)
		if s.cfg.ValidationDelay > 0 {
			s.push(&event{at: now.Add(s.cfg.ValidationDelay), kind: evValidate, node: n.idx, id: id, res: res})
		} else {
			s.validated(n, id, res)
		}
	}
	n.outcomes = a.HandleControl(now, from, e.rpc.GetControl(), out, n.outcomes[:0])
	n.outcomes = a.HandleChokeExtension(now, from, e.rpc.GetChoke(), out, n.outcomes)
	for _, o := range n.outcomes {
		// A choke entry the receiver cannot take is the same mistake.
		if o == automaton.OutcomeUnsupportedByProtocol || o == automaton.OutcomeChokeNotNegotiated {
			s.track.unsupported++
		}
	}
	s.flush(n)
}

func (s *Sim) heartbeat(n *node) {
	if n.a == nil {
		s.adversaryHeartbeat(n)
		return
	}
	if s.cfg.Scorer != nil {
		scores, th := s.cfg.Scorer.Scores(n.id, s.now)
		n.a.UpdateScores(s.now, scores, th, &n.out)
	}
	n.a.Heartbeat(s.now, &n.out)
	s.flush(n)
}

// topic is the name of topic k: Config.Topic for 0, Topic-k for the
// extra ones.
func (s *Sim) topic(k int) string {
	if k == 0 {
		return s.cfg.Topic
	}
	return fmt.Sprintf("%s-%d", s.cfg.Topic, k)
}

// Publish makes node i publish data on the topic now, and returns the
// message id (from || seqno, the spec's default).
func (s *Sim) Publish(i int, data []byte) (string, error) {
	return s.PublishOn(i, 0, data)
}

// PublishOn is Publish on topic k: 0 is Config.Topic, 1 to
// Config.ExtraTopics the extra topics.
func (s *Sim) PublishOn(i, k int, data []byte) (string, error) {
	if i < 0 || i >= len(s.nodes) || !s.nodes[i].alive || s.nodes[i].a == nil {
		return "", fmt.Errorf("%w: %d", ErrNoNode, i)
	}
	if k < 0 || k > s.cfg.ExtraTopics {
		return "", fmt.Errorf("%w: topic %d of %d", ErrNoTopic, k, s.cfg.ExtraTopics+1)
	}
	n := s.nodes[i]
	n.seqno++
	seq := binary.BigEndian.AppendUint64(nil, n.seqno)
	topic := s.topic(k)
	m := &pb.Message{From: []byte(n.id), Seqno: seq, Topic: &topic, Data: data}
	id := string(n.id) + string(seq)
	s.track.published(id, i, s.now, s.expectedReceivers(i))
	n.a.Publish(s.now, m, id, &n.out)
	s.flush(n)
	return id, nil
}

// PublishRandom publishes size bytes from a random live honest node.
func (s *Sim) PublishRandom(size int) (string, error) {
	live := s.LiveNodes()
	if len(live) == 0 {
		return "", ErrNoNode
	}
	return s.Publish(live[s.rng.IntN(len(live))], make([]byte, size))
}

// expectedReceivers lists the live honest nodes other than the publisher.
func (s *Sim) expectedReceivers(pub int) []int {
	var out []int
	for _, n := range s.nodes {
		if n.alive && n.a != nil && n.idx != pub {
			out = append(out, n.idx)
		}
	}
	return out
}

// LiveNodes returns the indices of the live honest nodes.
func (s *Sim) LiveNodes() []int {
	var out []int
	for _, n := range s.nodes {
		if n.alive && n.a != nil {
			out = append(out, n.idx)
		}
	}
	return out
}

// Len returns the number of nodes ever created (honest and adversaries).
func (s *Sim) Len() int { return len(s.nodes) }

// Automaton returns node i's automaton (nil for adversaries), for assertions.
// Calling its handlers directly bypasses the network.
func (s *Sim) Automaton(i int) *automaton.Automaton {
	if i < 0 || i >= len(s.nodes) {
		return nil
	}
	return s.nodes[i].a
}

// Alive reports whether node i exists and has not been removed.
func (s *Sim) Alive(i int) bool { return i >= 0 && i < len(s.nodes) && s.nodes[i].alive }

// AddNode starts a new honest node that joins the topic and connects to
// Degree random live honest nodes; it returns its index.
func (s *Sim) AddNode() (int, error) {
	i, err := s.spawn(Honest)
	if err != nil {
		return 0, err
	}
	s.connectRandom(i, s.cfg.Degree, 0)
	s.dialAdversaries(i)
	return i, nil
}

// RemoveNode stops node i: its links close and its neighbours forget it.
func (s *Sim) RemoveNode(i int) error {
	if !s.Alive(i) {
		return fmt.Errorf("%w: %d", ErrNoNode, i)
	}
	n := s.nodes[i]
	for _, j := range slices.Clone(n.neigh) {
		s.disconnect(i, j)
	}
	n.alive = false
	return nil
}

// Partition cuts every link between nodes that group assigns to different
// groups (both ends forget each other, as on a disconnect). Heal restores them.
func (s *Sim) Partition(group func(node int) int) {
	var cut []linkKey
	for k := range s.links {
		if group(k.a) != group(k.b) {
			cut = append(cut, k)
		}
	}
	// Map order must not leak into the run.
	slices.SortFunc(cut, func(x, y linkKey) int {
		if x.a != y.a {
			return x.a - y.a
		}
		return x.b - y.b
	})
	for _, k := range cut {
		s.disconnect(k.a, k.b)
	}
	s.cut = append(s.cut, cut...)
}

// Heal reconnects the links Partition cut, between nodes still alive.
func (s *Sim) Heal() {
	for _, k := range s.cut {
		if s.Alive(k.a) && s.Alive(k.b) {
			s.connect(k.a, k.b)
		}
	}
	s.cut = nil
}

// MeshDegrees returns the smallest, mean and largest mesh size over live
// honest nodes.
func (s *Sim) MeshDegrees() (lo int, mean float64, hi int) {
	lo = -1
	total, count := 0, 0
	for _, n := range s.nodes {
		if !n.alive || n.a == nil {
			continue
		}
		d := len(n.a.Mesh(s.cfg.Topic))
		if lo < 0 || d < lo {
			lo = d
		}
		hi = max(hi, d)
		total += d
		count++
	}
	if count > 0 {
		mean = float64(total) / float64(count)
	}
	return max(lo, 0), mean, hi
}

// MeshSlots counts the mesh slots of live honest nodes: those held by
// adversaries and those held by honest peers.
func (s *Sim) MeshSlots() (adversary, honest int) {
	for _, n := range s.nodes {
		if !n.alive || n.a == nil {
			continue
		}
		for _, p := range n.a.Mesh(s.cfg.Topic) {
			if s.track.isAdv(p) {
				adversary++
			} else {
				honest++
			}
		}
	}
	return adversary, honest
}

// Behavior returns node i's behaviour (Honest for an index out of range).
func (s *Sim) Behavior(i int) Behavior {
	if i < 0 || i >= len(s.nodes) {
		return Honest
	}
	return s.nodes[i].behavior
}
