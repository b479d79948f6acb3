package conntrack

import (
	"fmt"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/conntrack/automaton"
)

// DefaultMaxParked is how many identify results may wait for their
// connection's open at once unless WithMaxParked says otherwise.
const DefaultMaxParked = automaton.DefaultMaxParked

// Option configures a Tracker. Options only record values; New applies the
// defaults, then the options in order, then validates the result.
type Option func(*config)

type config struct {
	log  *slog.Logger
	clk  clock.Clock
	reg  prometheus.Registerer
	core automaton.Config
}

func defaultConfig() config {
	return config{log: slog.Default(), clk: clock.New(), core: automaton.DefaultConfig()}
}

// WithLogger sets the tracker's logger; nil means the default,
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock that stamps events (a mock in tests); nil means
// the default, the real clock.
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithRegisterer registers the tracker's metrics on reg (default nil: the
// tracker keeps no metrics at all). The metrics' descriptors are shared by
// every tracker in the process; two trackers cannot share one registry.
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithMaxParked bounds how many identify results may wait for their
// connection's open notification (default DefaultMaxParked); results beyond
// it are dropped and counted. It must be positive.
func WithMaxParked(n int) Option { return func(c *config) { c.core.MaxParked = n } }

func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	return c, c.validate()
}

// validate turns nil defaults back into defaults and checks the values.
func (c *config) validate() error {
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.clk == nil {
		c.clk = clock.New()
	}
	if err := c.core.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	return nil
}
