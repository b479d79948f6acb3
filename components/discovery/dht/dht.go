// Package dht is the DHT rendezvous discovery add-on: its one job is to find
// peers of the node's topics through a Kademlia DHT
// (github.com/libp2p/go-libp2p-kad-dht). Each round it advertises the node
// under every topic's rendezvous key and looks the key up; every peer found
// is announced as an events.EvtPeerFound (Via "dht", with the topic) for the
// peer manager, which decides whether and when to dial.
//
// The topics are those given with WithTopics plus those the router joins
// (events.EvtTopicJoined, until events.EvtTopicLeft).
package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Sentinel errors.
var (
	// ErrBadOption wraps an invalid option value.
	ErrBadOption = errors.New("dht: bad option")
	// ErrClosed reports Start after Close.
	ErrClosed = errors.New("dht: closed")
)

// ProtocolPrefix is the DHT protocol prefix of meshbus nodes, so that their
// DHT is not mixed with the public IPFS one.
const ProtocolPrefix = "/meshbus"

// Namespace returns the rendezvous key of a topic.
func Namespace(topic string) string { return "meshbus/topic/" + topic }

// Option configures New.
type Option func(*config)

type config struct {
	topics    []string
	bootstrap []peer.AddrInfo
	interval  time.Duration
	timeout   time.Duration
	clk       clock.Clock
	log       *slog.Logger
}

// WithTopics adds topics to advertise and look up (besides those the router
// joins). Several calls accumulate.
func WithTopics(topics ...string) Option {
	return func(c *config) { c.topics = append(c.topics, topics...) }
}

// WithBootstrapPeers gives the DHT peers to fill its routing table from.
func WithBootstrapPeers(peers ...peer.AddrInfo) Option {
	return func(c *config) { c.bootstrap = append(c.bootstrap, peers...) }
}

// WithInterval sets the period of discovery rounds (default 30 s).
func WithInterval(d time.Duration) Option { return func(c *config) { c.interval = d } }

// WithRoundTimeout bounds one round's DHT queries (default 20 s).
func WithRoundTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithClock sets the clock of the rounds and the events' At (nil: real).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

func (c *config) validate() error {
	switch {
	case c.interval <= 0:
		return fmt.Errorf("%w: WithInterval(%v), want > 0", ErrBadOption, c.interval)
	case c.timeout <= 0:
		return fmt.Errorf("%w: WithRoundTimeout(%v), want > 0", ErrBadOption, c.timeout)
	}
	for _, t := range c.topics {
		if t == "" {
			return fmt.Errorf("%w: WithTopics with an empty topic", ErrBadOption)
		}
	}
	return nil
}

// DHT runs a Kademlia DHT server on the node's host and the rendezvous
// rounds. One driver goroutine owns the topic set, the rounds and the
// emitter.
type DHT struct {
	cfg config
	h   host.Host
	bus *eventbus.Bus
	em  *eventbus.Emitter[events.EvtPeerFound]

	mu      sync.Mutex
	kad     *kaddht.IpfsDHT
	sub     *eventbusSub
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}

	rounds atomic.Uint64
	found  atomic.Uint64
}

// eventbusSub is the router topic subscription.
type eventbusSub = eventbus.Subscription[events.EvtTopicJoined]

// New builds the add-on for h on bus; nothing runs until Start.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*DHT, error) {
	if h == nil || bus == nil {
		return nil, fmt.Errorf("%w: host and bus are required", ErrBadOption)
	}
	cfg := config{interval: 30 * time.Second, timeout: 20 * time.Second}
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
	return &DHT{cfg: cfg, h: h, bus: bus, em: em, done: make(chan struct{})}, nil
}

// Rounds returns how many discovery rounds have completed.
func (d *DHT) Rounds() uint64 { return d.rounds.Load() }

// Found returns how many peers the rounds have announced.
func (d *DHT) Found() uint64 { return d.found.Load() }

// Routing returns the underlying DHT (nil before Start), for content
// routing or inspection; the add-on keeps ownership.
func (d *DHT) Routing() *kaddht.IpfsDHT {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kad
}

