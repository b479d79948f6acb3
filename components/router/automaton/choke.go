package automaton

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// ChokeConfig is meshbus's choke extension, after the libp2p specs'
// gossipsub choke draft ("Choke extensions to improve network
// efficiency"), negotiated per peer through the v1.3 Extensions control
// message (pb.ControlExtensions.MeshbusChoke) and carried in an RPC field
// with an experimental number (pb.ChokeExtension).
//
// The receiver decides. Per joined topic it counts which mesh peer brought
// each message first. At a heartbeat with at least MinFirsts such
// deliveries counted, or with one and at least MinFirsts brought first by
// the topic's mesh peers in every topic (a low-rate topic borrows the
// evidence of the others), it keeps eager the Unchoked mesh peers that
// brought the most, in the topic (and, for a topic that borrowed, in
// every topic; peers without the extension count, and are never choked),
// and chokes the others that have the extension. A narrow topic
// (MinUnchoked) keeps fewer while choked peers bring it next to none of
// its messages first, and widens to Unchoked when they do. A topic's
// first decision after we joined it does not wait for the heartbeat: it
// comes with its FirstFirsts-th first delivery (or the pooled
// equivalent). It also
// unchokes a choked peer when choked peers (through IHAVE and IWANT) have
// brought more messages first than eager ones since the last decision
// (the eager paths are failing), when fewer mesh peers are eager than the
// topic keeps (mesh churn), and, every ExploreEvery heartbeats, the one
// choked longest, so that faster paths are found again. It sends no
// IDONTWANT for messages of at most MaxData bytes to a peer it choked:
// that peer sends it none.
//
// The sender obeys. To a mesh peer that choked it on the topic it sends,
// for each forwarded message of at most MaxData bytes of data, its id in
// an IHAVE instead of the message, batched per peer and flushed every
// FlushInterval (FlushLazy, within the MaxIHaves budget of LazyConfig;
// past it the message goes eagerly); our own messages always go eagerly.
// A peer that leaves our mesh and comes back is unchoked (both ways).
// Every change of either side's state is an EvtPeerChoked, except the
// ends that leaving the mesh brings (EvtPeerPruned says it).
//
// Why: on a 2-core host a 1 KiB message costs about a UDP datagram per
// copy, IDONTWANT and acknowledgement, and about five copies of each
// message reach every node at matched D; choking leaves about Unchoked
// (docs/router.md, "Choking").
type ChokeConfig struct {
	// Enabled turns the extension on: it is advertised, and peers that
	// advertise it are choked and obeyed. Off (the zero value), choke
	// entries from peers are ignored (OutcomeChokeNotNegotiated).
	Enabled bool
	// Unchoked is how many mesh peers of a topic are kept eager (the ones
	// that brought the most messages first). At least 1. Default 2.
	Unchoked int
	// MinUnchoked, when below Unchoked, makes a busy topic narrow: one
	// whose last decision counted at least NarrowFirsts first deliveries
	// in the topic keeps only MinUnchoked mesh peers eager while they
	// bring it nearly every message (a quieter topic would learn of its
	// misses too slowly, so it keeps Unchoked). When choked peers
	// (through their batched IHAVEs and our IWANTs) have brought at least
	// two messages first since the last decision, and at least WidenAt of
	// all, the topic widens at once
	// (the choked peer that just won is unchoked) and keeps Unchoked
	// eager for WidenHold heartbeats; then it tries MinUnchoked again.
	// One eager path leaves about a third of the copies two leave, but
	// where it does not reach a message waits for a batched IHAVE
	// (docs/router.md, "Narrow topics"). 0 (or Unchoked): always
	// Unchoked. At most Unchoked. Default 1.
	MinUnchoked int
	// WidenAt is the share of a narrow topic's first deliveries brought
	// by choked peers that widens it (see MinUnchoked), taken of at least
	// as many deliveries as the topic's last decision counted. In (0, 1]
	// when MinUnchoked is below Unchoked. Default 0.05.
	WidenAt float64
	// WidenHold is how many heartbeats a widened topic keeps Unchoked
	// eager. At least 1 when MinUnchoked is below Unchoked. Default 30.
	WidenHold int
	// NarrowFirsts is how many first deliveries from mesh peers (not
	// counting authors') a topic's decision needs, since the last one,
	// for the topic to be narrow until the next (see MinUnchoked). At
	// least 1 when MinUnchoked is below Unchoked. Default 20: with 20
	// loopback nodes one topic of 250 messages a second counts about 150
	// per heartbeat and narrows; 10 topics of 25 count about 16 each and
	// stay wide (narrow, their CPU against go-libp2p-pubsub did not
	// move beyond the noise, and their p99 rose in some runs).
	NarrowFirsts int
	// MinFirsts is how many first deliveries from mesh peers a topic
	// needs, since its last decision, for a heartbeat to decide: its own,
	// or, once it has one of its own, those its mesh peers brought in
	// every topic. The topic's first decision after we joined it needs
	// FirstFirsts instead, and comes as soon as it has them, without
	// waiting for the heartbeat. At least 1. Default 20.
	MinFirsts int
	// FirstFirsts is how many first deliveries a topic's first decision
	// after we joined it needs, in place of MinFirsts: until then every
	// mesh peer pushes us every message (at 250 messages a second about
	// four copies of each for the 150 ms that 20 take to come). That
	// decision makes the topic narrow (MinUnchoked) when its first
	// deliveries came at a rate of at least NarrowFirsts a heartbeat
	// interval; later decisions count a whole interval's. 0: MinFirsts.
	// Default 8.
	FirstFirsts int
	// ExploreEvery is how many heartbeats pass between two unchokes of the
	// peer choked longest in a topic (0: never). Each costs the copies the
	// peer pushes until the next decision chokes it again: on loopback,
	// every 5 heartbeats cost about 0.2 duplicates per delivered message,
	// every 20 about 0.06. Default 20 (BitTorrent's optimistic unchoke is
	// every 30 s).
	ExploreEvery int
	// MaxData is the largest data field (bytes) of a forwarded message
	// sent as an IHAVE to a peer that choked us. Default 16 KiB.
	MaxData int
	// FlushInterval is how often the batched IHAVEs go (the driver calls
	// FlushLazy). Default 200 ms.
	FlushInterval time.Duration
	// MaxPerHeartbeat caps the choke and unchoke entries a peer may send
	// per topic in one heartbeat interval (entries for topics where it is
	// not in our mesh count together as one topic's); past it the rest of
	// its RPC is ignored and costs it PenaltyChokeFlood. A router sends at
	// most two per topic and heartbeat (a decision, an early unchoke),
	// three in its first interval in a topic (its early first decision),
	// so two of its heartbeats in one of ours, under load, stay within
	// the default. Per topic, so that a node in many topics whose decisions
	// fall in one heartbeat is not taken for a flood. Default 8.
	MaxPerHeartbeat int
	// MaxRTT is the largest round-trip time (HandlePeerRTT) of a mesh
	// peer we choke: a peer whose RTT is larger or unknown is never
	// choked, and one choked whose RTT grows past MaxRTT plus a quarter
	// (the band keeps an RTT that hovers at MaxRTT from choking and
	// unchoking the peer in turn) is unchoked at the next heartbeat (0:
	// any peer, RTT known or not). Choking leaves a
	// sparser eager graph, so messages take more hops; over a link this
	// short a hop costs little, over slower ones the duplicates are the
	// price of latency (docs/router.md, "Choking"). At least 0. Default
	// 10 ms.
	MaxRTT time.Duration
	// SkipAuthorsAfter is how many messages of an author (a peer of
	// ours) in a row must come first straight from it before we ask
	// our peers with the extension to skip its messages: they announce
	// them (IHAVE) instead of sending them, as a peer we choked does
	// (see authorskip.go and docs/router.md, "Author skip"). The first
	// of its messages that comes first from another peer, and its
	// disconnection, end the request. 0: we never ask (we still honour
	// peers' requests while MaxSkipAuthors is set). Default 4.
	SkipAuthorsAfter int
	// MaxSkipAuthors is the most authors we ask to skip at once, and the
	// most a peer may ask us to skip (later requests are ignored); a
	// peer may send 8 entries per such author in a heartbeat interval
	// (past it, PenaltyChokeFlood). 0: author skip off both ways. At
	// least 1 when SkipAuthorsAfter is set. Default 64.
	MaxSkipAuthors int
}

