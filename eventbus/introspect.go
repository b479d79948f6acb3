package eventbus

import (
	"reflect"
	"sort"
)

// SubscriptionInfo describes one live subscription.
type SubscriptionInfo struct {
	// ID is unique among the bus's subscriptions.
	ID uint64
	// Name is the subscription's name.
	Name string
	// Types are the subscribed types (interface types included as given);
	// nil for a wildcard subscription.
	Types []reflect.Type
	// Wildcard reports a subscription to every type (Wildcard, or
	// go-libp2p's event.WildcardSubscription).
	Wildcard bool
	// Policy is what the bus does when its buffer is full.
	Policy Policy
	// BufSize is its buffer's capacity in events.
	BufSize int
	// Queued is how many events wait in its channel now.
	Queued int
	// Delivered counts events offered to it and not dropped.
	Delivered uint64
	// Dropped counts events it dropped.
	Dropped uint64
	// Sequenced reports a subscription that receives Sequenced events.
	Sequenced bool
	// Quiet are the types whose events do not wake its reader (the Quiet
	// option); nil without it.
	Quiet []reflect.Type
}

// Subscriptions lists the live subscriptions, ordered by ID (creation order).
func (b *Bus) Subscriptions() []SubscriptionInfo {
	b.mu.RLock()
	subs := make([]*subCore, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.RUnlock()
	infos := make([]SubscriptionInfo, 0, len(subs))
	for _, s := range subs {
		infos = append(infos, SubscriptionInfo{
			ID:        s.id,
			Name:      s.settings.name,
			Types:     append([]reflect.Type(nil), s.types...),
			Wildcard:  s.wildcard,
			Policy:    s.settings.policy,
			BufSize:   s.settings.bufSize,
			Queued:    s.self.queued(),
			Delivered: s.delivered(),
			Dropped:   s.droppedTotal(),
			Sequenced: s.settings.sequenced,
			Quiet:     append([]reflect.Type(nil), s.settings.quiet...),
		})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	return infos
}

// TypeInfo describes one event type the bus has seen (subscribed to or
// emitted).
type TypeInfo struct {
	// Type is the event type.
	Type reflect.Type
	// Emitted counts Emit calls of the type.
	Emitted uint64
	// Dropped counts events of the type dropped by full subscriptions.
	Dropped uint64
	// Killed counts subscriptions the Kill policy ended while receiving
	// the type.
	Killed uint64
	// Subscribers counts live subscriptions receiving the type, including
	// wildcard and interface subscriptions.
	Subscribers int
	// Emitters counts live emitters of exactly the type.
	Emitters int
}

// Types lists the event types the bus has a node for, sorted by name, with
// their counters. It reads counters the bus keeps anyway (the metrics
// collector in eventbus/busmetrics is built on it and on Subscriptions).
func (b *Bus) Types() []TypeInfo {
	b.mu.RLock()
	infos := make([]TypeInfo, 0, len(b.nodes))
	nodes := make([]*node, 0, len(b.nodes))
	for _, n := range b.nodes {
		infos = append(infos, TypeInfo{Type: n.typ, Emitters: n.emitters})
		nodes = append(nodes, n)
	}
	b.mu.RUnlock()
	for i, n := range nodes {
		infos[i].Emitted = n.emittedTotal()
		infos[i].Dropped = n.droppedTotal()
		infos[i].Killed = n.killed.Load()
		infos[i].Subscribers = n.subscribers()
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Type.String() < infos[j].Type.String() })
	return infos
}