// Start creates the DHT (server mode, ProtocolPrefix), bootstraps it and
// starts the rounds; the first round runs one interval after Start.
// ErrClosed after Close.
func (d *DHT) Start(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	kopts := []kaddht.Option{kaddht.Mode(kaddht.ModeServer), kaddht.ProtocolPrefix(ProtocolPrefix)}
	if len(d.cfg.bootstrap) > 0 {
		kopts = append(kopts, kaddht.BootstrapPeers(d.cfg.bootstrap...))
	}
	kad, err := kaddht.New(d.h, kopts...)
	if err != nil {
		cancel()
		return fmt.Errorf("dht: %w", err)
	}
	if err := kad.Bootstrap(ctx); err != nil {
		cancel()
		_ = kad.Close()
		return fmt.Errorf("dht: bootstrap: %w", err)
	}
	joined, err := eventbus.Subscribe[events.EvtTopicJoined](d.bus, eventbus.Name("dht-topics"),
		eventbus.BufSize(256), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		cancel()
		_ = kad.Close()
		return err
	}
	left, err := eventbus.Subscribe[events.EvtTopicLeft](d.bus, eventbus.Name("dht-topics-left"),
		eventbus.BufSize(256), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		cancel()
		_ = joined.Close()
		_ = kad.Close()
		return err
	}
	d.kad, d.sub, d.cancel, d.started = kad, joined, cancel, true
	ticker := d.cfg.clk.Ticker(d.cfg.interval)
	go d.loop(ctx, ticker, joined, left)
	return nil
}

// loop is the driver: it keeps the topic set and runs a round per tick.
func (d *DHT) loop(ctx context.Context, t *clock.Ticker, joined *eventbusSub, left *eventbus.Subscription[events.EvtTopicLeft]) {
	defer close(d.done)
	defer t.Stop()
	defer joined.Close()
	defer left.Close()
	topics := slices.Clone(d.cfg.topics)
	rd := drouting.NewRoutingDiscovery(d.kad)
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-joined.Out():
			if !slices.Contains(topics, e.Topic) {
				topics = append(topics, e.Topic)
			}
		case e := <-left.Out():
			if !slices.Contains(d.cfg.topics, e.Topic) {
				topics = slices.DeleteFunc(topics, func(s string) bool { return s == e.Topic })
			}
		case <-t.C:
			d.round(ctx, rd, topics)
			d.rounds.Add(1)
		}
	}
}

// round advertises and looks up every topic within the round timeout.
func (d *DHT) round(parent context.Context, rd *drouting.RoutingDiscovery, topics []string) {
	ctx, cancel := context.WithTimeout(parent, d.cfg.timeout)
	defer cancel()
	for _, topic := range topics {
		ns := Namespace(topic)
		if _, err := rd.Advertise(ctx, ns); err != nil {
			d.cfg.log.Debug("dht: advertise", "topic", topic, "err", err)
		}
		ch, err := rd.FindPeers(ctx, ns)
		if err != nil {
			d.cfg.log.Debug("dht: find peers", "topic", topic, "err", err)
			continue
		}
		for ai := range ch {
			if ai.ID == d.h.ID() || len(ai.Addrs) == 0 {
				continue
			}
			d.found.Add(1)
			if err := d.em.Emit(events.EvtPeerFound{Info: ai, Via: "dht", Topic: topic, At: d.cfg.clk.Now()}); err != nil {
				d.cfg.log.Debug("dht: emit", "err", err)
			}
		}
	}
}

// Close stops the rounds and the DHT; it is idempotent.
func (d *DHT) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if d.started {
		d.cancel()
		<-d.done
		err = d.kad.Close()
	}
	return errors.Join(err, d.em.Close())
}

// Module provides and starts a *DHT from the host.Host, *eventbus.Bus and,
// when present, clock.Clock and *slog.Logger in the graph, with the
// Options given by Options.
var Module = fx.Module("dht", fx.Provide(newForFx), fx.Invoke(func(*DHT) {}))

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

func newForFx(p fxParams) (*DHT, error) {
	d, err := New(p.Host, p.Bus, append([]Option{WithClock(p.Clock), WithLogger(p.Logger)}, p.Options...)...)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: d.Start, OnStop: func(context.Context) error { return d.Close() }})
	return d, nil
}
