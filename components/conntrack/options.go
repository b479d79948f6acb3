package conntrack

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxParked is how many identify results may wait for their
// connection's open at once unless WithMaxParked says otherwise.
const DefaultMaxParked = 1024

// Option configures a Tracker.
type Option func(*config)

type config struct {
	log       *slog.Logger
	reg       prometheus.Registerer
	maxParked int
}

// WithLogger sets the tracker's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// WithRegisterer registers the tracker's metrics on reg (default: none are
// registered). Two trackers cannot share one registry.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) { c.reg = reg }
}

// WithMaxParked bounds how many identify results may wait for their
// connection's open notification (default DefaultMaxParked); results beyond
// it are dropped and counted. It must be positive.
func WithMaxParked(n int) Option {
	return func(c *config) { c.maxParked = n }
}

func newConfig(opts []Option) (config, error) {
	c := config{log: slog.Default(), maxParked: DefaultMaxParked}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		return c, fmt.Errorf("%w: logger is nil", ErrInvalidConfig)
	}
	if c.maxParked <= 0 {
		return c, fmt.Errorf("%w: maxParked %d must be positive", ErrInvalidConfig, c.maxParked)
	}
	return c, nil
}
