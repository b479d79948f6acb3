package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/meshbus/meshbus/components/peermgr"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/busmetrics"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/p2phost"
)

// Node is a running meshbus node. Its methods are safe for concurrent use.
type Node struct {
	h      corehost.Host
	bus    *eventbus.Bus
	clk    clock.Clock
	reg    *prometheus.Registry
	log    *slog.Logger
	app    *fx.App // until started: a running node drops its fx graph
	ctx    context.Context
	cancel context.CancelFunc
	rep    *lifecycleReporter
	hooks  *hookTracker
	busCol prometheus.Collector

	// The built-in components, nil when left out or replaced by another
	// type; set while fx starts, read-only afterwards.
	router  *router.Router
	scoring *scoring.Scorer
	peermgr *peermgr.Manager

	stopTimeout time.Duration
	closeOnce   sync.Once
	closeErr    error
}

// builtinRefs collects the built-ins the graph holds, for the accessors.
type builtinRefs struct {
	fx.In
	Router  *router.Router   `optional:"true"`
	Scoring *scoring.Scorer  `optional:"true"`
	PeerMgr *peermgr.Manager `optional:"true"`
}

// New builds and starts a node: the libp2p host (listening as configured),
// the bus, the built-in components and the add-ons, all started, then the
// bus sealed. ctx bounds construction and start only; the node runs until
// Close. On error nothing is left running, and the error wraps ErrStart and
// its cause (eventbus.ErrNoEmitter, naming the event type, when a
// RequireEmitter subscription has no emitter).
func New(ctx context.Context, opts ...Option) (*Node, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	busOpts := append([]eventbus.Option{eventbus.WithLogger(cfg.log)}, cfg.busOpts...)
	bus := eventbus.New(busOpts...)
	var busCol prometheus.Collector // nil without metrics
	if cfg.reg != nil {
		busCol = busmetrics.New(bus)
		if err := cfg.reg.Register(busCol); err != nil {
			bus.Close()
			return nil, fmt.Errorf("%w: bus metrics: %w", ErrStart, err)
		}
	}
	unregisterBus := func() {
		if busCol != nil {
			cfg.reg.Unregister(busCol)
		}
	}
	pmGater, gater := cfg.connGaters()
	// The node listens once the host is built, not through
	// libp2p.ListenAddrs (internal/p2phost): go-libp2p (v0.52.0) returns a
	// listen failure from libp2p.New without stopping what its
	// constructors started, while Close on a built host stops all of it.
	h, err := p2phost.New(cfg.listen, cfg.libp2pOptions(gater)...)
	if err != nil {
		unregisterBus()
		bus.Close()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	rep, err := newLifecycleReporter(bus, cfg.clk, cfg.log)
	if err != nil {
		h.Close()
		unregisterBus()
		bus.Close()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		h: h, bus: bus, clk: cfg.clk, reg: cfg.reg, log: cfg.log,
		ctx: nctx, cancel: cancel, rep: rep, hooks: &hookTracker{}, busCol: busCol, stopTimeout: cfg.stopTimeout,
	}

	fxOpts := []fx.Option{
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: cfg.log}
			l.UseLogLevel(slog.LevelDebug)
			return l
		}),
		fx.Provide(n.provideCore),
		fx.Supply(rep),
		// Every hook, components' and add-ons' included, goes through the
		// tracker, so that Close can finish what a stop timeout cut short.
		fx.Decorate(n.hooks.wrap),
	}
	if n.reg != nil {
		// Without metrics the graph has no registerer at all (not a nil
		// one): optional consumers keep no metrics, required ones fail.
		fxOpts = append(fxOpts, fx.Provide(n.provideMetrics))
	}
	if pmGater != nil {
		// The peer manager feeds the gater libp2p already holds.
		fxOpts = append(fxOpts, fx.Supply(pmGater))
	}
	fxOpts = append(fxOpts, cfg.componentOptions()...)
	fxOpts = append(fxOpts, fx.Invoke(func(r builtinRefs) {
		n.router, n.scoring, n.peermgr = r.Router, r.Scoring, r.PeerMgr
	}))
	fxOpts = append(fxOpts, cfg.discoveryOptions()...)
	fxOpts = append(fxOpts, cfg.addons...)
	// Last invoke, so last hook: it runs after every component started.
	fxOpts = append(fxOpts, fx.Invoke(n.sealHook))
	n.app = fx.New(fxOpts...)
	if err := n.app.Err(); err != nil {
		n.release()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	if len(cfg.bootstrap) > 0 && n.peermgr == nil {
		n.release()
		return nil, fmt.Errorf("%w: WithBootstrapPeers needs the built-in peer manager", ErrInvalidConfig)
	}
	if err := n.app.Start(ctx); err != nil {
		// fx has stopped what had started, as far as ctx allowed;
		// release finishes the rest.
		n.release()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	// Started: from here on the tracker holds every hook, in start order,
	// and Close stops them through it. Nothing else needs the fx graph, so
	// the node lets it go: the container, its scopes and every
	// constructor's record would otherwise stay for the node's life (about
	// 100 KB a node).
	n.app = nil
	for _, ai := range cfg.bootstrap {
		// Static peers: kept connected, protected, never trimmed.
		if err := n.peermgr.AddPeer(ai, events.SourceStatic); err != nil {
			_ = n.Close()
			return nil, fmt.Errorf("%w: bootstrap peer %s: %w", ErrStart, ai.ID, err)
		}
	}
	return n, nil
}

// provideCore is the fx constructor of everything the node gives
// components but its metrics registry.
func (n *Node) provideCore() (corehost.Host, *eventbus.Bus, clock.Clock, *slog.Logger, context.Context) {
	return n.h, n.bus, n.clk, n.log, n.ctx
}

// provideMetrics is the fx constructor of the node's registry, as a
// Registerer, a Gatherer and itself; a node built WithoutMetrics has none.
func (n *Node) provideMetrics() (prometheus.Registerer, prometheus.Gatherer, *prometheus.Registry) {
	return n.reg, n.reg, n.reg
}

// sealHook appends the node's last hook: on start it seals the bus (the end
// of the two-phase start), on stop it cancels the node context, first of
// all stop hooks.
func (n *Node) sealHook(lc fx.Lifecycle) {
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			if err := n.bus.Seal(); err != nil {
				return fmt.Errorf("sealing the bus: %w", err)
			}
			return nil
		},
		OnStop: func(context.Context) error {
			n.cancel()
			return nil
		},
	})
}

