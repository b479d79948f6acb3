package scoring

import (
	"errors"
	"net/netip"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// ErrInvalidAppScore is returned (wrapped) by Scorer.AppScore and
// Scorer.Observe for an EvtPeerAppScoreSet whose score is NaN or infinite;
// the event is ignored.
var ErrInvalidAppScore = errors.New("scoring: application score is not a finite number")

// maxPendingCrossings bounds the crossings kept for TakeCrossings, so a
// caller that never takes them (a simulation that only reads scores) cannot
// make the Scorer grow without bound.
const maxPendingCrossings = 1 << 16

// Scorer is the pure scoring core: a deterministic state machine that turns
// facts (events.* values) into peer scores. It has no goroutines, no I/O and
// no clock: every method takes the current time.
//
// A fact's own timestamp (its At field) is used for message timing and mesh
// times when set, because it is when the router saw the fact; the now
// argument is the fallback for facts without one.
//
// Not safe for concurrent use: one goroutine owns a Scorer.
type Scorer struct {
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

	crossings        []events.EvtPeerScoreThresholdCrossed
	droppedCrossings uint64
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
	idx int // position in Scorer.peers

	live   bool      // connected (or at least not known to be gone)
	expire time.Time // when !live: forgotten at or after this time

	appScore         float64 // P₅, mirrored from Scorer.appScores
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

// NewScorer returns a Scorer for a validated copy of params, whose decay
// clock starts at now. It returns a *ParamError wrapping ErrInvalidParams
// when params break a constraint.
func NewScorer(params Params, now time.Time) (*Scorer, error) {
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
	s := &Scorer{
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
		s.topics[name] = tc
		s.topicList = append(s.topicList, tc)
	}
	return s, nil
}

// Params returns a copy of the parameters in force.
func (s *Scorer) Params() Params { return s.params.clone() }

// Thresholds returns the score thresholds in force.
func (s *Scorer) Thresholds() Thresholds { return s.params.Thresholds }

// Len returns how many peers are scored (connected and retained).
func (s *Scorer) Len() int { return len(s.peers) }

// Score returns p's score as of the last fact or Refresh, and whether the
// peer is scored. An unscored peer's score is 0.
func (s *Scorer) Score(p peer.ID) (float64, bool) {
	ps := s.index[p]
	if ps == nil {
		return 0, false
	}
	return ps.score, true
}

// Scores returns a new map of every scored peer's score; the caller owns it.
func (s *Scorer) Scores() map[peer.ID]float64 {
	m := make(map[peer.ID]float64, len(s.peers))
	for _, ps := range s.peers {
		m[ps.id] = ps.score
	}
	return m
}

// AppendScores appends every scored peer's score to dst and returns it. The
// order is deterministic for a given sequence of calls (insertion order with
// swap-removal), not sorted.
func (s *Scorer) AppendScores(dst []events.PeerScore) []events.PeerScore {
	for _, ps := range s.peers {
		dst = append(dst, events.PeerScore{Peer: ps.id, Score: ps.score})
	}
	return dst
}

// Snapshot returns an EvtPeerScoresUpdated of every scored peer with the
// thresholds, in a newly allocated slice that the event's receivers share.
func (s *Scorer) Snapshot(now time.Time) events.EvtPeerScoresUpdated {
	return events.EvtPeerScoresUpdated{
		Scores:     s.AppendScores(make([]events.PeerScore, 0, len(s.peers))),
		Thresholds: s.params.Thresholds,
		At:         now,
	}
}

// PendingCrossings returns how many threshold crossings wait for
// TakeCrossings.
func (s *Scorer) PendingCrossings() int { return len(s.crossings) }

// TakeCrossings appends the threshold crossings recorded since the last call
// to dst, in the order they happened, forgets them and returns dst. At most
// 65536 crossings are kept between calls; later ones are counted in
// Stats().DroppedCrossings and discarded.
func (s *Scorer) TakeCrossings(dst []events.EvtPeerScoreThresholdCrossed) []events.EvtPeerScoreThresholdCrossed {
	dst = append(dst, s.crossings...)
	clear(s.crossings)
	s.crossings = s.crossings[:0]
	return dst
}

// Stats are the Scorer's internal counters, for metrics and tests.
type Stats struct {
	// Peers is how many peers are scored; Retained how many of them are
	// disconnected and kept for RetainScore.
	Peers, Retained int
	// DeliveryRecords is how many message delivery records are kept.
	DeliveryRecords int
	// EvictedRecords counts delivery records dropped because the cache was
	// full before their TTL (a sign MaxDeliveryRecords is too small).
	EvictedRecords uint64
	// DroppedCrossings counts threshold crossings discarded because nobody
	// took them (see TakeCrossings).
	DroppedCrossings uint64
}

// Stats returns the Scorer's counters.
func (s *Scorer) Stats() Stats {
	st := Stats{
		Peers:            len(s.peers),
		DeliveryRecords:  s.records.len(),
		EvictedRecords:   s.records.evicted,
		DroppedCrossings: s.droppedCrossings,
	}
	for _, ps := range s.peers {
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
func (s *Scorer) peer(p peer.ID, t time.Time, connect bool) *peerState {
	ps := s.index[p]
	if ps == nil {
		ps = &peerState{id: p, idx: len(s.peers), appScore: s.appScores[p]}
		// A new peer starts from the position of score 0, so a first fact
		// that moves it (or a preset application score) is a crossing.
		ps.below = s.ladder.mask(0)
		s.peers = append(s.peers, ps)
		s.index[p] = ps
		if !connect {
			ps.expire = t.Add(s.params.RetainScore)
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
func (s *Scorer) topic(ps *peerState, tc *topicConf) *topicState {
	if ps.topics == nil {
		ps.topics = make([]topicState, len(s.topicList))
	}
	return &ps.topics[tc.idx]
}

// retain marks ps disconnected at t, starting its retention; a peer already
// retained keeps its original deadline.
func (s *Scorer) retain(ps *peerState, t time.Time) {
	if !ps.live {
		return
	}
	ps.live = false
	ps.expire = t.Add(s.params.RetainScore)
}

// forget removes ps entirely.
func (s *Scorer) forget(ps *peerState) {
	for len(ps.ips) > 0 {
		s.dropIP(ps, ps.ips[0].addr)
	}
	last := len(s.peers) - 1
	moved := s.peers[last]
	s.peers[ps.idx] = moved
	moved.idx = ps.idx
	s.peers[last] = nil
	s.peers = s.peers[:last]
	delete(s.index, ps.id)
}

// leaveMeshes takes ps out of every mesh at t, charging P₃b as a prune does.
func (s *Scorer) leaveMeshes(ps *peerState, t time.Time) {
	for i := range ps.topics {
		s.prune(&ps.topics[i], s.topicList[i], t)
	}
}

// prune takes a peer out of tc's mesh at t. Per the spec, a peer pruned with
// an active delivery deficit (in the mesh longer than the activation window
// and below the threshold) adds the deficit squared to P₃b.
func (s *Scorer) prune(ts *topicState, tc *topicConf, t time.Time) {
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
