package router

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/fragment"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// gossipsub v1.4 (large-message handling): the router advertises it in the
// Extensions control message that opens its /meshsub/1.3.0 and
// /meshsub/1.4.0 streams, records which peers advertise it, sends large
// messages to those peers as fragments and reassembles the fragments it
// receives. The PREAMBLE and IMRECEIVING control messages are the
// automaton's.

// LargeMessageConfig is gossipsub v1.4 large-message handling's
// parameters (the spec's names in parentheses); start from
// DefaultLargeMessageConfig.
type LargeMessageConfig struct {
	// FragmentSize (fragment_size) is the most bytes of a message's
	// encoding one fragment we send carries. At least
	// MinLargeMessageFragmentSize; a fragment is also kept small enough
	// to fit an RPC of the maximum RPC size. Default 64 KiB.
	FragmentSize int
	// FragmentThreshold (fragmentation_threshold): a message whose encoding
	// is larger goes to a v1.4 peer as fragments; smaller ones, and every
	// message to other peers, go whole. At least 1. Default
	// wire.DefaultMaxRPCSize (1 MiB): with the default maximum RPC size we
	// send no fragments (but still reassemble others'), because a
	// fragmented copy measured about 10% more CPU per delivered message
	// than a whole one at 64 KiB and 256 KiB while we do not forward
	// fragments before reassembly (docs/benchmarks.md, "GossipSub v1.4
	// fragments"). The spec's reasonable default is 64 KiB; it leaves the
	// value to the application.
	FragmentThreshold int
	// FragmentTimeout (fragment_timeout): a reassembly not complete this
	// long after its first fragment is discarded (checked at every
	// heartbeat, so a reassembly may live up to one heartbeat longer), and
	// its sender penalised. Default 30 s.
	FragmentTimeout time.Duration
	// MaxPendingPerPeer (max_pending_fragments) bounds the messages one
	// peer may have in reassembly at once. Default 16.
	MaxPendingPerPeer int
	// MaxReassemblyBytes bounds the fragment bytes held for every peer's
	// reassemblies together (the spec's global limit). At least the
	// maximum RPC size. Default 64 MiB.
	MaxReassemblyBytes int
}

// MinLargeMessageFragmentSize is the smallest LargeMessageConfig.FragmentSize.
const MinLargeMessageFragmentSize = 1024

// DefaultLargeMessageConfig returns the defaults: the spec's (fragments of
// at most 64 KiB, reassemblies discarded after 30 s, at most 16 per peer,
// 64 MiB of reassembly in all) except the fragmentation threshold, which is
// the default maximum RPC size (see FragmentThreshold).
func DefaultLargeMessageConfig() LargeMessageConfig {
	return LargeMessageConfig{
		FragmentSize:       fragment.DefaultFragmentSize,
		FragmentThreshold:  wire.DefaultMaxRPCSize,
		FragmentTimeout:    fragment.DefaultTimeout,
		MaxPendingPerPeer:  fragment.DefaultMaxPendingPerPeer,
		MaxReassemblyBytes: 64 << 20,
	}
}

// WithLargeMessages sets gossipsub v1.4 large-message handling's
// parameters (validated by New: an error wraps ErrBadOption) and turns it
// on; it is on by default, with DefaultLargeMessageConfig. The last of
// WithLargeMessages and WithoutLargeMessages wins.
func WithLargeMessages(c LargeMessageConfig) Option {
	return func(o *config) { o.large, o.largeOff = c, false }
}

// WithoutLargeMessages turns gossipsub v1.4 large-message handling off: the
// router does not advertise it (it still speaks /meshsub/1.4.0, as a v1.3
// router), marks no peer as a v1.4 peer, sends no fragments and rejects
// fragments it receives (events.FragmentRejectNotNegotiated).
func WithoutLargeMessages() Option { return func(o *config) { o.largeOff = true } }