// libp2pOptions are the options the node gives libp2p.New (through
// p2phost.New, which adds libp2p.NoListenAddrs and listens on c.listen
// itself), with gater installed unless nil.
func (c *config) libp2pOptions(gater connmgr.ConnectionGater) []libp2p.Option {
	opts := []libp2p.Option{
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		// Identify's agent version; a libp2p.UserAgent among the user's
		// options (applied later) overrides it.
		libp2p.UserAgent(UserAgent),
	}
	if c.key != nil {
		opts = append(opts, libp2p.Identity(c.key))
	}
	if gater != nil {
		opts = append(opts, libp2p.ConnectionGater(gater))
	}
	if c.libp2pMetrics {
		opts = append(opts, libp2p.PrometheusRegisterer(c.reg))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	return append(opts, c.libp2pOpts...)
}

// release finishes the stop hooks fx did not run (after a stop or start
// timeout) and closes what New created outside fx, in reverse order.
func (n *Node) release() error {
	n.cancel()
	var errs []error
	if n.hooks.pending() {
		// Closing the bus first releases emitters stuck on a subscriber
		// that neither reads nor closes, so the remaining hooks can finish.
		errs = append(errs, n.bus.Close())
		ctx, cancel := context.WithTimeout(context.Background(), n.stopTimeout)
		errs = append(errs, n.hooks.stopRemaining(ctx))
		cancel()
	}
	errs = append(errs, n.h.Close())
	n.rep.close()
	errs = append(errs, n.bus.Close())
	// The registry may outlive the node (WithRegistry): free the names.
	if n.busCol != nil {
		n.reg.Unregister(n.busCol)
	}
	return errors.Join(errs...)
}

// Close stops the node: the node context is canceled, the components stop
// in reverse start order (each followed by its EvtComponentStopped), then
// the libp2p host closes, then the bus, which ends every subscription.
//
// The components get the stop timeout (WithStopTimeout). When it expires
// (typically a Block subscriber that neither reads nor closes its
// subscription, holding up an emitter), Close closes the bus first, which
// releases every blocked emitter, runs the stop hooks fx skipped, and
// returns an error wrapping context.DeadlineExceeded. Close is idempotent;
// later calls return the first result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.stopTimeout)
		defer cancel()
		n.cancel()
		errStop := n.hooks.stopRemaining(ctx)
		n.closeErr = errors.Join(errStop, n.release())
	})
	return n.closeErr
}

// Router returns the node's GossipSub router, or nil when it was left out
// (WithoutComponent) or replaced by a component of another type.
func (n *Node) Router() *router.Router { return n.router }

// Scoring returns the node's peer scoring component, or nil when it was
// left out or replaced.
func (n *Node) Scoring() *scoring.Scorer { return n.scoring }

// PeerManager returns the node's peer manager, or nil when it was left out
// or replaced.
func (n *Node) PeerManager() *peermgr.Manager { return n.peermgr }

// Host returns the node's libp2p host.
func (n *Node) Host() corehost.Host { return n.h }

// Bus returns the node's meshbus bus.
func (n *Node) Bus() *eventbus.Bus { return n.bus }

// Clock returns the node's clock.
func (n *Node) Clock() clock.Clock { return n.clk }

// Registry returns the node's metrics registry, nil for a node built
// WithoutMetrics.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Context returns the node's context, canceled when Close begins.
func (n *Node) Context() context.Context { return n.ctx }

// ID returns the node's peer id.
func (n *Node) ID() peer.ID { return n.h.ID() }

// AddrInfo returns the node's peer id and listen addresses, ready for
// another node's Connect.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}
}

// Addrs returns the node's full multiaddrs (with /p2p/<id>).
func (n *Node) Addrs() ([]ma.Multiaddr, error) {
	return peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()})
}

// Connect dials the peer (if not connected) and returns when a connection is
// up or ctx ends.
func (n *Node) Connect(ctx context.Context, ai peer.AddrInfo) error {
	return n.h.Connect(ctx, ai)
}
