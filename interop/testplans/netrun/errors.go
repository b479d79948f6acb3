package netrun

import "errors"

// Errors of the runner.
var (
	// ErrNotPermitted: this machine does not let the runner create network
	// namespaces (not root, no iproute2, or namespaces forbidden).
	ErrNotPermitted = errors.New("network namespaces are not available")
	// ErrBadConfig: a runner option is invalid.
	ErrBadConfig = errors.New("bad runner config")
)
