package conntrack

import "errors"

// Sentinel errors, wrapped with context; match them with errors.Is.
var (
	// ErrBadOption: an option had an invalid value; the message names it.
	ErrBadOption = errors.New("conntrack: bad option")
	// ErrNilDependency: New was given a nil host or bus.
	ErrNilDependency = errors.New("conntrack: nil dependency")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("conntrack: already started")
	// ErrClosed: Start was called after Close.
	ErrClosed = errors.New("conntrack: closed")
)
