package sim

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/events"
)

// Stats summarises the messages published since the start (or the last
// ResetStats). A message is expected at every honest node that was alive
// when it was published and is still alive now, except its publisher.
type Stats struct {
	// Messages is the number of messages published.
	Messages int
	// Expected is the number of (message, node) deliveries expected.
	Expected int
	// Delivered is how many of the expected deliveries happened.
	Delivered int
	// DeliveryRatio is Delivered / Expected (1 when nothing was expected).
	DeliveryRatio float64
	// Duplicates counts copies received after the first, at honest nodes.
	Duplicates int
	// DuplicatesPerDelivered is Duplicates / all deliveries.
	DuplicatesPerDelivered float64
	// MeanHops and MaxHops: hops the first copy of each expected delivery
	// travelled (1 = straight from the publisher).
	MeanHops float64
	// MaxHops is the most hops any such first copy travelled.
	MaxHops int
	// MeanLatency, P99Latency and MaxLatency: time from publish to
	// delivery, over every delivery.
	MeanLatency time.Duration
	// P99Latency is the latency at index ⌊n·99/100⌋ of the n expected
	// deliveries' latencies, sorted; 0 when none happened.
	P99Latency time.Duration
	// MaxLatency is the longest of those latencies.
	MaxLatency time.Duration
	// RPCs counts RPCs honest nodes sent (data and control).
	RPCs int
	// RPCsPerDelivered is RPCs / all deliveries.
	RPCsPerDelivered float64
	// Dropped counts RPCs lost on links that were cut or closed.
	Dropped int
	// Grafts and Prunes count mesh changes at honest nodes.
	Grafts, Prunes int
	// Penalties counts the penalties honest nodes reported, by reason
	// (summing EvtPeerPenalized.Count).
	Penalties map[events.PenaltyReason]int
	// AdversaryPenalties and HonestPenalties split the penalties by the kind
	// of peer that was penalised.
	AdversaryPenalties, HonestPenalties int
	// UnsupportedControl counts control messages a receiver's negotiated
	// protocol lacks (OutcomeUnsupportedByProtocol), and choke entries sent
	// to a peer without the extension (OutcomeChokeNotNegotiated): 0 when
	// every node gates features by version correctly.
	UnsupportedControl int
	// Rejected counts the messages honest nodes refused, by reason (one per
	// EvtMessageRejected: a copy refused because its sender is graylisted
	// counts under RejectGraylisted, before any validation).
	Rejected map[events.RejectReason]int
	// InvalidValidated counts the invalid messages honest nodes ran
	// validation on (and rejected): the work InvalidSenders cost them.
	InvalidValidated int
	// InvalidDelivered counts messages authored by adversaries (only
	// InvalidSenders author any, all invalid) that an honest node delivered
	// to its application: 0 as long as validation runs on every message.
	InvalidDelivered int
}

type tracker struct {
	msgs  map[string]*msgTrack
	order []*msgTrack

	deliveries  int
	dups        int
	rpcs        int
	dropped     int
	grafts      int
	prunes      int
	penalties   map[events.PenaltyReason]int
	advPen      int
	honestPen   int
	unsupported int
	rejected    map[events.RejectReason]int

	invalidValidated int
	invalidDelivered int

	isAdv func(peer.ID) bool
}

type msgTrack struct {
	publisher int
	at        time.Time
	expected  []int
	hop       []int16         // per node: hops of the first copy, -1 if none
	lat       []time.Duration // per node: delivery latency, -1 if not delivered
}

func (t *tracker) init() {
	t.msgs = make(map[string]*msgTrack)
	t.penalties = make(map[events.PenaltyReason]int)
	t.rejected = make(map[events.RejectReason]int)
}

func (t *tracker) reset() {
	isAdv := t.isAdv
	*t = tracker{}
	t.init()
	t.isAdv = isAdv
}

func (t *tracker) published(id string, pub int, at time.Time, expected []int) {
	m := &msgTrack{publisher: pub, at: at, expected: expected}
	t.msgs[id] = m
	t.order = append(t.order, m)
}

func grow[T any](s []T, i int, fill T) []T {
	for len(s) <= i {
		s = append(s, fill)
	}
	return s
}

