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
	Types    []reflect.Type
	Wildcard bool
	Policy   Policy
	BufSize  int
	// Queued is how many events wait in its channel now.
	Queued int
	// Delivered counts events offered to it and not dropped.
	Delivered uint64
	// Dropped counts events it dropped.
	Dropped   uint64
	Sequenced bool
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
			Dropped:   s.dropped.Load(),
			Sequenced: s.settings.sequenced,
		})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	return infos
}
