package conntrack

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	lpeventbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/conntrack/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/outbox"
)

// libp2pEvents are the go-libp2p bus events the tracker bridges.
var libp2pEvents = []any{
	new(event.EvtPeerIdentificationCompleted),
	new(event.EvtPeerIdentificationFailed),
	new(event.EvtPeerProtocolsUpdated),
	new(event.EvtLocalAddressesUpdated),
}

// libp2pBufSize is the tracker's buffer on go-libp2p's bus. The pump that
// reads it only appends to the inbox, so the buffer absorbs scheduling
// jitter, not meshbus backpressure.
const libp2pBufSize = 256

// Tracker is the connection tracking driver for one go-libp2p host; see the
// package comment for what it emits and the ordering it guarantees. Its
// emitters exist from New on (so RequireEmitter subscriptions to its events
// are satisfied before Start); events flow between Start and Close. It has
// no query API: everything it knows, it emits.
type Tracker struct {
	h   corehost.Host
	cfg config
	m   *metrics
	em  *outbox.Emitters

	in       *inbox
	core     *automaton.Automaton // owned by the run goroutine once started
	out      *automaton.Output    // likewise
	notifiee *network.NotifyBundle

	mu      sync.Mutex // guards started, closed, sub
	started bool
	closed  bool
	sub     event.Subscription // go-libp2p bus subscription

	quit     chan struct{}
	done     chan struct{} // closed when run returns
	pumpDone chan struct{} // closed when pump returns
}

// New returns a tracker for h that emits on bus. It creates the tracker's
// emitters and registers its metrics (WithRegisterer) but observes nothing
// until Start. Errors wrap ErrNilDependency or ErrBadOption, or come from
// the registerer or the bus.
func New(h corehost.Host, bus *eventbus.Bus, opts ...Option) (*Tracker, error) {
	if h == nil || bus == nil {
		return nil, fmt.Errorf("%w: host and bus are required", ErrNilDependency)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	core, err := automaton.New(cfg.core)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	m := newMetrics(cfg.reg)
	if err := m.register(cfg.reg); err != nil {
		return nil, err
	}
	out := automaton.NewOutput()
	em, err := outbox.NewEmitters(bus, out)
	if err != nil {
		m.unregister(cfg.reg)
		return nil, fmt.Errorf("conntrack: creating emitters: %w", err)
	}
	t := &Tracker{
		h: h, cfg: cfg, m: m, em: em,
		in: newInbox(), core: core, out: out,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	// The callbacks run on go-libp2p's goroutines: they only stamp and
	// queue, never touch meshbus.
	t.notifiee = &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			t.in.push(input{kind: inOpened, conn: c, at: t.cfg.clk.Now()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			t.in.push(input{kind: inClosed, conn: c, at: t.cfg.clk.Now()})
		},
	}
	return t, nil
}

// Start begins tracking: it registers the notifiee, queues the connections
// that are already open, subscribes to go-libp2p's bus and starts the
// driver goroutine. It fails with ErrStarted when called twice and with
// ErrClosed after Close.
func (t *Tracker) Start(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return ErrClosed
	case t.started:
		return ErrStarted
	}
	t.started = true
	t.h.Network().Notify(t.notifiee)
	// Scan after registering, under the inbox lock: a connection the scan
	// sees is queued before any close the notifiee queues for it (the swarm
	// drops a connection from Conns before dispatching its Disconnected),
	// and one it misses is reported by the notifiee. Doubles are ignored
	// by the core.
	t.in.pushLocked(func(add func(input)) {
		now := t.cfg.clk.Now()
		for _, c := range t.h.Network().Conns() {
			add(input{kind: inOpened, conn: c, at: now})
		}
	})
	// Subscribed after the scan, so identify results of scanned connections
	// queue after their opens.
	sub, err := t.h.EventBus().Subscribe(libp2pEvents, lpeventbus.Name("meshbus/conntrack"), lpeventbus.BufSize(libp2pBufSize))
	if err != nil {
		// A host whose bus is not go-libp2p's rejects those options.
		sub, err = t.h.EventBus().Subscribe(libp2pEvents)
	}
	if err != nil {
		t.h.Network().StopNotify(t.notifiee)
		close(t.pumpDone)
		close(t.done)
		return fmt.Errorf("conntrack: subscribing to the libp2p bus: %w", err)
	}
	t.sub = sub
	go t.pump(sub)
	go t.run()
	return nil
}

// Close stops tracking: inputs already queued are handled and their events
// emitted, then the driver goroutine exits, the emitters close and the
// metrics are unregistered. It waits for the driver, so a meshbus subscriber
// with the Block policy that never reads holds Close up until the bus is
// closed (Module's stop hook gives up at its context's end). Close without
// Start, or twice, is harmless.
func (t *Tracker) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.done // a concurrent Close may still be waiting
		return nil
	}
	t.closed = true
	started, sub := t.started, t.sub
	t.mu.Unlock()
	if started {
		t.h.Network().StopNotify(t.notifiee)
		if sub != nil {
			sub.Close()
		}
		close(t.quit)
		<-t.pumpDone
		<-t.done
	} else {
		close(t.done)
	}
	err := t.em.Close()
	t.m.unregister(t.cfg.reg)
	return err
}

