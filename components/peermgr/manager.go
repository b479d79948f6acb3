package peermgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/components/peermgr/persist"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Lifecycle errors.
var (
	// ErrClosed reports use of a closed Manager.
	ErrClosed = errors.New("peermgr: closed")
	// ErrStarted reports a second Start.
	ErrStarted = errors.New("peermgr: already started")
	// ErrCorruptStore reports a corrupt database file (see WithResetOnCorrupt).
	ErrCorruptStore = persist.ErrCorruptStore
	// ErrStoreLocked reports a database file locked past the open timeout.
	ErrStoreLocked = persist.ErrStoreLocked
)

// PeerInfo is a snapshot of one peer in the store; the caller owns it.
type PeerInfo = peerstore.Peer

// Manager is the peer manager: it keeps the peer store from bus events,
// dials to keep the connection targets, enforces the colocation limit and
// graylisting, and persists the store. Its public methods are safe for
// concurrent use and never block on the network or the bus; decisions they
// cause are carried out by the driver goroutine once Start has run.
type Manager struct {
	cfg Config
	h   host.Host
	bus *eventbus.Bus
	clk clock.Clock
	log *slog.Logger
	db  *persist.DB
	dlr *dialer

	mu     sync.Mutex
	core   *core // guarded by mu
	closed bool  // guarded by mu

	kick chan struct{}

	em struct {
		discovered *eventbus.Emitter[events.EvtPeerDiscovered]
		attempted  *eventbus.Emitter[events.EvtDialAttempted]
		succeeded  *eventbus.Emitter[events.EvtDialSucceeded]
		failed     *eventbus.Emitter[events.EvtDialFailed]
		backedOff  *eventbus.Emitter[events.EvtPeerBackedOff]
		evicted    *eventbus.Emitter[events.EvtPeerEvicted]
		rejected   *eventbus.Emitter[events.EvtPeerRecordRejected]
	}

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
	subs      []io.Closer
	closeErr  error
}

// New builds a Manager for host h on bus, with time from clk. With
// WithDatabase it opens (or creates) the store file and loads every peer as
// not connected; a corrupt file fails with ErrCorruptStore unless
// WithResetOnCorrupt, a locked one with ErrStoreLocked after the open
// timeout. Nothing runs until Start.
func New(h host.Host, bus *eventbus.Bus, clk clock.Clock, opts ...Option) (*Manager, error) {
	if h == nil || bus == nil || clk == nil {
		return nil, fmt.Errorf("%w: host, bus and clock are required", ErrInvalidConfig)
	}
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	met, err := newMetrics(cfg.Registerer, cfg.Gater)
	if err != nil {
		return nil, fmt.Errorf("peermgr: metrics: %w", err)
	}
	m := &Manager{
		cfg:  cfg,
		h:    h,
		bus:  bus,
		clk:  clk,
		log:  log.With("component", "peermgr"),
		core: newCore(cfg, h.ID(), met),
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	if cfg.DBPath != "" {
		db, err := persist.Open(cfg.DBPath, persist.Options{Timeout: cfg.DBOpenTimeout, ResetOnCorrupt: cfg.ResetOnCorrupt})
		if err != nil {
			return nil, fmt.Errorf("peermgr: %w", err)
		}
		if db.Reset() {
			m.log.Warn("peer store was corrupt; moved aside and started empty", "path", cfg.DBPath)
		}
		m.db = db
		m.core.store.Load(db.Loaded())
	}
	if err := m.newEmitters(); err != nil {
		m.closeEmitters()
		if m.db != nil {
			_ = m.db.Close()
		}
		return nil, err
	}
	return m, nil
}

func (m *Manager) newEmitters() (err error) {
	e := &m.em
	if e.discovered, err = eventbus.NewEmitter[events.EvtPeerDiscovered](m.bus); err != nil {
		return err
	}
	if e.attempted, err = eventbus.NewEmitter[events.EvtDialAttempted](m.bus); err != nil {
		return err
	}
	if e.succeeded, err = eventbus.NewEmitter[events.EvtDialSucceeded](m.bus); err != nil {
		return err
	}
	if e.failed, err = eventbus.NewEmitter[events.EvtDialFailed](m.bus); err != nil {
		return err
	}
	if e.backedOff, err = eventbus.NewEmitter[events.EvtPeerBackedOff](m.bus); err != nil {
		return err
	}
	if e.evicted, err = eventbus.NewEmitter[events.EvtPeerEvicted](m.bus); err != nil {
		return err
	}
	e.rejected, err = eventbus.NewEmitter[events.EvtPeerRecordRejected](m.bus)
	return err
}

func (m *Manager) closeEmitters() {
	e := &m.em
	closeIf(e.discovered)
	closeIf(e.attempted)
	closeIf(e.succeeded)
	closeIf(e.failed)
	closeIf(e.backedOff)
	closeIf(e.evicted)
	closeIf(e.rejected)
}

// closeIf closes an emitter that was created.
func closeIf[T any](e *eventbus.Emitter[T]) {
	if e != nil {
		_ = e.Close()
	}
}

// Config returns the validated configuration in force.
func (m *Manager) Config() Config { return m.cfg }

// Targets returns the connection targets in force.
func (m *Manager) Targets() Targets { return m.cfg.Targets() }

// Start subscribes to the bus, takes a snapshot of the host's current
// connections, and starts the driver goroutine and the dial workers. The
// timers are created before Start returns, so a test may advance a mock
// clock right after it. It fails with ErrStarted when called twice and
// ErrClosed after Close.
func (m *Manager) Start(context.Context) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	err := ErrStarted
	m.startOnce.Do(func() { err = m.start() })
	return err
}

