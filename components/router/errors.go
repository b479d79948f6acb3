package router

import "errors"

// Sentinel errors of the application API. Functions wrap them with %w and
// context (the topic, the validator's verdict), so match them with errors.Is.
var (
	// ErrClosed: the router (or the topic, or the subscription) is closed.
	ErrClosed = errors.New("router: closed")
	// ErrAlreadyStarted: Start on a running router.
	ErrAlreadyStarted = errors.New("router: already started")
	// ErrNotStarted: the router's Start has not been called yet.
	ErrNotStarted = errors.New("router: not started")
	// ErrBadOption: New was given a bad option value or a missing
	// dependency, or RegisterValidator a bad validator option; the message
	// names the field.
	ErrBadOption = errors.New("router: bad option")
	// ErrTopicJoined: Join for a topic the router has already joined.
	ErrTopicJoined = errors.New("router: topic already joined")
	// ErrNotJoined: an operation on a topic the router has left (or never joined).
	ErrNotJoined = errors.New("router: topic not joined")
	// ErrInvalidTopic: the topic name is empty or longer than the automaton's MaxTopicLength.
	ErrInvalidTopic = errors.New("router: invalid topic name")
	// ErrTooManyTopics: joining would exceed the automaton's MaxTopics.
	ErrTooManyTopics = errors.New("router: too many topics")
	// ErrMessageTooLarge: the message would not fit in an RPC of the maximum
	// RPC size once framed.
	ErrMessageTooLarge = errors.New("router: message too large")
	// ErrNoPeers: Publish with RequirePeers found no peer to send to. The
	// message was still recorded as published (a retry gets a new seqno).
	ErrNoPeers = errors.New("router: no peers to publish to")
	// ErrQueueFull: Publish found the send queue of every peer it chose full;
	// the message was dropped for all of them (it stays in the message cache,
	// so peers may still fetch it through gossip). Retry later or slow down.
	ErrQueueFull = errors.New("router: every chosen peer's send queue is full")
	// ErrValidationRejected: a local validator rejected the message being published.
	ErrValidationRejected = errors.New("router: message rejected by validator")
	// ErrValidationIgnored: a local validator said ignore for the message
	// being published; it was not sent.
	ErrValidationIgnored = errors.New("router: message ignored by validator")
	// ErrDuplicate: a message with the same id was already seen; not sent again.
	ErrDuplicate = errors.New("router: duplicate message id")
	// ErrValidatorExists: RegisterValidator for a topic that already has one.
	ErrValidatorExists = errors.New("router: validator already registered")
)
