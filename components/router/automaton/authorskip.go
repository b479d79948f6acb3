package automaton

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// Author skip, part of meshbus's choke extension (ChokeConfig.SkipAuthorsAfter).
//
// An author that is our peer sends us its own messages itself (flood
// publishing, or we are in its mesh), and its copy comes first; the copy
// a forwarder sends us a moment later is a duplicate. On loopback, with
// choking, those are about half of the duplicates left (a third of the
// first copies come straight from their author; docs/router.md, "Author
// skip"). So when SkipAuthorsAfter messages of an author in a row came
// first straight from it, we ask every peer with the extension to skip
// that author's messages (pb.ChokeExtension.SkipAuthors): it announces the
// ones it forwards us in its batched IHAVE instead of sending them, as a
// peer we choked does. The first of the author's messages that comes
// first from anyone else (the author's copy was lost or late: we fetched
// it through an IHAVE, or a peer that ignores the request sent it), and
// the author's disconnection, end the request (UnskipAuthors). A released
// author is not asked again before the next heartbeat, so an author whose
// copies come first only now and then costs each peer at most a skip and
// an unskip per heartbeat interval.
//
// Only the author's own connection can make us ask: the message's from is
// its signed author and the sender is the authenticated peer. The request
// harms nobody but its sender, so a peer's requests are only bounded:
// MaxSkipAuthors authors kept per peer (later ones ignored), and at most
// skipEntriesPerAuthor times MaxSkipAuthors entries per heartbeat interval
// (past it the rest of the RPC is ignored and it costs PenaltyChokeFlood,
// as a choke flood does).

// skipEntriesPerAuthor bounds a peer's skip and unskip entries per
// heartbeat interval, per author it may ask to skip (at least
// defaultMaxSkipAuthors, whatever our own MaxSkipAuthors: the bound must
// hold for an honest peer configured otherwise). An honest router sends
// in one heartbeat interval of its own at most skipAsksPerHeartbeat skips,
// as many unskips plus one per author it had asked before, and its whole
// list once when the extension is negotiated (skipTell); with the default
// 64 authors that is at most 160, and two of its intervals may fall in one
// of ours: 320 of the 512 allowed.
const skipEntriesPerAuthor = 8

// defaultMaxSkipAuthors is DefaultChokeConfig's MaxSkipAuthors.
const defaultMaxSkipAuthors = 64

// skipAsksPerHeartbeat bounds the skips we ask per heartbeat interval, so
// that authors that come and go (each connection can earn a skip, and
// each disconnection releases it) cannot make us send a peer more entries
// than its flood bound (skipEntriesPerAuthor); an author past it is asked
// in a later interval, on its next direct copy.
const skipAsksPerHeartbeat = 16

// skipLearn counts a message of author in topic t whose first copy came
// from from (the message is valid as far as the signature goes:
// HandleMessage calls it after the check) and asks or releases the
// author's skip. It asks only while the author covers us (skipCovered).
func (a *Automaton) skipLearn(t *topicState, from, author peer.ID, out *Output) {
	if a.cfg.Choke.SkipAuthorsAfter == 0 || author == "" {
		return
	}
	ps := a.peers[author]
	if ps == nil {
		return // not a peer: its messages can only come through others
	}
	if from != author {
		ps.directRun = 0
		delete(ps.floodsUs, t.name)
		if ps.skipAsked {
			a.skipRelease(ps, out)
		}
		return
	}
	if !t.mesh.has(author) {
		if ps.floodsUs == nil {
			ps.floodsUs = make(map[string]struct{})
		}
		ps.floodsUs[t.name] = struct{}{}
	}
	ps.directRun++
	if !ps.skipAsked && ps.directRun >= a.cfg.Choke.SkipAuthorsAfter && a.ticks >= ps.skipHold &&
		a.skipAsked < a.cfg.Choke.MaxSkipAuthors && a.skipAsksBeat < skipAsksPerHeartbeat && a.skipCovered(ps) {
		a.skipAsksBeat++
		a.setSkip(ps, true, out)
	}
}

// skipCovered reports whether author ps sends us its own messages itself
// in every joined topic it subscribes to: it is in our mesh there, or its
// last message there came first straight from it though it was not (it
// publishes beyond its mesh: flood publishing). A skip covers every topic
// (the request names the author alone), and in a topic where the author
// does not send to us our peers' announcements would be our only way to
// its messages: a batch (FlushInterval) and a round trip late each. (Asked on
// evidence from one topic, with flood publishing off and ten topics on 20
// loopback nodes, 0.7% of all deliveries came that way, up to 140 ms late;
// docs/benchmarks.md, "Author skip in many topics".)
func (a *Automaton) skipCovered(ps *peerState) bool {
	for _, name := range ps.topics.items {
		t := a.topics[name]
		if t == nil || !t.joined || t.mesh.has(ps.id) {
			continue
		}
		if _, ok := ps.floodsUs[name]; !ok {
			return false
		}
	}
	return true
}

// skipRelease ends our request for author ps's messages; its count of
// direct copies starts again, and it is not asked again before the next
// heartbeat.
func (a *Automaton) skipRelease(ps *peerState, out *Output) {
	ps.directRun = 0
	a.setSkip(ps, false, out)
	ps.skipHold = a.ticks + 1
}

// setSkip asks (on) or releases the skip of author's messages from every
// peer with the extension but the author.
func (a *Automaton) setSkip(author *peerState, on bool, out *Output) {
	author.skipAsked = on
	if on {
		a.skipAsked++
	} else {
		a.skipAsked--
	}
	for _, q := range a.peerOrder.items {
		if qs := a.peers[q]; q != author.id && qs.feat&featChoke != 0 {
			out.sendSkip(q, author.id, on)
		}
	}
}

