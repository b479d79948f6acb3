package automaton

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// ErrInvalidConfig wraps every error of Config.Validate; the message names
// the bad field. The driver package wraps it in its ErrBadOption.
var ErrInvalidConfig = errors.New("peermgr/automaton: invalid config")

// MaxBackoffLimit is the longest backoff a configuration may produce: a
// schedule whose largest step exceeds it is rejected.
const MaxBackoffLimit = 7 * 24 * time.Hour

// DefaultColocationExempt are the address ranges exempt from the colocation
// limit unless the configuration says otherwise: IPv4 and IPv6 loopback, so
// that several nodes on one machine work without options.
var DefaultColocationExempt = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// Config is the automaton's configuration. DefaultConfig gives the
// defaults; Validate checks it.
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
	// ReconnectBackoff is the wait before redialing a peer whose connection
	// ended (it closed on us, or we evicted or trimmed it). It doubles with
	// each further short-lived connection, up to MaxReconnectBackoff, and
	// starts again from ReconnectBackoff once a connection lasted
	// StableConnection.
	ReconnectBackoff time.Duration
	// MaxReconnectBackoff caps the reconnect backoff.
	MaxReconnectBackoff time.Duration
	// StableConnection is how long a connection must last for the next
	// disconnect to count as the first.
	StableConnection time.Duration
	// MaxParallelDials bounds dials in flight.
	MaxParallelDials int
	// DialRate is the most dials started per second, on average; bursts of
	// up to MaxParallelDials are allowed.
	DialRate float64
	// ColocationLimit is the most connected peers allowed per IP; 0
	// disables the limit.
	ColocationLimit int
	// ColocationExempt are address ranges the colocation limit does not
	// apply to (DefaultColocationExempt by default).
	ColocationExempt []netip.Prefix
	// StoreCapacity is the most peers the store keeps before pruning.
	StoreCapacity int
	// ConnectivityInterval is the connectivity pass's period near target.
	ConnectivityInterval time.Duration
	// FastConnectivityInterval is its period when fewer than half the
	// outbound target is connected.
	FastConnectivityInterval time.Duration
	// MeshProtocols are the protocols that make a peer a mesh peer.
	MeshProtocols []protocol.ID
}

// DefaultConfig returns the defaults: 50 connections, 60% for mesh peers
// (10 outbound, 20 inbound), dial backoff 120 s x4 up to 5 failures,
// reconnect backoff 5 s doubling up to 10 min (reset by a connection of
// 1 min), 10 parallel dials at most 10 per second, 5 peers per IP with
// loopback exempt.
func DefaultConfig() Config {
	return Config{
		MaxConnections:           50,
		MeshRatio:                0.6,
		InitialBackoff:           120 * time.Second,
		BackoffFactor:            4,
		MaxFailures:              5,
		ReconnectBackoff:         5 * time.Second,
		MaxReconnectBackoff:      10 * time.Minute,
		StableConnection:         time.Minute,
		MaxParallelDials:         10,
		DialRate:                 10,
		ColocationLimit:          5,
		ColocationExempt:         slices.Clone(DefaultColocationExempt),
		StoreCapacity:            500,
		ConnectivityInterval:     15 * time.Second,
		FastConnectivityInterval: 3 * time.Second,
		MeshProtocols: []protocol.ID{
			"/meshsub/1.4.0", "/meshsub/1.3.0", "/meshsub/1.2.0", "/meshsub/1.1.0", "/meshsub/1.0.0", "/floodsub/1.0.0",
		},
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
	case c.ReconnectBackoff <= 0:
		return bad("ReconnectBackoff", "%v, want > 0", c.ReconnectBackoff)
	case c.MaxReconnectBackoff < c.ReconnectBackoff || c.MaxReconnectBackoff > MaxBackoffLimit:
		return bad("MaxReconnectBackoff", "%v, want in [ReconnectBackoff %v, %v]", c.MaxReconnectBackoff, c.ReconnectBackoff, MaxBackoffLimit)
	case c.StableConnection <= 0:
		return bad("StableConnection", "%v, want > 0", c.StableConnection)
	case c.MaxParallelDials < 1:
		return bad("MaxParallelDials", "%d, want >= 1", c.MaxParallelDials)
	case !(c.DialRate > 0) || math.IsInf(c.DialRate, 0):
		return bad("DialRate", "%v, want > 0", c.DialRate)
	case c.ColocationLimit < 0:
		return bad("ColocationLimit", "%d, want >= 0 (0 disables)", c.ColocationLimit)
	case c.StoreCapacity < 1:
		return bad("StoreCapacity", "%d, want >= 1", c.StoreCapacity)
	case c.ConnectivityInterval <= 0:
		return bad("ConnectivityInterval", "%v, want > 0", c.ConnectivityInterval)
	case c.FastConnectivityInterval <= 0 || c.FastConnectivityInterval > c.ConnectivityInterval:
		return bad("FastConnectivityInterval", "%v, want in (0, ConnectivityInterval]", c.FastConnectivityInterval)
	}
	for _, p := range c.ColocationExempt {
		if !p.IsValid() {
			return bad("ColocationExempt", "invalid prefix %v", p)
		}
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

// schedule returns the dial backoff schedule of the configuration.
func (c *Config) schedule() Schedule {
	return Schedule{Initial: c.InitialBackoff, Factor: c.BackoffFactor, MaxFailures: c.MaxFailures}
}

// Schedule returns the dial backoff schedule of the configuration.
func (c *Config) Schedule() Schedule { return c.schedule() }