// DefaultChokeConfig returns the defaults listed on each field, with
// Enabled set.
func DefaultChokeConfig() ChokeConfig {
	return ChokeConfig{Enabled: true, Unchoked: 2, MinUnchoked: 1, WidenAt: 0.05, WidenHold: 30, NarrowFirsts: 20,
		MinFirsts: 20, FirstFirsts: 8, ExploreEvery: 20, MaxData: 16 << 10,
		FlushInterval: 200 * time.Millisecond, MaxPerHeartbeat: 8, MaxRTT: 10 * time.Millisecond,
		SkipAuthorsAfter: 4, MaxSkipAuthors: defaultMaxSkipAuthors}
}

// narrows reports whether topics may be narrow: MinUnchoked set and
// below Unchoked.
func (c ChokeConfig) narrows() bool { return c.MinUnchoked > 0 && c.MinUnchoked < c.Unchoked }

func (c ChokeConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	bad := func(field, why string) error {
		return fmt.Errorf("%w: Choke.%s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case c.Unchoked < 1:
		return bad("Unchoked", "must be >= 1")
	case c.MinUnchoked < 0 || c.MinUnchoked > c.Unchoked:
		return bad("MinUnchoked", "must be between 0 and Unchoked")
	case c.narrows() && !(c.WidenAt > 0 && c.WidenAt <= 1):
		return bad("WidenAt", "must be in (0, 1] with MinUnchoked set")
	case c.narrows() && c.WidenHold < 1:
		return bad("WidenHold", "must be >= 1 with MinUnchoked set")
	case c.narrows() && c.NarrowFirsts < 1:
		return bad("NarrowFirsts", "must be >= 1 with MinUnchoked set")
	case c.MinFirsts < 1:
		return bad("MinFirsts", "must be >= 1")
	case c.FirstFirsts < 0:
		return bad("FirstFirsts", "must be >= 0")
	case c.ExploreEvery < 0:
		return bad("ExploreEvery", "must be >= 0")
	case c.MaxData < 0:
		return bad("MaxData", "must be >= 0")
	case c.FlushInterval <= 0:
		return bad("FlushInterval", "must be > 0")
	case c.MaxPerHeartbeat < 1:
		return bad("MaxPerHeartbeat", "must be >= 1")
	case c.MaxRTT < 0:
		return bad("MaxRTT", "must be >= 0")
	case c.SkipAuthorsAfter < 0:
		return bad("SkipAuthorsAfter", "must be >= 0")
	case c.MaxSkipAuthors < 0 || c.SkipAuthorsAfter > 0 && c.MaxSkipAuthors < 1:
		return bad("MaxSkipAuthors", "must be >= 1 with SkipAuthorsAfter set, >= 0 otherwise")
	}
	return nil
}

// topicChoke is a topic's choke state. Entries exist only for mesh peers:
// leaving the mesh, or joining it, clears a peer's (chokeForget).
type topicChoke struct {
	// firsts counts, per mesh peer, the messages it brought first since
	// the last decision (not its own), total their sum, lazyWins the
	// part brought by peers we had choked.
	firsts   map[peer.ID]int
	total    int
	lazyWins int
	// lastTotal is total at the last decision: the least count a share
	// of lazy wins is taken of (chokeWiden).
	lastTotal int
	// choked holds the mesh peers we choked, with the heartbeat we did.
	choked map[peer.ID]uint64
	// chokedUs holds the mesh peers that choked us.
	chokedUs map[peer.ID]struct{}
	// ihavesIn counts, per mesh peer we choked, the IHAVE entries for
	// this topic it sent in the current heartbeat interval; ihavesOut,
	// per mesh peer that choked us, those we sent it. Choked IHAVEs have
	// this per-topic budget instead of the peer-wide MaxIHaveMessages
	// (chokeIHaveIn, chokeCanQueue).
	ihavesIn, ihavesOut map[peer.ID]int
	// base holds, per mesh peer, its firstsAll at the topic's last
	// decision (or the first heartbeat after it joined the mesh): what it
	// brought first in every topic since is firstsAll - base (chokePooled).
	base map[peer.ID]uint64
	// entriesIn counts, per mesh peer, the choke and unchoke entries for
	// this topic it sent in the current heartbeat interval (HandleChoke).
	entriesIn map[peer.ID]int
	// explored is the heartbeat of the last exploring unchoke.
	explored uint64
	// wideUntil is the heartbeat until which t keeps Unchoked eager
	// (MinUnchoked).
	wideUntil uint64
	// busy reports whether t's last decision counted at least
	// NarrowFirsts first deliveries in t: only a busy topic is narrow
	// (MinUnchoked).
	busy bool
	// keptUnchokable holds the mesh peers that cannot be choked but took
	// an eager place at the last decision (they had brought messages
	// first): the refill between decisions counts them as eager paths.
	keptUnchokable map[peer.ID]struct{}
	// decided reports whether t made a decision since we joined it: the
	// first one does not wait for the heartbeat (chokeFirst).
	decided bool
	// since is when t's first first delivery after we joined it came
	// (zero until then): the first decision takes the rate of its
	// evidence from it (chokeBusy).
	since time.Time
}

// SetPeerChoke records whether p advertised meshbus's choke extension (the
// MeshbusChoke flag of the Extensions control message that opened its
// stream). It is on only when ChokeConfig is enabled and p's protocol has
// that control message (/meshsub/1.3.0 and later). It emits nothing; the
// next Heartbeat sends a peer that newly has the extension the authors we
// ask to skip (ChokeConfig.SkipAuthorsAfter).
//
// Outcomes: OutcomePeerFeaturesSet, OutcomeUnknownPeer.
func (a *Automaton) SetPeerChoke(p peer.ID, on bool) Outcome {
	ps := a.peers[p]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if on && a.cfg.Choke.Enabled && wire.HasExtensions(ps.proto) {
		if ps.feat&featChoke == 0 {
			ps.skipTold = false // the next heartbeat sends it our author skips
		}
		ps.feat |= featChoke
	} else {
		ps.feat &^= featChoke
		ps.skipAuthors = nil
		for _, t := range a.topics {
			if t.joined {
				a.chokeForget(t, p)
			}
		}
	}
	return OutcomePeerFeaturesSet
}

// PeerChoke reports whether the choke extension is in use with p
// (SetPeerChoke).
func (a *Automaton) PeerChoke(p peer.ID) bool {
	ps := a.peers[p]
	return ps != nil && ps.feat&featChoke != 0
}

// HandleChoke applies a peer's choke extension RPC: it choked us on the
// topics of choke and unchoked us on those of unchoke. Entries for a topic
// we have not joined, or where the peer is not in our mesh, are ignored
// (either side may have just left the mesh). Past MaxPerHeartbeat entries
// for one topic in a heartbeat interval (or for topics where the peer is
// not in our mesh, together), the rest of the RPC is ignored and the peer
// pays PenaltyChokeFlood, once per RPC. Each change of state emits
// EvtPeerChoked (ByUs false); a repeated entry changes nothing.
//
// Outcomes: OutcomeChokeRecorded, OutcomeChokeNotNegotiated (the peer did
// not advertise the extension, or ours is off), OutcomeChokeFlood,
// OutcomeUnknownPeer.
func (a *Automaton) HandleChoke(now time.Time, from peer.ID, choke, unchoke []string, out *Output) Outcome {
	ps := a.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if ps.feat&featChoke == 0 {
		return OutcomeChokeNotNegotiated
	}
	flood := false
	maxIn := a.cfg.Choke.MaxPerHeartbeat
	apply := func(topics []string, on bool) {
		for _, name := range topics {
			if flood {
				return
			}
			t := a.topics[name]
			if t == nil || !t.joined || !t.mesh.has(from) {
				ps.chokeIn++
				flood = ps.chokeIn > maxIn
				continue
			}
			if t.ch.entriesIn == nil {
				t.ch.entriesIn = make(map[peer.ID]int)
			}
			t.ch.entriesIn[from]++
			if flood = t.ch.entriesIn[from] > maxIn; flood {
				return
			}
			if on == t.chokedBy(from) {
				continue // no change: a repeated entry has no effect
			}
			if on {
				if t.ch.chokedUs == nil {
					t.ch.chokedUs = make(map[peer.ID]struct{})
				}
				t.ch.chokedUs[from] = struct{}{}
			} else {
				delete(t.ch.chokedUs, from)
			}
			FactPeerChoked.add(out, events.EvtPeerChoked{Peer: from, Topic: name, Choked: on, At: now})
		}
	}
	apply(choke, true)
	apply(unchoke, false)
	if flood {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyChokeFlood, Count: 1, At: now})
		return OutcomeChokeFlood
	}
	return OutcomeChokeRecorded
}

