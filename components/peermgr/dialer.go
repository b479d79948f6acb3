package peermgr

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/clockctx"
)

// dialer runs dials on a fixed pool of worker goroutines. The automaton
// never has more dials in flight than workers, and results has room for one
// answer per worker, so neither handing out a job nor answering blocks.
type dialer struct {
	h       host.Host
	clk     clock.Clock
	timeout clock.Duration
	n       int
	jobs    chan automaton.Dial
	results chan automaton.DialResult
	wg      sync.WaitGroup
}

func newDialer(h host.Host, clk clock.Clock, timeout time.Duration, workers int) *dialer {
	return &dialer{
		h:       h,
		clk:     clk,
		timeout: timeout,
		n:       workers,
		jobs:    make(chan automaton.Dial, workers),
		results: make(chan automaton.DialResult, workers),
	}
}

// start launches the workers, which stop when ctx ends.
func (d *dialer) start(ctx context.Context) {
	d.wg.Add(d.n)
	for range d.n {
		go d.work(ctx)
	}
}

func (d *dialer) work(ctx context.Context) {
	defer d.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-d.jobs:
			d.results <- d.dial(ctx, job)
		}
	}
}

// dial connects to one peer within the dial timeout of the injected clock.
func (d *dialer) dial(parent context.Context, job automaton.Dial) automaton.DialResult {
	res := automaton.DialResult{Dial: job}
	if len(job.Addrs) == 0 {
		res.Reason, res.Err = events.DialFailNoAddresses, swarm.ErrNoAddresses
		return res
	}
	ctx, cancel := clockctx.WithTimeout(d.clk, parent, d.timeout)
	defer cancel()
	err := d.h.Connect(ctx, peer.AddrInfo{ID: job.Peer, Addrs: job.Addrs})
	if err == nil {
		return res
	}
	res.Err = err
	res.Reason = classifyDialError(parent, ctx, err)
	return res
}

// classifyDialError names why a dial failed: the node shutting down, the
// dial timeout, no usable address, or a transport error.
func classifyDialError(parent, ctx context.Context, err error) events.DialFailReason {
	switch {
	case parent.Err() != nil:
		return events.DialFailCanceled
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return events.DialFailTimeout
	case errors.Is(err, swarm.ErrNoAddresses), errors.Is(err, swarm.ErrNoGoodAddresses):
		return events.DialFailNoAddresses
	}
	return events.DialFailError
}

// wait blocks until every worker has returned.
func (d *dialer) wait() { d.wg.Wait() }
