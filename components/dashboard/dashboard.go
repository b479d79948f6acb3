package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/dashboard/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/internal/promreg"
)

// SubscriptionName is the name of the dashboard's subscription on each bus,
// as bus introspection lists it.
const SubscriptionName = "dashboard"

// Source is one node the dashboard watches. Only Name, Bus and ID are
// required; each optional function is called from the dashboard's driver
// goroutine and must be safe to call from it while the node runs.
type Source struct {
	// Name is the node's name on the page, unique per dashboard.
	Name string
	// Bus is the node's event bus.
	Bus *eventbus.Bus
	// ID is the node's peer id.
	ID peer.ID
	// Host, when set, is read for the open connections on attach and after
	// the dashboard dropped events.
	Host corehost.Host
	// Mesh, when set, returns each joined topic's mesh peers; it is read on
	// attach and after the dashboard dropped events.
	Mesh func() map[string][]peer.ID
	// Choked, when set, returns each joined topic's choke state; it is
	// read with Mesh.
	Choked func() map[string]automaton.ChokeState
	// Fanout, when set, returns each fanout topic's fanout peers; it is
	// read on attach and after the dashboard dropped events.
	Fanout func() map[string][]peer.ID
	// Direct, when set, returns the node's direct peers; it is read on
	// attach and after the dashboard dropped events.
	Direct func() []peer.ID
	// Breakdowns, when set, returns every scored peer's P1-P7 breakdown; it
	// is read at each stats sample.
	Breakdowns func() map[peer.ID]automaton.ScoreTerms
	// Kill, when set and the dashboard has WithControl, stops the node when
	// the page asks. It runs on a goroutine of its own; Close waits for it.
	Kill func() error
}

func (s Source) validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("%w: empty Name", ErrBadSource)
	case s.Bus == nil:
		return fmt.Errorf("%w: %q has no Bus", ErrBadSource, s.Name)
	case s.ID == "":
		return fmt.Errorf("%w: %q has no ID", ErrBadSource, s.Name)
	}
	return nil
}

// Dashboard serves the live view of the attached nodes. Its methods are safe
// for concurrent use.
type Dashboard struct {
	cfg     config
	clk     clock.Clock
	log     *slog.Logger
	handler http.Handler
	metrics *metrics

	reqs chan request
	in   chan input
	quit chan struct{}
	done chan struct{}

	// view is the latest published frame; the driver swaps it and then
	// closes the old frame's next channel.
	view atomic.Pointer[frame]

	mu       sync.Mutex
	started  bool
	closed   bool
	pending  []Source
	ln       net.Listener
	srv      *http.Server
	loopback atomic.Bool
	serveErr chan error

	workers   sync.WaitGroup // pumps and kills
	closeOnce sync.Once
}

// frame is one published view: its JSON and a channel closed when a newer
// frame replaces it.
type frame struct {
	seq  uint64
	data []byte
	next chan struct{}
}

// input is a batch of bus events of one source, or the end of its
// subscription.
type input struct {
	src   int
	evs   []any
	ended bool
}

type reqKind uint8

const (
	reqAttach reqKind = iota + 1
	reqKill
	reqPublish
)

// request is how the public API reaches the driver.
type request struct {
	kind  reqKind
	src   Source
	name  string
	reply chan error
}

// Errors of kill requests, mapped to HTTP statuses by the handler.
var (
	errReadOnly   = errors.New("dashboard is read-only (no WithControl)")
	errNoNode     = errors.New("no such node")
	errNotKilable = errors.New("node has no kill function")
	errNodeDown   = errors.New("node already stopped")
	errNotStarted = errors.New("dashboard not started")
)

