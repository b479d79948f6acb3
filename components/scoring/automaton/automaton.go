// Package automaton is the pure core of GossipSub v1.1 peer scoring: a
// deterministic state machine that turns facts (events.* values from the
// router, the connection tracker and the application) into peer scores and
// threshold crossings.
//
// The score of a peer p follows the gossipsub v1.1 specification:
//
//	Score(p) = TopicCap(Σ tᵢ·(w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄)) + w₅P₅ + w₆P₆ + w₇P₇
//
// with P₁ time in mesh, P₂ first message deliveries, P₃ mesh message delivery
// deficit², P₃b mesh failure penalty, P₄ invalid messages², P₅ the
// application-specific score, P₆ IP colocation surplus² and P₇ behaviour
// penalty². The counters behind P₂, P₃, P₃b, P₄ and P₇ decay every
// DecayInterval and snap to zero below DecayToZero. Topics without
// parameters contribute nothing.
//
// It has no goroutines, does no I/O, takes no locks and reads no clock:
// every handler takes the current time and an *Output, appends the events
// to emit (threshold crossings, score snapshots) to the Output and returns
// an Outcome naming what it did. Simulations plug it in directly
// (bench/attack does); components/scoring is its driver on the bus.
package automaton

import (
	"net/netip"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// Automaton is the scoring core: it turns facts into peer scores. Every
// handler takes the current time.
//
// A fact's own timestamp (its At field) is used for message timing and mesh
// times when set, because it is when the router saw the fact; the now
// argument is the fallback for facts without one.
//
// Not safe for concurrent use: one goroutine owns an Automaton.
type Automaton struct {
	params    Params
	topics    map[string]*topicConf
	topicList []*topicConf // in name order; topicConf.idx indexes it

	peers []*peerState // in insertion order (swap-delete); the snapshot order
	index map[peer.ID]*peerState

	appScores map[peer.ID]float64 // P₅, kept apart from peer state: set before connect, kept after forget
	ips       map[netip.Addr]*ipGroup

	records deliveryCache

	lastDecay time.Time
	ladder    thresholdLadder

	// out is the Output of the handler call in progress, where rescore
	// appends crossings; nil discards them.
	out *Output
}

// topicConf is one configured topic and which of its counters are tracked
// (a term with weight 0 is off: its counter never moves).
type topicConf struct {
	TopicParams
	name string
	idx  int

	trackFirst   bool // P₂
	trackMesh    bool // P₃ / P₃b counter
	trackFailure bool // P₃b
	trackInvalid bool // P₄
}

// peerState is everything the scorer knows about one peer.
type peerState struct {
	id  peer.ID
	idx int // position in Automaton.peers

	live   bool      // connected (or at least not known to be gone)
	expire time.Time // when !live: forgotten at or after this time

	appScore         float64 // P₅, mirrored from Automaton.appScores
	behaviourPenalty float64 // P₇ counter
	ips              []ipRef // open connections per non-whitelisted IP
	topics           []topicState

	score float64 // as of the last rescore
	below uint8   // bit per thresholdLadder rung: score below it
}

// topicState is one peer's counters in one configured topic.
type topicState struct {
	inMesh    bool
	graftTime time.Time
	meshTime  time.Duration // lazily updated at Refresh and at prune

	firstMessageDeliveries   float64 // P₂
	meshMessageDeliveries    float64 // P₃ counter
	meshFailurePenalty       float64 // P₃b
	invalidMessageDeliveries float64 // P₄ counter
}

// New returns an Automaton for a validated copy of params, whose decay clock
// starts at now. It returns a *ParamError wrapping ErrInvalidParams when
// params break a constraint.
func New(params Params, now time.Time) (*Automaton, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	p := params.clone()
	if p.DeliveryRecordTTL == 0 {
		p.DeliveryRecordTTL = DefaultDeliveryRecordTTL
	}
	if p.MaxDeliveryRecords == 0 {
		p.MaxDeliveryRecords = DefaultMaxDeliveryRecords
	}
	a := &Automaton{
		params:    p,
		topics:    make(map[string]*topicConf, len(p.Topics)),
		index:     make(map[peer.ID]*peerState),
		appScores: make(map[peer.ID]float64),
		ips:       make(map[netip.Addr]*ipGroup),
		records:   newDeliveryCache(p.DeliveryRecordTTL, p.MaxDeliveryRecords),
		lastDecay: now,
		ladder:    newThresholdLadder(p.Thresholds),
	}
	names := make([]string, 0, len(p.Topics))
	for name := range p.Topics {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		tp := p.Topics[name]
		tc := &topicConf{
			TopicParams:  tp,
			name:         name,
			idx:          i,
			trackFirst:   tp.FirstMessageDeliveriesWeight != 0,
			trackMesh:    tp.MeshMessageDeliveriesWeight != 0 || tp.MeshFailurePenaltyWeight != 0,
			trackFailure: tp.MeshFailurePenaltyWeight != 0,
			trackInvalid: tp.InvalidMessageDeliveriesWeight != 0,
		}
		a.topics[name] = tc
		a.topicList = append(a.topicList, tc)
	}
	return a, nil
}

// Params returns a copy of the parameters in force.
func (a *Automaton) Params() Params { return a.params.clone() }

// Thresholds returns the score thresholds in force.
func (a *Automaton) Thresholds() Thresholds { return a.params.Thresholds }

// Len returns how many peers are scored (connected and retained).
func (a *Automaton) Len() int { return len(a.peers) }

// Score returns p's score as of the last fact or Refresh, and whether the
// peer is scored. An unscored peer's score is 0.
func (a *Automaton) Score(p peer.ID) (float64, bool) {
	ps := a.index[p]
	if ps == nil {
		return 0, false
	}
	return ps.score, true
}

// Scores returns a new map of every scored peer's score; the caller owns it.
func (a *Automaton) Scores() map[peer.ID]float64 {
	m := make(map[peer.ID]float64, len(a.peers))
	for _, ps := range a.peers {
		m[ps.id] = ps.score
	}
	return m
}

// AppendScores appends every scored peer's score to dst and returns it. The
// order is deterministic for a given sequence of calls (insertion order with
// swap-removal), not sorted.
func (a *Automaton) AppendScores(dst []events.PeerScore) []events.PeerScore {
	for _, ps := range a.peers {
		dst = append(dst, events.PeerScore{Peer: ps.id, Score: ps.score})
	}
	return dst
}

// Snapshot returns an EvtPeerScoresUpdated of every scored peer with the
// thresholds, in a newly allocated slice that the event's receivers share.
func (a *Automaton) Snapshot(now time.Time) events.EvtPeerScoresUpdated {
	return events.EvtPeerScoresUpdated{
		Scores:     a.AppendScores(make([]events.PeerScore, 0, len(a.peers))),
		Thresholds: a.params.Thresholds,
		At:         now,
	}
}

// AppendSnapshot appends an EvtPeerScoresUpdated of every scored peer, as
// of the last fact or tick, to out (Snapshot's event).
func (a *Automaton) AppendSnapshot(now time.Time, out *Output) {
	out.Scores.Add(a.Snapshot(now))
}

// Stats are the Automaton's internal counters, for metrics and tests.
type Stats struct {
	// Peers is how many peers are scored; Retained how many of them are
	// disconnected and kept for RetainScore.
	Peers, Retained int
	// DeliveryRecords is how many message delivery records are kept.
	DeliveryRecords int
	// EvictedRecords counts delivery records dropped because the cache was
	// full before their TTL (a sign MaxDeliveryRecords is too small).
	EvictedRecords uint64
}

// Stats returns the Automaton's counters.
func (a *Automaton) Stats() Stats {
	st := Stats{
		Peers:           len(a.peers),
		DeliveryRecords: a.records.len(),
		EvictedRecords:  a.records.evicted,
	}
	for _, ps := range a.peers {
		if !ps.live {
			st.Retained++
		}
	}
	return st
}

// peer returns p's state, creating it when unknown. A peer created by a fact
// that proves a connection (connect is true) is live; one created by any
// other fact (a late message event for a peer already forgotten, say) starts
// out retained, so a stray event cannot pin a peer's state forever.
func (a *Automaton) peer(p peer.ID, t time.Time, connect bool) *peerState {
	ps := a.index[p]
	if ps == nil {
		ps = &peerState{id: p, idx: len(a.peers), appScore: a.appScores[p]}
		// A new peer starts from the position of score 0, so a first fact
		// that moves it (or a preset application score) is a crossing.
		ps.below = a.ladder.mask(0)
		a.peers = append(a.peers, ps)
		a.index[p] = ps
		if !connect {
			ps.expire = t.Add(a.params.RetainScore)
		}
		ps.live = connect
	}
	if connect && !ps.live {
		ps.live = true
		ps.expire = time.Time{}
	}
	return ps
}

// topic returns ps's state in the configured topic tc, allocating the
// peer's per-topic table on first use.
func (a *Automaton) topic(ps *peerState, tc *topicConf) *topicState {
	if ps.topics == nil {
		ps.topics = make([]topicState, len(a.topicList))
	}
	return &ps.topics[tc.idx]
}

// retain marks ps disconnected at t, starting its retention; a peer already
// retained keeps its original deadline.
func (a *Automaton) retain(ps *peerState, t time.Time) {
	if !ps.live {
		return
	}
	ps.live = false
	ps.expire = t.Add(a.params.RetainScore)
}

// forget removes ps entirely.
func (a *Automaton) forget(ps *peerState) {
	for len(ps.ips) > 0 {
		a.dropIP(ps, ps.ips[0].addr)
	}
	last := len(a.peers) - 1
	moved := a.peers[last]
	a.peers[ps.idx] = moved
	moved.idx = ps.idx
	a.peers[last] = nil
	a.peers = a.peers[:last]
	delete(a.index, ps.id)
}

// leaveMeshes takes ps out of every mesh at t, charging P₃b as a prune does.
func (a *Automaton) leaveMeshes(ps *peerState, t time.Time) {
	for i := range ps.topics {
		a.prune(&ps.topics[i], a.topicList[i], t)
	}
}

// prune takes a peer out of tc's mesh at t. Per the spec, a peer pruned with
// an active delivery deficit (in the mesh longer than the activation window
// and below the threshold) adds the deficit squared to P₃b.
func (a *Automaton) prune(ts *topicState, tc *topicConf, t time.Time) {
	if !ts.inMesh {
		return
	}
	ts.meshTime = max(t.Sub(ts.graftTime), 0)
	if tc.trackFailure && ts.meshTime > tc.MeshMessageDeliveriesActivation &&
		ts.meshMessageDeliveries < tc.MeshMessageDeliveriesThreshold {
		d := tc.MeshMessageDeliveriesThreshold - ts.meshMessageDeliveries
		ts.meshFailurePenalty += d * d
	}
	ts.inMesh = false
}
