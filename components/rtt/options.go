package rtt

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/rtt/automaton"
)

// Defaults of the driver's own options.
const (
	// DefaultTimeout bounds one probe (stream open and every sample).
	DefaultTimeout = 10 * time.Second
	// DefaultSamples is how many pings one probe sends; the event carries
	// the smallest round trip.
	DefaultSamples = 3
	// DefaultTick is how often the driver looks for due probes.
	DefaultTick = time.Second
)

// Option configures New. Options only record their value; New validates
// them, and an invalid one is an error wrapping ErrBadOption.
type Option func(*config)

type config struct {
	core    automaton.Config
	timeout time.Duration
	samples int
	tick    time.Duration
	buffer  int
	clk     clock.Clock
	log     *slog.Logger
	reg     prometheus.Registerer
}

func defaults() config {
	return config{core: automaton.DefaultConfig(), timeout: DefaultTimeout, samples: DefaultSamples, tick: DefaultTick, buffer: 256}
}

// WithInterval sets the time between two probes of one peer (default
// automaton.DefaultInterval).
func WithInterval(d time.Duration) Option { return func(c *config) { c.core.Interval = d } }

// WithTimeout bounds one probe (default DefaultTimeout); a probe that
// takes longer fails.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithSamples sets how many pings one probe sends (default DefaultSamples,
// at most 16); the event carries the smallest round trip.
func WithSamples(n int) Option { return func(c *config) { c.samples = n } }

// WithMaxFailures sets how many failed probes in a row give a peer up
// until it reconnects (default automaton.DefaultMaxFailures).
func WithMaxFailures(n int) Option { return func(c *config) { c.core.MaxFailures = n } }

// WithMaxInFlight bounds the probes running at once (default
// automaton.DefaultMaxInFlight).
func WithMaxInFlight(n int) Option { return func(c *config) { c.core.MaxInFlight = n } }

// WithMaxPeers bounds the peers tracked (default automaton.DefaultMaxPeers).
func WithMaxPeers(n int) Option { return func(c *config) { c.core.MaxPeers = n } }

// WithTick sets how often the driver starts due probes (default
// DefaultTick); a probe starts at most this late.
func WithTick(d time.Duration) Option { return func(c *config) { c.tick = d } }

// WithBuffer sets the connectedness subscription's buffer (default 256;
// the subscription blocks the bus when full, so no connect is lost).
func WithBuffer(n int) Option { return func(c *config) { c.buffer = n } }

// WithClock sets the clock of the schedule, the samples and the events'
// At (nil: the real clock).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithRegisterer registers the prober's metrics on reg (default: none);
// Close unregisters them.
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

func (c *config) validate() error {
	if err := c.core.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	switch {
	case c.timeout <= 0:
		return fmt.Errorf("%w: WithTimeout(%v), want > 0", ErrBadOption, c.timeout)
	case c.samples < 1 || c.samples > 16:
		return fmt.Errorf("%w: WithSamples(%d), want 1..16", ErrBadOption, c.samples)
	case c.tick <= 0:
		return fmt.Errorf("%w: WithTick(%v), want > 0", ErrBadOption, c.tick)
	case c.buffer < 1:
		return fmt.Errorf("%w: WithBuffer(%d), want >= 1", ErrBadOption, c.buffer)
	}
	return nil
}
