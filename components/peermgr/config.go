package peermgr

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrInvalidConfig wraps every configuration error; the message names the
// bad field.
var ErrInvalidConfig = errors.New("peermgr: invalid config")

// MaxBackoffLimit is the longest backoff a configuration may produce: a
// schedule whose largest step exceeds it is rejected.
const MaxBackoffLimit = 7 * 24 * time.Hour

// Config is the peer manager's configuration. Defaults come from
// DefaultConfig; options change them; New validates the result.
type Config struct {
	// MaxConnections is the connection budget the targets derive from.
	MaxConnections int
	// MeshRatio is the share of MaxConnections for mesh (pubsub) peers,
	// split one third outbound, two thirds inbound; the rest is for service
	// peers.
	MeshRatio float64
	// InitialBackoff is the wait after the first failed dial.
	InitialBackoff time.Duration
	// BackoffFactor multiplies the wait after each further failure.
	BackoffFactor float64
	// MaxFailures is the number of failed dials after which a peer is no
	// longer dialed (and becomes the first candidate for pruning).
	MaxFailures int
	// DialTimeout bounds one dial.
	DialTimeout time.Duration
	// MaxParallelDials bounds dials in flight.
	MaxParallelDials int
	// ColocationLimit is the most connected peers allowed per IP; 0
	// disables the limit.
	ColocationLimit int
	// StoreCapacity is the most peers the store keeps before pruning.
	StoreCapacity int
	// ConnectivityInterval is the connectivity loop's period near target.
	ConnectivityInterval time.Duration
	// FastConnectivityInterval is its period when fewer than half the
	// outbound target is connected.
	FastConnectivityInterval time.Duration
	// PruneInterval is the period of store capacity pruning.
	PruneInterval time.Duration
	// FlushInterval is the period of writing changed peers to the database.
	FlushInterval time.Duration
	// DBPath is the bbolt file of the persisted store; "" keeps the store
	// in memory only.
	DBPath string
	// DBOpenTimeout bounds the wait for the database file lock.
	DBOpenTimeout time.Duration
	// ResetOnCorrupt starts with an empty store when the database file is
	// corrupt (the file is moved aside) instead of failing.
	ResetOnCorrupt bool
	// MeshProtocols are the protocols that make a peer a mesh peer.
	MeshProtocols []protocol.ID
	// EventBuffer is the buffer of the manager's blocking bus subscription.
	EventBuffer int
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Gater, when set, is fed the graylisted peers, so that the libp2p host
	// it is installed in refuses them at the handshake.
	Gater *Gater
}

// DefaultConfig returns the defaults: 50 connections, 60% for mesh peers
// (10 outbound, 20 inbound), backoff 120 s x4 up to 5 failures, 10 s dial
// timeout, 10 parallel dials, 5 peers per IP.
func DefaultConfig() Config {
	return Config{
		MaxConnections:           50,
		MeshRatio:                0.6,
		InitialBackoff:           120 * time.Second,
		BackoffFactor:            4,
		MaxFailures:              5,
		DialTimeout:              10 * time.Second,
		MaxParallelDials:         10,
		ColocationLimit:          5,
		StoreCapacity:            500,
		ConnectivityInterval:     15 * time.Second,
		FastConnectivityInterval: 3 * time.Second,
		PruneInterval:            10 * time.Minute,
		FlushInterval:            5 * time.Second,
		DBOpenTimeout:            time.Second,
		MeshProtocols: []protocol.ID{
			"/meshsub/1.2.0", "/meshsub/1.1.0", "/meshsub/1.0.0", "/floodsub/1.0.0",
		},
		EventBuffer: 1024,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.MaxConnections < 1:
		return bad("MaxConnections", "%d, want >= 1", c.MaxConnections)
	case !(c.MeshRatio > 0 && c.MeshRatio <= 1):
		return bad("MeshRatio", "%v, want in (0, 1]", c.MeshRatio)
	case c.InitialBackoff <= 0:
		return bad("InitialBackoff", "%v, want > 0", c.InitialBackoff)
	case !(c.BackoffFactor >= 1) || math.IsInf(c.BackoffFactor, 0):
		return bad("BackoffFactor", "%v, want >= 1", c.BackoffFactor)
	case c.MaxFailures < 1:
		return bad("MaxFailures", "%d, want >= 1", c.MaxFailures)
	case c.DialTimeout <= 0:
		return bad("DialTimeout", "%v, want > 0", c.DialTimeout)
	case c.MaxParallelDials < 1:
		return bad("MaxParallelDials", "%d, want >= 1", c.MaxParallelDials)
	case c.ColocationLimit < 0:
		return bad("ColocationLimit", "%d, want >= 0 (0 disables)", c.ColocationLimit)
	case c.StoreCapacity < 1:
		return bad("StoreCapacity", "%d, want >= 1", c.StoreCapacity)
	case c.ConnectivityInterval <= 0:
		return bad("ConnectivityInterval", "%v, want > 0", c.ConnectivityInterval)
	case c.FastConnectivityInterval <= 0 || c.FastConnectivityInterval > c.ConnectivityInterval:
		return bad("FastConnectivityInterval", "%v, want in (0, ConnectivityInterval]", c.FastConnectivityInterval)
	case c.PruneInterval <= 0:
		return bad("PruneInterval", "%v, want > 0", c.PruneInterval)
	case c.FlushInterval <= 0:
		return bad("FlushInterval", "%v, want > 0", c.FlushInterval)
	case c.DBOpenTimeout <= 0:
		return bad("DBOpenTimeout", "%v, want > 0", c.DBOpenTimeout)
	case c.EventBuffer < 1:
		return bad("EventBuffer", "%d, want >= 1", c.EventBuffer)
	}
	if t := c.Targets(); t.Mesh < 1 {
		return bad("MeshRatio", "%v of MaxConnections %d leaves no mesh peer", c.MeshRatio, c.MaxConnections)
	}
	if largest, ok := c.schedule().largest(); !ok || largest > MaxBackoffLimit {
		return bad("BackoffFactor", "largest backoff (InitialBackoff %v x BackoffFactor %v ^ (MaxFailures %d - 2)) exceeds %v",
			c.InitialBackoff, c.BackoffFactor, c.MaxFailures, MaxBackoffLimit)
	}
	return nil
}