func (t *tracker) hopOf(id string, node int) int16 {
	m := t.msgs[id]
	if m == nil || node == m.publisher || node >= len(m.hop) || m.hop[node] < 0 {
		return 0
	}
	return m.hop[node]
}

func (t *tracker) firstCopy(id string, node int, hops int16) {
	m := t.msgs[id]
	if m == nil {
		return
	}
	m.hop = grow(m.hop, node, -1)
	if m.hop[node] < 0 {
		m.hop[node] = hops
	}
}

func (t *tracker) observe(n *node, now time.Time, o *automaton.Output) {
	if n.a == nil {
		return
	}
	for _, d := range automaton.FactMessageDelivered.In(o) {
		t.deliveries++
		if t.isAdv != nil && t.isAdv(d.Author) {
			t.invalidDelivered++
		}
		if m := t.msgs[d.ID]; m != nil {
			m.lat = grow(m.lat, n.idx, -1)
			if m.lat[n.idx] < 0 {
				m.lat[n.idx] = now.Sub(m.at)
			}
		}
	}
	for _, r := range automaton.FactMessageRejected.In(o) {
		t.rejected[r.Reason]++
	}
	t.dups += len(automaton.FactMessageDuplicated.In(o))
	t.grafts += len(automaton.FactPeerGrafted.In(o))
	t.prunes += len(automaton.FactPeerPruned.In(o))
	for _, p := range automaton.FactPeerPenalized.In(o) {
		t.penalties[p.Reason] += p.Count
		if t.isAdv != nil && t.isAdv(p.Peer) {
			t.advPen += p.Count
		} else {
			t.honestPen += p.Count
		}
	}
}

// Stats returns the statistics of the messages published since the start
// or the last ResetStats.
func (s *Sim) Stats() Stats {
	t := &s.track
	st := Stats{
		Messages:           len(t.order),
		Duplicates:         t.dups,
		RPCs:               t.rpcs,
		Dropped:            t.dropped,
		Grafts:             t.grafts,
		Prunes:             t.prunes,
		Penalties:          make(map[events.PenaltyReason]int, len(t.penalties)),
		AdversaryPenalties: t.advPen,
		HonestPenalties:    t.honestPen,
		UnsupportedControl: t.unsupported,
		Rejected:           make(map[events.RejectReason]int, len(t.rejected)),
		InvalidValidated:   t.invalidValidated,
		InvalidDelivered:   t.invalidDelivered,
	}
	for k, v := range t.penalties {
		st.Penalties[k] = v
	}
	for k, v := range t.rejected {
		st.Rejected[k] = v
	}
	var hopSum int
	var latSum time.Duration
	var lats []time.Duration
	for _, m := range t.order {
		for _, i := range m.expected {
			if !s.nodes[i].alive {
				continue
			}
			st.Expected++
			if i >= len(m.lat) || m.lat[i] < 0 {
				continue
			}
			st.Delivered++
			latSum += m.lat[i]
			lats = append(lats, m.lat[i])
			st.MaxLatency = max(st.MaxLatency, m.lat[i])
			if i < len(m.hop) && m.hop[i] >= 0 {
				hopSum += int(m.hop[i])
				st.MaxHops = max(st.MaxHops, int(m.hop[i]))
			}
		}
	}
	st.DeliveryRatio = 1
	if st.Expected > 0 {
		st.DeliveryRatio = float64(st.Delivered) / float64(st.Expected)
	}
	if st.Delivered > 0 {
		st.MeanHops = float64(hopSum) / float64(st.Delivered)
		st.MeanLatency = latSum / time.Duration(st.Delivered)
		slices.Sort(lats)
		st.P99Latency = lats[(len(lats)*99)/100]
	}
	if t.deliveries > 0 {
		st.DuplicatesPerDelivered = float64(t.dups) / float64(t.deliveries)
		st.RPCsPerDelivered = float64(t.rpcs) / float64(t.deliveries)
	}
	return st
}

// ResetStats forgets the messages and counters so far; later Stats cover
// only what happens next.
func (s *Sim) ResetStats() { s.track.reset() }
