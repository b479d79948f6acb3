package conntrack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/event"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	lpeventbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
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

// emitters are the tracker's meshbus emitters, all plain.
type emitters struct {
	opened        *eventbus.Emitter[events.EvtConnOpened]
	closed        *eventbus.Emitter[events.EvtConnClosed]
	connectedness *eventbus.Emitter[events.EvtPeerConnectednessChanged]
	identified    *eventbus.Emitter[events.EvtPeerIdentificationCompleted]
	idFailed      *eventbus.Emitter[events.EvtPeerIdentificationFailed]
	protocols     *eventbus.Emitter[events.EvtPeerProtocolsUpdated]
	localAddrs    *eventbus.Emitter[events.EvtLocalAddressesUpdated]
}

func newEmitters(b *eventbus.Bus) (emitters, error) {
	var e emitters
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	e.opened, err = eventbus.NewEmitter[events.EvtConnOpened](b)
	add(err)
	e.closed, err = eventbus.NewEmitter[events.EvtConnClosed](b)
	add(err)
	e.connectedness, err = eventbus.NewEmitter[events.EvtPeerConnectednessChanged](b)
	add(err)
	e.identified, err = eventbus.NewEmitter[events.EvtPeerIdentificationCompleted](b)
	add(err)
	e.idFailed, err = eventbus.NewEmitter[events.EvtPeerIdentificationFailed](b)
	add(err)
	e.protocols, err = eventbus.NewEmitter[events.EvtPeerProtocolsUpdated](b)
	add(err)
	e.localAddrs, err = eventbus.NewEmitter[events.EvtLocalAddressesUpdated](b)
	add(err)
	if err := errors.Join(errs...); err != nil {
		e.close()
		return emitters{}, fmt.Errorf("conntrack: creating emitters: %w", err)
	}
	return e, nil
}

func (e *emitters) close() {
	if e.opened != nil {
		e.opened.Close()
	}
	if e.closed != nil {
		e.closed.Close()
	}
	if e.connectedness != nil {
		e.connectedness.Close()
	}
	if e.identified != nil {
		e.identified.Close()
	}
	if e.idFailed != nil {
		e.idFailed.Close()
	}
	if e.protocols != nil {
		e.protocols.Close()
	}
	if e.localAddrs != nil {
		e.localAddrs.Close()
	}
}

// Tracker bridges one go-libp2p host onto a meshbus bus; see the package
// comment for what it emits and the ordering it guarantees. Its emitters
// exist from New on (so RequireEmitter subscriptions to its events are
// satisfied before Start); events flow between Start and Stop.
type Tracker struct {
	h   corehost.Host
	bus *eventbus.Bus
	clk clock.Clock
	cfg config
	m   *metrics
	em  emitters

	in       *inbox
	st       *state // owned by the run goroutine once started
	notifiee *network.NotifyBundle

	mu      sync.Mutex // guards started, stopped, sub
	started bool
	stopped bool
	sub     event.Subscription // go-libp2p bus subscription

	quit     chan struct{}
	done     chan struct{} // closed when run returns
	pumpDone chan struct{} // closed when pump returns
}

