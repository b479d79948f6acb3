package dht

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrBadOption wraps an invalid option value.
	ErrBadOption = errors.New("dht: bad option")
	// ErrNilDependency reports a nil host or bus given to New.
	ErrNilDependency = errors.New("dht: nil dependency")
	// ErrStarted reports a second Start.
	ErrStarted = errors.New("dht: already started")
	// ErrClosed reports Start after Close.
	ErrClosed = errors.New("dht: closed")
)