// HandleChokeExtension applies a peer's choke extension RPC
// (pb.ChokeExtension): its choke and unchoke entries (HandleChoke), then
// its author skip entries (HandleAuthorSkip), each part only when it has
// entries, and appends one outcome per part applied to outcomes. A nil
// c does nothing.
func (a *Automaton) HandleChokeExtension(now time.Time, from peer.ID, c *pb.ChokeExtension, out *Output, outcomes []Outcome) []Outcome {
	if len(c.GetChokeTopics()) > 0 || len(c.GetUnchokeTopics()) > 0 {
		o := a.HandleChoke(now, from, c.GetChokeTopics(), c.GetUnchokeTopics(), out)
		outcomes = append(outcomes, o)
		if o == OutcomeChokeFlood {
			return outcomes // a flood ends the extension's processing, one penalty per RPC
		}
	}
	if len(c.GetSkipAuthors()) > 0 || len(c.GetUnskipAuthors()) > 0 {
		outcomes = append(outcomes, a.HandleAuthorSkip(now, from, c.GetSkipAuthors(), c.GetUnskipAuthors(), out))
	}
	return outcomes
}

// chokedBy reports whether mesh peer p of t choked us.
func (t *topicState) chokedBy(p peer.ID) bool {
	_, ok := t.ch.chokedUs[p]
	return ok
}

