package main

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

// peerParts is what the node knows of one peer for one group (the
// extension keeps one per peer and group, touched only on its event loop):
// the parts the peer holds as far as we know, whether it told us its
// metadata, and the last metadata we sent it.
type peerParts struct {
	has      byte
	knowsHas bool
	told     bool
	sent     byte
}

// partialJob is work for the partial worker: merge a peer's RPC (rpc set)
// and republish, or publish the group (to nil: every peer of the group's
// state and the mesh; else those peers).
type partialJob struct {
	topic string
	gid   []byte
	rpc   *pubsubpb.PartialMessagesExtension
	from  peer.ID
	to    []peer.ID
}

// partialQueue is an unbounded FIFO between the pubsub event loop (which
// must not block: PublishPartial itself runs on that loop) and the worker.
type partialQueue struct {
	mu     sync.Mutex
	jobs   []partialJob
	wake   chan struct{}
	closed bool
}

func (q *partialQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *partialQueue) push(j partialJob) {
	q.mu.Lock()
	if !q.closed {
		q.jobs = append(q.jobs, j)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the next job, blocking; false once closed.
func (q *partialQueue) pop() (partialJob, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return partialJob{}, false
		}
		if len(q.jobs) > 0 {
			j := q.jobs[0]
			q.jobs[0] = partialJob{}
			q.jobs = q.jobs[1:]
			q.mu.Unlock()
			return j, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

func (q *partialQueue) close() {
	if q.wake == nil {
		return
	}
	q.mu.Lock()
	q.closed = true
	q.jobs = nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// onPartialRPC runs on the pubsub event loop: it records what the RPC
// tells about the sender's parts and hands the RPC to the worker.
func (b *backend) onPartialRPC(from peer.ID, states map[peer.ID]peerParts, rpc *pubsubpb.PartialMessagesExtension) error {
	if _, err := script.ParseGroupID(rpc.GetGroupID()); err != nil {
		return err
	}
	st := states[from]
	if rpc.PartsMetadata != nil {
		m, err := script.ParseMetadata(rpc.GetPartsMetadata())
		if err != nil {
			return err
		}
		st.has |= m
		st.knowsHas = true
	}
	if len(rpc.GetPartialMessage()) > 0 {
		st.has |= rpc.GetPartialMessage()[0] // it holds what it sent
	}
	states[from] = st
	b.work.push(partialJob{topic: rpc.GetTopicID(), gid: rpc.GetGroupID(), rpc: rpc, from: from})
	return nil
}

// partialWorker merges received parts (writing "All parts received" when
// that completes a group) and publishes, one job at a time.
func (b *backend) partialWorker() {
	for {
		j, ok := b.work.pop()
		if !ok {
			return
		}
		gid, err := script.ParseGroupID(j.gid)
		if err != nil {
			continue // checked on the event loop already
		}
		g, _ := b.groups.Get(j.topic, gid)
		if j.rpc != nil && len(j.rpc.GetPartialMessage()) > 0 {
			_, completed, err := g.Extend(j.rpc.GetPartialMessage())
			if err != nil {
				b.log.Warn("partial message refused", "from", j.from, "topic", j.topic, "group", gid, "err", err)
				continue
			}
			if completed {
				b.rec.AllPartsReceived(time.Now(), gid)
			}
		}
		if err := pubsub.PublishPartial(b.ps, j.topic, j.gid, publishActions(g, j.to)); err != nil && b.ctx.Err() == nil {
			b.log.Warn("publish partial", "topic", j.topic, "group", gid, "err", err)
		}
	}
}

// publishActions says what each peer gets: our parts metadata when it
// changed since we last told the peer, and, if the peer requested partial
// messages and told us its metadata, the parts it lacks. to nil: every
// peer of the group's state (the extension adds the mesh's).
func publishActions(g *script.PartialGroup, to []peer.ID) partialmessages.PublishActionsFn[peerParts] {
	return func(states map[peer.ID]peerParts, requests func(peer.ID) bool) iter.Seq2[peer.ID, partialmessages.PublishAction] {
		peers := to
		if peers == nil {
			peers = slices.Sorted(maps.Keys(states))
		}
		return func(yield func(peer.ID, partialmessages.PublishAction) bool) {
			for _, p := range peers {
				st := states[p]
				var a partialmessages.PublishAction
				if requests(p) && st.knowsHas {
					if enc, sent := g.Encode(st.has); enc != nil {
						a.EncodedPartialMessage = enc
						st.has |= sent
					}
				}
				if mine := g.Have(); !st.told || mine != st.sent {
					a.EncodedPartsMetadata = []byte{mine}
					st.told, st.sent = true, mine
				}
				states[p] = st
				if a.EncodedPartialMessage == nil && a.EncodedPartsMetadata == nil {
					continue
				}
				if !yield(p, a) {
					return
				}
			}
		}
	}
}

// SubscribePartial joins topic requesting partial messages and subscribes.
func (b *backend) SubscribePartial(ctx context.Context, topic string) error {
	return b.subscribe(topic, pubsub.RequestPartialMessages())
}

// AddPartialMessage adds parts to the group and writes "All parts
// received" if that completes it.
func (b *backend) AddPartialMessage(topic string, gid uint64, parts uint8) error {
	g, _ := b.groups.Get(topic, gid)
	if g.Fill(parts) {
		b.rec.AllPartsReceived(time.Now(), gid)
	}
	return nil
}

// PublishPartial offers the group to the mesh (and the group's peers), or
// to the peers to. The topic need not be joined (the fanout scenario's
// publisher is not subscribed).
func (b *backend) PublishPartial(ctx context.Context, topic string, gid uint64, to []peer.ID) error {
	g := b.groups.Lookup(topic, gid)
	if g == nil {
		return fmt.Errorf("group %d of topic %q: no addPartialMessage and no parts received", gid, topic)
	}
	return pubsub.PublishPartial(b.ps, topic, script.GroupIDBytes(gid), publishActions(g, to))
}
