package automaton

import (
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// InputEvents returns one pointer per event type the Automaton consumes, in
// the form event.Bus.Subscribe takes; the driver subscribes to exactly these.
func InputEvents() []any {
	return []any{
		new(events.EvtPeerGrafted),
		new(events.EvtPeerPruned),
		new(events.EvtMessageDelivered),
		new(events.EvtMessageDuplicated),
		new(events.EvtChokedPeerAnnounced),
		new(events.EvtMessageRejected),
		new(events.EvtMessagePublished),
		new(events.EvtPeerPenalized),
		new(events.EvtConnOpened),
		new(events.EvtConnClosed),
		new(events.EvtPeerConnectednessChanged),
		new(events.EvtPeerAppScoreSet),
		new(events.EvtRouterPeerAdded),
		new(events.EvtRouterPeerRemoved),
		new(events.EvtPeerUnsubscribed),
		new(events.EvtTopicLeft),
	}
}

// HandleEvent feeds one fact to the Automaton, dispatching on its type to
// the Handle method for it: every type listed by InputEvents, passed by
// value as the bus delivers it. Values of any other type are ignored
// (OutcomeNotAnInput), so a simulation can hand it every event it sees.
func (a *Automaton) HandleEvent(now time.Time, ev any, out *Output) Outcome {
	switch e := ev.(type) {
	case events.EvtPeerGrafted:
		return a.HandleGrafted(now, e, out)
	case events.EvtPeerPruned:
		return a.HandlePruned(now, e, out)
	case events.EvtMessageDelivered:
		return a.HandleDelivered(now, e, out)
	case events.EvtMessageDuplicated:
		return a.HandleDuplicate(now, e, out)
	case events.EvtChokedPeerAnnounced:
		return a.HandleChokedAnnounced(now, e, out)
	case events.EvtMessageRejected:
		return a.HandleRejected(now, e, out)
	case events.EvtMessagePublished:
		return a.HandlePublished(now, e, out)
	case events.EvtPeerPenalized:
		return a.HandlePenalized(now, e, out)
	case events.EvtConnOpened:
		return a.HandleConnOpened(now, e, out)
	case events.EvtConnClosed:
		return a.HandleConnClosed(now, e, out)
	case events.EvtPeerConnectednessChanged:
		return a.HandleConnectednessChanged(now, e, out)
	case events.EvtPeerAppScoreSet:
		return a.HandleAppScoreSet(now, e, out)
	case events.EvtRouterPeerAdded:
		return a.HandleRouterPeerAdded(now, e, out)
	case events.EvtRouterPeerRemoved:
		return a.HandleRouterPeerRemoved(now, e, out)
	case events.EvtPeerUnsubscribed:
		return a.HandlePeerUnsubscribed(now, e, out)
	case events.EvtTopicLeft:
		return a.HandleTopicLeft(now, e, out)
	}
	return OutcomeNotAnInput
}

// at returns the fact's own time when it has one, else now.
func at(now, evAt time.Time) time.Time {
	if evAt.IsZero() {
		return now
	}
	return evAt
}

// HandleGrafted records that ev.Peer entered the mesh of ev.Topic: P₁ starts
// counting and, after the activation window, P₃. A graft proves a
// connection, so a retained peer is live again. A peer already in the mesh
// keeps its original graft time. Outcomes: OutcomeScored,
// OutcomeTopicNotScored, OutcomeMissingField.
func (a *Automaton) HandleGrafted(now time.Time, ev events.EvtPeerGrafted, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	switch {
	case tc == nil:
		return OutcomeTopicNotScored
	case ev.Peer == "":
		return OutcomeMissingField
	}
	a.out = out
	t := at(now, ev.At)
	ps := a.peer(ev.Peer, t, true)
	ts := a.topic(ps, tc)
	if !ts.inMesh {
		ts.inMesh, ts.graftTime, ts.meshTime = true, t, 0
	}
	a.rescore(ps, t)
	return OutcomeScored
}

// HandlePruned records that ev.Peer left the mesh of ev.Topic, charging P₃b
// with the delivery deficit if it had one. Outcomes: OutcomeScored,
// OutcomeTopicNotScored, OutcomeUnknownPeer (not scored, or never in a
// scored topic), OutcomeNothingToDo (PruneReasonGraftRejected: the peer was
// never in the mesh).
func (a *Automaton) HandlePruned(now time.Time, ev events.EvtPeerPruned, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	if tc == nil {
		return OutcomeTopicNotScored
	}
	if ev.Reason == events.PruneReasonGraftRejected {
		return OutcomeNothingToDo
	}
	ps := a.index[ev.Peer]
	if ps == nil || ps.topics == nil {
		return OutcomeUnknownPeer
	}
	a.out = out
	t := at(now, ev.At)
	a.prune(a.topic(ps, tc), tc, t)
	a.rescore(ps, t)
	return OutcomeScored
}

// HandlePeerUnsubscribed takes ev.Peer out of the topic's mesh if the router
// has not pruned it already (a peer cannot stay in a mesh it left).
// Outcomes: those of HandlePruned.
func (a *Automaton) HandlePeerUnsubscribed(now time.Time, ev events.EvtPeerUnsubscribed, out *Output) Outcome {
	return a.HandlePruned(now, events.EvtPeerPruned{Peer: ev.Peer, Topic: ev.Topic, Reason: events.PruneReasonUnsubscribed, At: ev.At}, out)
}

// HandleTopicLeft takes every peer out of the topic's mesh (the router
// prunes them first; this only guards against a missed prune). Outcomes:
// OutcomeScored, OutcomeTopicNotScored.
func (a *Automaton) HandleTopicLeft(now time.Time, ev events.EvtTopicLeft, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	if tc == nil {
		return OutcomeTopicNotScored
	}
	a.out = out
	t := at(now, ev.At)
	for _, ps := range a.peers {
		if ps.topics != nil && ps.topics[tc.idx].inMesh {
			a.prune(&ps.topics[tc.idx], tc, t)
			a.rescore(ps, t)
		}
	}
	return OutcomeScored
}

// HandleDelivered records the first, valid delivery of a message: ev.From
// earns P₂ and, if in the mesh, P₃; peers that sent the same message while
// it was being validated earn P₃ if in the mesh (near-first deliveries).
// Outcomes: OutcomeScored, OutcomeTopicNotScored, OutcomeRepeated (the
// message was already judged: a repeated report earns nothing).
func (a *Automaton) HandleDelivered(now time.Time, ev events.EvtMessageDelivered, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	if tc == nil {
		return OutcomeTopicNotScored
	}
	a.out = out
	t := at(now, ev.At)
	var rec *deliveryRecord
	if ev.ID != "" {
		rec = a.records.get(ev.ID)
		if rec != nil && (rec.status == statusValid || rec.status == statusInvalid) {
			return OutcomeRepeated
		}
		if rec == nil {
			rec = a.records.add(ev.ID, t)
		}
		rec.status, rec.validated = statusValid, t
	}
	if ev.From != "" {
		ps := a.peer(ev.From, t, false)
		ts := a.topic(ps, tc)
		if tc.trackFirst {
			ts.firstMessageDeliveries = min(ts.firstMessageDeliveries+1, tc.FirstMessageDeliveriesCap)
		}
		a.meshDelivery(ts, tc)
		a.rescore(ps, t)
	}
	if rec == nil {
		return OutcomeScored
	}
	for _, q := range rec.peers {
		if q == ev.From {
			continue
		}
		if ps := a.index[q]; ps != nil && ps.topics != nil && ps.topics[tc.idx].inMesh {
			a.meshDelivery(&ps.topics[tc.idx], tc)
			a.rescore(ps, t)
		}
	}
	if ev.From != "" && !rec.has(ev.From) {
		rec.peers = append(rec.peers, ev.From)
	}
	return OutcomeScored
}

// meshDelivery counts one first or near-first delivery for P₃ if the peer
// is in the mesh.
func (a *Automaton) meshDelivery(ts *topicState, tc *topicConf) {
	if ts.inMesh && tc.trackMesh {
		ts.meshMessageDeliveries = min(ts.meshMessageDeliveries+1, tc.MeshMessageDeliveriesCap)
	}
}

// HandleDuplicate records a later copy of a message from ev.From. Each peer
// counts once per message: during validation it waits for the verdict
// (OutcomePending); after a valid verdict it earns P₃ (mesh peers only) if
// it arrived within MeshMessageDeliveriesWindow (OutcomeScored, else
// OutcomeNothingToDo); after an invalid one it pays P₄ (OutcomeScored).
// Other outcomes: OutcomeTopicNotScored, OutcomeMissingField,
// OutcomeRepeated (this peer's copy was counted already).
func (a *Automaton) HandleDuplicate(now time.Time, ev events.EvtMessageDuplicated, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	switch {
	case tc == nil:
		return OutcomeTopicNotScored
	case ev.From == "" || ev.ID == "":
		return OutcomeMissingField
	}
	a.out = out
	t := at(now, ev.At)
	rec := a.records.get(ev.ID)
	if rec == nil {
		// The verdict is not out yet (or the record expired, in which case
		// the copy is late and earns nothing anyway).
		rec = a.records.add(ev.ID, t)
		rec.peers = append(rec.peers, ev.From)
		return OutcomePending
	}
	if rec.has(ev.From) {
		return OutcomeRepeated
	}
	rec.peers = append(rec.peers, ev.From)
	switch rec.status {
	case statusValid:
		if t.After(rec.validated.Add(tc.MeshMessageDeliveriesWindow)) {
			return OutcomeNothingToDo
		}
		if ps := a.index[ev.From]; ps != nil && ps.topics != nil && ps.topics[tc.idx].inMesh {
			a.meshDelivery(&ps.topics[tc.idx], tc)
			a.rescore(ps, t)
			return OutcomeScored
		}
		return OutcomeNothingToDo
	case statusInvalid:
		a.invalidDelivery(ev.From, tc, t)
		return OutcomeScored
	}
	return OutcomePending
}

// HandleChokedAnnounced records a choked mesh peer's IHAVE for messages we
// have (the router's choke extension): unchoked, the peer would have
// forwarded them, so each id whose valid delivery is on record earns it P₃
// once, as a near-first delivery would, whatever the window (its IHAVE
// waits for a batch by design). Ids still being validated, invalid,
// ignored or no longer on record earn nothing, nor does a peer not in the
// topic's mesh. Outcomes: OutcomeScored (at least one id counted),
// OutcomeNothingToDo, OutcomeTopicNotScored, OutcomeMissingField.
func (a *Automaton) HandleChokedAnnounced(now time.Time, ev events.EvtChokedPeerAnnounced, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	switch {
	case tc == nil:
		return OutcomeTopicNotScored
	case ev.From == "":
		return OutcomeMissingField
	}
	ps := a.index[ev.From]
	if ps == nil || ps.topics == nil || !ps.topics[tc.idx].inMesh {
		return OutcomeNothingToDo
	}
	a.out = out
	counted := false
	for _, id := range ev.IDs {
		rec := a.records.get(id)
		if rec == nil || rec.status != statusValid || rec.has(ev.From) {
			continue
		}
		rec.peers = append(rec.peers, ev.From)
		a.meshDelivery(&ps.topics[tc.idx], tc)
		counted = true
	}
	if !counted {
		return OutcomeNothingToDo
	}
	a.rescore(ps, at(now, ev.At))
	return OutcomeScored
}

// HandleRejected records a message that was not delivered. Reasons for
// which events.RejectReason.Invalid is true cost ev.From P₄, and so does
// every peer that sent the same message while it was being validated or
// sends it afterwards (OutcomeScored); ignored and throttled messages cost
// nobody anything (OutcomeNothingToDo). Other outcome: OutcomeTopicNotScored.
func (a *Automaton) HandleRejected(now time.Time, ev events.EvtMessageRejected, out *Output) Outcome {
	tc := a.topics[ev.Topic]
	if tc == nil {
		return OutcomeTopicNotScored
	}
	a.out = out
	t := at(now, ev.At)
	if !ev.Reason.Invalid() {
		if ev.ID == "" || (ev.Reason != events.RejectValidationIgnored && ev.Reason != events.RejectValidationThrottled) {
			return OutcomeNothingToDo
		}
		rec := a.records.get(ev.ID)
		if rec == nil {
			rec = a.records.add(ev.ID, t)
		}
		if rec.status == statusPending {
			// Early copies of an ignored message earn nothing, even if
			// the message is later delivered from someone else.
			rec.status = statusIgnored
			clear(rec.peers)
			rec.peers = rec.peers[:0]
		}
		return OutcomeNothingToDo
	}
	if ev.From != "" {
		a.invalidDelivery(ev.From, tc, t)
	}
	if ev.ID == "" {
		return OutcomeScored
	}
	rec := a.records.get(ev.ID)
	if rec == nil {
		rec = a.records.add(ev.ID, t)
	}
	if rec.status == statusPending || rec.status == statusIgnored {
		// A valid record stays valid: a second message under a valid id
		// (a collision or a forgery) costs only its sender.
		for _, q := range rec.peers {
			if q != ev.From {
				a.invalidDelivery(q, tc, t)
			}
		}
		rec.status = statusInvalid
	}
	if ev.From != "" && !rec.has(ev.From) {
		rec.peers = append(rec.peers, ev.From)
	}
	return OutcomeScored
}

// invalidDelivery counts one invalid message from p for P₄.
func (a *Automaton) invalidDelivery(p peer.ID, tc *topicConf, t time.Time) {
	if !tc.trackInvalid {
		return
	}
	ps := a.peer(p, t, false)
	ts := a.topic(ps, tc)
	ts.invalidMessageDeliveries++
	a.rescore(ps, t)
}

// HandlePublished records a message the local node published, so that
// copies coming back count as near-first deliveries only within the window.
// Outcomes: OutcomeRecorded, OutcomeTopicNotScored, OutcomeMissingField,
// OutcomeRepeated.
func (a *Automaton) HandlePublished(now time.Time, ev events.EvtMessagePublished, _ *Output) Outcome {
	switch {
	case a.topics[ev.Topic] == nil:
		return OutcomeTopicNotScored
	case ev.ID == "":
		return OutcomeMissingField
	case a.records.get(ev.ID) != nil:
		return OutcomeRepeated
	}
	t := at(now, ev.At)
	rec := a.records.add(ev.ID, t)
	rec.status, rec.validated = statusValid, t
	return OutcomeRecorded
}

// HandlePenalized adds ev.Count (at least 1) to ev.Peer's behaviour penalty
// P₇. Outcomes: OutcomeScored, OutcomeMissingField, OutcomeTermOff
// (BehaviourPenaltyWeight is 0).
func (a *Automaton) HandlePenalized(now time.Time, ev events.EvtPeerPenalized, out *Output) Outcome {
	switch {
	case ev.Peer == "":
		return OutcomeMissingField
	case a.params.BehaviourPenaltyWeight == 0:
		return OutcomeTermOff
	}
	a.out = out
	t := at(now, ev.At)
	ps := a.peer(ev.Peer, t, false)
	ps.behaviourPenalty += float64(max(ev.Count, 1))
	a.rescore(ps, t)
	return OutcomeScored
}

// HandleConnOpened records a connection: the peer is live, and its IP
// counts for P₆ (unless whitelisted or absent). Outcomes: OutcomeScored,
// OutcomeMissingField.
func (a *Automaton) HandleConnOpened(now time.Time, ev events.EvtConnOpened, out *Output) Outcome {
	if ev.Peer == "" {
		return OutcomeMissingField
	}
	a.out = out
	t := at(now, ev.At)
	ps := a.peer(ev.Peer, t, true)
	if ip, ok := a.trackedIP(ev.RemoteIP); ok {
		a.addIP(ps, ip, t)
	}
	a.rescore(ps, t)
	return OutcomeScored
}

// HandleConnClosed records a closed connection; the peer leaves the IP with
// its last connection from it. Outcomes: OutcomeScored, OutcomeUnknownPeer,
// OutcomeNothingToDo (an IP that P₆ does not count).
func (a *Automaton) HandleConnClosed(now time.Time, ev events.EvtConnClosed, out *Output) Outcome {
	ps := a.index[ev.Peer]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	ip, ok := a.trackedIP(ev.RemoteIP)
	if !ok {
		return OutcomeNothingToDo
	}
	a.out = out
	a.removeIP(ps, ip, at(now, ev.At))
	return OutcomeScored
}

// HandleConnectednessChanged makes a peer live on network.Connected (or
// Limited); on network.NotConnected it leaves every mesh (charging P₃b as a
// prune does), leaves its IPs, and its score is retained for RetainScore.
// Outcomes: OutcomeScored, OutcomeMissingField, OutcomeUnknownPeer,
// OutcomeNothingToDo (another connectedness value).
func (a *Automaton) HandleConnectednessChanged(now time.Time, ev events.EvtPeerConnectednessChanged, out *Output) Outcome {
	a.out = out
	switch ev.Connectedness {
	case network.Connected, network.Limited:
		if ev.Peer == "" {
			return OutcomeMissingField
		}
		a.rescore(a.peer(ev.Peer, now, true), now)
		return OutcomeScored
	case network.NotConnected:
		ps := a.index[ev.Peer]
		if ps == nil {
			return OutcomeUnknownPeer
		}
		a.leaveMeshes(ps, now)
		a.clearIPs(ps, now)
		a.retain(ps, now)
		a.rescore(ps, now)
		return OutcomeScored
	}
	return OutcomeNothingToDo
}

// HandleRouterPeerAdded makes a peer live (it speaks pubsub over a
// connection). Outcomes: OutcomeScored, OutcomeMissingField.
func (a *Automaton) HandleRouterPeerAdded(now time.Time, ev events.EvtRouterPeerAdded, out *Output) Outcome {
	if ev.Peer == "" {
		return OutcomeMissingField
	}
	a.out = out
	t := at(now, ev.At)
	a.rescore(a.peer(ev.Peer, t, true), t)
	return OutcomeScored
}

// HandleRouterPeerRemoved takes the peer out of every mesh it is still in
// and starts its retention; a peer that still has open connections is kept
// until they close. Outcomes: OutcomeScored, OutcomeUnknownPeer.
func (a *Automaton) HandleRouterPeerRemoved(now time.Time, ev events.EvtRouterPeerRemoved, out *Output) Outcome {
	ps := a.index[ev.Peer]
	if ps == nil {
		return OutcomeUnknownPeer
	}
	a.out = out
	t := at(now, ev.At)
	a.leaveMeshes(ps, t)
	a.retain(ps, t)
	a.rescore(ps, t)
	return OutcomeScored
}

// HandleAppScoreSet sets the peer's application score P₅ (the latest value
// wins; 0 clears it). The value is kept even while the peer is not scored,
// so a score set before the peer connects applies when it does
// (OutcomeRecorded); the application owns the size of that table (set 0 to
// forget a peer). A NaN or infinite score is refused
// (OutcomeInvalidAppScore). Outcome for a scored peer: OutcomeScored.
func (a *Automaton) HandleAppScoreSet(now time.Time, ev events.EvtPeerAppScoreSet, out *Output) Outcome {
	if math.IsNaN(ev.Score) || math.IsInf(ev.Score, 0) {
		return OutcomeInvalidAppScore
	}
	if ev.Score == 0 {
		delete(a.appScores, ev.Peer)
	} else {
		a.appScores[ev.Peer] = ev.Score
	}
	ps := a.index[ev.Peer]
	if ps == nil {
		return OutcomeRecorded
	}
	a.out = out
	ps.appScore = ev.Score
	a.rescore(ps, now)
	return OutcomeScored
}
