// Package automaton is the pure core of the discovery add-ons (package mdns
// and package dht beside it): it decides which found peers are announced on
// the bus as events.EvtPeerFound, and, for topic-based discovery, which
// topics a round advertises and looks up.
//
// It has no goroutines, no I/O, no locks and no clock reads: each Handle
// method takes the time as an argument, records its decision in an Output
// and returns a named Outcome. Only the add-on's driver goroutine calls it.
//
// The decisions:
//   - A found peer is announced unless it is the node itself, has no
//     address, was found for a topic the node no longer follows, or was
//     already announced with the same addresses less than
//     Config.Reannounce ago. A peer is therefore announced when it is first
//     found, when its addresses change, and again once per Reannounce while
//     it keeps being found (so the peer manager hears of a peer it may have
//     forgotten), not once per mDNS response or DHT round.
//   - At most Config.MaxPeers announced peers are remembered; remembering
//     one more forgets the one announced longest ago (that peer is simply
//     announced afresh when found again).
//   - The topics are Config.Topics, which are always followed, plus every
//     topic joined and not since left.
package automaton

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// ErrInvalidConfig wraps every Config error New reports.
var ErrInvalidConfig = errors.New("discovery automaton: invalid config")

// Defaults of Config.
const (
	// DefaultReannounce is how long an announced peer found again with the
	// same addresses is not announced again.
	DefaultReannounce = 10 * time.Minute
	// DefaultMaxPeers bounds the announced peers remembered.
	DefaultMaxPeers = 1024
)

// Config is the core's configuration.
type Config struct {
	// Self is the node's own peer ID; the node finding itself is ignored.
	Self peer.ID
	// Via names the mechanism in the events ("mdns", "dht"); required.
	Via string
	// Topics are followed from the start and never left ("" is invalid).
	Topics []string
	// Reannounce is how long a peer announced with some addresses is not
	// announced again with the same ones; 0 announces every find.
	Reannounce time.Duration
	// MaxPeers bounds the announced peers remembered (>= 1).
	MaxPeers int
}

// DefaultConfig returns a Config with the defaults for self and via.
func DefaultConfig(self peer.ID, via string) Config {
	return Config{Self: self, Via: via, Reannounce: DefaultReannounce, MaxPeers: DefaultMaxPeers}
}

func (c Config) validate() error {
	switch {
	case c.Via == "":
		return fmt.Errorf("%w: Via is empty", ErrInvalidConfig)
	case c.Reannounce < 0:
		return fmt.Errorf("%w: Reannounce %v, want >= 0", ErrInvalidConfig, c.Reannounce)
	case c.MaxPeers < 1:
		return fmt.Errorf("%w: MaxPeers %d, want >= 1", ErrInvalidConfig, c.MaxPeers)
	}
	for _, t := range c.Topics {
		if t == "" {
			return fmt.Errorf("%w: an empty topic", ErrInvalidConfig)
		}
	}
	return nil
}

// announced is what the core remembers of a peer it announced.
type announced struct {
	addrs string    // the canonical form of the addresses announced
	at    time.Time // when
}

// Automaton is the discovery core. It is not safe for concurrent use: one
// driver goroutine owns it.
type Automaton struct {
	cfg    Config
	topics []string // followed topics: cfg.Topics first, then joined ones in join order
	peers  map[peer.ID]announced
}

// New returns a core for cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Automaton, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Topics = slices.Clone(cfg.Topics)
	topics := make([]string, 0, len(cfg.Topics))
	for _, t := range cfg.Topics {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	return &Automaton{cfg: cfg, topics: topics, peers: map[peer.ID]announced{}}, nil
}

// Found is one peer a discovery mechanism reported.
type Found struct {
	// Info is the peer and the addresses it was found with; the core
	// copies the address slice into the event it decides.
	Info peer.AddrInfo
	// Topic is the topic it was found for ("" for mechanisms that are not
	// topic based).
	Topic string
}

// HandleFound decides whether a found peer is announced. Outcomes:
// OutcomeAnnounced (an EvtPeerFound is in out), OutcomeSelf,
// OutcomeNoAddrs, OutcomeTopicNotFollowed, OutcomeRepeat.
func (a *Automaton) HandleFound(now time.Time, in Found, out *Output) Outcome {
	switch {
	case in.Info.ID == a.cfg.Self:
		return OutcomeSelf
	case len(in.Info.Addrs) == 0:
		return OutcomeNoAddrs
	case in.Topic != "" && !slices.Contains(a.topics, in.Topic):
		return OutcomeTopicNotFollowed
	}
	key := addrKey(in.Info.Addrs)
	if prev, ok := a.peers[in.Info.ID]; ok && prev.addrs == key && a.cfg.Reannounce > 0 && now.Sub(prev.at) < a.cfg.Reannounce {
		return OutcomeRepeat
	}
	if _, ok := a.peers[in.Info.ID]; !ok && len(a.peers) >= a.cfg.MaxPeers {
		a.forgetOldest()
	}
	a.peers[in.Info.ID] = announced{addrs: key, at: now}
	info := peer.AddrInfo{ID: in.Info.ID, Addrs: slices.Clone(in.Info.Addrs)}
	out.Found.Add(events.EvtPeerFound{Info: info, Via: a.cfg.Via, Topic: in.Topic, At: now})
	return OutcomeAnnounced
}

// HandleTopicJoined follows topic from now on. Outcomes: OutcomeTopicAdded,
// OutcomeTopicKnown (already followed), OutcomeTopicInvalid ("").
func (a *Automaton) HandleTopicJoined(_ time.Time, topic string, _ *Output) Outcome {
	switch {
	case topic == "":
		return OutcomeTopicInvalid
	case slices.Contains(a.topics, topic):
		return OutcomeTopicKnown
	}
	a.topics = append(a.topics, topic)
	return OutcomeTopicAdded
}

// HandleTopicLeft stops following topic unless it is one of Config.Topics.
// Outcomes: OutcomeTopicRemoved, OutcomeTopicConfigured (kept),
// OutcomeTopicUnknown (not followed).
func (a *Automaton) HandleTopicLeft(_ time.Time, topic string, _ *Output) Outcome {
	switch {
	case slices.Contains(a.cfg.Topics, topic):
		return OutcomeTopicConfigured
	case !slices.Contains(a.topics, topic):
		return OutcomeTopicUnknown
	}
	a.topics = slices.DeleteFunc(a.topics, func(t string) bool { return t == topic })
	return OutcomeTopicRemoved
}

// Topics returns the topics a round advertises and looks up, configured
// ones first, then joined ones in join order. The slice is a copy.
func (a *Automaton) Topics() []string { return slices.Clone(a.topics) }

// Remembered returns how many announced peers the core remembers.
func (a *Automaton) Remembered() int { return len(a.peers) }

func (a *Automaton) forgetOldest() {
	var oldest peer.ID
	var at time.Time
	first := true
	for id, p := range a.peers {
		if first || p.at.Before(at) || (p.at.Equal(at) && id < oldest) {
			oldest, at, first = id, p.at, false
		}
	}
	delete(a.peers, oldest)
}

// addrKey is the order-independent form of an address set.
func addrKey(addrs []ma.Multiaddr) string {
	ss := make([]string, 0, len(addrs))
	for _, m := range addrs {
		if m != nil {
			ss = append(ss, string(m.Bytes()))
		}
	}
	slices.Sort(ss)
	ss = slices.Compact(ss)
	return strings.Join(ss, "\x00")
}
