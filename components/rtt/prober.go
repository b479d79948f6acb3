// Package rtt is the RTT prober: its one job is to measure the round-trip
// time to every connected peer with the libp2p ping protocol
// (/ipfs/ping/1.0.0, which go-libp2p hosts answer by default) and announce
// each measurement as events.EvtPeerRTTMeasured, for the router's
// latency-aware mesh selection (router.WithLatencyAwareMesh) or any add-on.
//
// Shape (the one every component has; docs/architecture.md): the pure core
// is components/rtt/automaton (which peers to probe and when, how many at
// once, when to give a silent peer up); Prober is the driver, one goroutine
// that owns the core, its Output and the emitter. It learns connects and
// disconnects from events.EvtPeerConnectednessChanged on the bus (a Block
// subscription: none is lost). Each probe runs on a goroutine of its own
// (a stream and a few pings, bounded by WithTimeout) that only reports its
// result back to the driver. A peer that never answers gets no event.
package rtt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/meshbus/meshbus/components/rtt/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// PingProtocol is the libp2p ping protocol the prober speaks: the prober
// writes 32 random bytes and the peer echoes them.
const PingProtocol protocol.ID = ping.ID

// errPingEnded reports a ping client that stopped before giving every
// sample (it only does when its context ends, so this is a fallback).
var errPingEnded = errors.New("rtt: ping ended early")

// Prober measures the round-trip time to connected peers. Create it with
// New; it runs between Start and Close.
type Prober struct {
	cfg  config
	h    host.Host
	bus  *eventbus.Bus
	core *automaton.Automaton // owned by the driver goroutine
	out  *automaton.Output    // likewise
	em   *outbox.Emitters
	met  *metrics

	results chan probeResult

	mu      sync.Mutex // guards sub, started, closed
	sub     *eventbus.Subscription[events.EvtPeerConnectednessChanged]
	started bool
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	probes  sync.WaitGroup
}

type probeResult struct {
	peer peer.ID
	rtt  time.Duration
	err  error
}

// New builds the prober for h on bus; nothing runs until Start. A nil h or
// bus is ErrNilDependency; an invalid option is ErrBadOption.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*Prober, error) {
	if h == nil || bus == nil {
		return nil, fmt.Errorf("%w: host and bus are required", ErrNilDependency)
	}
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.clk == nil {
		cfg.clk = clock.New()
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	cfg.log = cfg.log.With("component", "rtt")
	core, err := automaton.New(cfg.core)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	out := automaton.NewOutput()
	em, err := outbox.NewEmitters(bus, out)
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(cfg.reg)
	if err != nil {
		return nil, errors.Join(err, em.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Prober{cfg: cfg, h: h, bus: bus, core: core, out: out, em: em, met: met,
		results: make(chan probeResult, cfg.core.MaxInFlight),
		ctx:     ctx, cancel: cancel, done: make(chan struct{})}, nil
}

// Start subscribes to connectedness changes and starts the driver; the
// peers already connected are probed first. A second Start is ErrStarted,
// Start after Close is ErrClosed.
func (p *Prober) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.started {
		return ErrStarted
	}
	sub, err := eventbus.Subscribe[events.EvtPeerConnectednessChanged](p.bus, eventbus.Name("rtt/peers"),
		eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(p.cfg.buffer))
	if err != nil {
		return fmt.Errorf("rtt: %w", err)
	}
	p.sub = sub
	p.started = true
	// Peers connected before the subscription; a duplicate connect is
	// harmless (OutcomeAlreadyTracked).
	initial := p.h.Network().Peers()
	go p.loop(sub.Out(), initial)
	return nil
}

// loop is the driver: connectedness changes, probe results and ticks go to
// the core; the probes it lists are started, and its events emitted.
func (p *Prober) loop(conn <-chan events.EvtPeerConnectednessChanged, initial []peer.ID) {
	defer close(p.done)
	ticker := p.cfg.clk.Ticker(p.cfg.tick)
	defer ticker.Stop()
	for _, id := range initial {
		if p.h.Network().Connectedness(id) == network.Connected {
			p.met.outcome(p.core.HandleConnected(p.cfg.clk.Now(), id, p.out))
		}
	}
	p.carryOut()
	for {
		select {
		case <-p.ctx.Done():
			return
		case ev, ok := <-conn:
			if !ok {
				conn = nil
				continue
			}
			now := p.cfg.clk.Now()
			if ev.Connectedness == network.Connected {
				p.met.outcome(p.core.HandleConnected(now, ev.Peer, p.out))
			} else {
				p.met.outcome(p.core.HandleDisconnected(now, ev.Peer, p.out))
			}
		case r := <-p.results:
			o := p.core.HandleProbeResult(p.cfg.clk.Now(), r.peer, r.rtt, r.err == nil, p.out)
			p.met.outcome(o)
			switch o {
			case automaton.OutcomeMeasured:
				p.met.observeRTT(r.rtt.Seconds())
			case automaton.OutcomeProbeFailed, automaton.OutcomeGaveUp:
				p.cfg.log.Debug("probe failed", "peer", r.peer, "outcome", o.String(), "err", r.err)
			}
		case <-ticker.C:
			p.met.outcome(p.core.HandleTick(p.cfg.clk.Now(), p.out))
		}
		p.carryOut()
	}
}

// carryOut starts the probes the core listed and emits its events.
func (p *Prober) carryOut() {
	for _, id := range p.out.Probes {
		p.probes.Add(1)
		go p.probe(id)
	}
	p.em.Emit(&p.out.Outbox, p.emitFailed)
	p.out.Reset()
}

func (p *Prober) emitFailed(err error) { p.cfg.log.Debug("emit", "err", err) }

// probe pings id and reports the result to the driver (unless the prober
// is closing).
func (p *Prober) probe(id peer.ID) {
	defer p.probes.Done()
	rtt, err := p.ping(id)
	select {
	case p.results <- probeResult{peer: id, rtt: rtt, err: err}:
	case <-p.ctx.Done():
	}
}

// ping pings id with go-libp2p's ping client (which also records the
// result in the peerstore) and returns the smallest of cfg.samples round
// trips. Round trips are wall-clock time: they measure the network, not
// the prober's schedule, so the injected clock plays no part. It never
// dials: a peer that disconnected just before its probe fails it, rather
// than being connected again by the prober.
func (p *Prober) ping(id peer.ID) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(network.WithNoDial(p.ctx, "rtt probe"), p.cfg.timeout)
	results := ping.Ping(ctx, p.h, id)
	defer func() {
		cancel()
		for range results { // closed once the client's goroutine is done
		}
	}()
	best := time.Duration(-1)
	for range p.cfg.samples {
		r, ok := <-results
		if !ok {
			return 0, cmp.Or(ctx.Err(), errPingEnded)
		}
		if r.Error != nil {
			return 0, r.Error
		}
		if best < 0 || r.RTT < best {
			best = r.RTT
		}
	}
	return best, nil
}

// Close stops the driver and every probe, and closes the subscription and
// the emitters; it is idempotent and works without Start.
func (p *Prober) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.cancel()
	if p.started {
		<-p.done
		p.probes.Wait()
		_ = p.sub.Close()
	}
	p.met.unregister(p.cfg.reg)
	return p.em.Close()
}
