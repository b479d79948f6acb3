package host

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/discovery/dht"
	"github.com/meshbus/meshbus/components/discovery/mdns"
	"github.com/meshbus/meshbus/eventbus"
)

// DefaultListenAddrs are the addresses a node listens on unless
// WithListenAddrs says otherwise: loopback, ephemeral ports, TCP and QUIC.
// Loopback keeps a node private to its machine. To be reachable from other
// machines, listen on all interfaces or on one address, for example
//
//	host.WithListenAddrs("/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1",
//		"/ip6/::/tcp/4001", "/ip6/::/udp/4001/quic-v1")
//
// (a fixed port, so that peers can be told where to find the node; 0 picks
// a free one). The node announces the addresses of its interfaces, which
// Node.Addrs lists with /p2p/<id>.
var DefaultListenAddrs = []string{
	"/ip4/127.0.0.1/tcp/0",
	"/ip4/127.0.0.1/udp/0/quic-v1",
}

// DefaultStopTimeout bounds Close unless WithStopTimeout says otherwise.
const DefaultStopTimeout = 30 * time.Second

// Option configures a node. Options are applied in order; a later option
// overrides an earlier one of the same kind, except WithFx, WithComponent,
// WithLibp2pOptions and WithBusOptions, which accumulate, and
// WithoutComponent and ReplaceComponent, which apply per component name.
type Option func(*config) error

type config struct {
	listen        []ma.Multiaddr
	key           crypto.PrivKey
	libp2pOpts    []libp2p.Option
	gaters        []connmgr.ConnectionGater
	libp2pMetrics bool
	clk           clock.Clock
	reg           *prometheus.Registry
	noMetrics     bool
	log           *slog.Logger
	busOpts       []eventbus.Option
	without       map[string]bool
	replace       map[string]fx.Option
	addons        []fx.Option
	bootstrap     []peer.AddrInfo
	mdns          []mdns.Option
	mdnsOn        bool
	dht           []dht.Option
	dhtOn         bool
	stopTimeout   time.Duration
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		without:     make(map[string]bool),
		replace:     make(map[string]fx.Option),
		stopTimeout: DefaultStopTimeout,
	}
	if err := WithListenAddrs(DefaultListenAddrs...)(c); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidConfig)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.clk == nil {
		c.clk = clock.New()
	}
	if c.noMetrics && c.libp2pMetrics {
		return nil, fmt.Errorf("%w: WithLibp2pMetrics needs a registry and WithoutMetrics leaves none", ErrInvalidConfig)
	}
	if c.reg == nil && !c.noMetrics {
		c.reg = prometheus.NewRegistry()
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	known := make(map[string]bool)
	for _, b := range builtins() {
		known[b.name] = true
	}
	for name := range c.without {
		if !known[name] {
			return nil, fmt.Errorf("%w: WithoutComponent(%q); built-ins are %v", ErrUnknownComponent, name, BuiltinNames())
		}
	}
	for name := range c.replace {
		if !known[name] {
			return nil, fmt.Errorf("%w: ReplaceComponent(%q); built-ins are %v", ErrUnknownComponent, name, BuiltinNames())
		}
		if c.without[name] {
			return nil, fmt.Errorf("%w: component %q is both removed and replaced", ErrInvalidConfig, name)
		}
	}
	return c, nil
}

// WithListenAddrs sets the addresses to listen on (default
// DefaultListenAddrs). No address means the node only dials out. A bad
// multiaddr is an error naming it. New fails with ErrStart, leaving
// nothing running, when none of the addresses can be listened on (one
// that can is enough, as in libp2p).
func WithListenAddrs(addrs ...string) Option {
	return func(c *config) error {
		list := make([]ma.Multiaddr, 0, len(addrs))
		for _, s := range addrs {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return fmt.Errorf("%w: WithListenAddrs: %q: %v", ErrInvalidConfig, s, err)
			}
			list = append(list, a)
		}
		c.listen = list
		return nil
	}
}