func (m *Manager) start() error {
	// Connection facts carry state that nothing else restores, so they use
	// a blocking subscription and none is lost (the host's tracker queues
	// for us; libp2p itself is never blocked). Peer-exchange records and
	// threshold crossings come from the router and scoring, which must not
	// stall behind us: they are dropped when we fall behind, which loses
	// nothing that matters, since exchange records are hints and every
	// score snapshot restates who is graylisted.
	sub, err := m.bus.Subscribe([]any{
		new(events.EvtConnOpened), new(events.EvtConnClosed),
		new(events.EvtPeerConnectednessChanged), new(events.EvtPeerIdentificationCompleted),
		new(events.EvtPeerProtocolsUpdated),
	}, eventbus.Name("peermgr"), eventbus.BufSize(m.cfg.EventBuffer), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		return fmt.Errorf("peermgr: subscribe: %w", err)
	}
	hints, err := m.bus.Subscribe([]any{
		new(events.EvtPeerExchangeReceived), new(events.EvtPeerScoreThresholdCrossed),
	}, eventbus.Name("peermgr-hints"), eventbus.BufSize(m.cfg.EventBuffer), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		_ = sub.Close()
		return fmt.Errorf("peermgr: subscribe: %w", err)
	}
	scores, err := eventbus.Subscribe[events.EvtPeerScoresUpdated](m.bus,
		eventbus.Name("peermgr-scores"), eventbus.BufSize(1), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		_ = sub.Close()
		_ = hints.Close()
		return fmt.Errorf("peermgr: subscribe: %w", err)
	}
	m.subs = []io.Closer{sub, hints, scores}
	m.withCore(func(c *core) { c.syncGates() })
	m.resync()

	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.dlr = newDialer(m.h, m.clk, m.cfg)
	m.dlr.start(ctx, m.cfg.MaxParallelDials)
	t := loopTimers{
		conn:  m.clk.Timer(m.cfg.ConnectivityInterval),
		prune: m.clk.Ticker(m.cfg.PruneInterval),
		flush: m.clk.Ticker(m.cfg.FlushInterval),
	}
	// The first connectivity pass runs before Start returns, so a test (or
	// a caller) sees its decisions, not a race with the driver's first
	// select; the driver carries them out as soon as it runs.
	m.withCore(func(c *core) { c.connectivity(m.clk.Now()) })
	go m.loop(ctx, sub, hints, scores, t)
	return nil
}

// resync applies the host's current connections, so that connections opened
// before the subscription existed are known. Connection ids are
// network.Conn.ID(), the ids the host's connection tracking emits, so a
// connection also reported by an event is counted once.
func (m *Manager) resync() {
	now := m.clk.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.h.Network().Peers() {
		for _, c := range m.h.Network().ConnsToPeer(p) {
			ip, _ := manet.ToIP(c.RemoteMultiaddr())
			ev := events.EvtConnOpened{Peer: p, ConnID: c.ID(), Direction: c.Stat().Direction, RemoteAddr: c.RemoteMultiaddr()}
			if addr, ok := netipFrom(ip); ok {
				ev.RemoteIP = addr
			}
			m.core.onConnOpened(ev, now)
		}
	}
}

