package automaton

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// LatencyConfig makes the heartbeat's mesh selection prefer peers with a
// low round-trip time (RTT, given with HandlePeerRTT), while a random share
// of every selection stays uniform. GossipSub leaves to the implementation
// which eligible peers to GRAFT and which to keep when trimming (outside
// the Dscore best-scored and the Dout outbound quota); this chooses. The
// wire and every rule of the spec are unchanged. See docs/router.md,
// "Latency-aware mesh selection", for why the random share keeps a set of
// close attackers from eclipsing the node.
type LatencyConfig struct {
	// Enabled turns latency-aware selection on. Off (the zero value),
	// selection is uniform at random, as before, and RTTs are only stored.
	Enabled bool
	// RandomShare is the share of every mesh selection (filling below Dlo,
	// Join, trimming) made uniformly at random among the eligible peers,
	// whatever their RTT, rounded up: with D = 6 and 1/3, two of the six.
	// Swaps never lower the mesh's peers not chosen for their RTT below
	// ceil(D × RandomShare). In (0, 1]. Default 1/3.
	RandomShare float64
	// SwapTicks is how often, in heartbeats, the heartbeat may replace one
	// mesh peer per topic with a clearly faster eligible peer (one PRUNE,
	// one GRAFT); 0 turns swaps off. Default 3.
	SwapTicks int
	// SwapMinGain is how much faster, relatively, a candidate must be than
	// the mesh peer it replaces: candidate RTT <= (1 - SwapMinGain) × the
	// peer's RTT. In [0, 1). Default 0.3.
	SwapMinGain float64
	// SwapMinDelta is how much faster, absolutely, the candidate must be.
	// Default 10 ms.
	SwapMinDelta time.Duration
	// PublishExtra is how many measured topic peers outside the mesh, the
	// fastest first, also get the local node's own messages (published,
	// not forwarded) when FloodPublish is off: the publisher seeds the
	// fast peers directly, between mesh-only publishing and flood
	// publishing (every topic peer). Peers below the publish threshold
	// and unmeasured peers are never extras. 0 turns it off. Default 0.
	PublishExtra int
	// PublishExtraRandom draws the PublishExtra peers uniformly at random
	// among the eligible topic peers outside the mesh, measured or not,
	// afresh at every publish, instead of taking the fastest measured: an
	// A/B switch for what the RTT choice itself is worth. Default false.
	PublishExtraRandom bool
	// PublishMeshSkip trades first-hop copies: when a message goes to
	// extras (PublishExtra), up to this many of the slowest measured mesh
	// peers that speak /meshsub/1.2.0, and never more than there are
	// extras, get an IDONTWANT for it instead of the message. They receive
	// it from their other mesh peers and, having the IDONTWANT, do not
	// send it back: each skip saves the two copies an extra adds (its own
	// and the one its mesh neighbour then sends it as a duplicate). 0 turns
	// it off. Default 0.
	PublishMeshSkip int
	// PublishMeshSkipFastest skips the fastest measured mesh peers instead
	// of the slowest (an A/B switch: a fast peer skipped still gets the
	// message early through a fast relay, a slow one is the last to get
	// it either way). Default false.
	PublishMeshSkipFastest bool
	// PublishExtraMaxData is the largest data field (bytes) a published
	// message may have to go to the PublishExtra peers: a large message's
	// extra copies would share the publisher's uplink with its mesh
	// copies and slow them. Default 16 KiB.
	PublishExtraMaxData int
}

// DefaultLatencyConfig returns the defaults listed on each field, with
// Enabled set.
func DefaultLatencyConfig() LatencyConfig {
	return LatencyConfig{Enabled: true, RandomShare: 1.0 / 3, SwapTicks: 3, SwapMinGain: 0.3, SwapMinDelta: 10 * time.Millisecond,
		PublishExtraMaxData: 16 << 10}
}