// New returns a tracker for h that emits on bus with timestamps from clk. It
// creates the tracker's emitters and registers its metrics (WithRegisterer)
// but observes nothing until Start.
func New(h corehost.Host, bus *eventbus.Bus, clk clock.Clock, opts ...Option) (*Tracker, error) {
	if h == nil || bus == nil || clk == nil {
		return nil, fmt.Errorf("%w: host, bus and clock are required", ErrNilDependency)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	if err := m.register(cfg.reg); err != nil {
		return nil, err
	}
	em, err := newEmitters(bus)
	if err != nil {
		m.unregister(cfg.reg)
		return nil, err
	}
	t := &Tracker{
		h: h, bus: bus, clk: clk, cfg: cfg, m: m, em: em,
		in:       newInbox(),
		st:       newState(cfg.maxParked),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	// The callbacks run on go-libp2p's goroutines: they only stamp and
	// queue, never touch meshbus.
	t.notifiee = &network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			t.in.push(input{kind: inOpened, conn: c, at: t.clk.Now()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			t.in.push(input{kind: inClosed, conn: c, at: t.clk.Now()})
		},
	}
	return t, nil
}

// Start begins tracking: it registers the notifiee, queues the connections
// that are already open, subscribes to go-libp2p's bus and starts the
// tracker goroutines. It fails with ErrStarted when called twice.
func (t *Tracker) Start(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.stopped {
		return ErrStarted
	}
	t.started = true
	t.h.Network().Notify(t.notifiee)
	// Scan after registering, under the inbox lock: a connection the scan
	// sees is queued before any close the notifiee queues for it (the swarm
	// drops a connection from Conns before dispatching its Disconnected),
	// and one it misses is reported by the notifiee. Doubles are ignored
	// by the state machine.
	t.in.pushLocked(func(add func(input)) {
		now := t.clk.Now()
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

// Stop stops tracking: events already queued are emitted, then the tracker
// goroutines exit and its emitters close. It waits for them until ctx ends
// (a meshbus subscriber with the Block policy that never reads holds the
// tracker up; closing the bus releases it). Stop without Start, or twice,
// is harmless.
func (t *Tracker) Stop(ctx context.Context) error {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return nil
	}
	t.stopped = true
	started := t.started
	sub := t.sub
	t.mu.Unlock()
	if !started {
		t.em.close()
		t.m.unregister(t.cfg.reg)
		return nil
	}
	t.h.Network().StopNotify(t.notifiee)
	if sub != nil {
		sub.Close()
	}
	close(t.quit)
	release := func() {
		t.em.close()
		t.m.unregister(t.cfg.reg)
	}
	for _, ch := range []chan struct{}{t.pumpDone, t.done} {
		select {
		case <-ch:
		case <-ctx.Done():
			// The tracker goroutine is stuck in an Emit; it exits once the
			// bus releases it, and the emitters and metrics go then.
			go func() {
				<-t.pumpDone
				<-t.done
				release()
			}()
			return fmt.Errorf("conntrack: stopping: %w", ctx.Err())
		}
	}
	release()
	return nil
}

// pump moves go-libp2p bus events into the inbox; it never waits on meshbus.
func (t *Tracker) pump(sub event.Subscription) {
	defer close(t.pumpDone)
	for evt := range sub.Out() {
		t.in.push(input{kind: inEvent, evt: evt, at: t.clk.Now()})
	}
}

// run is the tracker goroutine: it drains the inbox, steps the state
// machine and emits, until Stop.
func (t *Tracker) run() {
	defer close(t.done)
	var batch []input
	var out []output
	for {
		select {
		case <-t.in.wake:
		case <-t.quit:
			// The pump is done or finishing; what is queued now is final.
			<-t.pumpDone
			batch = t.in.drain(batch)
			t.process(batch, out)
			return
		}
		batch = t.in.drain(batch)
		out = t.process(batch, out)
	}
}

// process steps the state machine through batch and emits every output in
// order; it returns out's array for reuse.
func (t *Tracker) process(batch []input, out []output) []output {
	t.m.batch.Set(float64(len(batch)))
	for i := range batch {
		out = t.step(&batch[i], out[:0])
		for j := range out {
			t.emit(&out[j])
		}
		clear(out) // release references held by the outputs
	}
	conns, peers := t.st.counts()
	t.m.open.Set(float64(conns))
	t.m.peers.Set(float64(peers))
	return out
}

// step feeds one input to the state machine; the pass-through go-libp2p
// events are emitted directly, in queue order.
func (t *Tracker) step(in *input, out []output) []output {
	switch in.kind {
	case inOpened:
		n := len(out)
		out = t.st.open(connInfoOf(in.conn, in.at), out)
		if len(out) > n {
			t.m.opened.Inc()
		}
	case inClosed:
		n := len(out)
		out = t.st.close(in.conn.ID(), in.at, out)
		if len(out) > n {
			t.m.closed.Inc()
		}
	case inEvent:
		switch evt := in.evt.(type) {
		case event.EvtPeerIdentificationCompleted:
			var id string
			var closed bool
			if evt.Conn != nil {
				id, closed = evt.Conn.ID(), evt.Conn.IsClosed()
			}
			var outcome identifyOutcome
			out, outcome = t.st.identified(evt, id, closed, out)
			t.countIdentify(outcome, evt)
		case event.EvtPeerIdentificationFailed:
			t.check(t.em.idFailed.Emit(evt))
		case event.EvtPeerProtocolsUpdated:
			t.check(t.em.protocols.Emit(evt))
		case event.EvtLocalAddressesUpdated:
			t.check(t.em.localAddrs.Emit(evt))
		}
	}
	return out
}

func (t *Tracker) countIdentify(o identifyOutcome, evt events.EvtPeerIdentificationCompleted) {
	switch o {
	case identifyDroppedClosed:
		t.m.identifyClosed.Inc()
		t.cfg.log.Debug("conntrack: identify result for a closed connection dropped", "peer", evt.Peer)
	case identifyDroppedFull:
		t.m.identifyFull.Inc()
		t.cfg.log.Warn("conntrack: too many identify results waiting for their connection, dropped", "peer", evt.Peer, "max", t.cfg.maxParked)
	case identifyDroppedUnknown:
		t.m.identifyUnknown.Inc()
		t.cfg.log.Debug("conntrack: identify result for a peer not connected dropped", "peer", evt.Peer)
	}
}

func (t *Tracker) emit(o *output) {
	switch o.kind {
	case outConnOpened:
		t.check(t.em.opened.Emit(o.opened))
	case outConnClosed:
		t.check(t.em.closed.Emit(o.closed))
	case outConnectedness:
		t.check(t.em.connectedness.Emit(o.connectedness))
	case outIdentified:
		t.check(t.em.identified.Emit(o.identified))
	}
}

func (t *Tracker) check(err error) {
	if err != nil {
		t.m.emitErrors.Inc()
		t.cfg.log.Debug("conntrack: emit failed", "err", err)
	}
}

// connInfoOf copies what the tracker keeps of c.
func connInfoOf(c network.Conn, at time.Time) connInfo {
	remote := c.RemoteMultiaddr()
	st := c.Stat()
	return connInfo{
		id: c.ID(), peer: c.RemotePeer(), dir: st.Direction,
		remote: remote, ip: ipOf(remote), limited: st.Limited, opened: at,
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
