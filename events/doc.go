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
// Fields that recur keep one meaning in every event that has them, and are
// not documented again on each:
//   - Peer is the remote peer the event is about; From is the peer that
//     sent what the event reports (a message, an announcement, a record).
//   - Topic is the pubsub topic's name.
//   - ID is a message id as the router computes it (its message id
//     function; by default from || seqno), as a string of bytes.
//   - GroupID is a partial message's group id (the partial messages
//     extension), as a string of bytes.
//   - Size is the encoded size in bytes of the message the event is
//     about.
//   - Reason is the cause: one of the named constants of its type (whose
//     String is the label metrics use), or, where the field is a string,
//     one of the labels its comment lists.
//   - At is the emitter's clock reading when it decided the event: the
//     component's github.com/benbjohnson/clock (a mock in tests), not
//     when a subscriber reads it. (A scorer event decided on an input
//     event carries that input's At: its field comment says so.)
//
// Where go-libp2p's core/event already defines an event, meshbus emits that
// type instead of defining a twin; the aliases in conn.go name them in this
// catalog.
package events