type loopTimers struct {
	conn  *clock.Timer
	prune *clock.Ticker
	flush *clock.Ticker
}

// loop is the driver: it alone reads the subscriptions, talks to the dial
// workers, disconnects peers and emits events.
func (m *Manager) loop(ctx context.Context, sub, hints event.Subscription, scores *eventbus.Subscription[events.EvtPeerScoresUpdated], t loopTimers) {
	defer close(m.done)
	defer t.conn.Stop()
	defer t.prune.Stop()
	defer t.flush.Stop()
	in, hin, sc := sub.Out(), hints.Out(), scores.Out()
	m.drain(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-in:
			if !ok {
				var why error
				if e, ok := sub.(interface{ Err() error }); ok {
					why = e.Err()
				}
				m.log.Error("bus subscription ended", "err", why)
				in = nil
				continue
			}
			m.handle(ev)
		case ev, ok := <-hin:
			if !ok {
				hin = nil
				continue
			}
			m.handle(ev)
		case ev, ok := <-sc:
			if !ok {
				sc = nil
				continue
			}
			m.withCore(func(c *core) { c.onScores(ev, m.clk.Now()) })
		case r := <-m.dlr.results:
			m.withCore(func(c *core) { c.onDialResult(r, m.clk.Now()) })
			if r.Reason != 0 {
				m.kickLoop()
			}
		case <-m.kick:
			m.withCore(func(c *core) { c.connectivity(m.clk.Now()) })
		case <-t.conn.C:
			var next clock.Duration
			m.withCore(func(c *core) { next = c.connectivity(m.clk.Now()) })
			t.conn.Reset(next)
		case <-t.prune.C:
			m.withCore(func(c *core) { c.prune(m.clk.Now()) })
			if g := m.cfg.Gater; g != nil {
				g.sweep(m.clk.Now())
			}
		case <-t.flush.C:
			m.flush()
		}
		m.drain(ctx)
	}
}

// handle routes one event from the blocking subscription to the core.
func (m *Manager) handle(ev any) {
	now := m.clk.Now()
	switch e := ev.(type) {
	case events.EvtConnOpened:
		m.withCore(func(c *core) { c.onConnOpened(e, now) })
	case events.EvtConnClosed:
		m.withCore(func(c *core) { c.onConnClosed(e, now) })
	case events.EvtPeerConnectednessChanged:
		m.withCore(func(c *core) { c.onConnectedness(e, now) })
		if e.Connectedness != network.Connected {
			// A freed slot is refilled without waiting for the timer.
			m.kickLoop()
		}
	case events.EvtPeerIdentificationCompleted:
		svc := false
		m.withCore(func(c *core) { svc = c.onIdentified(e, now) })
		if svc {
			// A new service peer may exceed the service budget: the
			// connectivity pass trims it without waiting for the timer.
			m.kickLoop()
		}
	case events.EvtPeerProtocolsUpdated:
		svc := false
		m.withCore(func(c *core) { svc = c.onProtocolsUpdated(e) })
		if svc {
			m.kickLoop()
		}
	case events.EvtPeerExchangeReceived:
		added := 0
		m.withCore(func(c *core) { added = c.onExchange(e, now) })
		if added > 0 {
			m.kickLoop()
		}
	case events.EvtPeerScoreThresholdCrossed:
		m.withCore(func(c *core) { c.onThreshold(e, now) })
	}
}

func (m *Manager) withCore(fn func(*core)) {
	m.mu.Lock()
	fn(m.core)
	m.mu.Unlock()
}