// validate checks the fields when Enabled.
func (l LatencyConfig) validate() error {
	if !l.Enabled {
		return nil
	}
	bad := func(field, why string) error {
		return fmt.Errorf("%w: Latency.%s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case !(l.RandomShare > 0 && l.RandomShare <= 1):
		return bad("RandomShare", "must be in (0, 1]")
	case l.SwapTicks < 0:
		return bad("SwapTicks", "must be >= 0")
	case !(l.SwapMinGain >= 0 && l.SwapMinGain < 1):
		return bad("SwapMinGain", "must be in [0, 1)")
	case l.SwapMinDelta < 0:
		return bad("SwapMinDelta", "must be >= 0")
	case l.PublishExtra < 0:
		return bad("PublishExtra", "must be >= 0")
	case l.PublishMeshSkip < 0:
		return bad("PublishMeshSkip", "must be >= 0")
	case l.PublishExtraMaxData < 0:
		return bad("PublishExtraMaxData", "must be >= 0")
	}
	return nil
}

// randomSlots is how many of n selected peers are chosen at random.
func (l LatencyConfig) randomSlots(n int) int {
	return min(n, int(math.Ceil(float64(n)*l.RandomShare-1e-9)))
}

// HandlePeerRTT records the round-trip time to p (an
// events.EvtPeerRTTMeasured). The automaton keeps a smoothed value (the
// mean of the previous value and the new one) and uses it, when
// Config.Latency is enabled, at the next heartbeats' mesh selection. A peer
// never measured is unknown: it ranks after every measured peer in the
// RTT-ranked part of a selection, and like any other in the random part.
//
// Outcomes: OutcomeRTTRecorded, OutcomeUnknownPeer, OutcomeInvalidInput
// (negative rtt).
func (a *Automaton) HandlePeerRTT(now time.Time, p peer.ID, rtt time.Duration, out *Output) Outcome {
	_, _ = now, out
	ps := a.peers[p]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if rtt < 0 {
		return OutcomeInvalidInput
	}
	if ps.rttKnown {
		ps.rtt = (ps.rtt + rtt) / 2
	} else {
		ps.rtt, ps.rttKnown = rtt, true
	}
	return OutcomeRTTRecorded
}

// RTT returns the smoothed round-trip time the automaton uses for p, and
// whether p was measured.
func (a *Automaton) RTT(p peer.ID) (time.Duration, bool) {
	if ps := a.peers[p]; ps != nil && ps.rttKnown {
		return ps.rtt, true
	}
	return 0, false
}

// fasterFirst orders measured peers before unknown ones, then by RTT; a
// stable sort keeps the (shuffled) order among equals.
func fasterFirst(x, y *peerState) int {
	switch {
	case x.rttKnown != y.rttKnown:
		if x.rttKnown {
			return -1
		}
		return 1
	case !x.rttKnown:
		return 0
	}
	return cmp.Compare(x.rtt, y.rtt)
}

// pickMesh returns up to n peers of t that satisfy keep, for the mesh,
// and how many of them, leading the slice, were picked at random. With
// latency-aware selection off it is pickPeers (all random). On, the first
// ceil(n × RandomShare) are uniform at random and the rest are the
// fastest of the others; when there are no more candidates than n there
// is no choice, and all count as random.
func (a *Automaton) pickMesh(t *topicState, n int, keep func(*peerState) bool) (picked []*peerState, random int) {
	if n <= 0 {
		return nil, 0
	}
	cands := a.candidates(t, keep)
	if len(cands) <= n {
		return cands, len(cands)
	}
	random = a.randomLead(cands, n)
	return cands[:n], min(random, n)
}

// randomLead orders ps, already shuffled, as the preference of a
// selection of n: with latency-aware selection off it leaves them as they
// are, all random, and returns len(ps); on, it keeps the first
// ceil(n × RandomShare) where they are and sorts the others fastest first,
// and returns how many lead at random.
func (a *Automaton) randomLead(ps []*peerState, n int) int {
	if !a.cfg.Latency.Enabled {
		return len(ps)
	}
	r := min(len(ps), a.cfg.Latency.randomSlots(n))
	slices.SortStableFunc(ps[r:], fasterFirst)
	return r
}

// graftPicked grafts the peers pickMesh chose, tagging those after the
// first random ones as chosen for their RTT.
func (a *Automaton) graftPicked(now time.Time, t *topicState, picked []*peerState, random int, out *Output) {
	for i, ps := range picked {
		a.graft(now, t, ps, out)
		if i >= random {
			t.tagRTT(ps.id)
		}
	}
}

// swapSlowest replaces, at most once per call, the slowest mesh peer of t
// with the fastest eligible non-mesh peer when the latter is faster by
// SwapMinGain and SwapMinDelta. The replaced peer is pruned as in trimming
// (PRUNE with PruneBackoff, so neither side grafts the other again for
// that long); it must be measured, must not score above the candidate,
// must not be needed for the Dout outbound quota, and, if it was not
// itself chosen for its RTT, the mesh must keep ceil(D × RandomShare)
// such peers without it. It reports whether it swapped.
func (a *Automaton) swapSlowest(now time.Time, t *topicState, out *Output) bool {
	var cand *peerState
	for _, p := range t.peers.items {
		ps := a.peers[p]
		if ps == nil || !ps.rttKnown || !a.canGraft(now, t, ps) {
			continue
		}
		if cand == nil || ps.rtt < cand.rtt {
			cand = ps
		}
	}
	if cand == nil {
		return false
	}
	outbound, notByRTT := 0, 0
	for _, p := range t.mesh.items {
		if a.peers[p].outbound {
			outbound++
		}
		if _, ok := t.byRTT[p]; !ok {
			notByRTT++
		}
	}
	minRandom := a.cfg.Latency.randomSlots(a.cfg.D)
	var victim *peerState
	for _, p := range t.mesh.items {
		ps := a.peers[p]
		_, tagged := t.byRTT[p]
		switch {
		case !ps.rttKnown, ps.score > cand.score,
			ps.outbound && !cand.outbound && outbound <= a.cfg.Dout,
			!tagged && notByRTT <= minRandom:
			continue
		}
		if victim == nil || ps.rtt > victim.rtt {
			victim = ps
		}
	}
	if victim == nil {
		return false
	}
	gain := a.cfg.Latency.SwapMinGain
	if float64(cand.rtt) > (1-gain)*float64(victim.rtt) || victim.rtt-cand.rtt < a.cfg.Latency.SwapMinDelta {
		return false
	}
	a.pruneFromMesh(now, t, victim, events.PruneReasonLatencySwap, true, out)
	a.graft(now, t, cand, out)
	t.tagRTT(cand.id)
	return true
}

// publishExtras returns the PublishExtra fastest measured topic peers of t
// outside its mesh (with PublishExtraRandom, PublishExtra of them drawn at
// random, measured or not) that may receive the local node's message of
// dataLen bytes (nil when the feature does not apply). A slice: it holds a
// handful of peers, and Publish only asks whether a peer is among them.
func (a *Automaton) publishExtras(t *topicState, dataLen int) []*peerState {
	l := a.cfg.Latency
	if !l.Enabled || l.PublishExtra == 0 || a.cfg.FloodPublish || !t.joined || dataLen > l.PublishExtraMaxData {
		return nil
	}
	if l.PublishExtraRandom {
		cands := a.candidates(t, func(ps *peerState) bool { return !t.mesh.has(ps.id) && a.fanoutEligible(ps) })
		return cands[:min(len(cands), l.PublishExtra)]
	}
	var cands []*peerState
	for _, p := range t.peers.items {
		if ps := a.peers[p]; ps != nil && ps.rttKnown && !t.mesh.has(p) && a.fanoutEligible(ps) {
			cands = append(cands, ps)
		}
	}
	slices.SortStableFunc(cands, fasterFirst)
	return cands[:min(len(cands), l.PublishExtra)]
}

// publishSkips returns the mesh peers of t that get an IDONTWANT instead
// of the local node's message when it also goes to extras: up to
// PublishMeshSkip (at most extras) of the slowest (PublishMeshSkipFastest:
// fastest) measured mesh peers that understand IDONTWANT.
func (a *Automaton) publishSkips(t *topicState, extras int) []*peerState {
	n := min(a.cfg.Latency.PublishMeshSkip, extras)
	if n == 0 {
		return nil
	}
	var cands []*peerState
	for _, p := range t.mesh.items {
		if ps := a.peers[p]; ps != nil && ps.rttKnown && ps.feat&featIDontWant != 0 && !ps.direct {
			cands = append(cands, ps)
		}
	}
	if a.cfg.Latency.PublishMeshSkipFastest {
		slices.SortStableFunc(cands, fasterFirst)
	} else {
		slices.SortStableFunc(cands, func(x, y *peerState) int { return fasterFirst(y, x) })
	}
	return cands[:min(len(cands), n)]
}

// tagRTT records that p was chosen for its RTT (the map is made on first
// use: a topic's state may come from a publish before any Join).
func (t *topicState) tagRTT(p peer.ID) {
	if t.byRTT == nil {
		t.byRTT = make(map[peer.ID]struct{})
	}
	t.byRTT[p] = struct{}{}
}
