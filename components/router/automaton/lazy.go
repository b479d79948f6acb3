package automaton

import (
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
)

// LazyConfig is learned lazy forwarding: the automaton learns, per mesh
// peer, how often the copies it forwards there are wasted (the peer had
// the message from someone else first), and for a forwarded message sends
// an IHAVE instead of the message to the mesh peers whose copies are
// almost always wasted, keeping at least MinEager mesh peers eager, the
// least wasteful first. A lazy peer that lacks the message answers with
// IWANT and gets it one round trip later; one that has it sends nothing.
// Only v1.0/v1.1 messages are used, so every GossipSub peer understands
// it (go-libp2p-pubsub answers IHAVE from mesh peers like anyone's).
//
// What counts as evidence, per forwarded message and candidate mesh peer:
//
//   - sent eagerly: wasted if the peer sent us a copy of the message or an
//     IDONTWANT for it (a peer never sends either back to the peer it got
//     its first copy from, so it had the message from elsewhere before
//     ours arrived); useful otherwise;
//   - sent an IHAVE: useful if the peer asked for it with IWANT (it lacked
//     the message when the IHAVE arrived, which is when our copy would
//     have); wasted otherwise.
//
// An observation is closed at the first heartbeat at least Horizon after
// the forward. The waste statistic is the mean of the first 1/Weight
// observations and then an exponentially weighted mean with weight Weight.
// Our own messages (Publish) always go eagerly, and so do messages whose
// data exceeds MaxData, peers with fewer than MinSamples observations,
// and peers we already sent MaxIHaves IHAVEs in the current heartbeat
// interval (so that no peer ever gets more IHAVEs from us than its
// MaxIHaveMessages budget allows: half of it per interval, since the two
// nodes' heartbeats are not aligned).
//
// With FlushInterval > 0 (the default) a lazy copy is not an IHAVE of its
// own unless the peer had no lazy IHAVE from us for the longer of
// FlushInterval and HeartbeatInterval (a low rate, nothing to batch
// with): its id is queued for the peer, and the
// driver calls FlushLazy every
// FlushInterval, which sends each peer's queued ids in one IHAVE per topic.
// So a peer gets at most one IHAVE RPC from us per flush and per batch,
// whatever the message rate, and the MaxIHaves budget is spent per batch,
// not per message; at most MaxIHaveLength ids are queued per peer per
// heartbeat interval (past either, the peer gets messages eagerly).
type LazyConfig struct {
	// Enabled turns learned lazy forwarding on. Off (the zero value),
	// every candidate mesh peer gets every forwarded message.
	Enabled bool
	// MinEager is the least number of candidate mesh peers a forwarded
	// message goes to eagerly (those with the lowest waste). Default 5
	// (Dlo's default): at 4 the libp2p test plans' basic scenario lost
	// more latency than it saved duplicates (docs/testplans.md, "Round 6").
	MinEager int
	// WasteThreshold: a peer whose waste statistic is at least this goes
	// lazy (beyond the MinEager least wasteful). In (0, 1]. Default 0.95
	// (at 0.85 a 50/50 mix with go-libp2p-pubsub nodes had a longer latency
	// tail in the test plans' basic scenario; docs/testplans.md, "Round 6").
	WasteThreshold float64
	// MinSamples is how many closed observations a peer needs before it
	// may go lazy. Default 3.
	MinSamples int
	// Weight is the weight of a new observation in the waste statistic,
	// in (0, 1]. Default 0.25.
	Weight float64
	// Horizon is how long after a forward its observation stays open for
	// evidence (a few round trips). Default 2 s.
	Horizon time.Duration
	// MaxIHaves caps the lazy IHAVE RPCs (immediate IHAVEs, or a flushed
	// batch whatever its topics: receivers count RPCs against their
	// MaxIHaveMessages) sent to one peer per heartbeat interval; past it
	// the peer gets messages eagerly. 0 means MaxIHaveMessages/2 (at
	// least 1).
	MaxIHaves int
	// FlushInterval batches lazy IHAVEs: > 0, a lazy copy's id is queued
	// for the peer and the driver sends the queued ids (one IHAVE entry per
	// topic and peer) when it calls FlushLazy, every FlushInterval, except
	// that a peer sent no lazy IHAVE for the longer of FlushInterval and
	// HeartbeatInterval gets an immediate one (at a low rate nothing
	// waits); 0, each lazy copy is an immediate
	// IHAVE of its own. A queued id reaches the peer up to FlushInterval
	// later than an immediate IHAVE would, so a lazy peer that lacks the
	// message asks for it that much later. Default 200 ms (HeartbeatInterval/MaxIHaves with
	// the defaults, so the budget lasts the whole interval).
	FlushInterval time.Duration
	// MaxData is the largest data field (bytes) of a message that may be
	// forwarded lazily. Default 16 KiB.
	MaxData int
	// MaxOpen bounds the open observations (forwarded messages); past it
	// the oldest is closed early. Default 4096.
	MaxOpen int
}

