package eventbus

import "errors"

// Sentinel errors. Functions wrap them with %w and context (the event type,
// the subscriber's name), so match them with errors.Is.
var (
	// ErrClosed: the bus is closed. Returned by Emit, Subscribe and
	// NewEmitter after Bus.Close, and by Subscription.Err when the bus closed
	// the subscription.
	ErrClosed = errors.New("eventbus: bus closed")
	// ErrEmitterClosed: Emit on an emitter after its Close.
	ErrEmitterClosed = errors.New("eventbus: emitter closed")
	// ErrWrongType: Emit of a value whose type is not the emitter's.
	ErrWrongType = errors.New("eventbus: wrong event type")
	// ErrNotPointer: the event.Bus API was given an event type that is not a
	// pointer (use new(EvtX)).
	ErrNotPointer = errors.New("eventbus: event type must be given as a pointer, e.g. new(EvtX)")
	// ErrKilled: the subscription fell behind under the Kill policy; its
	// channel was closed.
	ErrKilled = errors.New("eventbus: subscription killed: buffer full")
	// ErrNoEmitter: the subscription required an emitter and the sealed bus
	// has none for its type.
	ErrNoEmitter = errors.New("eventbus: no emitter for required event type")
	// ErrBadOption: an option had a bad value (BufSize above MaxBufSize,
	// say), or an option meant for another bus implementation was passed.
	ErrBadOption = errors.New("eventbus: bad option")
	// ErrInvalidOption is ErrBadOption's earlier name.
	ErrInvalidOption = ErrBadOption
	// ErrSubscriptionClosed: BatchSubscription.Next after Close, once what
	// was queued has been taken.
	ErrSubscriptionClosed = errors.New("eventbus: subscription closed")
	// ErrNoTypes: Subscribe was given an empty list of event types.
	ErrNoTypes = errors.New("eventbus: empty event type list")
	// ErrSingleProducer: NewEmitter with SingleProducer for a type that
	// already has a live emitter, or any new emitter (NewEmitter,
	// Bus.Emitter) for a type that has a live single-producer emitter. A
	// single-producer emitter must be its type's only emitter; once it is
	// closed, other emitters may be made again.
	ErrSingleProducer = errors.New("eventbus: a single-producer emitter must be its type's only emitter")
)
