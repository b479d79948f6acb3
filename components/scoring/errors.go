package scoring

import "errors"

// Sentinel errors, wrapped with context; match them with errors.Is.
var (
	// ErrBadOption: an option had an invalid value; the message names it.
	// Invalid parameters also wrap automaton.ErrInvalidParams and a
	// *ParamError that names the field.
	ErrBadOption = errors.New("scoring: bad option")
	// ErrNilDependency: New was given a nil bus.
	ErrNilDependency = errors.New("scoring: nil dependency")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("scoring: already started")
	// ErrNotStarted: Breakdown was called before Start.
	ErrNotStarted = errors.New("scoring: not started")
	// ErrClosed: Start or Breakdown after Close (or after the input
	// subscription ended).
	ErrClosed = errors.New("scoring: closed")
	// ErrNotScored: Breakdown for a peer the scorer does not score.
	ErrNotScored = errors.New("scoring: peer not scored")
)