// skipTell sends a peer that just negotiated the extension the authors we
// ask to skip.
func (a *Automaton) skipTell(ps *peerState, out *Output) {
	if a.skipAsked == 0 {
		return
	}
	for _, q := range a.peerOrder.items {
		if qs := a.peers[q]; q != ps.id && qs.skipAsked {
			out.sendSkip(ps.id, q, true)
		}
	}
}

// skipForget ends our request for ps's messages (ps is leaving).
func (a *Automaton) skipForget(ps *peerState, out *Output) {
	if ps.skipAsked {
		a.setSkip(ps, false, out)
	}
}

// HandleAuthorSkip applies a peer's author skip entries (the SkipAuthors
// and UnskipAuthors of its choke extension RPC; see ChokeConfig): from
// now on we announce the messages of the skipped authors that we forward
// to the peer, and send those of the unskipped ones again. An entry that
// is not a peer id is ignored; so are skips past MaxSkipAuthors authors
// for the peer. Past 8 times MaxSkipAuthors entries in a heartbeat
// interval the rest of the RPC is ignored and the peer pays
// PenaltyChokeFlood, once per RPC. Skips apply before unskips. It emits
// nothing else.
//
// Outcomes: OutcomeAuthorSkipRecorded, OutcomeChokeNotNegotiated (the
// peer did not advertise the extension, or ours is off),
// OutcomeChokeFlood, OutcomeUnknownPeer.
func (a *Automaton) HandleAuthorSkip(now time.Time, from peer.ID, skip, unskip [][]byte, out *Output) Outcome {
	ps := a.peers[from]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	if ps.feat&featChoke == 0 || a.cfg.Choke.MaxSkipAuthors == 0 {
		return OutcomeChokeNotNegotiated
	}
	limit := a.cfg.Choke.MaxSkipAuthors
	bound := skipEntriesPerAuthor * max(limit, defaultMaxSkipAuthors)
	apply := func(entries [][]byte, on bool) bool {
		for _, raw := range entries {
			if ps.skipIn++; ps.skipIn > bound {
				return false
			}
			author, err := peer.IDFromBytes(raw)
			if err != nil || author == from {
				continue
			}
			if !on {
				delete(ps.skipAuthors, author)
				continue
			}
			if ps.skipAuthors == nil {
				ps.skipAuthors = make(map[peer.ID]struct{})
			}
			if len(ps.skipAuthors) < limit {
				ps.skipAuthors[author] = struct{}{}
			}
		}
		return true
	}
	if !apply(skip, true) || !apply(unskip, false) {
		FactPeerPenalized.add(out, events.EvtPeerPenalized{Peer: from, Reason: events.PenaltyChokeFlood, Count: 1, At: now})
		return OutcomeChokeFlood
	}
	return OutcomeAuthorSkipRecorded
}

// skips reports whether ps asked us to skip author's messages.
func (ps *peerState) skips(author peer.ID) bool {
	if len(ps.skipAuthors) == 0 {
		return false
	}
	_, ok := ps.skipAuthors[author]
	return ok
}

// skipSends reports whether a forwarded message of author with dataLen
// bytes of data goes to ps as an IHAVE because ps asked us to skip the
// author, and if so queues its id for ps's next batch. Larger messages
// than Choke.MaxData, and any once ps's IHAVE budget is spent, go as
// messages.
func (a *Automaton) skipSends(t *topicState, ps *peerState, author peer.ID, id string, dataLen int) bool {
	if !ps.skips(author) || dataLen > a.cfg.Choke.MaxData || !a.lazyCanQueue(ps, a.lazyMaxIHaves()) {
		return false
	}
	a.markOffered(id, ps.id)
	a.lazyQueue(ps, t.name, id)
	return true
}

// skipping reports whether we ask our peers with the extension to skip
// author's messages. Those peers announce the ones of at most MaxData
// bytes of data instead of sending them, so they get no IDONTWANT for
// them (sendIDontWants), and their IHAVE of one we have counts as a mesh
// delivery, as a choked peer's does (handleIHave).
func (a *Automaton) skipping(author peer.ID) bool {
	if a.skipAsked == 0 {
		return false
	}
	ps := a.peers[author]
	return ps != nil && ps.skipAsked
}

// skippedID reports whether id is a cached message of an author we ask
// our peers to skip (skipping).
func (a *Automaton) skippedID(id string) bool {
	e := a.mcache.get(id)
	return e != nil && a.skipping(peer.ID(e.msg.GetFrom()))
}

// AuthorSkips returns the authors we ask peers to skip (sorted).
func (a *Automaton) AuthorSkips() []peer.ID {
	var ids []peer.ID
	for _, q := range a.peerOrder.items {
		if a.peers[q].skipAsked {
			ids = append(ids, q)
		}
	}
	return sortedPeers(ids)
}

// sendSkip adds a skip (on) or unskip entry for author to p's RPC. The
// receiver applies skips before unskips, so an entry replaces one of the
// other kind for the same author: the last call wins.
func (o *Output) sendSkip(p, author peer.ID, on bool) {
	rpc := o.rpcFor(p).RPC
	if rpc.Choke == nil {
		rpc.Choke = &pb.ChokeExtension{}
	}
	c := rpc.Choke
	same := func(b []byte) bool { return peer.ID(b) == author }
	c.SkipAuthors = slices.DeleteFunc(c.SkipAuthors, same)
	c.UnskipAuthors = slices.DeleteFunc(c.UnskipAuthors, same)
	if on {
		c.SkipAuthors = append(c.SkipAuthors, []byte(author))
	} else {
		c.UnskipAuthors = append(c.UnskipAuthors, []byte(author))
	}
}
