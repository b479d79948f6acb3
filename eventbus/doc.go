// Package eventbus is meshbus's local, typed event bus: the one channel by
// which components talk.
//
// A *Bus has a generic, allocation-free API (Subscribe[T], NewEmitter[T]),
// a batch mode (SubscribeBatch[T] and Next, SubscribeBatchFunc) and the
// go-libp2p style API (Subscribe(new(EvtX)), Emitter(new(EvtX)),
// GetAllEventTypes), all sharing one core: an emitter of any kind reaches
// subscribers of every kind. The core imports only the standard library:
// eventbus/libp2pbus presents a *Bus as go-libp2p's event.Bus, and
// eventbus/busmetrics exports its counters to Prometheus.
//
// Every subscription has its own queue (a buffered channel, or a batch
// ring) and its own backpressure policy (Block, Drop, Kill or Notify). Under
// Drop, Kill and Notify an emitter never waits for a slow subscriber and a
// slow subscriber never delays the others (an emitter detaches the
// subscriptions its Emit killed after that Emit, which waits for the
// type's Emits in flight, as a Close does); under Block the emitter waits for room,
// exactly like go-libp2p's bus.
//
// Lock discipline: Bus.mu guards the type table and the registries of
// wildcard and interface subscriptions; each type's node.mu is held (for
// reading) by an emitter for the duration of one Emit and (for writing) to
// attach or detach a subscription. An Emit to plain channel subscriptions
// only takes the channel fast path instead: it announces itself on its
// emitter's slot, and attach and detach, besides taking node.mu, wait until
// no slot has an Emit in flight. Bus.mu is never held while waiting for a
// node lock, so one
// stalled Block subscriber cannot stall operations on other types. An emitter
// blocked on a full Block subscription waits on the subscription's done
// channel as well as on its queue, so ending the subscription releases it;
// Bus.Close ends every subscription before it detaches any, so an emitter
// blocked on one of them lets go of the node lock the detaches need.
//
// Fan-out: attach and detach rebuild a node's fanout, in which the
// subscriptions that take the emitted value as it is (event.Bus-API
// subscriptions, and typed ones of exactly the node's type) are flat arrays
// of channels. An Emit walks them with one channel send per subscription and
// no interface call; batch queues of exactly the node's type are a flat
// list pushed to under one producer lock (node.emu); the rest (sequenced,
// interface-typed) go through the sink interface.
package eventbus