// WithIdentity sets the node's private key (default: a new Ed25519 key).
func WithIdentity(key crypto.PrivKey) Option {
	return func(c *config) error {
		if key == nil {
			return fmt.Errorf("%w: WithIdentity(nil)", ErrInvalidConfig)
		}
		c.key = key
		return nil
	}
}

// WithLibp2pOptions appends options to those the node gives libp2p.New
// (identity, listen addresses, the TCP and QUIC transports, metrics, the
// connection gater). They must not set those again: libp2p rejects a second
// identity or gater, for example (see WithConnectionGater).
func WithLibp2pOptions(opts ...libp2p.Option) Option {
	return func(c *config) error {
		c.libp2pOpts = append(c.libp2pOpts, opts...)
		return nil
	}
}

// WithLibp2pMetrics registers go-libp2p's own metrics on the node's registry
// (default: go-libp2p's metrics are disabled, so that nothing is registered
// on the global Prometheus registry).
func WithLibp2pMetrics() Option {
	return func(c *config) error {
		c.libp2pMetrics = true
		return nil
	}
}

// WithClock sets the clock every component reads (default: the real clock).
// Tests pass clock.NewMock() to drive time.
func WithClock(clk clock.Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
		}
		c.clk = clk
		return nil
	}
}

// WithRegistry sets the registry the node's metrics are registered on
// (default: a new registry per node; nothing goes to the global one). One
// registry serves one node: metric names would collide between two. It
// overrides an earlier WithoutMetrics.
func WithRegistry(reg *prometheus.Registry) Option {
	return func(c *config) error {
		if reg == nil {
			return fmt.Errorf("%w: WithRegistry(nil) (for a node without metrics, WithoutMetrics)", ErrInvalidConfig)
		}
		c.reg, c.noMetrics = reg, false
		return nil
	}
}

// WithoutMetrics builds a node that keeps no metrics at all: it has no
// registry (Node.Registry is nil), the bus collector is not created, and
// the graph provides no prometheus.Registerer, Gatherer or Registry, so
// every built-in component and add-on that takes its registerer as
// optional (all of meshbus's do) keeps none: their updates are nil
// checks. An add-on that requires a registerer fails New with fx's
// missing-type error naming it. For programs that run many nodes and read
// none of their metrics (simulations, benchmarks). It overrides an earlier
// WithRegistry, and cannot be combined with WithLibp2pMetrics.
func WithoutMetrics() Option {
	return func(c *config) error {
		c.reg, c.noMetrics = nil, true
		return nil
	}
}

// WithLogger sets the node's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger(nil)", ErrInvalidConfig)
		}
		c.log = l
		return nil
	}
}

// WithBusOptions appends options for eventbus.New (default policy,
// notifier). The node already sets the logger and the metrics registry.
func WithBusOptions(opts ...eventbus.Option) Option {
	return func(c *config) error {
		c.busOpts = append(c.busOpts, opts...)
		return nil
	}
}

// WithStopTimeout bounds how long Close waits for the components to stop
// (default DefaultStopTimeout). It must be positive.
func WithStopTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithStopTimeout(%v) must be positive", ErrInvalidConfig, d)
		}
		c.stopTimeout = d
		return nil
	}
}

// WithFx adds raw fx options to the node's application, after the built-in
// components: an add-on, an fx.Populate to get a value out, an fx.Supply of
// a component's configuration. Wrap a component in Component (or use
// WithComponent) to get its lifecycle events.
func WithFx(opts ...fx.Option) Option {
	return func(c *config) error {
		c.addons = append(c.addons, opts...)
		return nil
	}
}

// WithComponent adds an add-on component: WithFx(Component(name, opts...)).
// It is injected like a built-in (bus, libp2p host, clock, registry, logger,
// node context), starts after the built-ins and stops before them, and gets
// EvtComponentStarted/EvtComponentStopped events under name.
func WithComponent(name string, opts ...fx.Option) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: WithComponent with an empty name", ErrInvalidConfig)
		}
		c.addons = append(c.addons, Component(name, opts...))
		return nil
	}
}

