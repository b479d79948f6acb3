package peermgr

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
)

// Option configures a Manager. Options only record; New applies the
// defaults, then the options in order, then validates.
type Option func(*config)

type config struct {
	auto           automaton.Config
	dialTimeout    time.Duration
	pruneInterval  time.Duration
	flushInterval  time.Duration
	dbPath         string
	dbOpenTimeout  time.Duration
	resetOnCorrupt bool
	eventBuffer    int
	static         []peer.AddrInfo
	reg            prometheus.Registerer
	log            *slog.Logger
	clk            clock.Clock
	gater          *Gater
}

func defaultConfig() config {
	return config{
		auto:          automaton.DefaultConfig(),
		dialTimeout:   10 * time.Second,
		pruneInterval: 10 * time.Minute,
		flushInterval: 5 * time.Second,
		dbOpenTimeout: time.Second,
		eventBuffer:   256,
	}
}

// validate reports the first invalid value, wrapping ErrBadOption.
func (c *config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadOption, fmt.Sprintf(format, args...))
	}
	if err := c.auto.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	switch {
	case c.dialTimeout <= 0:
		return bad("WithDialTimeout(%v), want > 0", c.dialTimeout)
	case c.pruneInterval <= 0:
		return bad("WithPruneInterval(%v), want > 0", c.pruneInterval)
	case c.flushInterval <= 0:
		return bad("WithFlushInterval(%v), want > 0", c.flushInterval)
	case c.dbOpenTimeout <= 0:
		return bad("WithOpenTimeout(%v), want > 0", c.dbOpenTimeout)
	case c.eventBuffer < 1:
		return bad("WithEventBuffer(%d), want >= 1", c.eventBuffer)
	}
	for _, ai := range c.static {
		if ai.ID == "" || ai.ID.Validate() != nil || len(ai.Addrs) == 0 {
			return bad("WithStaticPeers: peer %q with %d addresses", ai.ID, len(ai.Addrs))
		}
	}
	return nil
}

// WithMaxConnections sets the connection budget the targets derive from
// (default 50).
func WithMaxConnections(n int) Option { return func(c *config) { c.auto.MaxConnections = n } }

// WithMeshRatio sets the share of connections for mesh peers (default 0.6).
func WithMeshRatio(r float64) Option { return func(c *config) { c.auto.MeshRatio = r } }

// WithBackoff sets the first dial backoff and the factor between steps
// (default 120 s, x4).
func WithBackoff(initial time.Duration, factor float64) Option {
	return func(c *config) { c.auto.InitialBackoff, c.auto.BackoffFactor = initial, factor }
}

// WithReconnectBackoff sets the wait before redialing a peer whose
// connection ended, and its cap (default 5 s doubling up to 10 min).
func WithReconnectBackoff(initial, maxWait time.Duration) Option {
	return func(c *config) { c.auto.ReconnectBackoff, c.auto.MaxReconnectBackoff = initial, maxWait }
}

// WithMaxFailures sets the failed dials after which a peer is not dialed
// (default 5).
func WithMaxFailures(n int) Option { return func(c *config) { c.auto.MaxFailures = n } }

// WithDialTimeout sets the timeout of one dial (default 10 s).
func WithDialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

// WithMaxParallelDials sets the most dials in flight (default 10).
func WithMaxParallelDials(n int) Option { return func(c *config) { c.auto.MaxParallelDials = n } }

// WithDialRate sets the most dials started per second on average (default
// 10).
func WithDialRate(perSecond float64) Option { return func(c *config) { c.auto.DialRate = perSecond } }

// WithColocationLimit sets the most connected peers per IP (default 5; 0
// disables).
func WithColocationLimit(n int) Option { return func(c *config) { c.auto.ColocationLimit = n } }

// WithColocationExempt sets the address ranges the colocation limit does not
// apply to, replacing the default (loopback). Pass none to exempt nothing.
func WithColocationExempt(prefixes ...netip.Prefix) Option {
	return func(c *config) { c.auto.ColocationExempt = slices.Clone(prefixes) }
}

// WithStoreCapacity sets the most peers the store keeps (default 500).
func WithStoreCapacity(n int) Option { return func(c *config) { c.auto.StoreCapacity = n } }

// WithConnectivityInterval sets the connectivity pass's normal and fast
// periods (default 15 s and 3 s).
func WithConnectivityInterval(normal, fast time.Duration) Option {
	return func(c *config) { c.auto.ConnectivityInterval, c.auto.FastConnectivityInterval = normal, fast }
}

// WithPruneInterval sets the period of capacity pruning (default 10 min).
func WithPruneInterval(d time.Duration) Option { return func(c *config) { c.pruneInterval = d } }

// WithFlushInterval sets the period of database writes (default 5 s).
func WithFlushInterval(d time.Duration) Option { return func(c *config) { c.flushInterval = d } }

// WithDatabase persists the store in the bbolt file at path ("" keeps it in
// memory, the default).
func WithDatabase(path string) Option { return func(c *config) { c.dbPath = path } }

// WithOpenTimeout bounds the wait for the database file lock (default 1 s).
func WithOpenTimeout(d time.Duration) Option { return func(c *config) { c.dbOpenTimeout = d } }

// WithResetOnCorrupt starts empty (moving the file aside) when the database
// is corrupt, instead of failing New with ErrCorruptStore.
func WithResetOnCorrupt() Option { return func(c *config) { c.resetOnCorrupt = true } }

// WithMeshProtocols sets the protocols that make a peer a mesh peer.
func WithMeshProtocols(p ...protocol.ID) Option {
	return func(c *config) { c.auto.MeshProtocols = slices.Clone(p) }
}

// WithEventBuffer sets the buffer of the manager's bus subscriptions
// (default 256: each is allocated whole for the manager's life, and
// connection events come in bursts of a few per peer).
func WithEventBuffer(n int) Option { return func(c *config) { c.eventBuffer = n } }

// WithStaticPeers adds peers the manager keeps connected: they are dialed
// whenever not connected (under backoff), never trimmed, evicted or pruned,
// and protected in the connection manager. Several calls accumulate.
func WithStaticPeers(peers ...peer.AddrInfo) Option {
	return func(c *config) { c.static = append(c.static, peers...) }
}

// WithRegisterer registers the manager's metrics on r (default nil: the
// manager keeps no metrics at all). The metrics' descriptors are shared by
// every manager in the process.
func WithRegisterer(r prometheus.Registerer) Option { return func(c *config) { c.reg = r } }

// WithGater makes the manager feed g (see Gater); g must be installed in
// the host with libp2p.ConnectionGater and read the manager's clock.
func WithGater(g *Gater) Option { return func(c *config) { c.gater = g } }

// WithLogger sets the logger (nil: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock (nil: the real clock).
func WithClock(clk clock.Clock) Option { return func(c *config) { c.clk = clk } }