// choking reports whether we choked mesh peer p of t.
func (t *topicState) choking(p peer.ID) bool {
	_, ok := t.ch.choked[p]
	return ok
}

// chokeSpares reports whether mesh peer p of t gets no IDONTWANT for a
// message with dataLen bytes of data because we choked it: it sends us an
// IHAVE for such a message, not the message (larger ones it still sends).
func (a *Automaton) chokeSpares(t *topicState, p peer.ID, dataLen int) bool {
	return dataLen <= a.cfg.Choke.MaxData && t.choking(p)
}

// chokeForget clears p's choke state in t: it left t's mesh or joined it,
// or turned the extension off. Its incoming budgets for the interval
// (ihavesIn, entriesIn) stay until the heartbeat renews them, so that
// turning the extension off and on again, by reopening its stream, does
// not renew them early.
func (a *Automaton) chokeForget(t *topicState, p peer.ID) {
	c := &t.ch
	if n, ok := c.firsts[p]; ok {
		c.total -= n
		c.lazyWins = min(c.lazyWins, c.total)
		delete(c.firsts, p)
	}
	delete(c.choked, p)
	delete(c.chokedUs, p)
	delete(c.ihavesOut, p)
	delete(c.base, p)
	delete(c.keptUnchokable, p)
}

// chokeClear clears t's choke state (we left the topic).
func (t *topicState) chokeClear() {
	clear(t.ch.firsts)
	clear(t.ch.choked)
	clear(t.ch.chokedUs)
	clear(t.ch.ihavesIn)
	clear(t.ch.ihavesOut)
	clear(t.ch.entriesIn)
	clear(t.ch.base)
	clear(t.ch.keptUnchokable)
	t.ch.total, t.ch.lazyWins, t.ch.lastTotal = 0, 0, 0
	t.ch.decided = false
	t.ch.since = time.Time{}
	t.ch.wideUntil = 0
	t.ch.busy = false
}

