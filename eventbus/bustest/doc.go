// Package bustest is the shared test kit for code on a meshbus event bus: a
// Recorder that subscribes to event types and keeps everything they
// deliver, and typed waits (WaitFor, WaitCount, Wait) that block on a
// condition over the recorded events with a deadline, never on a sleep.
//
// It is the bus's counterpart of zap's zaptest/observer: a component test
// starts a Recorder on the bus before acting, then asserts on what the
// component emitted:
//
//	rec := bustest.NewRecorder(t, bus, new(events.EvtPeerGrafted))
//	... act ...
//	ev := bustest.WaitFor(t, rec, func(e events.EvtPeerGrafted) bool { return e.Peer == p }, 5*time.Second)
//
// Where a test must consume events one at a time (the second wait sees only
// what came after the first), Subscribe and Next do that on a plain typed
// subscription. Eventually polls a condition that no event reports (a
// metric, a connectedness) with a deadline, optionally advancing a mock
// clock between checks. These are the one copy of such helpers: packages'
// tests use them rather than their own.
//
// The Recorder subscribes with the Block policy, so it never loses an
// event (an emitter waits for it instead); it reads on its own goroutine,
// which stops when the test's Cleanup closes it. bustest imports only the
// standard library and the eventbus core.
package bustest
