package automaton

import (
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// PreambleConfig is gossipsub v1.4's PREAMBLE and IMRECEIVING control
// messages, exchanged only with peers that advertised v1.4 large-message
// handling (SetPeerLargeMessages); nothing changes toward other peers.
//
// Sending: a forwarded message whose data is at least MinData bytes is
// announced at once with PREAMBLE (id, encoded size, topic) to each chosen
// v1.4 mesh peer, and their copies are held for an announce window
// (WindowRTTs times the largest round-trip time of those peers, plus
// WindowBase, at most WindowMax; at least WindowUnknown when one of their
// RTTs is unknown) so that their answers arrive first: a peer that answers
// IMRECEIVING or IDONTWANT is not sent the message, and one that answers
// IWANT (it chose us as its source: Pull) is sent it at once. Peers
// without v1.4 are not held back, and our own messages are not announced
// (nobody has them yet). After the window the held copies go as staggered
// forwarding sends them (StaggerConfig), or all at once when the message
// is not staggered.
//
// Receiving a PREAMBLE for message m from peer X: if m is seen, IDONTWANT
// goes back to X; if m is already arriving (its head came, or another
// peer was chosen as its source), IMRECEIVING goes back to X; otherwise X
// becomes m's source, until SourceTimeout, and IMRECEIVING goes to our
// other v1.4 mesh peers of the topic. If neither m's head nor a copy
// arrives by then, IWANT goes to another peer that announced m (it has
// it), else m's record is forgotten and gossip recovers it; X is not
// picked as a source for DemoteFor, and a peer that misses more than
// MissAllowance deadlines, each within MissMemory of the previous one,
// costs PenaltyPreambleBroken per further miss.
//
// With Pull, choosing X as m's source also sends IWANT(m) to X: a source
// that holds our copy for its announce window sends it at once when we ask
// (any peer's IWANT for a copy held or waiting for it releases that copy;
// one already in flight is not sent again), so a hop costs the PREAMBLE's
// and the IWANT's trips instead of the source's whole window.
//
// Bounds: at most MaxIncoming messages announced to us are tracked at
// once, at most MaxIncomingPerPeer of them first announced by one peer
// (a PREAMBLE beyond is a flood: PenaltyPreambleAbuse), and at most
// MaxPerHeartbeat PREAMBLEs are processed per peer per heartbeat (beyond:
// PenaltyPreambleAbuse). A PREAMBLE whose size is over MaxMessageSize, or
// whose id or topic is malformed, also costs PenaltyPreambleAbuse.
// IMRECEIVING shares the IDONTWANT set of its sender (MaxIDontWant ids,
// expiring after HistoryLength heartbeats) and has a per-heartbeat budget
// of its own of MaxIDontWantMessages.
type PreambleConfig struct {
	// MinData is the smallest data field (bytes) of a forwarded message
	// announced with PREAMBLE and held for the announce window. 0 turns
	// sending PREAMBLE and choosing sources off (IMRECEIVING received is
	// still honoured, and a PREAMBLE for a message we have still answered
	// with IDONTWANT).
	MinData int
	// WindowRTTs multiplies the largest round-trip time of the announced
	// peers in the announce window.
	WindowRTTs int
	// WindowBase is added to the RTT part of the announce window.
	WindowBase time.Duration
	// WindowUnknown is the least announce window when one of the announced
	// peers' RTT is unknown.
	WindowUnknown time.Duration
	// WindowMax caps the announce window.
	WindowMax time.Duration
	// Immediate is how many copies of a held message (the first in the
	// stagger's order) go at once, without waiting for an answer, when the
	// largest known RTT of the announced peers is at least ImmediateRTT;
	// the rest wait for their answers or the window. 0 holds every v1.4
	// peer's copy. On a slow link the PREAMBLE and the pull that answers
	// it add a round trip to every hop; on a fast one that costs less
	// than the duplicate an early copy may be.
	Immediate int
	// ImmediateRTT is the smallest largest-known RTT of the announced
	// peers at which Immediate copies go at once (0: always, even with no
	// RTT known).
	ImmediateRTT time.Duration
	// Pull makes choosing a message's source also ask it for the message
	// with IWANT, so that the copy it holds for us goes before its announce
	// window ends. Off, the source's copy waits for the window like the
	// others. An implementation that does not hold copies may answer the
	// IWANT with a second copy; meshbus sends a held or waiting copy once.
	Pull bool
	// SourceTimeout is how long after choosing a message's source the
	// automaton waits for the message before it falls back.
	SourceTimeout time.Duration
	// MaxMessageSize is the largest message size a PREAMBLE may announce
	// (the router sets it to its maximum RPC size).
	MaxMessageSize int
	// MaxIncoming caps the messages announced to us tracked at once.
	MaxIncoming int
	// MaxIncomingPerPeer caps the tracked messages first announced by one
	// peer.
	MaxIncomingPerPeer int
	// MaxPerHeartbeat caps the PREAMBLEs processed per peer per heartbeat.
	MaxPerHeartbeat int
	// DemoteFor is how long a source that missed its deadline is not
	// chosen as a source again.
	DemoteFor time.Duration
	// MissAllowance is how many missed deadlines in a row (each within
	// MissMemory of the previous) a peer may have before each further one
	// costs it PenaltyPreambleBroken.
	MissAllowance int
	// MissMemory is how long a missed deadline is remembered.
	MissMemory time.Duration
}

// DefaultPreambleConfig returns the defaults: messages of at least 16 KiB
// of data (the stagger's MinData) are announced; a receiver asks its
// chosen source for the message at once (Pull), so the window only bounds
// the wait for peers that do not answer: 2 RTTs plus 10 ms, at least 12
// ms when an RTT is unknown, at most 20 ms (on a loaded 2-core host
// answers took longer than 6 ms: with Pull, a 6 ms window left 0.23
// duplicates per delivered 64 KiB message, 12 ms 0.03, 20 ms 0.01; over
// the test plans' links, where a pull takes longer than 20 ms, a 50 ms
// cap cost 15% of reach-all latency); at known RTTs of 2.5 ms and more
// the first copy goes at once (Immediate 1; measured over the test plans'
// 10-40 ms links before Pull: every copy held cost 10-35% of reach-all
// latency, the first one sent at once took that back for 0.3 more
// duplicates per delivery); a source has 250
// ms (well past the stagger's MaxWait plus the window) to start sending;
// 1024 messages tracked, 64 per announcing peer, 1000 PREAMBLEs per peer
// per heartbeat; a late source is demoted for 10 s and penalised from its
// fourth miss within a minute of the previous one (docs/router.md,
// "GossipSub v1.4 PREAMBLE and IMRECEIVING").
func DefaultPreambleConfig() PreambleConfig {
	return PreambleConfig{
		MinData:            16 << 10,
		WindowRTTs:         2,
		WindowBase:         10 * time.Millisecond,
		WindowUnknown:      12 * time.Millisecond,
		WindowMax:          20 * time.Millisecond,
		Immediate:          1,
		ImmediateRTT:       2500 * time.Microsecond,
		Pull:               true,
		SourceTimeout:      250 * time.Millisecond,
		MaxMessageSize:     wire.DefaultMaxRPCSize,
		MaxIncoming:        1024,
		MaxIncomingPerPeer: 64,
		MaxPerHeartbeat:    1000,
		DemoteFor:          10 * time.Second,
		MissAllowance:      3,
		MissMemory:         time.Minute,
	}
}

func (c PreambleConfig) validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: Preamble.%s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case c.MinData < 0:
		return bad("MinData", "must be >= 0")
	case c.MinData == 0:
		return nil
	case c.WindowRTTs < 0:
		return bad("WindowRTTs", "must be >= 0")
	case c.WindowBase < 0:
		return bad("WindowBase", "must be >= 0")
	case c.WindowUnknown < 0:
		return bad("WindowUnknown", "must be >= 0")
	case c.WindowMax <= 0:
		return bad("WindowMax", "must be > 0")
	case c.Immediate < 0:
		return bad("Immediate", "must be >= 0")
	case c.ImmediateRTT < 0:
		return bad("ImmediateRTT", "must be >= 0")
	case c.SourceTimeout <= 0:
		return bad("SourceTimeout", "must be > 0")
	case c.MaxMessageSize <= 0:
		return bad("MaxMessageSize", "must be > 0")
	case c.MaxIncoming <= 0:
		return bad("MaxIncoming", "must be > 0")
	case c.MaxIncomingPerPeer <= 0:
		return bad("MaxIncomingPerPeer", "must be > 0")
	case c.MaxPerHeartbeat <= 0:
		return bad("MaxPerHeartbeat", "must be > 0")
	case c.DemoteFor < 0:
		return bad("DemoteFor", "must be >= 0")
	case c.MissAllowance < 0:
		return bad("MissAllowance", "must be >= 0")
	case c.MissMemory <= 0:
		return bad("MissMemory", "must be > 0")
	}
	return nil
}

// PreambleCounts counts what PREAMBLE and IMRECEIVING did in one Output
// (PreambleConfig), for metrics.
type PreambleCounts struct {
	// Sent is PREAMBLEs sent.
	Sent int
	// Held is forwarded messages held for an announce window.
	Held int
	// ImReceivingSent is IMRECEIVINGs sent.
	ImReceivingSent int
	// IDontWantSent is IDONTWANTs sent in answer to a PREAMBLE for a
	// message we have.
	IDontWantSent int
	// Skipped is copies not sent, or cancelled while queued, because their
	// peer sent IMRECEIVING for the message.
	Skipped int
	// Fallbacks is IWANTs sent to another announcer after a source missed
	// its deadline.
	Fallbacks int
	// Expired is messages announced to us forgotten at their deadline
	// with nobody left to ask (gossip recovers them).
	Expired int
	// IDontWantSpared is IDONTWANTs not sent, at a message's head or
	// arrival, to a peer we had told IMRECEIVING for it (it already
	// skips us).
	IDontWantSpared int
	// PullsSent is IWANTs sent to a message's chosen source
	// (PreambleConfig.Pull).
	PullsSent int
	// AnswersSpared is PREAMBLEs not answered because we had already sent
	// their sender IMRECEIVING or IDONTWANT for the message (the two
	// crossed): that drops the copy it holds for us, as an answer would.
	AnswersSpared int
	// Pulled is copies held or waiting for a peer sent at once because the
	// peer asked for the message with IWANT.
	Pulled int
	// BrokenHeads is heads we acted on whose message then came on a topic
	// we have not joined (brokenHead).
	BrokenHeads int
}

// imrMark marks, in a peer's IDONTWANT set, an id it sent IMRECEIVING
// for (and no IDONTWANT): it is not sent the message, but its IWANT for
// it is answered, and learned IDONTWANT takes no sample from it.
const imrMark = uint64(1) << 63

// preambleState is the messages announced to us by PREAMBLE whose head
// or copy has not arrived yet.
type preambleState struct {
	in    map[string]*incoming
	order fifo[incomingRef] // by deadline (deadlines only grow)
}

// incoming is one message announced to us.
type incoming struct {
	topic    string
	creator  peer.ID   // the first announcer: the record counts against it
	source   peer.ID   // the peer we wait for; "" when every announcer was demoted
	deadline time.Time // when to fall back
	from     []peer.ID // announcers (source included), at most maxDupSenders
	// told is the peers sent IMRECEIVING for the message (the topic's
	// mesh and later announcers, at most maxTold): when its head or copy
	// arrives they get no IDONTWANT for it, since IMRECEIVING already put
	// the id in their set of messages not to send us. A peer left out
	// just gets the IDONTWANT.
	told []peer.ID
}

type incomingRef struct {
	id       string
	deadline time.Time
}

// largeMessagePeer reports whether ps takes PREAMBLE and IMRECEIVING: it
// advertised v1.4 large-message handling (SetPeerLargeMessages, which
// takes it only on a protocol with the Extensions control message).
func largeMessagePeer(ps *peerState) bool { return ps.feat&featLargeMessages != 0 }

// HandlePreamble takes a gossipsub v1.4 PREAMBLE from a peer: it has a
// message (id, size, topic) and is about to send it to us. A copy of ours
// waiting for the peer is dropped (it has the message). Then, if we have
// the message, IDONTWANT goes back to the peer; if it is already arriving
// (its head came, or another announcer is its source), IMRECEIVING goes
// back (neither when we sent the peer IMRECEIVING or IDONTWANT for it
// already: the PREAMBLE crossed it; PreambleCounts.AnswersSpared);
// otherwise the peer
// becomes the message's source until PreambleConfig.SourceTimeout
// (ExpirePreambles), IMRECEIVING goes to our other v1.4 mesh peers of the
// topic and, with PreambleConfig.Pull, IWANT to the peer. A demoted peer (it missed a
// deadline less than DemoteFor ago) is recorded as an announcer but not
// chosen. See PreambleConfig for the bounds and penalties.
//
// Outcomes: OutcomePreambleSourceChosen, OutcomePreambleHave,
// OutcomePreambleOtherSource, OutcomePreambleRepeated,
// OutcomePreambleSourceDemoted, OutcomePreambleIgnored (choosing sources
// is off), OutcomePreambleTableFull, OutcomePreambleFlood,
// OutcomePreambleOversized, OutcomeTopicNotJoined, OutcomeInvalidInput,
// OutcomeLargeMessagesUnsupported, OutcomeUnknownPeer, OutcomeGraylisted,
// OutcomeUnsupportedByProtocol.
func (a *Automaton) HandlePreamble(now time.Time, from peer.ID, pr *pb.ControlPreamble, out *Output) Outcome {
	ps, refused := a.sender(from, featIDontWant)
	if ps == nil {
		return refused
	}
	if !largeMessagePeer(ps) {
		return OutcomeLargeMessagesUnsupported
	}
	c := &a.cfg.Preamble
	abuse := func(o Outcome) Outcome {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyPreambleAbuse, Count: 1, At: now})
		return o
	}
	ps.preIn++
	if ps.preIn > a.preambleBudget() {
		return abuse(OutcomePreambleFlood)
	}
	raw, topic := pr.GetMessageID(), pr.GetTopicID()
	if !a.validID(string(raw)) || !a.validTopic(topic) {
		return abuse(OutcomeInvalidInput)
	}
	if pr.GetMessageSize() > uint64(a.maxAnnounced()) {
		return abuse(OutcomePreambleOversized)
	}
	t := a.topics[topic]
	if t == nil || !t.joined {
		return OutcomeTopicNotJoined
	}
	id := string(raw)
	// The peer has the message: a copy of ours waiting for it need not go.
	a.staggerPeerHas(now, from, id, out)
	if a.seen.has(id) {
		if a.pending[id] != nil { // not forwarded yet: skip the peer then
			if e := a.early.entry(id); len(e.from) < maxDupSenders && !containsPeer(e.from, from) {
				e.from = append(e.from, from)
			}
		}
		if cid, ok := a.mcache.key(id); ok {
			out.Cancels = append(out.Cancels, Cancel{Peer: from, ID: cid, Reason: CancelReceived})
		}
		if a.early.toldOrSent(id, from) {
			out.Preamble.AnswersSpared++ // our IMRECEIVING or IDONTWANT crossed its PREAMBLE
			return OutcomePreambleHave
		}
		out.sendIDontWant(from, []byte(id))
		out.Preamble.IDontWantSent++
		return OutcomePreambleHave
	}
	if c.MinData == 0 {
		return OutcomePreambleIgnored
	}
	rec := a.pre.in[id]
	if rec == nil && a.early.arriving(id) {
		if a.early.toldOrSent(id, from) {
			out.Preamble.AnswersSpared++
		} else {
			out.sendImReceiving(from, []byte(id))
		}
		return OutcomePreambleOtherSource
	}
	if rec != nil {
		if containsPeer(rec.from, from) {
			return OutcomePreambleRepeated
		}
		if len(rec.from) < maxDupSenders {
			rec.from = append(rec.from, from)
		}
		switch {
		case rec.source != "" && containsPeer(rec.told, from):
			out.Preamble.AnswersSpared++ // our IMRECEIVING crossed its PREAMBLE
			return OutcomePreambleOtherSource
		case rec.source != "":
			out.sendImReceiving(from, []byte(id))
			if len(rec.told) < a.maxTold() {
				rec.told = append(rec.told, from)
			}
			return OutcomePreambleOtherSource
		case a.demoted(now, ps):
			return OutcomePreambleSourceDemoted
		}
		a.chooseSource(t, rec, from, id, out)
		return OutcomePreambleSourceChosen
	}
	if len(a.pre.in) >= c.MaxIncoming {
		return OutcomePreambleTableFull
	}
	if ps.preRecs >= c.MaxIncomingPerPeer {
		return abuse(OutcomePreambleFlood)
	}
	if a.pre.in == nil {
		a.pre.in = make(map[string]*incoming)
	}
	rec = &incoming{topic: topic, creator: from, from: []peer.ID{from}, deadline: now.Add(c.SourceTimeout)}
	a.pre.in[id] = rec
	ps.preRecs++
	a.pre.order.push(incomingRef{id: id, deadline: rec.deadline})
	a.compactIncoming()
	if a.demoted(now, ps) {
		return OutcomePreambleSourceDemoted
	}
	a.chooseSource(t, rec, from, id, out)
	return OutcomePreambleSourceChosen
}

// preambleBudget is PreambleConfig.MaxPerHeartbeat, or the default when
// sources are off (the field is not validated then).
func (a *Automaton) preambleBudget() int {
	if n := a.cfg.Preamble.MaxPerHeartbeat; n > 0 {
		return n
	}
	return DefaultPreambleConfig().MaxPerHeartbeat
}

// maxAnnounced is PreambleConfig.MaxMessageSize, or the default when
// sources are off.
func (a *Automaton) maxAnnounced() int {
	if n := a.cfg.Preamble.MaxMessageSize; n > 0 {
		return n
	}
	return wire.DefaultMaxRPCSize
}

// maxTold bounds incoming.told: a full mesh plus maxDupSenders later
// announcers, however many peers announce one message.
func (a *Automaton) maxTold() int { return a.cfg.Dhi + maxDupSenders }

// chooseSource makes p the source of rec (message id of topic t), sends
// IMRECEIVING to t's other v1.4 mesh peers (recorded in rec.told) and,
// with Pull, IWANT to p.
func (a *Automaton) chooseSource(t *topicState, rec *incoming, p peer.ID, id string, out *Output) {
	rec.source = p
	var raw []byte
	if a.cfg.Preamble.Pull {
		raw = []byte(id)
		out.sendIWant(p, [][]byte{raw})
		out.Preamble.PullsSent++
	}
	for _, q := range t.mesh.items {
		if q == p {
			continue
		}
		if qs := a.peers[q]; qs != nil && largeMessagePeer(qs) {
			if raw == nil {
				raw = []byte(id)
			}
			out.sendImReceiving(q, raw)
			rec.told = append(rec.told, q) // empty before: a source is chosen once
		}
	}
}

// demoted reports whether ps missed a source deadline less than
// DemoteFor ago.
func (a *Automaton) demoted(now time.Time, ps *peerState) bool {
	return now.Before(ps.misses.demoted)
}

// compactIncoming drops stale deadline entries when they outnumber live
// ones, so the queue stays bounded.
func (a *Automaton) compactIncoming() {
	if a.pre.order.len() <= 2*a.cfg.Preamble.MaxIncoming {
		return
	}
	live := a.pre.order.items[:0]
	for _, r := range a.pre.order.items[a.pre.order.head:] {
		if rec := a.pre.in[r.id]; rec != nil && rec.deadline.Equal(r.deadline) {
			live = append(live, r)
		}
	}
	clear(a.pre.order.items[len(live):])
	a.pre.order.items = live
	a.pre.order.head = 0
}

// arrivedIncoming forgets the record of a message announced to us whose
// head or copy arrived: its announcers have the message, so they join the
// peers forwarding skips (earlySet), and the peers told IMRECEIVING for
// it get no IDONTWANT (earlyEntry.told).
func (a *Automaton) arrivedIncoming(id string) {
	rec := a.pre.in[id]
	if rec == nil {
		return
	}
	e := a.early.entry(id)
	for _, p := range rec.from {
		if len(e.from) < maxDupSenders && !containsPeer(e.from, p) {
			e.from = append(e.from, p)
		}
	}
	e.told = rec.told
	a.dropIncoming(id, rec)
}

func (a *Automaton) dropIncoming(id string, rec *incoming) {
	if ps := a.peers[rec.creator]; ps != nil && ps.preRecs > 0 {
		ps.preRecs--
	}
	delete(a.pre.in, id)
}

// HandleImReceiving takes a gossipsub v1.4 IMRECEIVING from a peer: it is
// receiving the message, so a copy of ours waiting for it is dropped, one
// queued is cancelled (Cancel, CancelImReceiving), and later forwards skip
// it, as after its IDONTWANT (the id joins the peer's IDONTWANT set,
// bounded by MaxIDontWant and expiring with it). Unlike IDONTWANT, the
// peer's IWANT for the id is still answered (it asks when its source
// failed), learned IDONTWANT takes no sample from it, and learned lazy
// forwarding takes no evidence. At most MaxIDontWantMessages IMRECEIVINGs
// are processed per peer per heartbeat.
//
// Outcomes: OutcomeImReceivingRecorded, OutcomeImReceivingBudgetExceeded,
// OutcomeInvalidInput, OutcomeLargeMessagesUnsupported,
// OutcomeUnknownPeer, OutcomeGraylisted, OutcomeUnsupportedByProtocol.
func (a *Automaton) HandleImReceiving(now time.Time, from peer.ID, m *pb.ControlImReceiving, out *Output) Outcome {
	ps, refused := a.sender(from, featIDontWant)
	if ps == nil {
		return refused
	}
	if !largeMessagePeer(ps) {
		return OutcomeLargeMessagesUnsupported
	}
	ps.imrIn++
	if ps.imrIn > a.cfg.MaxIDontWantMessages {
		return OutcomeImReceivingBudgetExceeded
	}
	raw := m.GetMessageID()
	if !a.validID(string(raw)) {
		return OutcomeInvalidInput
	}
	id := string(raw)
	if e := a.stagger.entries[id]; e != nil && slices.Contains(e.waiting, from) {
		out.Preamble.Skipped++
	}
	a.staggerPeerHas(now, from, id, out)
	k := keyOf(id)
	if _, ok := ps.dontWant[k]; !ok {
		if len(ps.dontWant) >= a.cfg.MaxIDontWant {
			return OutcomeImReceivingBudgetExceeded
		}
		if ps.dontWant == nil {
			ps.dontWant = make(map[idKey]uint64)
		}
		ps.dontWant[k] = a.ticks | imrMark
	}
	if ce := a.mcache.get(id); ce != nil {
		out.Cancels = append(out.Cancels, Cancel{Peer: from, ID: ce.id, Reason: CancelImReceiving})
		// The released copy is cancelled if still queued: an IWANT the
		// peer sends later (its source failed) must be answered.
		ce.released = slices.DeleteFunc(ce.released, func(p peer.ID) bool { return p == from })
	}
	return OutcomeImReceivingRecorded
}

// PreambleDeadline returns the earliest deadline of a message announced
// to us (the driver calls ExpirePreambles then), and false when none is
// tracked.
func (a *Automaton) PreambleDeadline() (time.Time, bool) {
	for {
		r, ok := a.pre.order.peek()
		if !ok {
			return time.Time{}, false
		}
		if rec := a.pre.in[r.id]; rec != nil && rec.deadline.Equal(r.deadline) {
			return r.deadline, true
		}
		a.pre.order.pop() // stale: the message arrived or its deadline moved
	}
}

// ExpirePreambles handles the messages announced to us whose source's
// deadline has passed without their head or copy: the source is demoted
// (and penalised when it keeps missing, see PreambleConfig), and IWANT
// goes to another announcer still connected, which becomes the source
// with a new deadline (its answer is a promise, as for IHAVE); with no
// announcer left the record is forgotten (gossip recovers the message).
// Records without a source (every announcer was demoted) are forgotten.
// The driver calls it at PreambleDeadline; Heartbeat calls it too.
//
// Outcomes: OutcomePreamblesExpired (at least one was due),
// OutcomeNothingDue.
func (a *Automaton) ExpirePreambles(now time.Time, out *Output) Outcome {
	n := 0
	for {
		r, ok := a.pre.order.peek()
		if !ok || r.deadline.After(now) {
			break
		}
		a.pre.order.pop()
		rec := a.pre.in[r.id]
		if rec == nil || !rec.deadline.Equal(r.deadline) {
			continue
		}
		n++
		if rec.source == "" {
			a.dropIncoming(r.id, rec)
			out.Preamble.Expired++
			continue
		}
		if ps := a.peers[rec.source]; ps != nil {
			a.missed(now, ps, out)
		}
		rec.from = slices.DeleteFunc(rec.from, func(p peer.ID) bool { return p == rec.source })
		next := peer.ID("")
		for _, p := range rec.from {
			if ps := a.peers[p]; ps != nil && !a.graylisted(ps) {
				next = p
				break
			}
		}
		if next == "" {
			a.dropIncoming(r.id, rec)
			out.Preamble.Expired++
			continue
		}
		rec.source = next
		rec.deadline = now.Add(a.cfg.Preamble.SourceTimeout)
		a.pre.order.push(incomingRef{id: r.id, deadline: rec.deadline})
		out.sendIWant(next, [][]byte{[]byte(r.id)})
		nps := a.peers[next]
		nps.promises = append(nps.promises, promise{id: r.id, deadline: now.Add(a.cfg.IWantFollowupTime)})
		out.Preamble.Fallbacks++
	}
	if n == 0 {
		return OutcomeNothingDue
	}
	return OutcomePreamblesExpired
}

// missed records that ps, a source, missed its deadline: it is demoted
// for DemoteFor, and a miss beyond MissAllowance in a row (each within
// MissMemory of the previous) costs PenaltyPreambleBroken.
func (a *Automaton) missed(now time.Time, ps *peerState, out *Output) {
	c := &a.cfg.Preamble
	ps.misses.demoted = now.Add(c.DemoteFor)
	if ps.misses.source.add(now, c.MissMemory) > c.MissAllowance {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: ps.id, Reason: events.PenaltyPreambleBroken, Count: 1, At: now})
	}
}

// Incoming returns how many messages announced to us by PREAMBLE are
// awaited (their head or copy has not arrived).
func (a *Automaton) Incoming() int { return len(a.pre.in) }

// PreambleSource returns the peer the message id is awaited from, and
// whether it is awaited from anyone.
func (a *Automaton) PreambleSource(id string) (peer.ID, bool) {
	rec := a.pre.in[id]
	if rec == nil || rec.source == "" {
		return "", false
	}
	return rec.source, true
}

// announces reports whether a forwarded message with data of n bytes is
// announced with PREAMBLE (to the v1.4 peers among those chosen).
func (a *Automaton) announces(n int) bool {
	c := a.cfg.Preamble.MinData
	return c > 0 && n >= c
}

// announce sends PREAMBLE for a forwarded message to the chosen v1.4
// peers among cands and returns when the announce window ends and how many
// copies go at once (Immediate, when the largest known RTT is at least
// ImmediateRTT), or false when nothing is announced (PREAMBLE off, data
// under MinData, no v1.4 peer chosen). The message's cache entry records
// the announced peers as offered it, so that their IWANT for it is
// answered.
func (a *Automaton) announce(now time.Time, t *topicState, msg *pb.Message, id string, cands []*peerState, out *Output) (hold time.Time, immediate int, ok bool) {
	c := &a.cfg.Preamble
	if c.MinData == 0 || len(msg.GetData()) < c.MinData {
		return time.Time{}, 0, false
	}
	var rtt time.Duration
	n, unknown := 0, false
	for _, ps := range cands {
		if !largeMessagePeer(ps) {
			continue
		}
		n++
		if ps.rttKnown {
			rtt = max(rtt, ps.rtt)
		} else {
			unknown = true
		}
	}
	if n == 0 {
		return time.Time{}, 0, false
	}
	if rtt >= c.ImmediateRTT {
		immediate = c.Immediate
	}
	w := time.Duration(c.WindowRTTs)*rtt + c.WindowBase
	if unknown {
		w = max(w, c.WindowUnknown)
	}
	w = min(w, c.WindowMax)
	size := uint64(proto.Size(msg)) // the spec's total message size
	pre := &pb.ControlPreamble{MessageID: []byte(id), MessageSize: &size, TopicID: &t.name}
	ce := a.mcache.get(id)
	for _, ps := range cands {
		if !largeMessagePeer(ps) {
			continue
		}
		out.sendPreamble(ps.id, pre)
		if ce != nil {
			if ce.offered == nil {
				ce.offered = make(map[peer.ID]struct{})
			}
			ce.offered[ps.id] = struct{}{}
		}
	}
	out.Preamble.Sent += n
	out.Preamble.Held++
	return now.Add(w), immediate, true
}