// chokeIHaveIn counts an IHAVE entry for t from from, a mesh peer we
// choked in t, and reports whether it is within its budget:
// MaxIHaveMessages entries per topic and heartbeat interval. A choked
// peer announces every message it forwards us, batched per topic every
// FlushInterval, so on a node with many topics the peer-wide
// MaxIHaveMessages would drop most announcements (and the P3 credit
// they carry); what we asked for by choking has a budget per topic.
func (a *Automaton) chokeIHaveIn(t *topicState, from peer.ID) bool {
	if t.ch.ihavesIn == nil {
		t.ch.ihavesIn = make(map[peer.ID]int)
	}
	t.ch.ihavesIn[from]++
	return t.ch.ihavesIn[from] <= a.cfg.MaxIHaveMessages
}

// chokeFirst records that mesh peer from brought message id of t first
// (author is the message's author): it counts for the next decision
// (peers without the extension count too: they are eager and may be the
// fastest, and so do choked peers). It is a lazy win when from is choked
// and we asked it for id (lazyAsked): a choked peer is unchoked at once
// when such wins are more than the other first deliveries since the last
// decision. The topic's first decision is made here, as soon as it has
// the evidence (chokeReady).
func (a *Automaton) chokeFirst(now time.Time, t *topicState, from, author peer.ID, id string, out *Output) {
	if !a.cfg.Choke.Enabled || from == author || !t.mesh.has(from) {
		return
	}
	c := &t.ch
	if c.firsts == nil {
		c.firsts = make(map[peer.ID]int)
	}
	c.firsts[from]++
	c.total++
	if c.since.IsZero() {
		c.since = now
	}
	if ps := a.peers[from]; ps != nil {
		ps.firstsAll++
	}
	if t.choking(from) && a.lazyAsked.has(id, from) {
		c.lazyWins++
		// Choked peers, through IHAVE and IWANT, brought more messages
		// first than the eager ones since the last decision: the eager
		// paths are failing, so this one does not wait for the heartbeat.
		// (One such win alone is no evidence: at a high rate a message in
		// the eager paths' tail loses to an IHAVE now and then, and when
		// it is the first delivery since a decision it is a majority of
		// one. On 20 loopback nodes that unchoked 5-14 peers per
		// four-second run, each pushing duplicates until the next
		// decision.)
		if c.lazyWins >= 2 && 2*c.lazyWins > c.total {
			a.unchoke(now, t, from, out)
		} else if a.chokeWiden(t) {
			// A narrow topic whose one eager path misses messages: a
			// second one now, not at the heartbeat (each miss waits for a
			// batched IHAVE).
			a.unchoke(now, t, from, out)
		}
	}
	if !c.decided && a.chokeReady(t) {
		// Until its first decision every mesh peer pushes us every
		// message: at a high rate up to a heartbeat interval of copies
		// from each, for evidence the heartbeat would not weigh
		// differently. Later decisions wait for the heartbeat, on the
		// evidence of a whole interval.
		a.chokeDecide(now, t, out)
	}
}

// chokeSends reports whether a forwarded message with dataLen bytes of
// data goes to mesh peer ps of t as an IHAVE (ps choked us) and, if so,
// queues its id for ps's next batch. It reports false, and queues
// nothing, when ps did not choke us, the message is larger than MaxData,
// or ps's IHAVE budget is spent (the message then goes eagerly).
func (a *Automaton) chokeSends(t *topicState, ps *peerState, id string, dataLen int) bool {
	if !t.chokedBy(ps.id) || dataLen > a.cfg.Choke.MaxData || !a.chokeCanQueue(t, ps) {
		return false
	}
	a.markOffered(id, ps.id)
	a.lazyQueue(ps, t.name, id)
	return true
}

