package busbench

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/event"
	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/prometheus/client_golang/prometheus"
)

// newLibp2pBus returns go-libp2p's basic bus; with metrics, built exactly as
// libp2p.New builds it (config/config.go), on a private registry.
func newLibp2pBus(metrics bool) event.Bus {
	if !metrics {
		return lpbus.NewBus()
	}
	reg := prometheus.NewRegistry()
	return lpbus.NewBus(lpbus.WithMetricsTracer(lpbus.NewMetricsTracer(lpbus.WithRegisterer(reg))))
}

// setupLibp2p builds go-libp2p's bus with Subs subscriptions. Each has its
// own name, as subscriptions made at different call sites would, so that the
// metrics tracer keeps one series per subscriber.
func setupLibp2p(r *Rig) error {
	bus := newLibp2pBus(r.cfg.Metrics)
	subs := make([]event.Subscription, 0, r.cfg.Subs)
	closeSubs := func() error {
		var errs []error
		for _, s := range subs {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	for i := range r.cfg.Subs {
		s, err := bus.Subscribe(new(Event), lpbus.BufSize(r.cfg.Buf), lpbus.Name(fmt.Sprintf("bench-%d", i)))
		if err != nil {
			return errors.Join(err, closeSubs())
		}
		subs = append(subs, s)
		drain(r, i, s.Out())
	}
	em, err := bus.Emitter(new(Event))
	if err != nil {
		return errors.Join(err, closeSubs())
	}
	ev := sampleEvent()
	r.emit = func(n int) error {
		for range n {
			if err := em.Emit(ev); err != nil {
				return err
			}
		}
		return nil
	}
	r.closeFn = func() error { return errors.Join(em.Close(), closeSubs()) }
	return nil
}
