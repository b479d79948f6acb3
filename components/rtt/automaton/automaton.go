// Package automaton is the pure core of the RTT prober (components/rtt):
// it decides which connected peers to probe and when, and turns probe
// results into events.EvtPeerRTTMeasured.
//
// It has no goroutines, does no I/O and reads no clock: every handler takes
// the current time and an *Output. A peer is probed as soon as it connects,
// then every Config.Interval; at most Config.MaxInFlight probes run at once
// (the driver starts the peers listed in Output.Probes and reports each
// result with HandleProbeResult). A peer that fails Config.MaxFailures
// probes in a row is not probed again until it reconnects: it stays
// unknown, and readers of the events treat it as unmeasured.
//
// An Automaton is not safe for concurrent use: one driver goroutine owns it.
package automaton

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("rtt automaton: invalid config")

// Defaults of Config.
const (
	DefaultInterval    = 30 * time.Second
	DefaultMaxFailures = 3
	DefaultMaxInFlight = 8
	DefaultMaxPeers    = 4096
)

// Config holds the prober's schedule.
type Config struct {
	// Interval is the time between two probes of one peer (from the end of
	// one to the start of the next). Default DefaultInterval.
	Interval time.Duration
	// MaxFailures is how many probes in a row may fail before the peer is
	// given up until it reconnects. Default DefaultMaxFailures.
	MaxFailures int
	// MaxInFlight bounds the probes running at once. Default DefaultMaxInFlight.
	MaxInFlight int
	// MaxPeers bounds the peers tracked; more are not probed. Default DefaultMaxPeers.
	MaxPeers int
}

// DefaultConfig returns the defaults listed on each field.
func DefaultConfig() Config {
	return Config{Interval: DefaultInterval, MaxFailures: DefaultMaxFailures,
		MaxInFlight: DefaultMaxInFlight, MaxPeers: DefaultMaxPeers}
}

// Validate names the first field out of range; the error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0:
		return fmt.Errorf("%w: Interval must be > 0", ErrInvalidConfig)
	case c.MaxFailures < 1:
		return fmt.Errorf("%w: MaxFailures must be >= 1", ErrInvalidConfig)
	case c.MaxInFlight < 1:
		return fmt.Errorf("%w: MaxInFlight must be >= 1", ErrInvalidConfig)
	case c.MaxPeers < 1:
		return fmt.Errorf("%w: MaxPeers must be >= 1", ErrInvalidConfig)
	}
	return nil
}

type peerState struct {
	next     time.Time // when the next probe is due
	inFlight bool
	failures int  // failed probes in a row
	gaveUp   bool // MaxFailures reached: no more probes until reconnect
}

// Automaton is the prober's state. Create it with New.
type Automaton struct {
	cfg      Config
	peers    map[peer.ID]*peerState
	order    []peer.ID // tracked peers in connection order (deterministic scans)
	inFlight int
	// orphans counts probes still running for peers that disconnected:
	// their slots free when their results come.
	orphans int
}

// New returns an automaton with cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Automaton, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Automaton{cfg: cfg, peers: make(map[peer.ID]*peerState)}, nil
}

// HandleConnected starts tracking p, which is now connected; a probe of it
// is due at once (in out.Probes when a probe slot is free, otherwise at a
// later HandleTick or result).
//
// Outcomes: OutcomeTracked, OutcomeAlreadyTracked, OutcomeTooManyPeers,
// OutcomeInvalidInput (empty peer id).
func (a *Automaton) HandleConnected(now time.Time, p peer.ID, out *Output) Outcome {
	if p == "" {
		return OutcomeInvalidInput
	}
	if _, ok := a.peers[p]; ok {
		return OutcomeAlreadyTracked
	}
	if len(a.peers) >= a.cfg.MaxPeers {
		return OutcomeTooManyPeers
	}
	a.peers[p] = &peerState{next: now}
	a.order = append(a.order, p)
	a.schedule(now, out)
	return OutcomeTracked
}

// HandleDisconnected forgets p. A probe of p still running frees its slot
// when its result comes (HandleProbeResult answers OutcomeUnknownPeer).
//
// Outcomes: OutcomeForgotten, OutcomeUnknownPeer.
func (a *Automaton) HandleDisconnected(now time.Time, p peer.ID, out *Output) Outcome {
	ps, ok := a.peers[p]
	if !ok {
		return OutcomeUnknownPeer
	}
	if ps.inFlight {
		// The slot stays taken until the result arrives: the probe is
		// still running in the driver.
		a.orphans++
	}
	delete(a.peers, p)
	for i, q := range a.order {
		if q == p {
			a.order = append(a.order[:i], a.order[i+1:]...)
			break
		}
	}
	a.schedule(now, out)
	return OutcomeForgotten
}

// HandleProbeResult takes the result of a probe the driver started for p:
// ok with the round trip rtt (negative values are clamped to 0), or a
// failure. A success emits EvtPeerRTTMeasured and schedules the next probe
// after Config.Interval; a failure schedules a retry after Config.Interval
// or, at Config.MaxFailures in a row, gives the peer up until it reconnects.
//
// Outcomes: OutcomeMeasured, OutcomeProbeFailed, OutcomeGaveUp,
// OutcomeUnknownPeer (p disconnected meanwhile, or no probe was running).
func (a *Automaton) HandleProbeResult(now time.Time, p peer.ID, rtt time.Duration, ok bool, out *Output) Outcome {
	ps := a.peers[p]
	if ps == nil || !ps.inFlight {
		if a.orphans > 0 {
			a.orphans--
			a.inFlight--
		}
		a.schedule(now, out)
		return OutcomeUnknownPeer
	}
	ps.inFlight = false
	a.inFlight--
	ps.next = now.Add(a.cfg.Interval)
	outcome := OutcomeMeasured
	if ok {
		ps.failures = 0
		out.Measured.Add(events.EvtPeerRTTMeasured{Peer: p, RTT: max(rtt, 0), At: now})
	} else {
		ps.failures++
		outcome = OutcomeProbeFailed
		if ps.failures >= a.cfg.MaxFailures {
			ps.gaveUp = true
			outcome = OutcomeGaveUp
		}
	}
	a.schedule(now, out)
	return outcome
}

// HandleTick starts the probes that are due, as far as slots allow. The
// driver calls it periodically (its resolution bounds how late a probe
// starts).
//
// Outcomes: OutcomeTickDone.
func (a *Automaton) HandleTick(now time.Time, out *Output) Outcome {
	a.schedule(now, out)
	return OutcomeTickDone
}

// schedule lists in out.Probes the due peers, in connection order, while
// slots are free.
func (a *Automaton) schedule(now time.Time, out *Output) {
	for _, p := range a.order {
		if a.inFlight >= a.cfg.MaxInFlight {
			return
		}
		ps := a.peers[p]
		if ps.inFlight || ps.gaveUp || now.Before(ps.next) {
			continue
		}
		ps.inFlight = true
		a.inFlight++
		out.Probes = append(out.Probes, p)
	}
}

// InFlight returns how many probes run (results not yet handled).
func (a *Automaton) InFlight() int { return a.inFlight }

// Tracked returns how many peers are tracked.
func (a *Automaton) Tracked() int { return len(a.peers) }