// chokeCanQueue reports whether one more id for t fits ps's IHAVE budget
// as a peer that choked us in t: at most MaxIHaveLength ids in the
// heartbeat interval (shared with lazy forwarding), and the topic's next
// entry (queued already or new) within half its MaxIHaveMessages entries
// for t (the per-topic budget chokeIHaveIn gives a choking receiver;
// half, as lazyMaxIHaves, for a receiver configured below our own).
func (a *Automaton) chokeCanQueue(t *topicState, ps *peerState) bool {
	return ps.lazy.idsHB < a.cfg.MaxIHaveLength && t.ch.ihavesOut[ps.id]+1 <= a.lazyMaxIHaves()
}

// chokeCountIHaveOut counts an IHAVE entry for topic sent to ps in a
// flushed batch against the topic's budget when ps choked us there
// (chokeCanQueue; a choking receiver counts those entries per topic), and
// reports whether it did. Other entries go against ps's lazy budget, once
// per batch (flushPeer).
func (a *Automaton) chokeCountIHaveOut(ps *peerState, topic string) bool {
	t := a.topics[topic]
	if t == nil || !t.joined || !t.chokedBy(ps.id) {
		return false
	}
	if t.ch.ihavesOut == nil {
		t.ch.ihavesOut = make(map[peer.ID]int)
	}
	t.ch.ihavesOut[ps.id]++
	return true
}

// chokable reports whether ps may be choked: it advertised the extension
// and its RTT is known and at most MaxRTT (when MaxRTT is set).
func (a *Automaton) chokable(ps *peerState) bool {
	return a.withinRTT(ps, a.cfg.Choke.MaxRTT)
}

// stayChoked reports whether ps, choked, stays so: as chokable, with
// MaxRTT a quarter larger, so that an RTT hovering at MaxRTT does not
// unchoke and choke the peer in turn.
func (a *Automaton) stayChoked(ps *peerState) bool {
	return a.withinRTT(ps, a.cfg.Choke.MaxRTT+a.cfg.Choke.MaxRTT/4)
}

// withinRTT reports whether ps advertised the extension and its RTT is
// known and at most maxRTT (any RTT, known or not, when maxRTT is 0).
func (a *Automaton) withinRTT(ps *peerState, maxRTT time.Duration) bool {
	return ps.feat&featChoke != 0 && (maxRTT == 0 || ps.rttKnown && ps.rtt <= maxRTT)
}

// chokeHeartbeat makes t's choke decisions (see ChokeConfig) and renews
// its IHAVE and entry budgets (Heartbeat has flushed the batches by then).
func (a *Automaton) chokeHeartbeat(now time.Time, t *topicState, out *Output) {
	cfg, c := a.cfg.Choke, &t.ch
	clear(c.ihavesIn)
	clear(c.ihavesOut)
	clear(c.entriesIn)
	if cfg.MaxRTT > 0 && len(c.choked) > 0 {
		// Peers whose RTT grew past MaxRTT's band since we choked them,
		// in id order (the facts' order is deterministic).
		far := a.scratchPeers[:0]
		for p := range c.choked {
			if ps := a.peers[p]; ps == nil || !a.stayChoked(ps) {
				far = append(far, p)
			}
		}
		slices.Sort(far)
		for _, p := range far {
			a.unchoke(now, t, p, out)
		}
		clear(far)
		a.scratchPeers = far[:0]
	}
	// The eager paths: unchoked mesh peers that could be choked, or that
	// brought a message first since the decision. A peer without the
	// extension that brought nothing takes no slot at a decision
	// (chokeDecide), so it is no eager path here either, unless it took
	// one at the last decision.
	eager := 0
	for _, p := range t.mesh.items {
		_, kept := c.keptUnchokable[p]
		if ps := a.peers[p]; ps != nil && !t.choking(p) && (a.chokable(ps) || kept || c.firsts[p] > 0) {
			eager++
		}
	}
	for eager < a.chokeKeep(t) && len(c.choked) > 0 {
		a.unchoke(now, t, a.chokedLongest(t), out)
		eager++
	}
	if c.base == nil {
		c.base = make(map[peer.ID]uint64)
	}
	for _, p := range t.mesh.items {
		if _, ok := c.base[p]; !ok {
			c.base[p] = a.peers[p].firstsAll // joined the mesh: its count starts here
		}
	}
	// A topic decides on its own evidence, or, once it has seen a message
	// since its last decision, on what its mesh peers brought first in
	// every topic since (a low-rate topic would wait minutes for
	// MinFirsts of its own, its copies going eagerly to every mesh peer
	// meanwhile; a peer that is first in other topics is near us).
	if a.chokeReady(t) {
		a.chokeDecide(now, t, out)
	}
	if cfg.ExploreEvery > 0 && len(c.choked) > 0 && a.ticks-c.explored >= uint64(cfg.ExploreEvery) {
		if p := a.chokedLongest(t); c.choked[p] < a.ticks { // not one just choked
			c.explored = a.ticks
			a.unchoke(now, t, p, out)
		}
	}
}

