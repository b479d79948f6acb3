package sim

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
)

// InvalidPrefix starts the data of every message an InvalidSender authors.
// Honest validation rejects exactly the messages whose data starts with it,
// so Publish must not be given such data unless a rejection is wanted.
const InvalidPrefix = "sim-invalid:"

// validate is the honest nodes' validator.
func validate(m *pb.Message) automaton.ValidationResult {
	if bytes.HasPrefix(m.GetData(), []byte(InvalidPrefix)) {
		return automaton.ValidationReject
	}
	return automaton.ValidationAccept
}

// validated hands n's automaton the verdict on a pending message and counts
// the invalid ones that cost a validation.
func (s *Sim) validated(n *node, id string, res automaton.ValidationResult) {
	if n.a.Validated(s.now, id, res, &n.out) == automaton.OutcomeRejected {
		s.track.invalidValidated++
	}
}

// adversary is the state a misbehaving node keeps.
type adversary struct {
	// Sybil: neighbours it believes it is in the mesh of, and until when a
	// PRUNE forbids grafting each one.
	mesh    map[int]bool
	backoff map[int]time.Time
}

func newAdversary() *adversary {
	return &adversary{mesh: make(map[int]bool), backoff: make(map[int]time.Time)}
}

// invalidMsg is a message an InvalidSender authored, kept one heartbeat
// interval so that its colluders can relay it.
type invalidMsg struct {
	at     time.Time
	author int
	id     string
	msg    *pb.Message
}

// adversaryReceive is how an adversary reacts to an RPC: only a Sybil
// listens, to follow its mesh membership and the backoffs it is given.
func (s *Sim) adversaryReceive(n *node, e *event) {
	if n.behavior != Sybil {
		return
	}
	ctl := e.rpc.GetControl()
	for _, g := range ctl.GetGraft() {
		if g.GetTopicID() == s.cfg.Topic {
			n.adv.mesh[e.from] = true
		}
	}
	for _, p := range ctl.GetPrune() {
		if p.GetTopicID() != s.cfg.Topic {
			continue
		}
		n.adv.mesh[e.from] = false
		backoff := time.Duration(p.GetBackoff()) * time.Second
		if backoff == 0 {
			backoff = s.cfg.Router.PruneBackoff
		}
		// One heartbeat of slack, as honest nodes take, so that the next
		// GRAFT never lands inside the backoff.
		n.adv.backoff[e.from] = s.now.Add(backoff + s.cfg.Router.HeartbeatInterval)
	}
}

// adversaryHeartbeat is an adversary's periodic misbehaviour.
func (s *Sim) adversaryHeartbeat(n *node) {
	topic := s.cfg.Topic
	switch n.behavior {
	case IHaveSpammer:
		for _, j := range n.neigh {
			ids := make([][]byte, s.cfg.SpamIDs)
			for k := range ids {
				n.spamSeq++
				ids[k] = binary.BigEndian.AppendUint64([]byte("spam"), n.spamSeq)
			}
			ctl := &pb.ControlMessage{Ihave: []*pb.ControlIHave{{TopicID: &topic, MessageIDs: ids}}}
			s.send(n, j, &pb.RPC{Control: ctl}, nil)
		}
	case GraftSpammer:
		for _, j := range n.neigh {
			ctl := &pb.ControlMessage{}
			if n.spamSeq%2 == 0 {
				ctl.Graft = []*pb.ControlGraft{{TopicID: &topic}}
			} else {
				ctl.Prune = []*pb.ControlPrune{{TopicID: &topic}}
			}
			s.send(n, j, &pb.RPC{Control: ctl}, nil)
		}
		n.spamSeq++
	case Sybil:
		for _, j := range n.neigh {
			if n.adv.mesh[j] || s.now.Before(n.adv.backoff[j]) {
				continue
			}
			n.adv.mesh[j] = true
			s.send(n, j, &pb.RPC{Control: &pb.ControlMessage{Graft: []*pb.ControlGraft{{TopicID: &topic}}}}, nil)
		}
	case InvalidSender:
		s.sendInvalid(n)
	}
}

// sendInvalid authors InvalidPerHeartbeat invalid messages, picks as many of
// the newest ones other InvalidSenders authored within the last heartbeat
// interval, and sends them all to every neighbour.
func (s *Sim) sendInvalid(n *node) {
	horizon := s.now.Add(-s.cfg.Router.HeartbeatInterval)
	drop := 0
	for drop < len(s.invalid) && !s.invalid[drop].at.After(horizon) {
		drop++
	}
	s.invalid = append(s.invalid[:0], s.invalid[drop:]...)

	k := s.cfg.InvalidPerHeartbeat
	msgs := make([]*pb.Message, 0, 2*k)
	ids := make([]string, 0, 2*k)
	for i := len(s.invalid) - 1; i >= 0 && len(msgs) < k; i-- {
		if m := s.invalid[i]; m.author != n.idx {
			msgs, ids = append(msgs, m.msg), append(ids, m.id)
		}
	}
	topic := s.cfg.Topic
	for range k {
		n.seqno++
		seq := binary.BigEndian.AppendUint64(nil, n.seqno)
		m := &pb.Message{From: []byte(n.id), Seqno: seq, Topic: &topic, Data: []byte(InvalidPrefix)}
		id := string(n.id) + string(seq)
		s.invalid = append(s.invalid, invalidMsg{at: s.now, author: n.idx, id: id, msg: m})
		msgs, ids = append(msgs, m), append(ids, id)
	}
	if len(msgs) == 0 {
		return
	}
	for _, j := range n.neigh {
		s.send(n, j, &pb.RPC{Publish: msgs}, ids)
	}
}
