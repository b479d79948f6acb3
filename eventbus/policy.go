package eventbus

import (
	"fmt"
	"log/slog"
	"math/bits"
	"reflect"
)

// Policy is what the bus does when a subscription's buffer is full.
type Policy uint8

// The backpressure policies.
const (
	// Block makes the emitter wait until the subscriber has room or closes
	// its subscription. Nothing is lost; a stalled subscriber stalls every
	// emitter of its types (go-libp2p's behaviour).
	Block Policy = iota + 1
	// Drop discards the event for this subscriber and counts it.
	Drop
	// Kill ends the subscription: its channel is closed after the events
	// already queued, and Err reports ErrKilled. The emitter that killed it
	// never waits for the subscriber; it detaches the subscription after
	// its Emit (see Emitter.Emit).
	Kill
	// Notify discards the event, counts it, and calls the subscription's
	// Notifier synchronously on the emitter's goroutine.
	Notify
)

// String returns the policy's name.
func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case Drop:
		return "drop"
	case Kill:
		return "kill"
	case Notify:
		return "notify"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

func (p Policy) valid() bool { return p >= Block && p <= Notify }

// DropNotice describes one event dropped under the Notify policy.
type DropNotice struct {
	// Subscriber is the subscription's name.
	Subscriber string
	// Type is the dropped event's type.
	Type reflect.Type
	// Dropped is the subscription's running drop count, including this one.
	Dropped uint64
}

// Notifier is called synchronously, on the emitting goroutine, for every
// event dropped under the Notify policy. It must be quick and must not call
// back into the bus for the same type (it may run under the type's lock).
// Each drop gets one call with its own running count; with several
// emitters of the type, calls for a batch subscription that is full may
// run concurrently and out of count order (they run after the event was
// published, outside the type's locks: docs/eventbus.md, "Limits"). A
// panic in it is recovered, counted (Bus.NotifierPanics) and logged at a
// limited rate (at panic counts 1, 2, 4, 8, ...); the Emit goes on. If it
// calls runtime.Goexit (as t.FailNow does), the type's lock is released
// before the emitting goroutine ends and the bus stays usable.
type Notifier func(DropNotice)

// LogNotifier returns the default Notifier: it logs a warning at drop counts
// 1, 2, 4, 8, ... (so a persistently slow subscriber costs O(log n) log lines,
// with no clock needed) and otherwise does nothing; the drop itself is already
// counted by the bus.
func LogNotifier(log *slog.Logger) Notifier {
	return func(n DropNotice) {
		if bits.OnesCount64(n.Dropped) != 1 {
			return
		}
		log.Warn("eventbus: slow subscriber, dropping events",
			"subscriber", n.Subscriber, "type", n.Type.String(), "dropped", n.Dropped)
	}
}