// chokeReady reports whether t has the evidence for a decision:
// chokeNeed first deliveries of its own since its last decision, or one
// and chokeNeed pooled (chokePooledTotal).
func (a *Automaton) chokeReady(t *topicState) bool {
	c, need := &t.ch, a.chokeNeed(t)
	return c.total >= need || c.total > 0 && a.chokePooledTotal(t) >= uint64(need)
}

// chokeNeed is the evidence t's next decision needs: FirstFirsts (when
// set) for its first after we joined it, MinFirsts after.
func (a *Automaton) chokeNeed(t *topicState) int {
	if !t.ch.decided && a.cfg.Choke.FirstFirsts > 0 {
		return a.cfg.Choke.FirstFirsts
	}
	return a.cfg.Choke.MinFirsts
}

// chokeBusy reports whether t's evidence since its last decision makes it
// busy: NarrowFirsts first deliveries in t in a heartbeat interval. A
// later decision comes at a heartbeat and counts the interval's; the
// first one, on chokeNeed of t's own, comes when they are in, and takes
// their rate since the first of them. A decision on pooled evidence has
// too few of t's own for a rate, and counts them.
func (a *Automaton) chokeBusy(now time.Time, t *topicState, pooled bool) bool {
	c, n := &t.ch, a.cfg.Choke.NarrowFirsts
	if c.decided || pooled {
		return c.total >= n
	}
	return time.Duration(c.total)*a.cfg.HeartbeatInterval >= time.Duration(n)*now.Sub(c.since)
}

// chokePooled is what mesh peer p of t brought first in every topic since
// t's last decision (0 before its first heartbeat in t's mesh).
func (a *Automaton) chokePooled(t *topicState, p *peerState) uint64 {
	b, ok := t.ch.base[p.id]
	if !ok {
		return 0
	}
	return p.firstsAll - b
}

// chokePooledTotal is chokePooled summed over t's mesh.
func (a *Automaton) chokePooledTotal(t *topicState) uint64 {
	var n uint64
	for _, p := range t.mesh.items {
		n += a.chokePooled(t, a.peers[p])
	}
	return n
}

// chokeDecide ranks t's mesh peers by the messages they brought first
// since the last decision (in t alone when t has chokeNeed of its own,
// else in t and in every topic, t's own count twice: the pooled one
// includes it), eager peers before choked ones among equals, then mesh
// order: the first Unchoked are eager (a choked one among them is
// unchoked), and the others that can be (chokable) are choked. A peer
// that cannot be choked and brought nothing first takes no place among
// the Unchoked. Then it starts a new count.
//
// A busy topic ranks on its own evidence only, so that a peer fast in
// other topics and silent in this one loses its place here; a low-rate
// topic cannot tell such a peer soon, and relies on the unchoke when
// choked peers bring most messages first (chokeFirst).
func (a *Automaton) chokeDecide(now time.Time, t *topicState, out *Output) {
	c := &t.ch
	pooled := c.total < a.chokeNeed(t)
	c.busy = a.chokeBusy(now, t, pooled)
	a.chokeWiden(t)
	keep := a.chokeKeep(t)
	ranked := a.scratchLazy[:0]
	for _, p := range t.mesh.items {
		ranked = append(ranked, a.peers[p])
	}
	evidence := func(ps *peerState) uint64 {
		if !pooled {
			return uint64(c.firsts[ps.id])
		}
		return uint64(c.firsts[ps.id]) + a.chokePooled(t, ps)
	}
	slices.SortStableFunc(ranked, func(x, y *peerState) int {
		if d := cmp.Compare(evidence(y), evidence(x)); d != 0 {
			return d
		}
		switch cx, cy := t.choking(x.id), t.choking(y.id); {
		case cx && !cy:
			return 1
		case !cx && cy:
			return -1
		}
		return 0
	})
	kept := 0
	clear(c.keptUnchokable)
	for _, ps := range ranked {
		chokable := a.chokable(ps)
		switch {
		case !chokable && evidence(ps) == 0:
			// Eager whatever we decide, and it brought nothing first: it
			// takes no slot (a peer without the extension that forwards
			// nothing, such as a sybil, would otherwise leave us one
			// eager path fewer). A peer choked before it lost its RTT
			// is unchoked by chokeHeartbeat.
		case kept < keep:
			kept++
			if t.choking(ps.id) {
				a.unchoke(now, t, ps.id, out)
			}
			if !chokable {
				if c.keptUnchokable == nil {
					c.keptUnchokable = make(map[peer.ID]struct{})
				}
				c.keptUnchokable[ps.id] = struct{}{}
			}
		case !t.choking(ps.id) && chokable:
			if c.choked == nil {
				c.choked = make(map[peer.ID]uint64)
			}
			c.choked[ps.id] = a.ticks
			out.sendChoke(ps.id, t.name, true)
			FactPeerChoked.add(out, events.EvtPeerChoked{Peer: ps.id, Topic: t.name, ByUs: true, Choked: true, At: now})
		}
	}
	clear(ranked)
	a.scratchLazy = ranked[:0]
	c.decided = true
	clear(c.firsts)
	c.lastTotal = c.total
	c.total, c.lazyWins = 0, 0
	if c.base == nil {
		c.base = make(map[peer.ID]uint64)
	}
	for _, p := range t.mesh.items {
		c.base[p] = a.peers[p].firstsAll
	}
}

