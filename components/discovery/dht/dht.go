// Package dht is the DHT rendezvous discovery add-on: its one job is to find
// peers of the node's topics through a Kademlia DHT
// (github.com/libp2p/go-libp2p-kad-dht). Each round it advertises the node
// under every followed topic's rendezvous key and looks the key up; found
// peers are announced as events.EvtPeerFound (Via "dht", with the topic)
// for the peer manager, which decides whether and when to dial.
//
// The topics are those given with WithTopics plus those the router joins
// (events.EvtTopicJoined, until events.EvtTopicLeft).
//
// Shape (the one every component has; docs/architecture.md): the pure core
// is components/discovery/automaton, which keeps the followed topics and
// decides which found peers are announced (not the node itself, not a peer
// without addresses, and a peer found again with the same addresses only
// once per WithReannounce, not once per round); DHT is the driver, one
// goroutine that owns the core, its Output, the emitter, the round ticker
// and the DHT queries. options.go, errors.go and module.go hold the
// options, the sentinel errors and the fx Module.
package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/benbjohnson/clock"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"

	"github.com/meshbus/meshbus/components/discovery/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/outbox"
	"github.com/meshbus/meshbus/events"
)

// ProtocolPrefix is the DHT protocol prefix of meshbus nodes, so that their
// DHT is not mixed with the public IPFS one.
const ProtocolPrefix = "/meshbus"

// Namespace returns the rendezvous key of a topic.
func Namespace(topic string) string { return "meshbus/topic/" + topic }

// DHT runs a Kademlia DHT server on the node's host and the rendezvous
// rounds. Its driver goroutine is the only one that touches the core; the
// counters (Rounds, Found) and Routing are safe for concurrent use.
type DHT struct {
	cfg  config
	h    host.Host
	bus  *eventbus.Bus
	core *automaton.Automaton // owned by the driver goroutine
	out  *automaton.Output    // likewise
	em   *outbox.Emitters
	met  *metrics

	mu      sync.Mutex // guards kad, started, closed, cancel
	kad     *kaddht.IpfsDHT
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}

	rounds atomic.Uint64
	found  atomic.Uint64
}

// New builds the add-on for h on bus; nothing runs until Start. A nil h or
// bus is ErrNilDependency; an invalid option is ErrBadOption.
func New(h host.Host, bus *eventbus.Bus, opts ...Option) (*DHT, error) {
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
	cfg.log = cfg.log.With("component", "dht")
	acfg := automaton.DefaultConfig(h.ID(), "dht")
	acfg.Topics, acfg.Reannounce, acfg.MaxPeers = cfg.topics, cfg.reannounce, cfg.maxPeers
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
	return &DHT{cfg: cfg, h: h, bus: bus, core: core, out: out, em: em, met: met, done: make(chan struct{})}, nil
}

// Rounds returns how many discovery rounds have completed.
func (d *DHT) Rounds() uint64 { return d.rounds.Load() }

// Found returns how many peers the rounds have announced (finds the core
// did not announce are not counted).
func (d *DHT) Found() uint64 { return d.found.Load() }

// Routing returns the underlying DHT (nil before Start), for content
// routing or inspection; the add-on keeps ownership.
func (d *DHT) Routing() *kaddht.IpfsDHT {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kad
}

// Start creates the DHT (server mode, ProtocolPrefix), bootstraps it and
// starts the rounds; the first round runs one interval after Start. A
// second Start is ErrStarted, Start after Close is ErrClosed.
func (d *DHT) Start(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if d.started {
		return ErrStarted
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
	d.kad, d.cancel, d.started = kad, cancel, true
	ticker := d.cfg.clk.Ticker(d.cfg.interval)
	go d.loop(ctx, kad, ticker, joined, left)
	return nil
}

// loop is the driver: topic changes and the round's finds go to the core,
// and what the core decides is emitted.
func (d *DHT) loop(ctx context.Context, kad *kaddht.IpfsDHT, t *clock.Ticker,
	joined *eventbus.Subscription[events.EvtTopicJoined], left *eventbus.Subscription[events.EvtTopicLeft]) {
	defer close(d.done)
	defer t.Stop()
	defer joined.Close()
	defer left.Close()
	rd := drouting.NewRoutingDiscovery(kad)
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-joined.Out():
			d.outcome(d.core.HandleTopicJoined(d.cfg.clk.Now(), e.Topic, d.out), e.Topic)
		case e := <-left.Out():
			d.outcome(d.core.HandleTopicLeft(d.cfg.clk.Now(), e.Topic, d.out), e.Topic)
		case <-t.C:
			d.round(ctx, rd)
			d.met.round()
			d.rounds.Add(1)
		}
	}
}

// round advertises and looks up every followed topic within the round
// timeout, handing each find to the core and emitting its announcements
// as they come.
func (d *DHT) round(parent context.Context, rd *drouting.RoutingDiscovery) {
	ctx, cancel := context.WithTimeout(parent, d.cfg.timeout)
	defer cancel()
	for _, topic := range d.core.Topics() {
		ns := Namespace(topic)
		if _, err := rd.Advertise(ctx, ns); err != nil {
			d.met.advertiseFailed()
			d.cfg.log.Debug("advertise", "topic", topic, "err", err)
		}
		ch, err := rd.FindPeers(ctx, ns)
		if err != nil {
			d.met.findFailed()
			d.cfg.log.Debug("find peers", "topic", topic, "err", err)
			continue
		}
		for ai := range ch {
			o := d.core.HandleFound(d.cfg.clk.Now(), automaton.Found{Info: ai, Topic: topic}, d.out)
			d.met.countFound(o)
			if o == automaton.OutcomeAnnounced {
				d.found.Add(1)
			}
			d.em.Emit(&d.out.Outbox, d.emitFailed)
		}
	}
}

// outcome logs a topic change the core decided.
func (d *DHT) outcome(o automaton.Outcome, topic string) {
	d.cfg.log.Debug("topic", "topic", topic, "outcome", o)
	d.em.Emit(&d.out.Outbox, d.emitFailed)
}

func (d *DHT) emitFailed(err error) { d.cfg.log.Debug("emit", "err", err) }

// Close stops the rounds and the DHT and closes the emitter; it is
// idempotent and works without Start.
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
	d.met.unregister(d.cfg.reg)
	return errors.Join(err, d.em.Close())
}
