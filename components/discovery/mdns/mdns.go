// Package mdns is the mDNS discovery add-on: its one job is to find meshbus
// peers on the local network with go-libp2p's p2p/discovery/mdns and
// announce each as an events.EvtPeerFound (Via "mdns") for the peer
// manager, which decides whether and when to dial.
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
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Sentinel errors.
var (
	// ErrBadOption wraps an invalid option value.
	ErrBadOption = errors.New("mdns: bad option")
	// ErrClosed reports Start after Close.
	ErrClosed = errors.New("mdns: closed")
)

// DefaultServiceName is the mDNS service meshbus nodes announce and browse.
const DefaultServiceName = "_meshbus-discovery._udp"

// Option configures New.
type Option func(*config)

type config struct {
	service string
	buffer  int
	clk     clock.Clock
	log     *slog.Logger
}

// WithServiceName sets the mDNS service name (default DefaultServiceName);
// only nodes with the same name find each other.
func WithServiceName(name string) Option { return func(c *config) { c.service = name } }

// WithBuffer sets how many found peers may wait for the driver (default
// 64); more are dropped and counted (Dropped).
func WithBuffer(n int) Option { return func(c *config) { c.buffer = n } }

// WithClock sets the clock of the events' At (nil: the real clock).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

func (c *config) validate() error {
	switch {
	case c.service == "":
		return fmt.Errorf("%w: WithServiceName(\"\")", ErrBadOption)
	case c.buffer < 1:
		return fmt.Errorf("%w: WithBuffer(%d), want >= 1", ErrBadOption, c.buffer)
	}
	return nil
}

// MDNS announces the node on the local network and reports the peers it
// finds. One driver goroutine owns the emitter; go-libp2p's mDNS service
// hands found peers to it through a bounded channel.
type MDNS struct {
	cfg   config
	h     host.Host
	em    *eventbus.Emitter[events.EvtPeerFound]
	found chan peer.AddrInfo

	mu      sync.Mutex
	svc     libp2pmdns.Service
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}

	dropped atomic.Uint64
}

// New builds the add-on for h on bus; nothing runs until Start.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*MDNS, error) {
	if h == nil || bus == nil {
		return nil, fmt.Errorf("%w: host and bus are required", ErrBadOption)
	}
	cfg := config{service: DefaultServiceName, buffer: 64}
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
	em, err := eventbus.NewEmitter[events.EvtPeerFound](bus)
	if err != nil {
		return nil, err
	}
	return &MDNS{cfg: cfg, h: h, em: em, found: make(chan peer.AddrInfo, cfg.buffer),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// HandlePeerFound is called by go-libp2p's mDNS service; it never blocks
// (a full buffer drops the peer and counts it).
func (m *MDNS) HandlePeerFound(ai peer.AddrInfo) {
	select {
	case m.found <- ai:
	default:
		m.dropped.Add(1)
	}
}

// Dropped returns how many found peers were dropped for a full buffer.
func (m *MDNS) Dropped() uint64 { return m.dropped.Load() }

// Start begins announcing and browsing. ErrClosed after Close.
func (m *MDNS) Start(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.started {
		return nil
	}
	m.svc = libp2pmdns.NewMdnsService(m.h, m.cfg.service, m)
	if err := m.svc.Start(); err != nil {
		return fmt.Errorf("mdns: start: %w", err)
	}
	m.started = true
	go m.loop()
	return nil
}

// loop is the driver: it emits every found peer other than the node itself.
func (m *MDNS) loop() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		case ai := <-m.found:
			if ai.ID == m.h.ID() || len(ai.Addrs) == 0 {
				continue
			}
			if err := m.em.Emit(events.EvtPeerFound{Info: ai, Via: "mdns", At: m.cfg.clk.Now()}); err != nil {
				m.cfg.log.Debug("mdns: emit", "err", err)
			}
		}
	}
}

// Close stops the service and the driver; it is idempotent.
func (m *MDNS) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var err error
	if m.started {
		err = m.svc.Close()
		close(m.stop)
		<-m.done
	}
	return errors.Join(err, m.em.Close())
}

// Module provides and starts an *MDNS from the host.Host, *eventbus.Bus
// and, when present, clock.Clock and *slog.Logger in the graph, with the
// Options given by Options.
var Module = fx.Module("mdns", fx.Provide(newForFx), fx.Invoke(func(*MDNS) {}))

// Options hands Options to Module (one call per application).
func Options(opts ...Option) fx.Option { return fx.Supply(moduleOptions(opts)) }

type moduleOptions []Option

type fxParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Host      host.Host
	Bus       *eventbus.Bus
	Clock     clock.Clock   `optional:"true"`
	Logger    *slog.Logger  `optional:"true"`
	Options   moduleOptions `optional:"true"`
}

func newForFx(p fxParams) (*MDNS, error) {
	m, err := New(p.Host, p.Bus, append([]Option{WithClock(p.Clock), WithLogger(p.Logger)}, p.Options...)...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: m.Start, OnStop: func(context.Context) error { return m.Close() }})
	return m, nil
}
