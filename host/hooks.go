package host

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/fx"
)

// hookState is where one lifecycle hook is.
type hookState uint8

const (
	hookAppended hookState = iota
	hookStarted
	hookStopping
	hookStopped
)

// hookTracker sees every lifecycle hook of the node (it decorates
// fx.Lifecycle at the root, so components, add-ons and the node's own hooks
// all go through it) and remembers which ones started and stopped. fx gives
// up on the remaining stop hooks when the stop context ends; the tracker lets
// Close run those after the bus has closed (which releases whatever a stuck
// subscriber was holding), so that a stop timeout leaves no component
// running.
type hookTracker struct {
	mu    sync.Mutex
	hooks []*trackedHook // in append order, which is fx's start order
}

type trackedHook struct {
	hook  fx.Hook
	state hookState // guarded by hookTracker.mu
}

// wrap returns the fx.Lifecycle that records hooks and appends them to lc.
func (t *hookTracker) wrap(lc fx.Lifecycle) fx.Lifecycle {
	return &trackingLifecycle{lc: lc, t: t}
}

type trackingLifecycle struct {
	lc fx.Lifecycle
	t  *hookTracker
}

// Append records h and appends a wrapper to the real lifecycle.
func (l *trackingLifecycle) Append(h fx.Hook) {
	t := l.t
	th := &trackedHook{hook: h}
	t.mu.Lock()
	t.hooks = append(t.hooks, th)
	t.mu.Unlock()
	l.lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if h.OnStart != nil {
				if err := h.OnStart(ctx); err != nil {
					return err
				}
			}
			t.mu.Lock()
			th.state = hookStarted
			t.mu.Unlock()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			if !t.claim(th) {
				return nil
			}
			return t.stop(th, ctx)
		},
	})
}

// claim moves a started hook to stopping, reporting whether the caller
// should run its OnStop (exactly one caller does).
func (t *hookTracker) claim(th *trackedHook) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th.state != hookStarted {
		return false
	}
	th.state = hookStopping
	return true
}

func (t *hookTracker) stop(th *trackedHook, ctx context.Context) error {
	var err error
	if th.hook.OnStop != nil {
		err = th.hook.OnStop(ctx)
	}
	t.mu.Lock()
	th.state = hookStopped
	t.mu.Unlock()
	return err
}

// pending reports whether some hook started and was not stopped.
func (t *hookTracker) pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, th := range t.hooks {
		if th.state == hookStarted {
			return true
		}
	}
	return false
}

// stopRemaining runs, in reverse start order, the stop hooks of every hook
// that started and whose stop fx never ran. Each runs on its own goroutine so
// that one ignoring ctx cannot hold Close past ctx's end; stopRemaining
// returns ctx's error then.
func (t *hookTracker) stopRemaining(ctx context.Context) error {
	t.mu.Lock()
	hooks := append([]*trackedHook(nil), t.hooks...)
	t.mu.Unlock()
	var errs []error
	for i := len(hooks) - 1; i >= 0; i-- {
		th := hooks[i]
		if !t.claim(th) {
			continue
		}
		done := make(chan error, 1)
		go func() { done <- t.stop(th, ctx) }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("stopping the remaining components: %w", ctx.Err()))...)
		}
	}
	return errors.Join(errs...)
}