func (c *LargeMessageConfig) validate(maxRPCSize int) error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: LargeMessageConfig.%s %s", ErrBadOption, field, why)
	}
	switch {
	case c.FragmentSize < MinLargeMessageFragmentSize:
		return bad("FragmentSize", fmt.Sprintf("must be at least %d", MinLargeMessageFragmentSize))
	case c.FragmentThreshold < 1:
		return bad("FragmentThreshold", "must be at least 1")
	case c.FragmentTimeout <= 0:
		return bad("FragmentTimeout", "must be > 0")
	case c.MaxPendingPerPeer < 1:
		return bad("MaxPendingPerPeer", "must be at least 1")
	case c.MaxReassemblyBytes < maxRPCSize:
		return bad("MaxReassemblyBytes", fmt.Sprintf("must be at least the maximum RPC size (%d)", maxRPCSize))
	}
	return nil
}

// largeDriver is the driver's part of gossipsub v1.4: the reassembly of
// received fragments. Owned by the driver goroutine.
type largeDriver struct {
	on bool
	// fragmentOut: some message can be larger than FragmentThreshold
	// (it is below the maximum RPC size, which bounds every message), so
	// writers to v1.4 peers look for messages to send as fragments.
	fragmentOut bool
	re          *fragment.Reassembler
	expired     []fragment.Expired
}

