package dashboard

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultAddr is the address the server listens on unless WithAddr says
// otherwise: loopback, port 8080.
const DefaultAddr = "127.0.0.1:8080"

// Option configures a Dashboard. Options only record; New validates.
type Option func(*config)

type config struct {
	addr            string
	control         bool
	clk             clock.Clock
	log             *slog.Logger
	reg             prometheus.Registerer
	publishInterval time.Duration
	statsInterval   time.Duration
	bufSize         int
}

func defaultConfig() config {
	return config{
		addr:            DefaultAddr,
		publishInterval: 250 * time.Millisecond,
		statsInterval:   time.Second,
		bufSize:         4096,
	}
}

func (c *config) validate() error {
	host, port, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("%w: WithAddr(%q): %v", ErrBadOption, c.addr, err)
	}
	_ = host
	if port == "" {
		return fmt.Errorf("%w: WithAddr(%q): no port", ErrBadOption, c.addr)
	}
	if c.publishInterval <= 0 || c.statsInterval <= 0 {
		return fmt.Errorf("%w: intervals must be positive (publish %v, stats %v)", ErrBadOption, c.publishInterval, c.statsInterval)
	}
	if c.bufSize < 1 {
		return fmt.Errorf("%w: WithBufSize(%d) must be at least 1", ErrBadOption, c.bufSize)
	}
	return nil
}

// WithAddr sets the host:port to listen on (default DefaultAddr). Port 0
// picks a free port (see Dashboard.Addr). An address that is not loopback
// exposes the node's state to whoever can reach it: choose it deliberately.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithControl lets the page kill attached nodes that have a Kill function
// (POST /api/nodes/{name}/kill). Without it the dashboard is read-only and
// that request gets 403.
func WithControl() Option { return func(c *config) { c.control = true } }

// WithClock sets the clock driving publishing and sampling (nil: the real
// clock).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithRegisterer registers the dashboard's metrics on reg (default: none).
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *config) { c.reg = reg } }

// WithPublishInterval sets how often, at most, a changed view is published to
// the pages (default 250ms). It must be positive.
func WithPublishInterval(d time.Duration) Option { return func(c *config) { c.publishInterval = d } }

// WithStatsInterval sets how often each node's bus introspection, drop count
// and score breakdowns are sampled (default 1s). It must be positive.
func WithStatsInterval(d time.Duration) Option { return func(c *config) { c.statsInterval = d } }

// WithBufSize sets the buffer of the dashboard's subscription on each bus
// (default 4096); events beyond it are dropped and counted.
func WithBufSize(n int) Option { return func(c *config) { c.bufSize = n } }
