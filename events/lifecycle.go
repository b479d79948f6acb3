package events

import "time"

// Component lifecycle events. Owner: host, which wraps every component's
// fx lifecycle hooks (built-in and add-on alike).

// EvtComponentStarted is emitted by the host after a component's start hook
// returned successfully. Components start in dependency order, so a
// component's EvtComponentStarted comes after those of the components it
// depends on.
type EvtComponentStarted struct {
	// Name is the component's fx module name (for example "router").
	Name string
	// At is when it started (injected clock).
	At time.Time
}

// EvtComponentStopped is emitted by the host after a component's stop hook
// returned, in reverse start order. Err is the stop hook's error text, empty
// when it stopped cleanly.
type EvtComponentStopped struct {
	// Name is the component's fx module name.
	Name string
	// Err is the stop hook's error text, or "".
	Err string
	// At is when it stopped (injected clock).
	At time.Time
}