// schedule returns the backoff schedule of the configuration.
func (c *Config) schedule() Schedule {
	return Schedule{Initial: c.InitialBackoff, Factor: c.BackoffFactor, MaxFailures: c.MaxFailures}
}

// Option changes the configuration.
type Option func(*Config)

// WithMaxConnections sets the connection budget the targets derive from.
func WithMaxConnections(n int) Option { return func(c *Config) { c.MaxConnections = n } }

// WithMeshRatio sets the share of connections for mesh peers.
func WithMeshRatio(r float64) Option { return func(c *Config) { c.MeshRatio = r } }

// WithBackoff sets the first backoff and the factor between steps.
func WithBackoff(initial time.Duration, factor float64) Option {
	return func(c *Config) { c.InitialBackoff, c.BackoffFactor = initial, factor }
}

// WithMaxFailures sets the failed dials after which a peer is not dialed.
func WithMaxFailures(n int) Option { return func(c *Config) { c.MaxFailures = n } }

// WithDialTimeout sets the timeout of one dial.
func WithDialTimeout(d time.Duration) Option { return func(c *Config) { c.DialTimeout = d } }

// WithMaxParallelDials sets the most dials in flight.
func WithMaxParallelDials(n int) Option { return func(c *Config) { c.MaxParallelDials = n } }

// WithColocationLimit sets the most connected peers per IP (0 disables).
func WithColocationLimit(n int) Option { return func(c *Config) { c.ColocationLimit = n } }

// WithStoreCapacity sets the most peers the store keeps.
func WithStoreCapacity(n int) Option { return func(c *Config) { c.StoreCapacity = n } }

// WithConnectivityInterval sets the connectivity loop's normal and fast
// periods.
func WithConnectivityInterval(normal, fast time.Duration) Option {
	return func(c *Config) { c.ConnectivityInterval, c.FastConnectivityInterval = normal, fast }
}

// WithPruneInterval sets the period of capacity pruning.
func WithPruneInterval(d time.Duration) Option { return func(c *Config) { c.PruneInterval = d } }

// WithFlushInterval sets the period of database writes.
func WithFlushInterval(d time.Duration) Option { return func(c *Config) { c.FlushInterval = d } }

// WithDatabase persists the store in the bbolt file at path.
func WithDatabase(path string) Option { return func(c *Config) { c.DBPath = path } }

// WithOpenTimeout bounds the wait for the database file lock.
func WithOpenTimeout(d time.Duration) Option { return func(c *Config) { c.DBOpenTimeout = d } }

// WithResetOnCorrupt starts empty (moving the file aside) when the database
// is corrupt, instead of failing New with ErrCorruptStore.
func WithResetOnCorrupt() Option { return func(c *Config) { c.ResetOnCorrupt = true } }

// WithMeshProtocols sets the protocols that make a peer a mesh peer.
func WithMeshProtocols(p ...protocol.ID) Option {
	return func(c *Config) { c.MeshProtocols = append([]protocol.ID(nil), p...) }
}

// WithEventBuffer sets the buffer of the manager's bus subscription.
func WithEventBuffer(n int) Option { return func(c *Config) { c.EventBuffer = n } }

// WithRegisterer registers the manager's metrics on r.
func WithRegisterer(r prometheus.Registerer) Option { return func(c *Config) { c.Registerer = r } }

// WithGater makes the manager feed g (see Gater); g must be installed in
// the host with libp2p.ConnectionGater and read the manager's clock.
func WithGater(g *Gater) Option { return func(c *Config) { c.Gater = g } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }
