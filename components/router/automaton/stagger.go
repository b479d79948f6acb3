package automaton

import (
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
)

// StaggerConfig is staggered forwarding of large messages, a local sending
// policy (nothing changes on the wire; the GossipSub v1.2 spec leaves the
// order and timing of forwards to the implementation).
//
// Without it, a node that accepts a message hands a copy to every mesh
// peer at once; for a large message all copies then share the link (and,
// on a loaded machine, the CPU) and most of them reach peers that were
// already receiving the message from someone else. With it, a message
// whose data is at least MinData bytes goes to at most K of its chosen
// peers at a time (PublishK for our own messages): mesh peers first, then
// peers not recently slow (one of whose copies was still in flight at its
// message's MaxWait in the last 20 MaxWaits) before those that were, then
// by score, highest first, ties in random order. The next peer's copy is
// released when one in flight is done: the driver reports it written (or
// not written: the peer's queue was full or refused it), or the peer shows
// it does not need it (its IDONTWANT for the message, its copy of the
// message, or the head of its copy). MaxWait after the first copies, every
// peer still waiting gets its copy at once: a stuck peer, or a slow
// write, holds the others back at most MaxWait, and no peer's copy starts
// later than that for staggering (one at a time, each waiting for the
// last, the fifth peer of a mesh would wait four times as long). A peer
// still waiting whose IDONTWANT, copy or copy's head arrives is skipped:
// that copy is never sent. Peers added while a message is staggered do not
// get it (as without staggering); removed peers are dropped from it.
type StaggerConfig struct {
	// MinData is the smallest data field (bytes) of a message forwarded
	// staggered. 0 turns staggering off: every chosen peer gets its copy
	// at once.
	MinData int
	// K is how many copies of a forwarded message may be in flight at
	// once. At least 1 when MinData > 0.
	K int
	// PublishK is how many copies of our own message may be in flight at
	// once; 0 sends our own messages to every chosen peer at once.
	PublishK int
	// MaxWait is how long after its first copies a message may hold the
	// rest back: then every peer still waiting gets its copy at once,
	// whatever is in flight. Positive when MinData > 0.
	MaxWait time.Duration
}

// DefaultStaggerConfig returns the defaults: messages of at least 16 KiB
// of data (the size from which a receiver learns a message's id from the
// head of its frame and sends IDONTWANT while the rest arrives) go to one
// peer at a time, our own messages to every chosen peer at once, and 50
// ms after a message's first copy every copy still waiting goes
// (docs/router.md, "Staggered forwarding of large messages", has the
// measurements).
func DefaultStaggerConfig() StaggerConfig {
	return StaggerConfig{MinData: 16 << 10, K: 1, PublishK: 0, MaxWait: 50 * time.Millisecond}
}

func (c StaggerConfig) validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: Stagger.%s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case c.MinData < 0:
		return bad("MinData", "must be >= 0")
	case c.MinData == 0:
		return nil
	case c.K < 1:
		return bad("K", "must be >= 1")
	case c.PublishK < 0:
		return bad("PublishK", "must be >= 0")
	case c.MaxWait <= 0:
		return bad("MaxWait", "must be > 0")
	}
	return nil
}

// maxStaggered bounds the messages being staggered at once; past it a
// message goes to all its peers at once.
const maxStaggered = 1024

// slowFor is how many MaxWaits a peer stays last in the stagger order
// after one of its copies was still in flight at its message's MaxWait. A
// peer that reads just fast enough to keep its queue from filling would
// otherwise, coming first, hold every large message back from the others
// by MaxWait; demoted, it holds back at most one message per slowFor
// MaxWaits (then it gets its turn again, and is demoted again if it is
// still slow).
const slowFor = 20

// staggerState is the messages being forwarded staggered, by id.
type staggerState struct {
	entries map[string]*staggerEntry
}

// staggerEntry is one message being forwarded staggered.
type staggerEntry struct {
	id      string
	msg     *pb.Message
	k       int
	until   time.Time // MaxWait after the first copies: the rest go then
	waiting []peer.ID // not sent yet, in release order
	flying  []peer.ID // released, not done yet
	// hold is when the announce window of a message announced with
	// PREAMBLE ends (PreambleConfig): until then, while holding, no v1.4
	// peer's copy is released.
	hold    time.Time
	holding bool
	// sent counts the copies released; while holding, up to immediate of
	// them go before the window ends (PreambleConfig.Immediate).
	sent      int
	immediate int
	// pulled counts the copies sent because their peer asked with IWANT
	// (staggerPull): they go past k, so up to k+pulled may be in flight.
	pulled int
}

// deadline is when e next needs ReleaseDue: the end of its announce
// window while holding, else its MaxWait.
func (e *staggerEntry) deadline() time.Time {
	if e.holding && e.hold.Before(e.until) {
		return e.hold
	}
	return e.until
}

// An entry is forgotten as soon as nothing waits in it: the automaton keeps
// only messages with copies still to release.

// staggers reports whether a message with data of n bytes is forwarded
// staggered with at most k copies in flight (k 0: not staggered).
func (a *Automaton) staggers(n int, own bool) int {
	c := a.cfg.Stagger
	if c.MinData == 0 || n < c.MinData || len(a.stagger.entries) >= maxStaggered {
		return 0
	}
	if own {
		return c.PublishK
	}
	return c.K
}

// startStagger orders cands (the peers chosen for msg; the slice is
// reordered) and sends msg to the first k; the rest wait for release.
// With announce (a forwarded message: PreambleConfig), the chosen v1.4
// peers are sent PREAMBLE first and their copies wait for the end of the
// announce window (k 0, not staggered: then every copy goes at once).
// The caller checked that k > 0 or announce.
func (a *Automaton) startStagger(now time.Time, t *topicState, msg *pb.Message, id string, cands []*peerState, k int, announce bool, out *Output) {
	var hold time.Time
	holding, immediate := false, 0
	if announce && len(a.stagger.entries) < maxStaggered {
		hold, immediate, holding = a.announce(now, t, msg, id, cands, out)
	}
	if !holding && (k == 0 || len(cands) <= k) {
		for _, ps := range cands {
			out.sendMessage(ps.id, id, msg)
		}
		return
	}
	until := now.Add(a.cfg.Stagger.MaxWait)
	if k == 0 {
		k = len(cands)
	}
	if holding {
		until = hold.Add(a.cfg.Stagger.MaxWait)
	}
	a.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	slowSince := now.Add(-slowFor * a.cfg.Stagger.MaxWait)
	slow := func(ps *peerState) bool { return ps.staggerSlow.After(slowSince) }
	slices.SortStableFunc(cands, func(x, y *peerState) int {
		xm, ym := t.mesh.has(x.id), t.mesh.has(y.id)
		xs, ys := slow(x), slow(y)
		switch {
		case xm && !ym:
			return -1
		case ym && !xm:
			return 1
		case ys && !xs:
			return -1
		case xs && !ys:
			return 1
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		return 0
	})
	e := &staggerEntry{id: id, msg: msg, k: k, until: until, hold: hold, holding: holding, immediate: immediate, waiting: make([]peer.ID, 0, len(cands))}
	for _, ps := range cands {
		e.waiting = append(e.waiting, ps.id)
	}
	if a.stagger.entries == nil {
		a.stagger.entries = make(map[string]*staggerEntry)
	}
	a.stagger.entries[id] = e
	a.release(now, e, out)
}

// release sends e's next waiting copies while fewer than e.k are in
// flight (all of them once e.until has passed), skipping peers that
// meanwhile showed they do not need the message or are gone, and forgets
// e when nothing is left. During e's announce window v1.4 peers keep
// their place and wait. It reports how many copies it sent.
func (a *Automaton) release(now time.Time, e *staggerEntry, out *Output) int {
	if e.holding && !now.Before(e.hold) {
		e.holding = false
	}
	n := 0
	for i := 0; (len(e.flying) < e.k || !e.until.After(now)) && i < len(e.waiting); {
		p := e.waiting[i]
		ps := a.peers[p]
		if e.holding && ps != nil && largeMessagePeer(ps) && e.sent >= e.immediate {
			i++
			continue
		}
		e.waiting = slices.Delete(e.waiting, i, i+1)
		if ps == nil || a.early.sentBy(e.id, p) {
			continue
		}
		if _, unwanted := ps.dontWant[keyOf(e.id)]; unwanted {
			continue
		}
		e.flying = append(e.flying, p)
		out.sendPaced(p, e.id, e.msg)
		e.sent++
		n++
		if !e.hold.IsZero() && largeMessagePeer(ps) {
			a.markReleased(e.id, p)
		}
	}
	if len(e.waiting) == 0 {
		// Nothing left to release: copies still in flight hold nothing back.
		delete(a.stagger.entries, e.id)
	}
	return n
}

// staggerPeerHas records that p has, or is receiving, the message id (its
// IDONTWANT, copy or copy's head arrived): a copy waiting for p is
// dropped, and one in flight to p no longer holds the next one back.
func (a *Automaton) staggerPeerHas(now time.Time, p peer.ID, id string, out *Output) {
	e := a.stagger.entries[id]
	if e == nil {
		return
	}
	if i := slices.Index(e.waiting, p); i >= 0 {
		e.waiting = slices.Delete(e.waiting, i, i+1)
	}
	if i := slices.Index(e.flying, p); i >= 0 {
		e.flying = slices.Delete(e.flying, i, i+1)
	}
	a.release(now, e, out)
}

// staggerPull takes p's IWANT for message id (cached as ce): a copy
// staggered or held for its announce window and waiting for p goes at once
// (p asked for it, so neither K nor the window holds it back); if p was
// announced the message and its held copy already went, this first IWANT
// crossed that copy and is not answered with a second one (a later IWANT
// is). It reports whether the IWANT was handled so (the caller serves
// nothing more) and whether a copy was sent.
func (a *Automaton) staggerPull(p peer.ID, ce *cacheEntry, out *Output) (handled, sent bool) {
	if i := slices.Index(ce.released, p); i >= 0 {
		ce.released = slices.Delete(ce.released, i, i+1)
		return true, false
	}
	e := a.stagger.entries[ce.id]
	if e == nil {
		return false, false
	}
	i := slices.Index(e.waiting, p)
	if i < 0 {
		return false, false
	}
	e.waiting = slices.Delete(e.waiting, i, i+1)
	e.flying = append(e.flying, p)
	out.sendPaced(p, e.id, e.msg)
	e.sent++
	e.pulled++
	if ce.sent == nil {
		ce.sent = make(map[peer.ID]int)
	}
	ce.sent[p]++ // an answer to IWANT: within GossipRetransmission like the others
	if len(e.waiting) == 0 {
		delete(a.stagger.entries, e.id)
	}
	return true, true
}

// markReleased records that the held copy of announced message id went
// to p (cacheEntry.released).
func (a *Automaton) markReleased(id string, p peer.ID) {
	if ce := a.mcache.get(id); ce != nil && !slices.Contains(ce.released, p) {
		ce.released = append(ce.released, p)
	}
}

// staggerForget drops a removed peer from every staggered message.
func (a *Automaton) staggerForget(now time.Time, p peer.ID, out *Output) {
	if len(a.stagger.entries) == 0 {
		return
	}
	ids := a.scratchIDs[:0]
	for id := range a.stagger.entries {
		ids = append(ids, id)
	}
	slices.Sort(ids) // releases in a fixed order, whatever the map's
	for _, id := range ids {
		a.staggerPeerHas(now, p, id, out)
	}
	clear(ids)
	a.scratchIDs = ids[:0]
}

// HandleCopyDone takes the driver's report that the copy of message id it
// was given for peer p as paced (Send.Paced) is done: written to the
// peer's stream, or not written at all (the peer's queue was full, the
// peer had shown it does not need it, the peer is gone). The next waiting
// peer's copy, if any, is released (Output.Sends, paced).
//
// Outcomes: OutcomeCopyDone (the copy was in flight), OutcomeCopyNotTracked
// (it was not: it already counted as done, by MaxWait, the peer's
// IDONTWANT or copy, or nothing is left to release for the message).
func (a *Automaton) HandleCopyDone(now time.Time, p peer.ID, id string, out *Output) Outcome {
	e := a.stagger.entries[id]
	if e == nil {
		return OutcomeCopyNotTracked
	}
	i := slices.Index(e.flying, p)
	if i < 0 {
		return OutcomeCopyNotTracked
	}
	e.flying = slices.Delete(e.flying, i, i+1)
	a.release(now, e, out)
	return OutcomeCopyDone
}

// ReleaseDue sends every waiting copy of the staggered messages whose
// first copies went MaxWait (StaggerConfig) or more before now, whatever
// is in flight, and releases the held copies of messages whose announce
// window (PreambleConfig) has ended. The driver calls it at
// StaggerDeadline.
//
// Outcomes: OutcomeCopiesReleased (at least one message was due),
// OutcomeNothingDue.
func (a *Automaton) ReleaseDue(now time.Time, out *Output) Outcome {
	if len(a.stagger.entries) == 0 {
		return OutcomeNothingDue
	}
	due := a.scratchIDs[:0]
	for id, e := range a.stagger.entries {
		if !e.deadline().After(now) {
			due = append(due, id)
		}
	}
	slices.Sort(due) // releases in a fixed order, whatever the map's
	for _, id := range due {
		e := a.stagger.entries[id]
		if !e.until.After(now) {
			for _, p := range e.flying {
				if ps := a.peers[p]; ps != nil {
					ps.staggerSlow = now // still in flight at MaxWait
				}
			}
		}
		a.release(now, e, out)
	}
	n := len(due)
	clear(due)
	a.scratchIDs = due[:0]
	if n == 0 {
		return OutcomeNothingDue
	}
	return OutcomeCopiesReleased
}

// StaggerDeadline returns the earliest time a staggered message's waiting
// copies are all due, or a held message's announce window ends (the
// driver calls ReleaseDue then), and false when no message is being
// staggered or held.
func (a *Automaton) StaggerDeadline() (time.Time, bool) {
	var d time.Time
	ok := false
	for _, e := range a.stagger.entries {
		if ed := e.deadline(); !ok || ed.Before(d) {
			d, ok = ed, true
		}
	}
	return d, ok
}

// Staggered returns how many messages are being forwarded staggered.
func (a *Automaton) Staggered() int { return len(a.stagger.entries) }
