package busbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/busmetrics"
)

// newMeshbus returns a meshbus bus whose logs are formatted and discarded
// (the Notify policy's default notifier logs; its cost is part of the
// policy), with metrics on a private registry when asked.
func newMeshbus(metrics bool) (*eventbus.Bus, *prometheus.Registry) {
	opts := []eventbus.Option{eventbus.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	var reg *prometheus.Registry
	if metrics {
		reg = prometheus.NewRegistry()
	}
	b := eventbus.New(opts...)
	if reg != nil {
		// A fresh registry: registration cannot collide.
		_, _ = busmetrics.Register(reg, b)
	}
	return b, reg
}

// meshSub is what the rigs need of either kind of meshbus subscription.
type meshSub interface {
	Close() error
	Dropped() uint64
	Err() error
}

// subscribeMeshbus subscribes through the typed API or the event.Bus API and
// returns the subscription and its channel as a drainable value.
func subscribeMeshbus(b *eventbus.Bus, impl Impl, opts ...event.SubscriptionOpt) (meshSub, outChan, error) {
	if impl.isBatch() {
		s, err := eventbus.SubscribeBatch[Event](b, opts...)
		if err != nil {
			return nil, outChan{}, err
		}
		return s, outChan{batch: s}, nil
	}
	if impl == ImplTyped {
		s, err := eventbus.Subscribe[Event](b, opts...)
		if err != nil {
			return nil, outChan{}, err
		}
		return s, outChan{typed: s.Out()}, nil
	}
	s, err := b.Subscribe(new(Event), opts...)
	if err != nil {
		return nil, outChan{}, err
	}
	return s, outChan{boxed: s.Out()}, nil
}

// outChan is a subscription's channel of either API, or a batch
// subscription; exactly one is set.
type outChan struct {
	typed <-chan Event
	boxed <-chan any
	batch *eventbus.BatchSubscription[Event]
}

// len is the number of queued events.
func (o outChan) len() int {
	if o.batch != nil {
		return o.batch.Queued()
	}
	if o.typed != nil {
		return len(o.typed)
	}
	return len(o.boxed)
}

// typedEmitterFunc returns the Emit of a typed emitter (the typed and batch
// APIs).
func typedEmitterFunc(b *eventbus.Bus) (emit func(Event) error, closeFn func() error, err error) {
	em, err := eventbus.NewEmitter[Event](b)
	if err != nil {
		return nil, nil, err
	}
	return em.Emit, em.Close, nil
}

// setupMeshbus builds a meshbus bus with Subs Block subscriptions (lossless,
// like the other contenders) through the API the row names.
func setupMeshbus(r *Rig) error {
	b, reg := newMeshbus(r.cfg.Metrics)
	subs := make([]meshSub, 0, r.cfg.Subs)
	closeAll := func() error {
		var errs []error
		for _, s := range subs {
			errs = append(errs, s.Close())
		}
		return errors.Join(append(errs, b.Close())...)
	}
	for i := range r.cfg.Subs {
		s, out, err := subscribeMeshbus(b, r.cfg.Impl,
			eventbus.BufSize(r.cfg.Buf), eventbus.WithPolicy(eventbus.Block), eventbus.Name(fmt.Sprintf("bench-%d", i)))
		if err != nil {
			return errors.Join(err, closeAll())
		}
		subs = append(subs, s)
		switch {
		case out.batch != nil:
			drainBatch(r, i, out.batch, max(r.cfg.Buf, 1))
		case out.typed != nil:
			drain(r, i, out.typed)
		default:
			drain(r, i, out.boxed)
		}
	}
	ev := sampleEvent()
	var closeEm func() error
	if r.cfg.Impl == ImplBatchMany {
		em, err := eventbus.NewEmitter[Event](b)
		if err != nil {
			return errors.Join(err, closeAll())
		}
		evs := make([]Event, emitManyChunk)
		for i := range evs {
			evs[i] = ev
		}
		r.emit = func(n int) error {
			for n > 0 {
				k := min(n, len(evs))
				if _, err := em.EmitMany(evs[:k]); err != nil {
					return err
				}
				n -= k
			}
			return nil
		}
		closeEm = em.Close
	} else if r.cfg.Impl == ImplTyped || r.cfg.Impl == ImplBatch || r.cfg.Impl == ImplBatchSingle {
		var opts []eventbus.EmitterOpt
		if r.cfg.Impl == ImplBatchSingle {
			// r.emit runs on one goroutine at a time, and this is the
			// bus's only emitter.
			opts = append(opts, eventbus.SingleProducer())
		}
		em, err := eventbus.NewEmitter[Event](b, opts...)
		if err != nil {
			return errors.Join(err, closeAll())
		}
		r.emit = func(n int) error {
			for range n {
				if err := em.Emit(ev); err != nil {
					return err
				}
			}
			return nil
		}
		closeEm = em.Close
	} else {
		em, err := b.Emitter(new(Event))
		if err != nil {
			return errors.Join(err, closeAll())
		}
		r.emit = func(n int) error {
			for range n {
				if err := em.Emit(ev); err != nil {
					return err
				}
			}
			return nil
		}
		closeEm = em.Close
	}
	r.dropped = func() uint64 {
		var d uint64
		for _, s := range subs {
			d += s.Dropped()
		}
		return d
	}
	r.closeFn = func() error {
		var err error
		if reg != nil {
			// With metrics on, the collector must report what was emitted.
			err = checkEmittedMetric(reg, r.n)
		}
		return errors.Join(err, closeEm(), closeAll())
	}
	return nil
}

// checkEmittedMetric gathers reg and checks that meshbus counted n emitted
// events.
func checkEmittedMetric(reg *prometheus.Registry, n int) error {
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "meshbus_eventbus_events_emitted_total" {
			continue
		}
		var total float64
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
		if total != float64(n) {
			return fmt.Errorf("%w: metrics count %v emitted events, want %d", ErrAccounting, total, n)
		}
		return nil
	}
	return fmt.Errorf("%w: no meshbus_eventbus_events_emitted_total metric", ErrAccounting)
}

// drainBatch is drain for a batch subscription: subscriber i's goroutine
// takes batches of up to batch events with Next until the subscription
// ends. A manual rig empties the queue on the caller's goroutine instead.
func drainBatch(r *Rig, i int, s *eventbus.BatchSubscription[Event], batch int) {
	buf := make([]Event, batch)
	ctx := context.Background()
	if r.manual {
		r.drainNow = append(r.drainNow, func() uint64 {
			var got uint64
			for s.Queued() > 0 {
				b, err := s.Next(ctx, buf)
				if err != nil {
					break
				}
				got += uint64(len(b))
			}
			r.received[i] += got
			return got
		})
		return
	}
	r.exited.Add(1)
	n := uint64(r.n)
	go func() {
		defer r.exited.Done()
		var got uint64
		for {
			b, err := s.Next(ctx, buf)
			if err != nil {
				break
			}
			before := got
			got += uint64(len(b))
			if before < n && got >= n && r.remaining.Add(-1) == 0 {
				close(r.done)
			}
		}
		r.received[i] = got
	}()
}