// initLarge sets up r.large.
func (r *Router) initLarge() error {
	d := &r.large
	d.on = !r.cfg.largeOff
	g, lc := r.cfg.gossip, r.cfg.large
	if !d.on {
		// Unused (every fragment is refused), and lc was not validated.
		lc = DefaultLargeMessageConfig()
	}
	re, err := fragment.New(fragment.Config{
		MaxMessageSize:    r.cfg.maxRPCSize,
		MaxPendingPerPeer: lc.MaxPendingPerPeer,
		MaxBytes:          max(lc.MaxReassemblyBytes, r.cfg.maxRPCSize),
		Timeout:           lc.FragmentTimeout,
		MaxIDLength:       g.MaxIDLength,
		MaxTopicLength:    g.MaxTopicLength,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	d.re = re
	d.fragmentOut = d.on && lc.FragmentThreshold < r.cfg.maxRPCSize
	return nil
}

// recordLargeMessages records, from the first RPC of a peer's inbound
// stream, whether the peer takes gossipsub v1.4 large-message handling:
// it advertised largeMessageHandling on a v1.3 or v1.4 stream and ours is
// on. The automaton keeps it (PeerLargeMessages: PREAMBLE, IMRECEIVING,
// accepting fragments) and the peer's send queue mirrors it for its writer
// (fragments). A new stream records again.
func (r *Router) recordLargeMessages(in netInput) {
	on := r.large.on && wire.HasExtensions(in.proto) && in.rpc.GetControl().GetExtensions().GetLargeMessageHandling()
	r.m.outcome(r.aut.SetPeerLargeMessages(in.peer, on))
	if pc := r.peers[in.peer]; pc != nil {
		pc.q.large.Store(on)
	}
}

// handleFragments feeds one RPC's fragments to the reassembly. The first
// fragment of a message is its head for the automaton (HandleMessageHead:
// the early IDONTWANT, the stagger's skip of the sender); a completed
// message is checked against its fragments (decodes, same id, same topic)
// and then takes the path of a message in the RPC's publish field
// (handleMessages: seen cache, signature, validation, scoring,
// forwarding). Fragments are never forwarded. Bad fragments are rejected
// (EvtFragmentRejected, counted, PenaltyBadFragment).
func (r *Router) handleFragments(now time.Time, p peer.ID, frags []*pb.LargeMessageFragment) {
	if !r.large.on || !r.aut.PeerLargeMessages(p) {
		// One rejection for the RPC: its fragments are all refused alike.
		f := frags[0]
		r.rejectFragment(now, p, f.GetTopicID(), string(f.GetMessageID()), events.FragmentRejectNotNegotiated)
		return
	}
	if r.aut.Score(p) < r.aut.Thresholds().Graylist {
		return // as its messages: not even looked at
	}
	r.m.v.Add(mFragmentsIn, uint64(len(frags)))
	for _, f := range frags {
		if !r.aut.Joined(f.GetTopicID()) && !r.large.re.Holds(p, string(f.GetMessageID())) {
			// A message of a topic we are not in is dropped whole
			// (OutcomeTopicNotJoined): its fragments are not kept. One
			// already in reassembly (we left the topic since) completes,
			// so an honest sender is not penalised for its timeout.
			r.m.v.Inc(mFragmentsSkipped)
			r.m.outcome(r.aut.FragmentNotJoined(now, p, string(f.GetMessageID()), &r.out))
			// Should we join the topic before its last fragment, the
			// rest is skipped too: without this one the reassembly could
			// never complete, and its timeout would blame the sender.
			r.large.re.Refuse(now, p, string(f.GetMessageID()))
			continue
		}
		res := r.large.re.Add(now, p, f)
		switch res.Outcome {
		case fragment.OutcomeRejected:
			r.rejectFragment(now, p, f.GetTopicID(), string(f.GetMessageID()), res.Reason)
		case fragment.OutcomeDuplicate:
			r.m.v.Inc(mFragmentsDup)
		case fragment.OutcomeSkipped:
			r.m.v.Inc(mFragmentsSkipped)
		case fragment.OutcomeStored:
			if res.First {
				r.m.outcome(r.aut.HandleMessageHead(now, p, f.GetTopicID(), string(f.GetMessageID()), res.Size, &r.out))
			}
		case fragment.OutcomeCompleted:
			r.completeFragments(now, p, string(f.GetMessageID()), f.GetTopicID(), res.Data)
		}
	}
	r.m.v.Set(mReassemblyBytes, float64(r.large.re.Bytes()))
}

// completeFragments checks a reassembled message and hands it on.
func (r *Router) completeFragments(now time.Time, p peer.ID, id, topic string, data []byte) {
	msg, err := wire.DecodeMessageOwned(data) // data is the reassembly's own buffer
	switch {
	case err != nil:
		r.rejectFragment(now, p, topic, id, events.FragmentRejectUndecodable)
		return
	case msg.GetTopic() != topic:
		r.rejectFragment(now, p, topic, id, events.FragmentRejectTopicMismatch)
		return
	}
	mid := r.msgIDFor(topic)(msg)
	if mid != id {
		r.rejectFragment(now, p, topic, id, events.FragmentRejectIDMismatch)
		return
	}
	r.m.v.Inc(mFragmentedIn)
	r.handleMessages(now, p, []*pb.Message{msg}, []string{mid}, r.topicIDs.Load())
}

// rejectFragment reports a refused fragment or reassembly.
func (r *Router) rejectFragment(now time.Time, p peer.ID, topic, id string, reason events.FragmentRejectReason) {
	r.m.v.Inc(mFragRejected[min(reason, events.MaxFragmentRejectReason)])
	r.rl.warn("fragment:"+reason.String(), "rejected gossipsub v1.4 fragment", "peer", p, "topic", topic, "reason", reason.String())
	_ = r.em.fragRejected.Emit(events.EvtFragmentRejected{Peer: p, Topic: topic, ID: id, Reason: reason, At: now})
	if reason.Penalized() {
		e := events.EvtPeerPenalized{Peer: p, Reason: events.PenaltyBadFragment, Count: 1, At: now}
		r.m.penalty(e)
		_ = r.em.penalized.Emit(e)
	}
}

// largeHeartbeat discards the reassemblies that timed out.
func (r *Router) largeHeartbeat(now time.Time) {
	if r.large.re.Len() == 0 {
		return
	}
	d := &r.large
	d.expired = d.re.Expire(now, d.expired[:0])
	for _, e := range d.expired {
		r.rejectFragment(now, e.Peer, e.Topic, e.ID, events.FragmentRejectTimedOut)
	}
	clear(d.expired)
	r.m.v.Set(mReassemblyBytes, float64(d.re.Bytes()))
}

// largeRemovePeer drops a removed peer's reassemblies.
func (r *Router) largeRemovePeer(p peer.ID) {
	if r.large.re.RemovePeer(p) > 0 {
		r.m.v.Set(mReassemblyBytes, float64(r.large.re.Bytes()))
	}
}

// fragmentOverhead bounds the bytes a fragment of a message with an id of
// idLen bytes and a topic of topicLen bytes adds to its data in an RPC:
// the RPC field's tag and length, and the fragment's id, index, total,
// topic and data headers.
func fragmentOverhead(idLen, topicLen int) int {
	return 1 + binaryMaxVarint + // RPC field 12: tag, length
		1 + protowire.SizeVarint(uint64(idLen)) + idLen + // messageID
		1 + binaryMaxVarint32 + 1 + binaryMaxVarint32 + // index, total
		1 + binaryMaxVarint + // data header
		1 + protowire.SizeVarint(uint64(topicLen)) + topicLen // topicID
}

const (
	binaryMaxVarint   = 10
	binaryMaxVarint32 = 5
)

// fragmentSize is the data size of the fragments a message with an id of
// idLen bytes and a topic of topicLen bytes is cut into: FragmentSize, or
// less when a fragment of that size would not fit an RPC alone; 0 when
// not even a minimal one would (the message then goes whole).
func (r *Router) fragmentSize(idLen, topicLen int) int {
	n := min(r.cfg.large.FragmentSize, r.cfg.maxRPCSize-fragmentOverhead(idLen, topicLen))
	if n < fragment.MinFragmentSize {
		return 0
	}
	return n
}

// writeFragments writes the messages the writer set aside (wr.big, ids
// wr.bigIDs) as fragments, packed into as few RPCs of at most the maximum
// RPC size as they fit. Each message is encoded once for it; the fragments
// share that encoding.
func (wr *writer) writeFragments(r *Router) error {
	for i, m := range wr.big {
		id := wr.bigIDs[i]
		enc, err := proto.Marshal(m)
		size := r.fragmentSize(len(id), len(m.GetTopic()))
		if err != nil || size == 0 {
			// Cannot be cut (it would not have been set aside): whole.
			if err := wr.write(r, &pb.RPC{Publish: []*pb.Message{m}}); err != nil {
				return err
			}
			continue
		}
		wr.frags = fragment.Split(wr.frags[:0], enc, []byte(id), m.GetTopic(), size)
		rpc := &wr.fragRPC
		used := 0
		for _, f := range wr.frags {
			n := 1 + protowire.SizeBytes(proto.Size(f))
			if len(rpc.LargeMessageFragments) > 0 && used+n > r.cfg.maxRPCSize {
				if err := wr.writeFragRPC(r); err != nil {
					return err
				}
				used = 0
			}
			rpc.LargeMessageFragments = append(rpc.LargeMessageFragments, f)
			used += n
		}
		if err := wr.writeFragRPC(r); err != nil {
			return err
		}
		r.m.v.Add(mFragmentsOut, uint64(len(wr.frags)))
		r.m.v.Inc(mFragmentedOut)
		clear(wr.frags)
	}
	return nil
}

func (wr *writer) writeFragRPC(r *Router) error {
	err := wr.write(r, &wr.fragRPC)
	clear(wr.fragRPC.LargeMessageFragments)
	wr.fragRPC.LargeMessageFragments = wr.fragRPC.LargeMessageFragments[:0]
	return err
}

// setAside (for a v1.4 peer, when fragmentOut) moves from the packed
// RPC's messages those the peer takes as fragments (their encoding over
// FragmentThreshold, and a fragment size that fits an RPC) to wr.big, with
// their ids (wr.ids, parallel to the messages, from the queue).
func (wr *writer) setAside(r *Router) {
	kept := wr.rpc.Publish[:0]
	for i, m := range wr.rpc.Publish {
		if proto.Size(m) > r.cfg.large.FragmentThreshold && r.fragmentSize(len(wr.ids[i]), len(m.GetTopic())) > 0 {
			wr.big = append(wr.big, m)
			wr.bigIDs = append(wr.bigIDs, wr.ids[i])
			continue
		}
		kept = append(kept, m)
	}
	clear(wr.rpc.Publish[len(kept):])
	wr.rpc.Publish = kept
}
