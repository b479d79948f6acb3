package mdns

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrBadOption wraps an invalid option value.
	ErrBadOption = errors.New("mdns: bad option")
	// ErrNilDependency reports a nil host or bus given to New.
	ErrNilDependency = errors.New("mdns: nil dependency")
	// ErrStarted reports a second Start.
	ErrStarted = errors.New("mdns: already started")
	// ErrClosed reports Start after Close.
	ErrClosed = errors.New("mdns: closed")
)
