package peermgr

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/components/peermgr/persist"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// PeerInfo is a snapshot of one peer in the store; the caller owns it.
type PeerInfo = peerstore.Peer

// Targets are the connection counts the connectivity pass aims for.
type Targets = automaton.Targets

// Manager is the peer manager's driver. Its public methods are safe for
// concurrent use; each sends one request to the driver goroutine and waits
// for the answer (never for the network).
type Manager struct {
	cfg config
	h   host.Host
	bus *eventbus.Bus
	clk clock.Clock
	log *slog.Logger
	met *metrics
	db  *persist.DB

	// auto is touched by New and Start before the driver goroutine runs,
	// then only by it.
	auto *automaton.Automaton
	out  automaton.Output

	reqs chan request
	dlr  *dialer
	em   emitters

	mu      sync.Mutex // guards started, closed (not the automaton)
	started bool
	closed  bool

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the driver returns
	cancel    context.CancelFunc
	subs      []io.Closer
	closeOnce sync.Once
	closeErr  error
}

// New builds a Manager for host h on bus. With WithDatabase it opens (or
// creates) the store file and loads every peer as not connected; a damaged
// file fails with an error wrapping ErrCorruptStore and naming the file
// (unless WithResetOnCorrupt), a locked one with ErrStoreLocked after the
// open timeout. An invalid option fails with ErrBadOption. Nothing runs
// until Start.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*Manager, error) {
	if h == nil || bus == nil {
		return nil, fmt.Errorf("%w: host and bus are required", ErrBadOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.clk == nil {
		cfg.clk = clock.New()
	}
	met, err := newMetrics(cfg.reg, cfg.gater)
	if err != nil {
		return nil, fmt.Errorf("peermgr: metrics: %w", err)
	}
	m := &Manager{
		cfg:  cfg,
		h:    h,
		bus:  bus,
		clk:  cfg.clk,
		log:  cfg.log.With("component", "peermgr"),
		met:  met,
		reqs: make(chan request),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	var loaded []peerstore.Peer
	if cfg.dbPath != "" {
		db, err := persist.Open(cfg.dbPath, persist.Options{Timeout: cfg.dbOpenTimeout, ResetOnCorrupt: cfg.resetOnCorrupt})
		if err != nil {
			return nil, fmt.Errorf("peermgr: %w", err)
		}
		if db.Reset() {
			m.log.Warn("peer store was corrupt; moved aside and started empty", "path", cfg.dbPath)
		}
		if n := db.Dropped(); n > 0 {
			m.log.Warn("peer store: dropped damaged records", "path", cfg.dbPath, "dropped", n)
		}
		m.db = db
		loaded = db.Loaded()
	}
	if m.auto, err = automaton.New(cfg.auto, h.ID(), loaded); err != nil {
		m.closeDB()
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	if err := m.em.open(bus); err != nil {
		m.em.close()
		m.closeDB()
		return nil, err
	}
	return m, nil
}

func (m *Manager) closeDB() {
	if m.db != nil {
		_ = m.db.Close()
	}
}

// Targets returns the connection targets in force.
func (m *Manager) Targets() Targets { return m.cfg.auto.Targets() }

// Start subscribes to the bus, takes a snapshot of the host's current
// connections, adds the static peers, runs the first connectivity pass and
// starts the driver goroutine and the dial workers. The timers exist before
// Start returns, so a test may advance a mock clock right after it. It
// fails with ErrStarted when called twice and ErrClosed after Close.
func (m *Manager) Start(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.started:
		return ErrStarted
	}
	subs, err := m.subscribe()
	if err != nil {
		return err
	}
	now := m.clk.Now()
	m.auto.SyncGates(&m.out)
	m.resync(now)
	for _, ai := range m.cfg.static {
		if o := m.auto.HandleAddPeer(now, automaton.AddPeer{Info: ai, Source: events.SourceStatic}, &m.out); outcomeErr(o) != nil {
			m.log.Warn("static peer refused", "peer", ai.ID, "outcome", o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.dlr = newDialer(m.h, m.clk, m.cfg.dialTimeout, m.cfg.auto.MaxParallelDials)
	m.dlr.start(ctx)
	t := loopTimers{
		conn:  m.clk.Timer(m.cfg.auto.ConnectivityInterval),
		prune: m.clk.Ticker(m.cfg.pruneInterval),
		flush: m.clk.Ticker(m.cfg.flushInterval),
	}
	// The first pass runs before Start returns, so its decisions do not
	// race the driver's first select; the driver carries them out first.
	m.auto.HandleTick(now, &m.out)
	m.started = true
	go m.loop(ctx, subs, t)
	return nil
}

// subscriptions are the manager's bus inputs.
type subscriptions struct {
	conn   event.Subscription // connection facts and mesh changes: never lost
	hints  event.Subscription // exchange records, thresholds, found peers: dropped when behind
	scores *eventbus.Subscription[events.EvtPeerScoresUpdated]
}

func (m *Manager) subscribe() (subscriptions, error) {
	// Connection facts and mesh membership carry state nothing else
	// restores, so they use a blocking subscription and none is lost (the
	// connection tracker queues for us; libp2p itself is never blocked).
	// Exchange records, discovered peers and threshold crossings are hints:
	// dropped when we fall behind, which loses nothing that matters, since
	// every score snapshot restates who is graylisted.
	var s subscriptions
	var err error
	s.conn, err = m.bus.Subscribe([]any{
		new(events.EvtConnOpened), new(events.EvtConnClosed),
		new(events.EvtPeerConnectednessChanged), new(events.EvtPeerIdentificationCompleted),
		new(events.EvtPeerProtocolsUpdated), new(events.EvtPeerGrafted), new(events.EvtPeerPruned),
	}, eventbus.Name("peermgr"), eventbus.BufSize(m.cfg.eventBuffer), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		return s, fmt.Errorf("peermgr: subscribe: %w", err)
	}
	s.hints, err = m.bus.Subscribe([]any{
		new(events.EvtPeerExchangeReceived), new(events.EvtPeerScoreThresholdCrossed), new(events.EvtPeerFound),
	}, eventbus.Name("peermgr-hints"), eventbus.BufSize(m.cfg.eventBuffer), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		_ = s.conn.Close()
		return s, fmt.Errorf("peermgr: subscribe: %w", err)
	}
	s.scores, err = eventbus.Subscribe[events.EvtPeerScoresUpdated](m.bus,
		eventbus.Name("peermgr-scores"), eventbus.BufSize(1), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		_ = s.conn.Close()
		_ = s.hints.Close()
		return s, fmt.Errorf("peermgr: subscribe: %w", err)
	}
	m.subs = []io.Closer{s.conn, s.hints, s.scores}
	return s, nil
}

// resync applies the host's current connections, so that connections opened
// before the subscription existed are known. Connection ids are
// network.Conn.ID(), the ids connection tracking emits, so a connection also
// reported by an event is counted once.
func (m *Manager) resync(now time.Time) {
	for _, p := range m.h.Network().Peers() {
		for _, c := range m.h.Network().ConnsToPeer(p) {
			ev := events.EvtConnOpened{Peer: p, ConnID: c.ID(), Direction: c.Stat().Direction, RemoteAddr: c.RemoteMultiaddr()}
			if ip, err := manet.ToIP(c.RemoteMultiaddr()); err == nil {
				if addr, ok := netipFrom(ip); ok {
					ev.RemoteIP = addr
				}
			}
			m.auto.HandleConnOpened(now, ev, &m.out)
		}
	}
}

type loopTimers struct {
	conn  *clock.Timer
	prune *clock.Ticker
	flush *clock.Ticker
}

// loop is the driver: it alone touches the automaton, reads the
// subscriptions and the dial results, starts dials, disconnects peers,
// writes the database and emits events.
func (m *Manager) loop(ctx context.Context, s subscriptions, t loopTimers) {
	defer close(m.done)
	defer t.conn.Stop()
	defer t.prune.Stop()
	defer t.flush.Stop()
	in, hin, sc := s.conn.Out(), s.hints.Out(), s.scores.Out()
	m.carryOut(ctx, t.conn)
	for {
		pass := false
		select {
		case <-ctx.Done():
			return
		case r := <-m.reqs:
			pass = m.serve(r)
		case ev, ok := <-in:
			if !ok {
				m.log.Error("bus subscription ended")
				in = nil
				continue
			}
			pass = m.handle(ev)
		case ev, ok := <-hin:
			if !ok {
				hin = nil
				continue
			}
			pass = m.handle(ev)
		case ev, ok := <-sc:
			if !ok {
				sc = nil
				continue
			}
			m.auto.HandleScores(m.clk.Now(), ev, &m.out)
		case r := <-m.dlr.results:
			// A failed dial frees a slot another candidate may take.
			pass = m.auto.HandleDialResult(m.clk.Now(), r, &m.out) != automaton.OutcomeDialSucceeded
		case <-t.conn.C:
			pass = true
		case <-t.prune.C:
			m.auto.HandlePrune(m.clk.Now(), &m.out)
			if g := m.cfg.gater; g != nil {
				g.sweep(m.clk.Now())
			}
		case <-t.flush.C:
			m.flush()
		}
		if pass {
			m.auto.HandleTick(m.clk.Now(), &m.out)
		}
		m.carryOut(ctx, t.conn)
	}
}

// handle routes one bus event to the automaton and reports whether a
// connectivity pass should follow without waiting for the timer.
func (m *Manager) handle(ev any) bool {
	now := m.clk.Now()
	a, out := m.auto, &m.out
	switch e := ev.(type) {
	case events.EvtConnOpened:
		a.HandleConnOpened(now, e, out)
	case events.EvtConnClosed:
		a.HandleConnClosed(now, e, out)
	case events.EvtPeerConnectednessChanged:
		// A freed slot is refilled without waiting for the timer (the
		// peer that left is backed off, so it is not the one redialed).
		return a.HandleConnectedness(now, e, out) == automaton.OutcomeDisconnectBackedOff
	case events.EvtPeerIdentificationCompleted:
		// A new service peer may exceed the service budget.
		return a.HandleIdentified(now, e, out) == automaton.OutcomeServicePeer
	case events.EvtPeerProtocolsUpdated:
		return a.HandleProtocolsUpdated(now, e, out) == automaton.OutcomeServicePeer
	case events.EvtPeerGrafted:
		a.HandleMeshChange(now, automaton.MeshChange{Peer: e.Peer, Joined: true}, out)
	case events.EvtPeerPruned:
		a.HandleMeshChange(now, automaton.MeshChange{Peer: e.Peer}, out)
	case events.EvtPeerExchangeReceived:
		n := a.Len()
		a.HandleExchange(now, e, out)
		return a.Len() > n
	case events.EvtPeerScoreThresholdCrossed:
		a.HandleThreshold(now, e, out)
	case events.EvtPeerFound:
		return a.HandleAddPeer(now, automaton.AddPeer{Info: e.Info, Source: events.SourceDiscovery}, out) == automaton.OutcomePeerAdded
	}
	return false
}

// carryOut performs the pending Output in order: gater changes first (so a
// peer disconnected for graylisting cannot come straight back), events (so
// an EvtDialAttempted precedes its result), dials, disconnects, connection
// manager protections; then the metrics and the next pass's timer.
func (m *Manager) carryOut(ctx context.Context, conn *clock.Timer) {
	o := &m.out
	defer o.Reset()
	if o.Empty() {
		return
	}
	if g := m.cfg.gater; g != nil {
		now := m.clk.Now()
		for _, op := range o.Gates {
			if op.Graylisted {
				g.graylist(op.Peer, op.Until)
			} else {
				g.clear(op.Peer, now)
			}
		}
	}
	m.emitFacts(o)
	for _, d := range o.Dials {
		select {
		case m.dlr.jobs <- d:
		case <-ctx.Done():
			return
		}
	}
	for _, id := range o.Closes {
		if err := m.h.Network().ClosePeer(id); err != nil {
			m.log.Debug("close peer", "peer", id, "err", err)
		}
	}
	if cm := m.h.ConnManager(); cm != nil {
		for _, p := range o.Protections {
			if p.Protect {
				cm.Protect(p.Peer, p.Tag)
			} else {
				cm.Unprotect(p.Peer, p.Tag)
			}
		}
	}
	if o.HasCensus {
		m.met.gauges(o.Census)
		if conn != nil {
			conn.Reset(o.Next)
		}
	}
}

// emitFacts emits the Output's events in decision order and counts them.
func (m *Manager) emitFacts(o *automaton.Output) {
	for _, f := range o.Facts {
		var err error
		switch f.Kind {
		case automaton.FactPeerDiscovered:
			err = m.em.discovered.Emit(o.Discovered[f.Index])
		case automaton.FactDialAttempted:
			err = m.em.attempted.Emit(o.Attempted[f.Index])
		case automaton.FactDialSucceeded:
			m.met.v.Inc(mDialOK)
			err = m.em.succeeded.Emit(o.Succeeded[f.Index])
		case automaton.FactDialFailed:
			e := o.Failed[f.Index]
			m.met.dialFailed(e.Reason)
			m.log.Debug("dial failed", "peer", e.Peer, "reason", e.Reason, "failures", e.Failures, "err", e.Err)
			err = m.em.failed.Emit(e)
		case automaton.FactPeerBackedOff:
			err = m.em.backedOff.Emit(o.BackedOff[f.Index])
		case automaton.FactPeerEvicted:
			e := o.Evicted[f.Index]
			m.met.evict(e.Reason)
			m.log.Debug("peer evicted", "peer", e.Peer, "reason", e.Reason, "removed", e.Removed)
			err = m.em.evicted.Emit(e)
		case automaton.FactPeerRecordRejected:
			e := o.Rejected[f.Index]
			m.met.reject(e.Reason)
			m.log.Info("peer record rejected", "from", e.From, "peer", e.Peer, "reason", e.Reason)
			err = m.em.rejected.Emit(e)
		}
		if err != nil {
			m.log.Debug("emit", "err", err)
		}
	}
}

// flush writes changed peers to the database.
func (m *Manager) flush() {
	if m.db == nil {
		return
	}
	up, rm := m.auto.TakeDirty()
	if err := m.db.Save(up, rm); err != nil {
		m.log.Error("saving peer store", "err", err)
	}
}

// Close stops the driver and the dial workers (in-flight dials are
// canceled), writes the store a last time and closes the database. It is
// idempotent and safe before Start; requests after it fail with ErrClosed.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		started := m.started
		m.mu.Unlock()
		close(m.stop)
		if started {
			m.cancel()
			<-m.done
			m.dlr.wait()
		}
		for _, s := range m.subs {
			_ = s.Close()
		}
		m.em.close()
		if m.db != nil {
			// The driver has returned: the automaton is ours again.
			m.flush()
			m.closeErr = m.db.Close()
		}
	})
	return m.closeErr
}

// AddPeer adds a peer (or merges its addresses) with the given source; the
// connectivity pass dials it when the node is below its outbound target
// (a static peer: whenever it is not connected). It fails with
// ErrInvalidPeer, ErrSelf, ErrNoAddresses or ErrInvalidSource, and with
// ErrClosed after Close. Before Start the peer is recorded and dialed once
// the manager starts.
func (m *Manager) AddPeer(ai peer.AddrInfo, src events.PeerSource) error {
	r, err := m.do(request{kind: reqAddPeer, add: automaton.AddPeer{Info: ai, Source: src}})
	if err != nil {
		return err
	}
	if err := outcomeErr(r.outcome); err != nil {
		return fmt.Errorf("%w: peer %q", err, ai.ID)
	}
	return nil
}

// Peers returns snapshots of every peer in the store, sorted by id (nil
// after Close).
func (m *Manager) Peers() []PeerInfo {
	r, err := m.do(request{kind: reqPeers})
	if err != nil {
		return nil
	}
	return r.peers
}

// Peer returns a snapshot of one peer and whether it is in the store.
func (m *Manager) Peer(id peer.ID) (PeerInfo, bool) {
	r, err := m.do(request{kind: reqPeer, peer: id})
	if err != nil {
		return PeerInfo{}, false
	}
	return r.info, r.ok
}

// SelectPeer returns the peer to use for proto: the peer pinned to proto's
// service slot if any, else the connected, non-graylisted peer speaking
// proto that has been connected longest; ErrNoPeer if there is none.
func (m *Manager) SelectPeer(proto protocol.ID) (peer.ID, error) {
	r, err := m.do(request{kind: reqSelect, pin: automaton.Pin{Protocol: proto}})
	if err != nil {
		return "", err
	}
	if !r.ok {
		return "", fmt.Errorf("%w: %s", ErrNoPeer, proto)
	}
	return r.peer, nil
}

// PinServicePeer pins id to proto's service slot (one peer per protocol; a
// new pin replaces the old one, an empty id clears it). A pinned peer does
// not count against the mesh targets, is dialed whenever it is not
// connected and outside backoff, is protected in the connection manager,
// and is never trimmed, pruned or evicted for colocation. The peer must be
// in the store (ErrUnknownPeer), and proto a non-empty UTF-8 id
// (ErrInvalidProtocol).
func (m *Manager) PinServicePeer(proto protocol.ID, id peer.ID) error {
	r, err := m.do(request{kind: reqPin, pin: automaton.Pin{Protocol: proto, Peer: id}})
	if err != nil {
		return err
	}
	if err := outcomeErr(r.outcome); err != nil {
		return fmt.Errorf("%w: %q for %q", err, id, proto)
	}
	return nil
}

// outcomeErr maps a rejecting outcome to its sentinel error.
func outcomeErr(o automaton.Outcome) error {
	switch o {
	case automaton.OutcomeRejectedInvalidPeer:
		return ErrInvalidPeer
	case automaton.OutcomeRejectedSelf:
		return ErrSelf
	case automaton.OutcomeRejectedNoAddresses:
		return ErrNoAddresses
	case automaton.OutcomeRejectedSource:
		return ErrInvalidSource
	case automaton.OutcomeRejectedProtocol:
		return ErrInvalidProtocol
	case automaton.OutcomeRejectedUnknownPeer:
		return ErrUnknownPeer
	}
	return nil
}
