package busbench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/meshbus/meshbus/eventbus"
)

// ChurnConfig is one row of the subscription-churn scenario: Emitters
// goroutines emit in a loop while one goroutine subscribes and closes a
// subscription Iterations times, reading one event from every other
// subscription (the even-numbered ones) before closing it.
type ChurnConfig struct {
	// Impl is ImplTyped, ImplBatch or ImplLibp2p (the baseline).
	Impl Impl
	// Policy of the churned subscriptions (meshbus only).
	Policy eventbus.Policy
	// Emitters emitting in a loop (default 4).
	Emitters int
	// Iterations of subscribe, maybe read one, close (default 2000).
	Iterations int
	// Buf is each subscription's buffer (default 16).
	Buf int
}

func (c ChurnConfig) withDefaults() ChurnConfig {
	if c.Emitters == 0 {
		c.Emitters = 4
	}
	if c.Iterations == 0 {
		c.Iterations = 2000
	}
	if c.Buf == 0 {
		c.Buf = eventbus.DefaultBufSize
	}
	return c
}

// Name is the row's name, e.g. "impl=meshbus-typed/policy=block".
func (c ChurnConfig) Name() string {
	if c.Impl == ImplLibp2p {
		return fmt.Sprintf("impl=%s/policy=always-block", c.Impl)
	}
	return fmt.Sprintf("impl=%s/policy=%s", c.Impl, c.Policy)
}

// Validate reports the first bad field (after defaults).
func (c ChurnConfig) Validate() error {
	switch {
	case c.Impl != ImplTyped && c.Impl != ImplBatch && c.Impl != ImplLibp2p:
		return fmt.Errorf("%w: churn Impl %q: want %s, %s or %s", ErrConfig, c.Impl, ImplTyped, ImplBatch, ImplLibp2p)
	case c.Impl != ImplLibp2p && (c.Policy < eventbus.Block || c.Policy > eventbus.Notify):
		return fmt.Errorf("%w: churn Policy %d is unknown", ErrConfig, c.Policy)
	case c.Emitters < 1 || c.Iterations < 1 || c.Buf < 1:
		return fmt.Errorf("%w: churn needs at least 1 emitter, iteration and buffer slot", ErrConfig)
	}
	return nil
}

// ChurnRows returns the churn rows: every policy through the typed and the
// batch API, then go-libp2p's bus.
func ChurnRows() []ChurnConfig {
	var out []ChurnConfig
	for _, impl := range []Impl{ImplTyped, ImplBatch} {
		for _, p := range []eventbus.Policy{eventbus.Block, eventbus.Drop, eventbus.Kill, eventbus.Notify} {
			out = append(out, ChurnConfig{Impl: impl, Policy: p}.withDefaults())
		}
	}
	return append(out, ChurnConfig{Impl: ImplLibp2p}.withDefaults())
}

// ChurnResult is one churn run.
type ChurnResult struct {
	// Config is the configuration run, defaults filled in.
	Config ChurnConfig
	// Iterations completed.
	Iterations int
	// Elapsed is the churning goroutine's time for all of them.
	Elapsed time.Duration
	// Emitted is how many events the emitters emitted meanwhile.
	Emitted uint64
}

// churnSub is one subscription of the churn loop: read one event, close.
type churnSub struct {
	readOne func() error
	close   func() error
}

// RunChurn runs one churn row. The emitters start before the first
// subscription and stop after the last Close; a run that does not finish
// within RunTimeout fails with ErrTimeout (the result counts what was done).
func RunChurn(c ChurnConfig) (ChurnResult, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return ChurnResult{}, err
	}
	var subscribe func() (churnSub, error)
	var emitters []func(Event) error
	var closeAll func() error
	switch c.Impl {
	case ImplLibp2p:
		bus := newLibp2pBus(false)
		for range c.Emitters {
			em, err := bus.Emitter(new(Event))
			if err != nil {
				return ChurnResult{}, err
			}
			emitters = append(emitters, func(ev Event) error { return em.Emit(ev) })
		}
		subscribe = func() (churnSub, error) {
			s, err := bus.Subscribe(new(Event), lpbus.BufSize(c.Buf))
			if err != nil {
				return churnSub{}, err
			}
			return churnSub{readOne: func() error { return recvOne(s.Out()) }, close: s.Close}, nil
		}
		closeAll = func() error { return nil }
	default:
		b, _ := newMeshbus(false)
		for range c.Emitters {
			em, err := eventbus.NewEmitter[Event](b)
			if err != nil {
				return ChurnResult{}, errors.Join(err, b.Close())
			}
			emitters = append(emitters, em.Emit)
		}
		opts := []eventbus.SubscriptionOpt{eventbus.BufSize(c.Buf), eventbus.WithPolicy(c.Policy), eventbus.Name("churn")}
		if c.Impl == ImplBatch {
			buf := make([]Event, 1)
			subscribe = func() (churnSub, error) {
				s, err := eventbus.SubscribeBatch[Event](b, opts...)
				if err != nil {
					return churnSub{}, err
				}
				return churnSub{readOne: func() error {
					ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
					defer cancel()
					_, err := s.Next(ctx, buf)
					return err
				}, close: s.Close}, nil
			}
		} else {
			subscribe = func() (churnSub, error) {
				s, err := eventbus.Subscribe[Event](b, opts...)
				if err != nil {
					return churnSub{}, err
				}
				return churnSub{readOne: func() error { return recvOne(s.Out()) }, close: s.Close}, nil
			}
		}
		closeAll = b.Close
	}

	var stop atomic.Bool
	var emitted atomic.Uint64
	var wg sync.WaitGroup
	ev := sampleEvent()
	for _, emit := range emitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n uint64
			for !stop.Load() {
				if err := emit(ev); err != nil {
					break
				}
				n++
			}
			emitted.Add(n)
		}()
	}
	res := ChurnResult{Config: c}
	deadline := time.Now().Add(RunTimeout)
	start := time.Now()
	var runErr error
	for i := range c.Iterations {
		if i%64 == 63 && time.Now().After(deadline) {
			runErr = fmt.Errorf("%w: %d of %d iterations", ErrTimeout, i, c.Iterations)
			break
		}
		s, err := subscribe()
		if err != nil {
			runErr = err
			break
		}
		if i%2 == 0 {
			if err := s.readOne(); err != nil {
				runErr = errors.Join(fmt.Errorf("iteration %d: read: %w", i, err), s.close())
				break
			}
		}
		if err := s.close(); err != nil {
			runErr = err
			break
		}
		res.Iterations++
	}
	res.Elapsed = time.Since(start)
	stop.Store(true)
	wg.Wait()
	res.Emitted = emitted.Load()
	runtime.GC()
	if err := errors.Join(runErr, closeAll()); err != nil {
		return res, fmt.Errorf("churn %s: %w", c.Name(), err)
	}
	return res, nil
}

// recvOne receives one event, or fails if the channel closed empty or
// nothing came within RunTimeout.
func recvOne[E any](ch <-chan E) error {
	t := time.NewTimer(RunTimeout)
	defer t.Stop()
	select {
	case _, ok := <-ch:
		if !ok {
			return fmt.Errorf("%w: subscription closed before its first event", ErrAccounting)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%w: no event", ErrTimeout)
	}
}
