package harness

import "errors"

// Sentinel errors; the harness wraps them with details.
var (
	// ErrNodeMissing: no node executable on PATH.
	ErrNodeMissing = errors.New("harness: node (Node.js 20+) not found on PATH")
	// ErrPeerNotInstalled: the JS peer's dependencies are not installed.
	ErrPeerNotInstalled = errors.New("harness: JS peer dependencies not installed")
	// ErrPeerExited: a JS peer process ended while a reply was awaited.
	ErrPeerExited = errors.New("harness: JS peer exited")
	// ErrPeerCommand: a JS peer answered a command with an error.
	ErrPeerCommand = errors.New("harness: JS peer command failed")
	// ErrInvalidConfig: a Config field is out of range (the error names it).
	ErrInvalidConfig = errors.New("harness: invalid config")
	// ErrTimeout: a condition did not hold before its deadline.
	ErrTimeout = errors.New("harness: timed out")
)
