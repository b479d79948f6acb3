// Package events is the catalog of every event meshbus emits on its bus.
//
// Each file belongs to one owner (the component that emits the events in it).
// Events are plain value structs named Evt[Entity][VerbPast]; their fields are
// primitives or libp2p types, and slices inside an event are owned by the
// emitter: subscribers must treat them as read-only, because every subscriber
// of an event receives the same backing array.
//
// Each type's comment says who emits it, when, and what ordering it
// guarantees. Unless a comment says otherwise, events of one type from one
// emitter reach a subscriber in the order they were emitted; there is no
// ordering between different types except where a comment states one (a
// subscription with a sequence number can restore the bus-wide order).
//
// Where go-libp2p's core/event already defines an event, meshbus emits that
// type instead of defining a twin; the aliases in conn.go name them in this
// catalog.
package events
