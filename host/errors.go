package host

import "errors"

// Sentinel errors, wrapped with context; match them with errors.Is.
var (
	// ErrInvalidConfig: an option had a bad value; the message names the
	// option and the value.
	ErrInvalidConfig = errors.New("host: invalid config")
	// ErrUnknownComponent: WithoutComponent or ReplaceComponent named a
	// component that is not built in.
	ErrUnknownComponent = errors.New("host: unknown built-in component")
	// ErrStart: the node could not be assembled or started; it wraps the
	// cause (for a missing emitter, an eventbus.ErrNoEmitter naming the type).
	ErrStart = errors.New("host: start failed")
)