// New returns a dashboard; Start serves it.
func New(opts ...Option) (*Dashboard, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrBadOption)
		}
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Dashboard{
		cfg:  cfg,
		clk:  cfg.clk,
		log:  cfg.log,
		reqs: make(chan request),
		in:   make(chan input, 256),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	if d.clk == nil {
		d.clk = clock.New()
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	m, err := newMetrics(cfg.reg)
	if err != nil {
		return nil, err
	}
	d.metrics = m
	d.loopback.Store(isLoopbackHost(hostOf(cfg.addr)))
	empty, _ := json.Marshal(automaton.New(automaton.Config{Control: cfg.control}).View(d.clk.Now(), 0))
	d.view.Store(&frame{data: empty, next: make(chan struct{})})
	d.handler = d.newHandler()
	return d, nil
}

// Attach adds a node to watch. Before Start it is recorded; afterwards the
// driver subscribes to the node's bus at once. A name already attached
// replaces nothing and is an error.
func (d *Dashboard) Attach(src Source) error {
	if err := src.validate(); err != nil {
		return err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if !d.started {
		for _, p := range d.pending {
			if p.Name == src.Name {
				d.mu.Unlock()
				return fmt.Errorf("%w: name %q attached twice", ErrBadSource, src.Name)
			}
		}
		d.pending = append(d.pending, src)
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()
	return d.ask(context.Background(), request{kind: reqAttach, src: src})
}

func (d *Dashboard) ask(ctx context.Context, r request) error {
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if !started {
		return errNotStarted
	}
	r.reply = make(chan error, 1)
	select {
	case d.reqs <- r:
	case <-d.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.reply:
		return err
	case <-d.done:
		return ErrClosed
	}
}

// Start listens on the configured address, starts the driver and serves the
// page. The node sources attached so far are subscribed before it returns.
func (d *Dashboard) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.started {
		return ErrStarted
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", d.cfg.addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen: %w", err)
	}
	d.ln = ln
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		d.loopback.Store(tcp.IP.IsLoopback())
	}
	d.started = true
	pending := d.pending
	d.pending = nil
	st := newDriverState(d)
	for _, src := range pending {
		if err := st.attach(src); err != nil {
			d.log.Warn("dashboard: attach", "node", src.Name, "err", err)
		}
	}
	st.publish(d.clk.Now())
	// The tickers exist before Start returns, so a mock clock moved right
	// after Start reaches them.
	pub := d.clk.Ticker(d.cfg.publishInterval)
	stats := d.clk.Ticker(d.cfg.statsInterval)
	go st.run(pub, stats)
	d.srv = &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	d.serveErr = make(chan error, 1)
	go func() { d.serveErr <- d.srv.Serve(ln) }()
	d.log.Info("dashboard: serving", "url", "http://"+ln.Addr().String()+"/")
	return nil
}

// Addr returns the address the server listens on (nil before Start).
func (d *Dashboard) Addr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// URL returns the page's URL ("" before Start).
func (d *Dashboard) URL() string {
	a := d.Addr()
	if a == nil {
		return ""
	}
	return "http://" + a.String() + "/"
}

// Handler returns the dashboard's HTTP handler, for mounting it on a server
// of the caller's own (Start serves it on its own listener).
func (d *Dashboard) Handler() http.Handler { return d.handler }

// Publish makes the driver fold everything it has received so far into a
// new view and publish it now, without waiting for the publish interval. It
// returns once published, or ErrClosed.
func (d *Dashboard) Publish(ctx context.Context) error {
	return d.ask(ctx, request{kind: reqPublish})
}

