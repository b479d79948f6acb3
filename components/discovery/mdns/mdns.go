// Package mdns is the mDNS discovery add-on: its one job is to find meshbus
// peers on the local network with go-libp2p's p2p/discovery/mdns and
// announce them as events.EvtPeerFound (Via "mdns") for the peer manager,
// which decides whether and when to dial.
//
// Shape (the one every component has; docs/architecture.md): the pure core
// is components/discovery/automaton (which found peers are announced: not
// the node itself, not a peer without addresses, and a peer found again
// with the same addresses only once per WithReannounce); MDNS is the
// driver, one goroutine that owns the core, its Output and the emitter.
// go-libp2p's mDNS service hands found peers to the driver through a
// bounded channel and never waits for it (a full channel drops the find and
// counts it). options.go, errors.go and module.go hold the options, the
// sentinel errors and the fx Module.
package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pmdns "github.com/libp2p/go-libp2p/p2p/discovery/mdns"

	"github.com/meshbus/meshbus/components/discovery/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/outbox"
)

// MDNS announces the node on the local network and reports the peers it
// finds. Its driver goroutine is the only one that touches the core; the
// counters (Dropped, Announced) are safe for concurrent use.
type MDNS struct {
	cfg   config
	h     host.Host
	core  *automaton.Automaton // owned by the driver goroutine
	out   *automaton.Output    // likewise
	em    *outbox.Emitters
	met   *metrics
	found chan peer.AddrInfo

	mu      sync.Mutex // guards svc, started, closed
	svc     libp2pmdns.Service
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	dropped   atomic.Uint64
	announced atomic.Uint64
}

// New builds the add-on for h on bus; nothing runs until Start. A nil h or
// bus is ErrNilDependency; an invalid option is ErrBadOption.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*MDNS, error) {
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
	cfg.log = cfg.log.With("component", "mdns")
	acfg := automaton.DefaultConfig(h.ID(), "mdns")
	acfg.Reannounce, acfg.MaxPeers = cfg.reannounce, cfg.maxPeers
	core, err := automaton.New(acfg)
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
	return &MDNS{cfg: cfg, h: h, core: core, out: out, em: em, met: met, found: make(chan peer.AddrInfo, cfg.buffer),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// HandlePeerFound is called by go-libp2p's mDNS service; it never blocks
// (a full buffer drops the peer and counts it).
func (m *MDNS) HandlePeerFound(ai peer.AddrInfo) {
	select {
	case m.found <- ai:
	default:
		m.dropped.Add(1)
		m.met.dropped()
	}
}

// Dropped returns how many found peers were dropped for a full buffer.
func (m *MDNS) Dropped() uint64 { return m.dropped.Load() }

// Announced returns how many EvtPeerFound the add-on has emitted.
func (m *MDNS) Announced() uint64 { return m.announced.Load() }

// Start begins announcing and browsing. A second Start is ErrStarted,
// Start after Close is ErrClosed.
func (m *MDNS) Start(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.started {
		return ErrStarted
	}
	m.svc = libp2pmdns.NewMdnsService(m.h, m.cfg.service, m)
	if err := m.svc.Start(); err != nil {
		return fmt.Errorf("mdns: start: %w", err)
	}
	m.started = true
	go m.loop()
	return nil
}

// loop is the driver: each found peer goes to the core, and what the core
// decides is emitted.
func (m *MDNS) loop() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		case ai := <-m.found:
			o := m.core.HandleFound(m.cfg.clk.Now(), automaton.Found{Info: ai}, m.out)
			m.met.countFound(o)
			if o == automaton.OutcomeAnnounced {
				m.announced.Add(1)
			} else {
				m.cfg.log.Debug("found peer not announced", "peer", ai.ID, "outcome", o)
			}
			m.em.Emit(&m.out.Outbox, m.emitFailed)
		}
	}
}

func (m *MDNS) emitFailed(err error) { m.cfg.log.Debug("emit", "err", err) }

// Close stops the service and the driver and closes the emitter; it is
// idempotent and works without Start.
func (m *MDNS) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var err error
	if m.svc != nil {
		err = m.svc.Close()
	}
	if m.started {
		close(m.stop)
		<-m.done
	}
	m.met.unregister(m.cfg.reg)
	return errors.Join(err, m.em.Close())
}