// chokeWiden widens t (keeps Unchoked eager for WidenHold heartbeats) when
// choked peers brought at least WidenAt of its first deliveries since the
// last decision, and reports whether t was narrow until then. The share is
// taken of at least as many deliveries as the last decision counted: early
// in an interval two wins among a dozen deliveries are no evidence of a
// rate (in a 20-node run at 250 messages a second the topics widened 6-7
// times, each at a mean of 9-14 deliveries into the interval, while
// choked peers brought 0.3% of the messages first).
func (a *Automaton) chokeWiden(t *topicState) bool {
	cfg, c := a.cfg.Choke, &t.ch
	den := max(c.total, c.lastTotal)
	if !cfg.narrows() || c.lazyWins < 2 || float64(c.lazyWins) < cfg.WidenAt*float64(den) {
		return false
	}
	narrow := a.chokeKeep(t) < cfg.Unchoked
	c.wideUntil = a.ticks + uint64(cfg.WidenHold)
	return narrow
}

// chokeKeep is how many of t's mesh peers t keeps eager now: MinUnchoked
// while t is busy and not widened, else Unchoked (see
// ChokeConfig.MinUnchoked).
func (a *Automaton) chokeKeep(t *topicState) int {
	cfg := a.cfg.Choke
	if cfg.narrows() && t.ch.busy && a.ticks >= t.ch.wideUntil {
		return cfg.MinUnchoked
	}
	return cfg.Unchoked
}

// chokedLongest returns the peer of t choked earliest (the smallest id
// among equals, for determinism). t has at least one choked peer.
func (a *Automaton) chokedLongest(t *topicState) peer.ID {
	var best peer.ID
	var at uint64
	first := true
	for p, tick := range t.ch.choked {
		if first || tick < at || tick == at && p < best {
			best, at, first = p, tick, false
		}
	}
	return best
}

// unchoke unchokes p in t and tells it.
func (a *Automaton) unchoke(now time.Time, t *topicState, p peer.ID, out *Output) {
	delete(t.ch.choked, p)
	out.sendChoke(p, t.name, false)
	FactPeerChoked.add(out, events.EvtPeerChoked{Peer: p, Topic: t.name, ByUs: true, Choked: false, At: now})
}

// Choked returns, for topic, the mesh peers we choked and those that
// choked us, each sorted (nil for a topic not joined).
func (a *Automaton) Choked(topic string) (ours, theirs []peer.ID) {
	t := a.topics[topic]
	if t == nil || !t.joined {
		return nil, nil
	}
	for p := range t.ch.choked {
		ours = append(ours, p)
	}
	for p := range t.ch.chokedUs {
		theirs = append(theirs, p)
	}
	slices.Sort(ours)
	slices.Sort(theirs)
	return ours, theirs
}

// sendChoke adds a choke (on) or unchoke entry for topic to p's RPC. The
// receiver applies an RPC's chokes before its unchokes, so an entry
// replaces one of the other kind for the same topic: the last call wins.
func (o *Output) sendChoke(p peer.ID, topic string, on bool) {
	rpc := o.rpcFor(p).RPC
	if rpc.Choke == nil {
		rpc.Choke = &pb.ChokeExtension{}
	}
	c := rpc.Choke
	c.ChokeTopics = slices.DeleteFunc(c.ChokeTopics, func(s string) bool { return s == topic })
	c.UnchokeTopics = slices.DeleteFunc(c.UnchokeTopics, func(s string) bool { return s == topic })
	if on {
		c.ChokeTopics = append(c.ChokeTopics, topic)
	} else {
		c.UnchokeTopics = append(c.UnchokeTopics, topic)
	}
}