// WithoutComponent leaves the named built-in component out of the node. The
// name must be one of BuiltinNames().
func WithoutComponent(name string) Option {
	return func(c *config) error {
		c.without[name] = true
		return nil
	}
}

// ReplaceComponent puts opt in place of the named built-in component, at the
// same position in start order and under the same name in lifecycle events.
// The name must be one of BuiltinNames().
func ReplaceComponent(name string, opt fx.Option) Option {
	return func(c *config) error {
		if opt == nil {
			return fmt.Errorf("%w: ReplaceComponent(%q, nil)", ErrInvalidConfig, name)
		}
		c.replace[name] = opt
		return nil
	}
}

// WithBootstrapPeers gives the node peers to join the network through, as
// multiaddrs ending in /p2p/<peer id> (for example
// "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW..."). The peer manager keeps them
// connected (redialing under backoff whenever a connection ends, even at
// its connection targets), never trims, evicts or prunes them, and protects
// them in the libp2p connection manager. Several calls accumulate. A
// malformed address, or one without a peer id, is an error naming it; the
// option needs the built-in peer manager.
func WithBootstrapPeers(addrs ...string) Option {
	return func(c *config) error {
		for _, s := range addrs {
			m, err := ma.NewMultiaddr(s)
			if err != nil {
				return fmt.Errorf("%w: WithBootstrapPeers: %q: %v", ErrInvalidConfig, s, err)
			}
			ai, err := peer.AddrInfoFromP2pAddr(m)
			if err != nil {
				return fmt.Errorf("%w: WithBootstrapPeers: %q: %v (want a multiaddr ending in /p2p/<peer id>)", ErrInvalidConfig, s, err)
			}
			c.bootstrap = append(c.bootstrap, *ai)
		}
		return nil
	}
}

// WithMDNS adds the mDNS discovery add-on (package
// components/discovery/mdns, component name "mdns"): the node announces
// itself on the local network and every meshbus node found there goes to
// the peer manager, which dials under its usual rules. mDNS sends multicast
// on every multicast-capable interface the host listens on; with the
// default loopback-only listen addresses it finds only nodes whose
// loopback interface carries multicast.
func WithMDNS(opts ...mdns.Option) Option {
	return func(c *config) error {
		c.mdnsOn = true
		c.mdns = append(c.mdns, opts...)
		return nil
	}
}

// WithDHT adds the DHT rendezvous discovery add-on (package
// components/discovery/dht, component name "dht"): a Kademlia DHT server
// on the node's host, bootstrapped from WithBootstrapPeers, that each round
// advertises the node under every topic (those given here and those the
// router joins) and hands the peers it finds to the peer manager.
func WithDHT(topics []string, opts ...dht.Option) Option {
	return func(c *config) error {
		for _, t := range topics {
			if t == "" {
				return fmt.Errorf("%w: WithDHT with an empty topic", ErrInvalidConfig)
			}
		}
		c.dhtOn = true
		c.dht = append(c.dht, dht.WithTopics(topics...))
		c.dht = append(c.dht, opts...)
		return nil
	}
}

// discoveryOptions returns the discovery add-ons the config asks for.
func (c *config) discoveryOptions() []fx.Option {
	var out []fx.Option
	if c.mdnsOn {
		out = append(out, Component(ComponentMDNS, mdns.Module, mdns.Options(c.mdns...)))
	}
	if c.dhtOn {
		opts := append([]dht.Option{dht.WithBootstrapPeers(c.bootstrap...)}, c.dht...)
		out = append(out, Component(ComponentDHT, dht.Module, dht.Options(opts...)))
	}
	return out
}

// Names of the discovery add-ons in lifecycle events.
const (
	ComponentMDNS = "mdns"
	ComponentDHT  = "dht"
)

// UserAgent is the agent version a node announces in identify unless
// WithLibp2pOptions passes libp2p.UserAgent.
const UserAgent = "meshbus"
