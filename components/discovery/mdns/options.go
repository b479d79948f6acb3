package mdns

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/discovery/automaton"
)

// DefaultServiceName is the mDNS service meshbus nodes announce and browse.
const DefaultServiceName = "_meshbus-discovery._udp"

// Option configures New. Options only record their value; New validates
// them, and an invalid one is an error wrapping ErrBadOption.
type Option func(*config)

type config struct {
	service    string
	buffer     int
	reannounce time.Duration
	maxPeers   int
	clk        clock.Clock
	log        *slog.Logger
	reg        prometheus.Registerer
}

func defaults() config {
	return config{service: DefaultServiceName, buffer: 64,
		reannounce: automaton.DefaultReannounce, maxPeers: automaton.DefaultMaxPeers}
}

// WithServiceName sets the mDNS service name (default DefaultServiceName);
// only nodes with the same name find each other.
func WithServiceName(name string) Option { return func(c *config) { c.service = name } }

// WithBuffer sets how many found peers may wait for the driver (default
// 64); more are dropped and counted (Dropped).
func WithBuffer(n int) Option { return func(c *config) { c.buffer = n } }

// WithReannounce sets how long a peer announced with some addresses is not
// announced again when found with the same ones (default
// automaton.DefaultReannounce; 0 announces every find). A peer whose
// addresses change is announced at once.
func WithReannounce(d time.Duration) Option { return func(c *config) { c.reannounce = d } }

// WithMaxPeers bounds the announced peers remembered for WithReannounce
// (default automaton.DefaultMaxPeers).
func WithMaxPeers(n int) Option { return func(c *config) { c.maxPeers = n } }

// WithClock sets the clock of the events' At and of WithReannounce (nil:
// the real clock).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithRegisterer registers the add-on's metrics on reg (default: none are
// registered); Close unregisters them. Two add-ons of one kind cannot share
// one registry (New fails).
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

func (c *config) validate() error {
	switch {
	case c.service == "":
		return fmt.Errorf("%w: WithServiceName(\"\")", ErrBadOption)
	case c.buffer < 1:
		return fmt.Errorf("%w: WithBuffer(%d), want >= 1", ErrBadOption, c.buffer)
	case c.reannounce < 0:
		return fmt.Errorf("%w: WithReannounce(%v), want >= 0", ErrBadOption, c.reannounce)
	case c.maxPeers < 1:
		return fmt.Errorf("%w: WithMaxPeers(%d), want >= 1", ErrBadOption, c.maxPeers)
	}
	return nil
}