// DefaultLazyConfig returns the defaults listed on each field, with
// Enabled set.
func DefaultLazyConfig() LazyConfig {
	return LazyConfig{Enabled: true, MinEager: 5, WasteThreshold: 0.95, MinSamples: 3, Weight: 0.25,
		Horizon: 2 * time.Second, MaxData: 16 << 10, MaxOpen: 4096, FlushInterval: 200 * time.Millisecond}
}

// validate checks the fields when Enabled.
func (l LazyConfig) validate() error {
	if !l.Enabled {
		return nil
	}
	bad := func(field, why string) error {
		return fmt.Errorf("%w: Lazy.%s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case l.MinEager < 1:
		return bad("MinEager", "must be >= 1")
	case !(l.WasteThreshold > 0 && l.WasteThreshold <= 1):
		return bad("WasteThreshold", "must be in (0, 1]")
	case l.MinSamples < 1:
		return bad("MinSamples", "must be >= 1")
	case !(l.Weight > 0 && l.Weight <= 1):
		return bad("Weight", "must be in (0, 1]")
	case l.Horizon <= 0:
		return bad("Horizon", "must be > 0")
	case l.MaxIHaves < 0:
		return bad("MaxIHaves", "must be >= 0")
	case l.MaxData < 0:
		return bad("MaxData", "must be >= 0")
	case l.MaxOpen < 1:
		return bad("MaxOpen", "must be >= 1")
	case l.FlushInterval < 0:
		return bad("FlushInterval", "must be >= 0")
	}
	return nil
}

// lazyStat is a peer's waste statistic.
type lazyStat struct {
	waste   float64 // estimated share of our forwarded copies the peer did not need
	samples int     // closed observations
	ihaves  int     // lazy IHAVE RPCs sent in the current heartbeat interval (a batch counts once)
	idsHB   int     // ids queued in the current heartbeat interval (FlushInterval > 0)
	// queue holds the ids waiting for the next FlushLazy (FlushInterval > 0),
	// topics the distinct topics among them (one IHAVE entry each).
	queue   []lazyQueued
	topics  []string
	pending bool // listed in lazyState.pending
	// lastFlush is when the peer was last sent a lazy IHAVE (batch or
	// immediate).
	lastFlush time.Time
}

// lazyQueued is one lazy copy's id waiting for FlushLazy.
type lazyQueued struct {
	topic, id string
}

func (s *lazyStat) observe(wasted bool, weight float64) {
	s.samples++
	w := max(weight, 1/float64(s.samples))
	x := 0.0
	if wasted {
		x = 1
	}
	s.waste += w * (x - s.waste)
}

// lazyPeerObs is one candidate of a forwarded message: sent eagerly or an
// IHAVE, and whether the evidence that decides it came (eager: a copy or
// IDONTWANT from the peer, meaning wasted; lazy: an IWANT, meaning useful).
type lazyPeerObs struct {
	p    peer.ID
	lazy bool
	hit  bool
}

// lazyObs is the open observation of one forwarded message.
type lazyObs struct {
	key   idKey
	until time.Time // closed at the first heartbeat at or after until
	peers []lazyPeerObs
}

// lazyState holds the open observations, oldest first.
type lazyState struct {
	open  map[idKey]*lazyObs
	order fifo[*lazyObs]
	free  []*lazyObs
	// pending lists the peers with queued ids (FlushInterval > 0), in the
	// order their batches opened.
	pending []peer.ID
}

// Evidence kinds a peer gives about a message.
const (
	lazyEvCopy  = iota // the peer sent us a copy
	lazyEvIDW          // the peer sent IDONTWANT
	lazyEvIWant        // the peer asked with IWANT
)

// lazyEvidence records what peer p told us about id (lazyEv*).
func (a *Automaton) lazyEvidence(p peer.ID, id string, kind int) {
	if len(a.lazy.open) == 0 {
		return
	}
	o := a.lazy.open[keyOf(id)]
	if o == nil {
		return
	}
	for i := range o.peers {
		po := &o.peers[i]
		if po.p != p {
			continue
		}
		if po.lazy == (kind == lazyEvIWant) {
			po.hit = true
		}
		return
	}
}

// closeLazy closes the observations due at now (all of them with all).
func (a *Automaton) closeLazy(now time.Time, all bool) {
	for {
		o, ok := a.lazy.order.peek()
		if !ok || !all && now.Before(o.until) {
			break
		}
		a.lazy.order.pop()
		a.closeObs(o)
	}
}

func (a *Automaton) closeObs(o *lazyObs) {
	if a.lazy.open[o.key] == o {
		delete(a.lazy.open, o.key)
	}
	for _, po := range o.peers {
		if ps := a.peers[po.p]; ps != nil {
			// eager: hit means wasted; lazy: hit means useful.
			ps.lazy.observe(po.hit != po.lazy, a.cfg.Lazy.Weight)
		}
	}
	clear(o.peers)
	o.peers = o.peers[:0]
	a.lazy.free = append(a.lazy.free, o)
}

// lazyMaxIHaves is the per-peer cap of immediate IHAVEs per heartbeat.
func (a *Automaton) lazyMaxIHaves() int {
	if n := a.cfg.Lazy.MaxIHaves; n > 0 {
		return n
	}
	return max(1, a.cfg.MaxIHaveMessages/2)
}

// forwardMeshLazily sends msg to the candidate mesh peers cands (in mesh
// order), eagerly or as an IHAVE as LazyConfig decides, opens the
// message's observation, and returns how many got the message itself.
func (a *Automaton) forwardMeshLazily(now time.Time, t *topicState, msg *pb.Message, id string, cands []*peerState, out *Output) int {
	l := a.cfg.Lazy
	if l.MaxOpen <= a.lazy.order.len() {
		if o, ok := a.lazy.order.peek(); ok {
			a.lazy.order.pop()
			a.closeObs(o)
		}
	}
	// Least wasteful first; peers still learning count as waste 0. A
	// stable sort keeps mesh order among equals (deterministic).
	waste := func(ps *peerState) float64 {
		if ps.lazy.samples < l.MinSamples {
			return -1
		}
		return ps.lazy.waste
	}
	slices.SortStableFunc(cands, func(x, y *peerState) int {
		wx, wy := waste(x), waste(y)
		switch {
		case wx < wy:
			return -1
		case wx > wy:
			return 1
		}
		return 0
	})
	var o *lazyObs
	if n := len(a.lazy.free); n > 0 {
		o = a.lazy.free[n-1]
		a.lazy.free = a.lazy.free[:n-1]
	} else {
		o = new(lazyObs)
	}
	o.key, o.until = keyOf(id), now.Add(l.Horizon)
	maxIH := a.lazyMaxIHaves()
	var raw [][]byte // one IHAVE id list shared by every lazy peer
	n := 0
	for i, ps := range cands {
		lazy := i >= l.MinEager && waste(ps) >= l.WasteThreshold
		if lazy && l.FlushInterval > 0 {
			lazy = a.lazyCanQueue(ps, maxIH)
		} else if lazy {
			lazy = ps.lazy.ihaves < maxIH
		}
		if lazy {
			a.markOffered(id, ps.id)
			if l.FlushInterval > 0 && (len(ps.lazy.queue) > 0 || now.Sub(ps.lazy.lastFlush) < a.lazyIdle()) {
				a.lazyQueue(ps, t.name, id)
			} else {
				// Immediate: batching is off, or the peer had no lazy
				// IHAVE for lazyIdle (a low rate: nothing to batch with,
				// so no reason to make it wait).
				ps.lazy.lastFlush = now
				ps.lazy.idsHB++
				if raw == nil {
					raw = [][]byte{[]byte(id)}
				}
				ps.lazy.ihaves++
				out.sendIHave(ps.id, t.name, raw)
			}
		} else {
			out.sendMessage(ps.id, id, msg)
			n++
		}
		o.peers = append(o.peers, lazyPeerObs{p: ps.id, lazy: lazy})
	}
	if prev := a.lazy.open[o.key]; prev != nil {
		// The same id forwarded again (a seen-cache entry expired): the
		// older observation stays in the queue but takes no evidence.
		delete(a.lazy.open, o.key)
	}
	if a.lazy.open == nil {
		a.lazy.open = make(map[idKey]*lazyObs)
	}
	a.lazy.open[o.key] = o
	a.lazy.order.push(o)
	return n
}

// markOffered records that id was offered to p in an IHAVE of ours (a lazy
// copy), so that p's IWANT for it is served (advertised).
func (a *Automaton) markOffered(id string, p peer.ID) {
	if e := a.mcache.get(id); e != nil {
		if e.offered == nil {
			e.offered = make(map[peer.ID]struct{})
		}
		e.offered[p] = struct{}{}
	}
}

// lazyIdle is how long a peer must have had no lazy IHAVE for its next
// lazy copy to go at once rather than queued: the longer of FlushInterval
// and HeartbeatInterval. At a sustained rate the flushes keep a lazy peer
// under it, so an immediate IHAVE never takes one of the heartbeat
// interval's MaxIHaves from the batches.
func (a *Automaton) lazyIdle() time.Duration {
	return max(a.cfg.Lazy.FlushInterval, a.cfg.HeartbeatInterval)
}

// lazyCanQueue reports whether an id may join ps's batch: the batch, one
// IHAVE RPC whatever its topics, must fit the peer's MaxIHaves budget of
// this heartbeat interval, and its ids MaxIHaveLength.
func (a *Automaton) lazyCanQueue(ps *peerState, maxIH int) bool {
	return ps.lazy.idsHB < a.cfg.MaxIHaveLength && ps.lazy.ihaves < maxIH
}

// lazyQueue adds id (of topic) to ps's batch.
func (a *Automaton) lazyQueue(ps *peerState, topic, id string) {
	if !ps.lazy.pending {
		ps.lazy.pending = true
		a.lazy.pending = append(a.lazy.pending, ps.id)
	}
	if !slices.Contains(ps.lazy.topics, topic) {
		ps.lazy.topics = append(ps.lazy.topics, topic)
	}
	ps.lazy.queue = append(ps.lazy.queue, lazyQueued{topic: topic, id: id})
	ps.lazy.idsHB++
}

// LazyPending reports whether a peer has queued lazy ids: what the next
// FlushLazy (or Heartbeat) sends. The driver arms its flush timer only
// while it is true.
func (a *Automaton) LazyPending() bool { return len(a.lazy.pending) > 0 }

// FlushLazy sends every peer's queued lazy ids (LazyConfig.FlushInterval):
// one IHAVE entry per topic, the ids in the order they were queued, in
// that peer's RPC of out. Ids no longer in the message cache (so an IWANT
// could not be served) and ids the peer sent IDONTWANT for are left out.
// The driver calls it on every FlushInterval tick while LazyPending;
// Heartbeat calls it too, before it renews the budgets.
//
// Outcomes: OutcomeLazyFlushed (at least one IHAVE output),
// OutcomeNothingToFlush.
func (a *Automaton) FlushLazy(now time.Time, out *Output) Outcome {
	sent := false
	for _, p := range a.lazy.pending {
		ps := a.peers[p] // RemovePeer takes a removed peer off the list
		if a.flushPeer(now, ps, out) {
			sent = true
		}
	}
	clear(a.lazy.pending)
	a.lazy.pending = trimmed(a.lazy.pending)
	if sent {
		return OutcomeLazyFlushed
	}
	return OutcomeNothingToFlush
}

// flushPeer sends ps's batch and empties it; it reports whether an IHAVE
// was output.
func (a *Automaton) flushPeer(now time.Time, ps *peerState, out *Output) bool {
	q := ps.lazy.queue
	// lazyEntry: the batch holds an entry for a topic where ps did not
	// choke us. Such entries count once, as the batch (a receiver counts
	// IHAVE RPCs, not entries, against MaxIHaveMessages).
	sent, lazyEntry := false, false
	for _, topic := range ps.lazy.topics {
		size, n := 0, 0
		for _, e := range q {
			if e.topic == topic {
				size += len(e.id)
				n++
			}
		}
		buf := make([]byte, 0, size) // one backing array for the entry's ids
		ids := make([][]byte, 0, n)
		for _, e := range q {
			if e.topic != topic || a.mcache.get(e.id) == nil {
				continue
			}
			if _, no := ps.dontWant[keyOf(e.id)]; no {
				continue
			}
			buf = append(buf, e.id...)
			ids = append(ids, buf[len(buf)-len(e.id):len(buf):len(buf)])
		}
		if len(ids) > 0 {
			out.sendIHave(ps.id, topic, ids)
			if !a.chokeCountIHaveOut(ps, topic) {
				lazyEntry = true
			}
			ps.lazy.lastFlush = now
			sent = true
		}
	}
	if lazyEntry {
		ps.lazy.ihaves++
	}
	clear(q)
	ps.lazy.queue = trimmed(q)
	clear(ps.lazy.topics)
	ps.lazy.topics = ps.lazy.topics[:0]
	ps.lazy.pending = false
	return sent
}

// LazyQueued returns how many lazy ids are queued for p, waiting for
// FlushLazy (0 for an unknown peer).
func (a *Automaton) LazyQueued(p peer.ID) int {
	if ps := a.peers[p]; ps != nil {
		return len(ps.lazy.queue)
	}
	return 0
}

// LazyWaste returns the waste statistic learned for p (the estimated
// share of our forwarded copies p did not need) and how many observations
// it rests on; zero values for an unknown peer.
func (a *Automaton) LazyWaste(p peer.ID) (waste float64, samples int) {
	if ps := a.peers[p]; ps != nil {
		return ps.lazy.waste, ps.lazy.samples
	}
	return 0, 0
}
