package scoring

import (
	"fmt"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/scoring/automaton"
	"github.com/meshbus/meshbus/eventbus"
)

// DefaultInputBuffer is the default buffer of the driver's input
// subscription (see WithInputBuffer).
const DefaultInputBuffer = 4096

// Option configures a Scorer. Options only record values; New applies the
// defaults, then the options in order, then validates the result.
type Option func(*config)

type config struct {
	params   Params
	log      *slog.Logger
	clk      clock.Clock
	reg      prometheus.Registerer
	inputBuf int
}

func defaultConfig() config {
	return config{params: DefaultParams(), log: slog.Default(), clk: clock.New(), inputBuf: DefaultInputBuffer}
}

// WithParams sets the score parameters (default DefaultParams(), which
// scores no topic: add yours). The Scorer keeps its own copy.
func WithParams(p Params) Option { return func(c *config) { c.params = p } }

// WithLogger sets the logger; nil means the default, slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock that times decay and snapshots (a mock in
// tests); nil means the default, the real clock.
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithRegisterer registers the Prometheus metrics on reg. By default (nil)
// the scorer keeps no metrics at all; nothing is ever registered on the
// global default registry. The metrics' descriptors are shared by every
// scorer in the process.
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithInputBuffer sets the buffer of the input subscription (default
// DefaultInputBuffer; at least 1). The subscription blocks its emitters when
// full, so no fact is ever lost; a larger buffer absorbs longer bursts
// before the router feels back-pressure. The subscription is in batch mode
// (eventbus.BatchSubscription): its queue of n events, 16 bytes each
// rounded up to a power of two, is allocated at the first event, and the
// driver takes up to 256 at a time. At most eventbus.MaxBufSize.
func WithInputBuffer(n int) Option { return func(c *config) { c.inputBuf = n } }

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
	c.log = c.log.With("component", "scoring")
	if c.inputBuf < 1 || c.inputBuf > eventbus.MaxBufSize {
		return fmt.Errorf("%w: input buffer %d must be in [1, %d]", ErrBadOption, c.inputBuf, eventbus.MaxBufSize)
	}
	if err := c.params.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	return nil
}

// The parameter types and their defaults live with the core; these names
// let a caller configure the component without importing it.
type (
	// Params configures scoring; see automaton.Params.
	Params = automaton.Params
	// TopicParams are one topic's parameters; see automaton.TopicParams.
	TopicParams = automaton.TopicParams
	// Thresholds are the score thresholds; see automaton.Thresholds.
	Thresholds = automaton.Thresholds
	// Breakdown is one peer's score term by term; see automaton.Breakdown.
	Breakdown = automaton.Breakdown
	// TopicBreakdown is one peer's terms in one topic.
	TopicBreakdown = automaton.TopicBreakdown
	// ParamError names the first invalid parameter; see automaton.ParamError.
	ParamError = automaton.ParamError
)

// DefaultParams returns automaton.DefaultParams().
func DefaultParams() Params { return automaton.DefaultParams() }

// DefaultTopicParams returns automaton.DefaultTopicParams().
func DefaultTopicParams() TopicParams { return automaton.DefaultTopicParams() }

// DefaultThresholds returns automaton.DefaultThresholds().
func DefaultThresholds() Thresholds { return automaton.DefaultThresholds() }
