// Package libp2pbus presents a meshbus event bus as go-libp2p's event.Bus.
// It is apart from the eventbus core so that a program using only the typed
// bus does not link go-libp2p.
package libp2pbus

import (
	"reflect"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/meshbus/meshbus/eventbus"
)

// Bus is a meshbus bus seen as a go-libp2p event.Bus. Everything else of
// the meshbus bus (typed API, Seal, introspection) stays reachable through
// the embedded *eventbus.Bus; both views share one bus.
type Bus struct {
	*eventbus.Bus
}

var _ event.Bus = Bus{}

// New returns b as a go-libp2p event.Bus, in one call: libp2pbus.New(b).
func New(b *eventbus.Bus) Bus { return Bus{Bus: b} }

// Subscribe implements event.Bus; see eventbus.Bus.Subscribe (it takes
// event.WildcardSubscription, and go-libp2p's or meshbus's options).
func (b Bus) Subscribe(eventType any, opts ...event.SubscriptionOpt) (event.Subscription, error) {
	s, err := b.Bus.Subscribe(eventType, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Emitter implements event.Bus; see eventbus.Bus.Emitter.
func (b Bus) Emitter(eventType any, opts ...event.EmitterOpt) (event.Emitter, error) {
	e, err := b.Bus.Emitter(eventType, opts...)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// GetAllEventTypes implements event.Bus; see eventbus.Bus.GetAllEventTypes.
func (b Bus) GetAllEventTypes() []reflect.Type { return b.Bus.GetAllEventTypes() }
