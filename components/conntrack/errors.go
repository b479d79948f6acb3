package conntrack

import "errors"

// Sentinel errors, wrapped with context; match them with errors.Is.
var (
	// ErrInvalidConfig: an option had a bad value; the message names it.
	ErrInvalidConfig = errors.New("conntrack: invalid config")
	// ErrNilDependency: New was given a nil host, bus or clock.
	ErrNilDependency = errors.New("conntrack: nil dependency")
	// ErrStarted: Start was called twice, or after Stop.
	ErrStarted = errors.New("conntrack: already started")
)