// kickLoop asks the driver for a connectivity pass without blocking.
func (m *Manager) kickLoop() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// drain carries out the core's decisions in order: gater changes first (so
// a peer disconnected for graylisting cannot come straight back), events
// (so an EvtDialAttempted precedes its result), then dials, then
// disconnects.
func (m *Manager) drain(ctx context.Context) {
	m.mu.Lock()
	o := m.core.takeOutbox()
	m.mu.Unlock()
	if g := m.cfg.Gater; g != nil {
		now := m.clk.Now()
		for _, op := range o.gates {
			if op.Graylisted {
				g.graylist(op.ID, op.Until)
			} else {
				g.clear(op.ID, now)
			}
		}
	}
	for _, ev := range o.events {
		m.emit(ev)
	}
	for _, j := range o.dials {
		select {
		case m.dlr.jobs <- j:
		case <-ctx.Done():
			return
		}
	}
	for _, id := range o.closes {
		if err := m.h.Network().ClosePeer(id); err != nil {
			m.log.Debug("close peer", "peer", id, "err", err)
		}
	}
}

// emit sends one decision event on its typed emitter.
func (m *Manager) emit(ev any) {
	var err error
	switch e := ev.(type) {
	case events.EvtPeerDiscovered:
		err = m.em.discovered.Emit(e)
	case events.EvtDialAttempted:
		err = m.em.attempted.Emit(e)
	case events.EvtDialSucceeded:
		err = m.em.succeeded.Emit(e)
	case events.EvtDialFailed:
		m.log.Debug("dial failed", "peer", e.Peer, "reason", e.Reason, "failures", e.Failures, "err", e.Err)
		err = m.em.failed.Emit(e)
	case events.EvtPeerBackedOff:
		err = m.em.backedOff.Emit(e)
	case events.EvtPeerEvicted:
		m.log.Debug("peer evicted", "peer", e.Peer, "reason", e.Reason, "removed", e.Removed)
		err = m.em.evicted.Emit(e)
	case events.EvtPeerRecordRejected:
		m.log.Info("peer record rejected", "from", e.From, "peer", e.Peer, "reason", e.Reason)
		err = m.em.rejected.Emit(e)
	}
	if err != nil {
		m.log.Debug("emit", "err", err)
	}
}

// flush writes changed peers to the database.
func (m *Manager) flush() {
	if m.db == nil {
		return
	}
	m.mu.Lock()
	up, rm := m.core.store.TakeDirty()
	m.mu.Unlock()
	if err := m.db.Save(up, rm); err != nil {
		m.log.Error("saving peer store", "err", err)
	}
}

// Close stops the driver and the dial workers (in-flight dials are
// canceled), writes the store a last time and closes the database. It is
// safe to call more than once and before Start.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.startOnce.Do(func() {}) // a later Start must not run
		if m.cancel != nil {
			m.cancel()
			<-m.done
			m.dlr.wait()
		}
		for _, s := range m.subs {
			_ = s.Close()
		}
		m.closeEmitters()
		if m.db != nil {
			m.flush()
			m.closeErr = m.db.Close()
		}
	})
	return m.closeErr
}

// AddPeer adds a peer (or merges its addresses) with the given source; the
// connectivity loop dials it when the node is below its outbound target.
// It fails on an invalid or local id, no address, or an unknown source.
func (m *Manager) AddPeer(ai peer.AddrInfo, src events.PeerSource) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	err := m.core.addPeer(ai, src, m.clk.Now())
	m.mu.Unlock()
	if err == nil {
		m.kickLoop()
	}
	return err
}

// Peers returns snapshots of every peer in the store, sorted by id.
func (m *Manager) Peers() []PeerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.store.All()
}

// Peer returns a snapshot of one peer and whether it is in the store.
func (m *Manager) Peer(id peer.ID) (PeerInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.store.Get(id)
}

// SelectPeer returns the peer to use for proto: the peer pinned to proto's
// service slot if any, else the connected, non-graylisted peer speaking
// proto that has been connected longest; ErrNoPeer if there is none.
func (m *Manager) SelectPeer(proto protocol.ID) (peer.ID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.core.selectPeer(proto)
}

// PinServicePeer pins id to proto's service slot (one peer per protocol; a
// new pin replaces the old one, an empty id clears it). A pinned peer does
// not count against the mesh targets, is dialed whenever it is not
// connected and outside backoff, and is never trimmed, pruned or evicted for
// colocation. The peer must be in the store (ErrUnknownPeer), and proto a
// non-empty UTF-8 id (ErrInvalidProtocol).
func (m *Manager) PinServicePeer(proto protocol.ID, id peer.ID) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	err := m.core.pin(proto, id)
	m.mu.Unlock()
	if err == nil && id != "" {
		m.kickLoop()
	}
	return err
}
