package rtt

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrBadOption wraps an invalid option value.
	ErrBadOption = errors.New("rtt: bad option")
	// ErrNilDependency reports a nil host or bus given to New.
	ErrNilDependency = errors.New("rtt: nil dependency")
	// ErrStarted reports a second Start.
	ErrStarted = errors.New("rtt: already started")
	// ErrClosed reports Start after Close.
	ErrClosed = errors.New("rtt: closed")
)
