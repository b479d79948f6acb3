package dht

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/discovery/automaton"
)

// Option configures New. Options only record their value; New validates
// them, and an invalid one is an error wrapping ErrBadOption.
type Option func(*config)

type config struct {
	topics     []string
	bootstrap  []peer.AddrInfo
	interval   time.Duration
	timeout    time.Duration
	reannounce time.Duration
	maxPeers   int
	clk        clock.Clock
	log        *slog.Logger
	reg        prometheus.Registerer
}

func defaults() config {
	return config{interval: 30 * time.Second, timeout: 20 * time.Second,
		reannounce: automaton.DefaultReannounce, maxPeers: automaton.DefaultMaxPeers}
}

// WithTopics adds topics to advertise and look up (besides those the router
// joins); they are followed even when the router leaves them. Several
// calls accumulate.
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

// WithReannounce sets how long a peer announced with some addresses is not
// announced again when a later round finds it with the same ones (default
// automaton.DefaultReannounce; 0 announces every find). A peer whose
// addresses change is announced at once.
func WithReannounce(d time.Duration) Option { return func(c *config) { c.reannounce = d } }

// WithMaxPeers bounds the announced peers remembered for WithReannounce
// (default automaton.DefaultMaxPeers).
func WithMaxPeers(n int) Option { return func(c *config) { c.maxPeers = n } }

// WithClock sets the clock of the rounds, the events' At and WithReannounce
// (nil: the real clock).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithRegisterer registers the add-on's metrics on reg (default: none are
// registered); Close unregisters them. Two add-ons of one kind cannot share
// one registry (New fails).
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

func (c *config) validate() error {
	switch {
	case c.interval <= 0:
		return fmt.Errorf("%w: WithInterval(%v), want > 0", ErrBadOption, c.interval)
	case c.timeout <= 0:
		return fmt.Errorf("%w: WithRoundTimeout(%v), want > 0", ErrBadOption, c.timeout)
	case c.reannounce < 0:
		return fmt.Errorf("%w: WithReannounce(%v), want >= 0", ErrBadOption, c.reannounce)
	case c.maxPeers < 1:
		return fmt.Errorf("%w: WithMaxPeers(%d), want >= 1", ErrBadOption, c.maxPeers)
	}
	for _, t := range c.topics {
		if t == "" {
			return fmt.Errorf("%w: WithTopics with an empty topic", ErrBadOption)
		}
	}
	return nil
}