// View returns the latest published view, decoded (the caller owns it).
func (d *Dashboard) View() (*automaton.View, error) {
	var v automaton.View
	if err := json.Unmarshal(d.view.Load().data, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Close stops the server (ending every page's stream), the driver and the
// subscriptions, and waits for kills in progress. Idempotent.
func (d *Dashboard) Close() error {
	var err error
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		started := d.started
		d.mu.Unlock()
		close(d.quit)
		defer d.metrics.unregister()
		if !started {
			close(d.done)
			return
		}
		err = d.srv.Close()
		if e := <-d.serveErr; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
		<-d.done
		d.workers.Wait()
	})
	return err
}

// driverState is what the driver goroutine owns besides the automaton.
type driverState struct {
	d     *Dashboard
	aut   *automaton.Automaton
	out   automaton.Output
	srcs  []*watched
	seq   uint64
	dirty bool
}

// watched is one attached source and its subscription.
type watched struct {
	src         Source
	sub         *eventbus.BatchSubscription[any]
	ended       bool
	lastDropped uint64
}

func newDriverState(d *Dashboard) *driverState {
	return &driverState{d: d, aut: automaton.New(automaton.Config{Control: d.cfg.control})}
}

func (s *driverState) attach(src Source) error {
	for _, w := range s.srcs {
		if w.src.Name == src.Name {
			return fmt.Errorf("%w: name %q attached twice", ErrBadSource, src.Name)
		}
	}
	// Every event of the node, in batch mode: the pump hands the driver
	// a batch per wake-up instead of an event per channel operation.
	sub, err := eventbus.SubscribeBatch[any](src.Bus, eventbus.Name(SubscriptionName),
		eventbus.BufSize(s.d.cfg.bufSize), eventbus.WithPolicy(eventbus.Drop))
	if err != nil {
		return fmt.Errorf("dashboard: subscribing to %s: %w", src.Name, err)
	}
	w := &watched{src: src, sub: sub}
	idx := len(s.srcs)
	s.srcs = append(s.srcs, w)
	now := s.d.clk.Now()
	s.aut.HandleAttached(now, automaton.NodeInfo{Name: src.Name, ID: src.ID, Killable: src.Kill != nil}, &s.out)
	s.resync(now, w)
	s.sample(now, w)
	s.settle()
	s.d.workers.Add(1)
	go s.d.pump(idx, sub)
	return nil
}

// pumpBatch bounds the events a pump hands the driver at once.
const pumpBatch = 256

// pump forwards one subscription's events to the driver, a batch (what
// was queued, up to pumpBatch events) per channel operation. When the
// driver is slow the pump waits, the subscription's queue fills, and the
// bus drops (and counts) events for the dashboard alone.
func (d *Dashboard) pump(idx int, sub *eventbus.BatchSubscription[any]) {
	defer d.workers.Done()
	buf := make([]any, min(d.cfg.bufSize, pumpBatch))
	for {
		batch, err := sub.Next(context.Background(), buf)
		if err != nil {
			break // the subscription ended and its queue is empty
		}
		select {
		case d.in <- input{src: idx, evs: slices.Clone(batch)}:
		case <-d.quit:
			return
		}
	}
	select {
	case d.in <- input{src: idx, ended: true}:
	case <-d.quit:
	}
}

func (s *driverState) settle() {
	if s.out.Changed {
		s.dirty = true
	}
	for _, n := range s.out.Notes {
		s.d.log.Debug("dashboard: " + n)
	}
	s.out.Reset()
}

func (s *driverState) run(pub, stats *clock.Ticker) {
	d := s.d
	defer close(d.done)
	defer func() {
		for _, w := range s.srcs {
			w.sub.Close()
		}
	}()
	defer pub.Stop()
	defer stats.Stop()
	for {
		select {
		case <-d.quit:
			return
		case in := <-d.in:
			s.fold(in)
		case r := <-d.reqs:
			r.reply <- s.serve(r)
		case t := <-pub.C:
			if s.dirty {
				s.publish(t)
			}
		case t := <-stats.C:
			for _, w := range s.srcs {
				s.sample(t, w)
			}
			s.settle()
		}
	}
}

func (s *driverState) serve(r request) error {
	switch r.kind {
	case reqAttach:
		err := s.attach(r.src)
		if err == nil {
			s.publish(s.d.clk.Now())
		}
		return err
	case reqPublish:
		s.drainInputs()
		s.publish(s.d.clk.Now())
		return nil
	case reqKill:
		if !s.d.cfg.control {
			return errReadOnly
		}
		for _, w := range s.srcs {
			if w.src.Name != r.name {
				continue
			}
			switch {
			case w.src.Kill == nil:
				return errNotKilable
			case w.ended:
				return errNodeDown
			}
			kill := w.src.Kill
			s.d.workers.Add(1)
			go func() {
				defer s.d.workers.Done()
				if err := kill(); err != nil {
					s.d.log.Warn("dashboard: killing a node", "node", r.name, "err", err)
				}
			}()
			s.d.log.Info("dashboard: node killed from the page", "node", r.name)
			return nil
		}
		return errNoNode
	}
	return fmt.Errorf("dashboard: unknown request %d", r.kind)
}

// fold hands one input to the automaton.
func (s *driverState) fold(in input) {
	w := s.srcs[in.src]
	now := s.d.clk.Now()
	if in.ended {
		w.ended = true
		s.aut.HandleStopped(now, w.src.Name, &s.out)
	} else {
		s.d.metrics.v.Add(mEvents, uint64(len(in.evs)))
		for _, ev := range in.evs {
			s.aut.HandleEvent(now, w.src.Name, ev, &s.out)
		}
	}
	s.settle()
}

// drainInputs folds the events already waiting for the driver.
func (s *driverState) drainInputs() {
	for {
		select {
		case in := <-s.d.in:
			s.fold(in)
		default:
			return
		}
	}
}

// sample feeds one node's periodic stats; after drops it reloads the mesh
// and connections first.
func (s *driverState) sample(now time.Time, w *watched) {
	if w.ended {
		return
	}
	dropped := w.sub.Dropped()
	if dropped > w.lastDropped {
		w.lastDropped = dropped
		s.resync(now, w)
	}
	st := automaton.Stats{Dropped: dropped}
	for _, info := range w.src.Bus.Subscriptions() {
		ss := automaton.SubStat{
			ID: info.ID, Name: info.Name, Wildcard: info.Wildcard, Policy: info.Policy.String(),
			BufSize: info.BufSize, Queued: info.Queued, Delivered: info.Delivered, Dropped: info.Dropped,
			Self: info.ID == w.sub.ID(),
		}
		for _, t := range info.Types {
			ss.Types = append(ss.Types, t.String())
		}
		st.Subs = append(st.Subs, ss)
	}
	if w.src.Breakdowns != nil {
		st.Terms = w.src.Breakdowns()
	}
	s.aut.HandleStats(now, w.src.Name, st, &s.out)
}

func (s *driverState) resync(now time.Time, w *watched) {
	var r automaton.Resync
	if w.src.Mesh != nil {
		r.Mesh = w.src.Mesh()
		if r.Mesh == nil {
			r.Mesh = map[string][]peer.ID{}
		}
	}
	if w.src.Choked != nil {
		r.Choked = w.src.Choked()
	}
	if w.src.Host != nil {
		r.Conns = []automaton.Conn{}
		for _, c := range w.src.Host.Network().Conns() {
			r.Conns = append(r.Conns, automaton.Conn{ID: c.ID(), Peer: c.RemotePeer(), Direction: c.Stat().Direction})
		}
	}
	if w.src.Fanout != nil {
		r.Fanout = w.src.Fanout()
		if r.Fanout == nil {
			r.Fanout = map[string][]peer.ID{}
		}
	}
	if w.src.Direct != nil {
		r.Direct = w.src.Direct()
		if r.Direct == nil {
			r.Direct = []peer.ID{}
		}
	}
	if r.Mesh == nil && r.Conns == nil && r.Fanout == nil && r.Direct == nil {
		return
	}
	s.aut.HandleResync(now, w.src.Name, r, &s.out)
}

func (s *driverState) publish(now time.Time) {
	s.seq++
	data, err := json.Marshal(s.aut.View(now, s.seq))
	if err != nil {
		// The view is plain data; this would be a bug (a NaN score).
		s.d.log.Error("dashboard: encoding the view", "err", err)
		return
	}
	s.dirty = false
	old := s.d.view.Swap(&frame{seq: s.seq, data: data, next: make(chan struct{})})
	close(old.next)
	s.d.metrics.v.Inc(mViews)
}

// The dashboard's metric series, shared by every dashboard in the process
// (descriptors exist once; a dashboard's own part is one promreg.Values).
var (
	schema promreg.Schema

	mEvents  = schema.Counter("meshbus_dashboard_events_total", "Bus events the dashboard folded into its view.")
	mViews   = schema.Counter("meshbus_dashboard_views_published_total", "Views published to the pages.")
	mClients = schema.Gauge("meshbus_dashboard_streams", "Pages currently streaming the view.")
)

// metrics are one dashboard's Prometheus metrics: nil values without a
// registerer (an update is a nil check, nothing is kept); with one,
// updating never allocates.
type metrics struct {
	reg prometheus.Registerer
	v   *promreg.Values
}

// newMetrics registers the dashboard's metrics on reg; with a nil reg it
// keeps none. A registration error wraps ErrBadOption.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	v, err := schema.Registered("dashboard", reg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	return &metrics{reg: reg, v: v}, nil
}

// unregister removes the metrics from the registerer they are on (none
// kept: nothing to do).
func (m *metrics) unregister() { m.v.Unregister(m.reg) }
