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
// The Recorder subscribes with the Block policy, so it never loses an
// event (an emitter waits for it instead); it reads on its own goroutine,
// which stops when the test's Cleanup closes it. bustest imports only the
// standard library and the eventbus core.
package bustest
