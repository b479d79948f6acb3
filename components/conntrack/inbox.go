package conntrack

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// inputKind names what happened on the go-libp2p side.
type inputKind uint8

const (
	inOpened inputKind = iota + 1 // a connection opened (notifiee or start-up scan)
	inClosed                      // a connection closed (notifiee)
	inEvent                       // an event from go-libp2p's own bus
)

// input is one entry of the inbox, stamped with the injected clock when it
// was pushed.
type input struct {
	kind inputKind
	conn network.Conn
	evt  any
	at   time.Time
}

// inbox is an unbounded FIFO between go-libp2p's goroutines (producers) and
// the tracker goroutine (the only consumer). push never blocks beyond a
// short mutex section, so go-libp2p's swarm and bus never wait on meshbus.
// It is unbounded on purpose: dropping a close would break the
// connectedness guarantee, and the consumer drains it whole on every wake.
type inbox struct {
	mu    sync.Mutex
	items []input       // guarded by mu
	wake  chan struct{} // capacity 1: a pending wake-up
}

func newInbox() *inbox {
	return &inbox{wake: make(chan struct{}, 1)}
}

// push appends in and wakes the consumer.
func (q *inbox) push(in input) {
	q.mu.Lock()
	q.items = append(q.items, in)
	q.mu.Unlock()
	q.signal()
}

// pushLocked runs f with the inbox locked, so that f's pushes (through the
// given append function) are atomic with respect to other producers.
func (q *inbox) pushLocked(f func(add func(input))) {
	q.mu.Lock()
	f(func(in input) { q.items = append(q.items, in) })
	q.mu.Unlock()
	q.signal()
}

func (q *inbox) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drain moves every queued input into buf (reset to length 0) and returns
// it; the inbox keeps buf's old array for the next producers, so a steady
// state swaps two arrays without allocating.
func (q *inbox) drain(buf []input) []input {
	clear(buf)
	q.mu.Lock()
	items := q.items
	q.items = buf[:0]
	q.mu.Unlock()
	return items
}
