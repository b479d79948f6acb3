package eventbus

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// node is the per-type hub: the sinks of one event type and its counters.
//
// Locking: mu is read-locked by an emitter for one whole Emit and
// write-locked to attach or detach a sink, so a sink's channel is never closed
// while an emitter may send on it. The counters are atomics so that metrics
// and introspection read them without taking mu.
type node struct {
	typ reflect.Type

	mu       sync.RWMutex
	sinks    []sink // every attached sink, in attach order; guarded by mu
	fanout          // the emit path's view of sinks; guarded by mu
	seqSinks int    // sinks that want sequence numbers; guarded by mu

	// emu is the producer lock of the batch queues in fanout.rings: an
	// Emit takes it once, under mu's read lock, for all of them; their
	// readers take it once per batch. See ringSink.
	emu sync.Mutex

	emitted atomic.Uint64 // Emit calls, incremented under mu.RLock
	dropped atomic.Uint64 // events dropped by any sink of this type
	killed  atomic.Uint64 // subscriptions killed while receiving this type

	emitters int // live emitters; guarded by Bus.mu

	lastMu  sync.Mutex // guards last and hasLast (written under mu.RLock)
	last    any
	hasLast bool
}

// remember stores ev as the type's last event for stateful replay.
func (n *node) remember(ev any) {
	n.lastMu.Lock()
	n.last, n.hasLast = ev, true
	n.lastMu.Unlock()
}

// attach adds s to the node unless it already ended or is already attached,
// recording the emitted count as the baseline for its delivered count, and
// replays the last event of a stateful type into it (without blocking: a
// replay that does not fit is counted as dropped).
func (n *node) attach(s sink) {
	c := s.core()
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.ended.Load() {
		return
	}
	for _, x := range n.sinks {
		if x == s {
			return
		}
	}
	// Recording the attachment first makes it visible to a concurrent
	// detach, which then waits for this lock before closing the channel
	// the replay below sends on; a detach that already began refuses it.
	if !c.attached(n, n.emitted.Load()) {
		return
	}
	n.sinks = append(n.sinks, s)
	n.split()
	if c.settings.sequenced {
		n.seqSinks++
	}

	n.lastMu.Lock()
	last, ok := n.last, n.hasLast
	n.lastMu.Unlock()
	if ok && !s.tryDeliverAny(last, 0) {
		c.dropped.Add(1)
		n.dropped.Add(1)
	}
}

// detach removes s from the node.
func (n *node) detach(s sink) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, x := range n.sinks {
		if x != s {
			continue
		}
		// Copy rather than shift in place: cheap, and keeps the old array
		// intact for nobody in particular, but makes the removal obvious.
		sinks := make([]sink, 0, len(n.sinks)-1)
		sinks = append(sinks, n.sinks[:i]...)
		n.sinks = append(sinks, n.sinks[i+1:]...)
		n.split()
		c := s.core()
		if c.settings.sequenced {
			n.seqSinks--
		}
		c.detached(n, n.emitted.Load())
		return
	}
}

// subscribers returns the number of attached sinks.
func (n *node) subscribers() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sinks)
}
