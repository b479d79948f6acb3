package router

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Readiness is a condition Publish waits for before publishing (see
// WithReadiness).
type Readiness struct{ minPeers int }

// MinTopicSize is ready once at least n peers are known to subscribe to
// the topic (n <= 0: always ready).
func MinTopicSize(n int) Readiness { return Readiness{minPeers: n} }

// WithReadiness makes Publish wait, within its context, until r holds: with
// MinTopicSize(n), until at least n peers are known to subscribe to the
// topic. Publish then fails with the context's error if it never holds.
// This is the meshbus form of go-libp2p-pubsub's
// WithReadiness(MinTopicSize(n)).
func WithReadiness(r Readiness) PublishOption {
	return func(c *publishConfig) { c.minPeers = r.minPeers }
}

// Peers returns the peers known to subscribe to the topic, sorted.
func (t *Topic) Peers() []peer.ID { return t.r.TopicPeers(t.name) }

// Mesh returns the topic's mesh peers (those the router forwards full
// messages to), sorted.
func (t *Topic) Mesh() []peer.ID { return t.r.Mesh(t.name) }

// WaitPeers blocks until at least n peers are known to subscribe to the
// topic, or ctx ends (its error is returned).
func (t *Topic) WaitPeers(ctx context.Context, n int) error {
	return t.r.waitTopicPeers(ctx, t.name, n)
}

// waitTopicPeers waits for n subscribers of topic, reading subscription
// changes from the bus (subscribed before the first count, so no change is
// missed in between) and counting again after each; it never polls.
func (r *Router) waitTopicPeers(ctx context.Context, topic string, n int) error {
	if n <= 0 {
		return nil
	}
	sub, err := r.bus.Subscribe([]any{new(events.EvtPeerSubscribed), new(events.EvtPeerUnsubscribed)},
		eventbus.Name("router-readiness"), eventbus.BufSize(64), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		return err
	}
	defer sub.Close()
	// A dropped event loses nothing: every event read is followed by a
	// fresh count, which sees whatever the dropped ones announced.
	for len(r.TopicPeers(topic)) < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.done:
			return ErrClosed
		case _, ok := <-sub.Out():
			if !ok {
				return ErrClosed
			}
		}
	}
	return nil
}
