package busbench

import "errors"

// Sentinel errors, wrapped with %w and context.
var (
	// ErrConfig: a scenario configuration has a bad field.
	ErrConfig = errors.New("busbench: invalid config")
	// ErrTimeout: a run did not finish within its deadline (a subscriber
	// never received what was emitted, or an emitter stayed blocked).
	ErrTimeout = errors.New("busbench: run timed out")
	// ErrAccounting: a run lost or duplicated events: what the subscribers
	// received plus what the bus counted as dropped is not what was emitted.
	ErrAccounting = errors.New("busbench: event accounting mismatch")
)