// pump moves go-libp2p bus events into the inbox; it never waits on meshbus.
func (t *Tracker) pump(sub event.Subscription) {
	defer close(t.pumpDone)
	for evt := range sub.Out() {
		t.in.push(input{kind: inEvent, evt: evt, at: t.cfg.clk.Now()})
	}
}

// run is the driver goroutine: it drains the inbox, feeds the core and
// emits its output, until Close.
func (t *Tracker) run() {
	defer close(t.done)
	var batch []input
	for {
		select {
		case <-t.in.wake:
		case <-t.quit:
			// The pump is done or finishing; what is queued now is final.
			<-t.pumpDone
			t.process(t.in.drain(batch))
			return
		}
		batch = t.in.drain(batch)
		t.process(batch)
	}
}

// process feeds batch to the core one input at a time and emits each
// input's events before the next input is handled.
func (t *Tracker) process(batch []input) {
	t.m.v.Set(mBatch, float64(len(batch)))
	for i := range batch {
		t.m.outcome(t.step(&batch[i]))
		t.em.Emit(&t.out.Outbox, t.emitFailed)
	}
	conns, peers := t.core.Counts()
	t.m.v.Set(mOpen, float64(conns))
	t.m.v.Set(mPeers, float64(peers))
}

// step feeds one input to the core.
func (t *Tracker) step(in *input) automaton.Outcome {
	switch in.kind {
	case inOpened:
		return t.core.HandleConnOpened(in.at, connOf(in.conn), t.out)
	case inClosed:
		return t.core.HandleConnClosed(in.at, in.conn.ID(), t.out)
	}
	switch evt := in.evt.(type) {
	case event.EvtPeerIdentificationCompleted:
		var id string
		var closed bool
		if evt.Conn != nil {
			id, closed = evt.Conn.ID(), evt.Conn.IsClosed()
		}
		o := t.core.HandleIdentified(in.at, evt, id, closed, t.out)
		if o == automaton.OutcomeIdentifyDroppedFull {
			t.cfg.log.Warn("conntrack: too many identify results waiting for their connection, dropped", "peer", evt.Peer, "max", t.cfg.core.MaxParked)
		}
		return o
	case event.EvtPeerIdentificationFailed:
		return t.core.HandleIdentifyFailed(in.at, evt, t.out)
	case event.EvtPeerProtocolsUpdated:
		return t.core.HandleProtocolsUpdated(in.at, evt, t.out)
	case event.EvtLocalAddressesUpdated:
		return t.core.HandleLocalAddressesUpdated(in.at, evt, t.out)
	}
	return 0
}

func (t *Tracker) emitFailed(err error) {
	t.m.v.Inc(mEmitErrors)
	t.cfg.log.Debug("conntrack: emit failed", "err", err)
}

// connOf copies what the core keeps of c.
func connOf(c network.Conn) automaton.Conn {
	remote := c.RemoteMultiaddr()
	st := c.Stat()
	return automaton.Conn{
		ID: c.ID(), Peer: c.RemotePeer(), Direction: st.Direction,
		Remote: remote, IP: ipOf(remote), Limited: st.Limited,
	}
}

// ipOf returns the IP of a multiaddr that starts with /ip4 or /ip6, or the
// zero Addr (relayed, DNS or other transports). It reads the raw bytes
// instead of going through net.IP, which keeps it allocation-free.
func ipOf(a ma.Multiaddr) netip.Addr {
	if len(a) == 0 {
		return netip.Addr{}
	}
	switch a[0].Code() {
	case ma.P_IP4, ma.P_IP6:
		if ip, ok := netip.AddrFromSlice(a[0].RawValue()); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}
