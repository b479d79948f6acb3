package scoring

import (
	"fmt"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// InputEvents returns one pointer per event type the Scorer consumes, in the
// form event.Bus.Subscribe takes; the driver subscribes to exactly these.
func InputEvents() []any {
	return []any{
		new(events.EvtPeerGrafted),
		new(events.EvtPeerPruned),
		new(events.EvtMessageDelivered),
		new(events.EvtMessageDuplicated),
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

// Observe feeds one fact to the Scorer, dispatching on its type: every type
// listed by InputEvents, passed by value as the bus delivers it. Values of
// any other type are ignored (nil error), so a simulation can hand it every
// event it sees. The only error is ErrInvalidAppScore.
func (s *Scorer) Observe(now time.Time, ev any) error {
	switch e := ev.(type) {
	case events.EvtPeerGrafted:
		s.Grafted(now, e)
	case events.EvtPeerPruned:
		s.Pruned(now, e)
	case events.EvtMessageDelivered:
		s.Delivered(now, e)
	case events.EvtMessageDuplicated:
		s.Duplicate(now, e)
	case events.EvtMessageRejected:
		s.Rejected(now, e)
	case events.EvtMessagePublished:
		s.Published(now, e)
	case events.EvtPeerPenalized:
		s.Penalized(now, e)
	case events.EvtConnOpened:
		s.ConnOpened(now, e)
	case events.EvtConnClosed:
		s.ConnClosed(now, e)
	case events.EvtPeerConnectednessChanged:
		s.PeerConnectednessChanged(now, e)
	case events.EvtPeerAppScoreSet:
		return s.AppScore(now, e)
	case events.EvtRouterPeerAdded:
		s.RouterPeerAdded(now, e)
	case events.EvtRouterPeerRemoved:
		s.RouterPeerRemoved(now, e)
	case events.EvtPeerUnsubscribed:
		s.PeerUnsubscribed(now, e)
	case events.EvtTopicLeft:
		s.TopicLeft(now, e)
	}
	return nil
}

// at returns the fact's own time when it has one, else now.
func at(now, evAt time.Time) time.Time {
	if evAt.IsZero() {
		return now
	}
	return evAt
}

// Grafted records that ev.Peer entered the mesh of ev.Topic: P₁ starts
// counting and, after the activation window, P₃. A graft proves a
// connection, so a retained peer is live again. A peer already in the mesh
// keeps its original graft time.
func (s *Scorer) Grafted(now time.Time, ev events.EvtPeerGrafted) {
	tc := s.topics[ev.Topic]
	if tc == nil || ev.Peer == "" {
		return
	}
	t := at(now, ev.At)
	ps := s.peer(ev.Peer, t, true)
	ts := s.topic(ps, tc)
	if !ts.inMesh {
		ts.inMesh, ts.graftTime, ts.meshTime = true, t, 0
	}
	s.rescore(ps, t)
}

// Pruned records that ev.Peer left the mesh of ev.Topic, charging P₃b with
// the delivery deficit if it had one. PruneReasonGraftRejected is ignored:
// the peer was never in the mesh.
func (s *Scorer) Pruned(now time.Time, ev events.EvtPeerPruned) {
	tc := s.topics[ev.Topic]
	if tc == nil || ev.Reason == events.PruneReasonGraftRejected {
		return
	}
	ps := s.index[ev.Peer]
	if ps == nil || ps.topics == nil {
		return
	}
	t := at(now, ev.At)
	s.prune(s.topic(ps, tc), tc, t)
	s.rescore(ps, t)
}

// PeerUnsubscribed takes ev.Peer out of the topic's mesh if the router has
// not pruned it already (a peer cannot stay in a mesh it left).
func (s *Scorer) PeerUnsubscribed(now time.Time, ev events.EvtPeerUnsubscribed) {
	s.Pruned(now, events.EvtPeerPruned{Peer: ev.Peer, Topic: ev.Topic, Reason: events.PruneReasonUnsubscribed, At: ev.At})
}

// TopicLeft takes every peer out of the topic's mesh (the router prunes
// them first; this only guards against a missed prune).
func (s *Scorer) TopicLeft(now time.Time, ev events.EvtTopicLeft) {
	tc := s.topics[ev.Topic]
	if tc == nil {
		return
	}
	t := at(now, ev.At)
	for _, ps := range s.peers {
		if ps.topics != nil && ps.topics[tc.idx].inMesh {
			s.prune(&ps.topics[tc.idx], tc, t)
			s.rescore(ps, t)
		}
	}
}

// Delivered records the first, valid delivery of a message: ev.From earns
// P₂ and, if in the mesh, P₃; peers that sent the same message while it was
// being validated earn P₃ if in the mesh (near-first deliveries).
func (s *Scorer) Delivered(now time.Time, ev events.EvtMessageDelivered) {
	tc := s.topics[ev.Topic]
	if tc == nil {
		return
	}
	t := at(now, ev.At)
	var rec *deliveryRecord
	if ev.ID != "" {
		rec = s.records.get(ev.ID)
		if rec != nil && (rec.status == statusValid || rec.status == statusInvalid) {
			return // already judged: a repeated report earns nothing
		}
		if rec == nil {
			rec = s.records.add(ev.ID, t)
		}
		rec.status, rec.validated = statusValid, t
	}
	if ev.From != "" {
		ps := s.peer(ev.From, t, false)
		ts := s.topic(ps, tc)
		if tc.trackFirst {
			ts.firstMessageDeliveries = min(ts.firstMessageDeliveries+1, tc.FirstMessageDeliveriesCap)
		}
		s.meshDelivery(ts, tc)
		s.rescore(ps, t)
	}
	if rec == nil {
		return
	}
	for _, q := range rec.peers {
		if q == ev.From {
			continue
		}
		if ps := s.index[q]; ps != nil && ps.topics != nil && ps.topics[tc.idx].inMesh {
			s.meshDelivery(&ps.topics[tc.idx], tc)
			s.rescore(ps, t)
		}
	}
	if ev.From != "" && !rec.has(ev.From) {
		rec.peers = append(rec.peers, ev.From)
	}
}

// meshDelivery counts one first or near-first delivery for P₃ if the peer
// is in the mesh.
func (s *Scorer) meshDelivery(ts *topicState, tc *topicConf) {
	if ts.inMesh && tc.trackMesh {
		ts.meshMessageDeliveries = min(ts.meshMessageDeliveries+1, tc.MeshMessageDeliveriesCap)
	}
}

// Duplicate records a later copy of a message from ev.From. Each peer
// counts once per message: during validation it waits for the verdict; after
// a valid verdict it earns P₃ (mesh peers only) if it arrived within
// MeshMessageDeliveriesWindow; after an invalid one it pays P₄.
func (s *Scorer) Duplicate(now time.Time, ev events.EvtMessageDuplicated) {
	tc := s.topics[ev.Topic]
	if tc == nil || ev.From == "" || ev.ID == "" {
		return
	}
	t := at(now, ev.At)
	rec := s.records.get(ev.ID)
	if rec == nil {
		// The verdict is not out yet (or the record expired, in which case
		// the copy is late and earns nothing anyway).
		rec = s.records.add(ev.ID, t)
		rec.peers = append(rec.peers, ev.From)
		return
	}
	if rec.has(ev.From) {
		return
	}
	rec.peers = append(rec.peers, ev.From)
	switch rec.status {
	case statusValid:
		if t.After(rec.validated.Add(tc.MeshMessageDeliveriesWindow)) {
			return
		}
		if ps := s.index[ev.From]; ps != nil && ps.topics != nil && ps.topics[tc.idx].inMesh {
			s.meshDelivery(&ps.topics[tc.idx], tc)
			s.rescore(ps, t)
		}
	case statusInvalid:
		s.invalidDelivery(ev.From, tc, t)
	}
}

// Rejected records a message that was not delivered. Reasons for which
// events.RejectReason.Invalid is true cost ev.From P₄, and so does every peer
// that sent the same message while it was being validated or sends it
// afterwards; ignored and throttled messages cost nobody anything.
func (s *Scorer) Rejected(now time.Time, ev events.EvtMessageRejected) {
	tc := s.topics[ev.Topic]
	if tc == nil {
		return
	}
	t := at(now, ev.At)
	if !ev.Reason.Invalid() {
		if ev.ID == "" || (ev.Reason != events.RejectValidationIgnored && ev.Reason != events.RejectValidationThrottled) {
			return
		}
		rec := s.records.get(ev.ID)
		if rec == nil {
			rec = s.records.add(ev.ID, t)
		}
		if rec.status == statusPending {
			// Early copies of an ignored message earn nothing, even if
			// the message is later delivered from someone else.
			rec.status = statusIgnored
			clear(rec.peers)
			rec.peers = rec.peers[:0]
		}
		return
	}
	if ev.From != "" {
		s.invalidDelivery(ev.From, tc, t)
	}
	if ev.ID == "" {
		return
	}
	rec := s.records.get(ev.ID)
	if rec == nil {
		rec = s.records.add(ev.ID, t)
	}
	if rec.status == statusPending || rec.status == statusIgnored {
		// A valid record stays valid: a second message under a valid id
		// (a collision or a forgery) costs only its sender.
		for _, q := range rec.peers {
			if q != ev.From {
				s.invalidDelivery(q, tc, t)
			}
		}
		rec.status = statusInvalid
	}
	if ev.From != "" && !rec.has(ev.From) {
		rec.peers = append(rec.peers, ev.From)
	}
}

// invalidDelivery counts one invalid message from p for P₄.
func (s *Scorer) invalidDelivery(p peer.ID, tc *topicConf, t time.Time) {
	if !tc.trackInvalid {
		return
	}
	ps := s.peer(p, t, false)
	ts := s.topic(ps, tc)
	ts.invalidMessageDeliveries++
	s.rescore(ps, t)
}

// Published records a message the local node published, so that copies
// coming back count as near-first deliveries only within the window.
func (s *Scorer) Published(now time.Time, ev events.EvtMessagePublished) {
	if s.topics[ev.Topic] == nil || ev.ID == "" || s.records.get(ev.ID) != nil {
		return
	}
	t := at(now, ev.At)
	rec := s.records.add(ev.ID, t)
	rec.status, rec.validated = statusValid, t
}

// Penalized adds ev.Count (at least 1) to ev.Peer's behaviour penalty P₇
// (nothing when BehaviourPenaltyWeight is 0: the term is off).
func (s *Scorer) Penalized(now time.Time, ev events.EvtPeerPenalized) {
	if ev.Peer == "" || s.params.BehaviourPenaltyWeight == 0 {
		return
	}
	t := at(now, ev.At)
	ps := s.peer(ev.Peer, t, false)
	ps.behaviourPenalty += float64(max(ev.Count, 1))
	s.rescore(ps, t)
}

// ConnOpened records a connection: the peer is live, and its IP counts for
// P₆ (unless whitelisted or absent).
func (s *Scorer) ConnOpened(now time.Time, ev events.EvtConnOpened) {
	if ev.Peer == "" {
		return
	}
	t := at(now, ev.At)
	ps := s.peer(ev.Peer, t, true)
	if ip, ok := s.trackedIP(ev.RemoteIP); ok {
		s.addIP(ps, ip, t)
	}
	s.rescore(ps, t)
}

// ConnClosed records a closed connection; the peer leaves the IP with its
// last connection from it.
func (s *Scorer) ConnClosed(now time.Time, ev events.EvtConnClosed) {
	ps := s.index[ev.Peer]
	if ps == nil {
		return
	}
	if ip, ok := s.trackedIP(ev.RemoteIP); ok {
		s.removeIP(ps, ip, at(now, ev.At))
	}
}

// PeerConnectednessChanged makes a peer live on network.Connected; on
// network.NotConnected it leaves every mesh (charging P₃b as a prune does),
// leaves its IPs, and its score is retained for RetainScore.
func (s *Scorer) PeerConnectednessChanged(now time.Time, ev events.EvtPeerConnectednessChanged) {
	switch ev.Connectedness {
	case network.Connected, network.Limited:
		if ev.Peer != "" {
			s.rescore(s.peer(ev.Peer, now, true), now)
		}
	case network.NotConnected:
		ps := s.index[ev.Peer]
		if ps == nil {
			return
		}
		s.leaveMeshes(ps, now)
		s.clearIPs(ps, now)
		s.retain(ps, now)
		s.rescore(ps, now)
	}
}

// RouterPeerAdded makes a peer live (it speaks pubsub over a connection).
func (s *Scorer) RouterPeerAdded(now time.Time, ev events.EvtRouterPeerAdded) {
	if ev.Peer == "" {
		return
	}
	t := at(now, ev.At)
	s.rescore(s.peer(ev.Peer, t, true), t)
}

// RouterPeerRemoved takes the peer out of every mesh it is still in and
// starts its retention; a peer that still has open connections is kept
// until they close.
func (s *Scorer) RouterPeerRemoved(now time.Time, ev events.EvtRouterPeerRemoved) {
	ps := s.index[ev.Peer]
	if ps == nil {
		return
	}
	t := at(now, ev.At)
	s.leaveMeshes(ps, t)
	s.retain(ps, t)
	s.rescore(ps, t)
}

// AppScore sets the peer's application score P₅ (the latest value wins; 0
// clears it). The value is kept even while the peer is not scored, so a
// score set before the peer connects applies when it does; the application
// owns the size of that table (set 0 to forget a peer). A NaN or infinite
// score is refused with ErrInvalidAppScore.
func (s *Scorer) AppScore(now time.Time, ev events.EvtPeerAppScoreSet) error {
	if math.IsNaN(ev.Score) || math.IsInf(ev.Score, 0) {
		return fmt.Errorf("%w: peer %s score %v", ErrInvalidAppScore, ev.Peer, ev.Score)
	}
	if ev.Score == 0 {
		delete(s.appScores, ev.Peer)
	} else {
		s.appScores[ev.Peer] = ev.Score
	}
	if ps := s.index[ev.Peer]; ps != nil {
		ps.appScore = ev.Score
		s.rescore(ps, now)
	}
	return nil
}
