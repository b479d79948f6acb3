// Package clockctx gives contexts whose deadline follows a clock.Clock and
// that are race-free when the clock is a mock.
//
// clock.Mock.WithTimeout (benbjohnson/clock v1.3.5) returns a context whose
// Err reads the error field without the lock its cancel writes it under, so
// a deadline fired by Mock.Add races with any goroutine polling Err (quic-go
// does, while opening a stream). WithTimeout here keeps the standard
// library's context for the real clock and a locked one for a mock.
package clockctx

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// WithTimeout returns a copy of parent that is done when parent is, when the
// returned cancel is called, or when d has passed on clk, whichever is first;
// its Err is then context.Canceled or context.DeadlineExceeded as for
// context.WithTimeout. With a real clock (anything but *clock.Mock) it is
// context.WithTimeout. The caller must call cancel once done with the
// context, to release its timer; cancel is idempotent and safe to call from
// any goroutine.
func WithTimeout(clk clock.Clock, parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	mock, ok := clk.(*clock.Mock)
	if !ok {
		return context.WithTimeout(parent, d)
	}
	deadline := mock.Now().Add(d)
	if cur, ok := parent.Deadline(); ok && cur.Before(deadline) {
		return context.WithCancel(parent)
	}
	c := &timeoutCtx{Context: parent, deadline: deadline, done: make(chan struct{})}
	if d <= 0 {
		c.cancel(context.DeadlineExceeded)
		return c, func() {}
	}
	c.mu.Lock()
	c.timer = mock.AfterFunc(d, func() { c.cancel(context.DeadlineExceeded) })
	c.mu.Unlock()
	// Registered after the timer so a parent already done cancels both.
	stop := context.AfterFunc(parent, func() { c.cancel(parent.Err()) })
	c.mu.Lock()
	c.stopParent = stop
	cancelled := c.err != nil
	c.mu.Unlock()
	if cancelled {
		stop()
	}
	return c, func() { c.cancel(context.Canceled) }
}

// timeoutCtx is a context with a deadline on a mock clock. Every field but
// the embedded parent and the deadline is guarded by mu.
type timeoutCtx struct {
	context.Context // the parent: Value goes through to it
	deadline        time.Time
	done            chan struct{}

	mu         sync.Mutex
	err        error
	timer      *clock.Timer
	stopParent func() bool
}

// cancel ends c with err the first time it is called; later calls do
// nothing. The timer and the parent hook are released outside mu: the mock
// clock's Stop takes the clock's own lock.
func (c *timeoutCtx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	timer, stop := c.timer, c.stopParent
	c.timer, c.stopParent = nil, nil
	c.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	if stop != nil {
		stop()
	}
}

// Deadline reports the deadline on the mock clock.
func (c *timeoutCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done is closed when c is cancelled or its deadline passes.
func (c *timeoutCtx) Done() <-chan struct{} { return c.done }

// Err is nil until Done is closed, then why it was.
func (c *timeoutCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// String names the context and its deadline, as the standard library's do.
func (c *timeoutCtx) String() string {
	return fmt.Sprintf("clockctx.WithTimeout(deadline %s)", c.deadline)
}
