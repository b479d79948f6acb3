package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
)

// This file is the whole add-on: a per-peer uptime tracker written outside
// meshbus. It is plugged into a node with one option,
// host.WithFx(UptimeModule), and gets what a built-in gets: the bus, the
// clock, the metrics registry and the logger.
//
// Its metric is a plain client_golang counter on purpose. The built-in
// components keep theirs in meshbus's internal/promreg (descriptors shared
// by the process, one array of numbers per node), but an add-on written in
// another module cannot import an internal package, and this file shows
// what such an add-on writes: any client_golang collector, registered on
// the registerer the node provides. Like every meshbus component it takes
// the registerer as optional and keeps no metric without one (a node built
// with host.WithoutMetrics provides none).

// EvtSessionEnded is the add-on's own event, emitted on the node's bus when
// a peer's connected session ends: an add-on emits like a built-in.
type EvtSessionEnded struct {
	Peer   peer.ID
	Lasted time.Duration
	At     time.Time
}

// EvtSessionStarted is emitted by the add-on when a peer's connected
// session starts.
type EvtSessionStarted struct {
	Peer peer.ID
	At   time.Time
}

// PeerUptime is one row of the uptime report.
type PeerUptime struct {
	Peer      peer.ID
	Sessions  int
	Connected bool
	Total     time.Duration
}

// Uptime tracks, per peer, how long and how often it was connected. It reads
// EvtPeerConnectednessChanged, whose Connected/NotConnected alternate per
// peer, so it never has to guess.
type Uptime struct {
	clk      clock.Clock
	log      *slog.Logger
	sub      *eventbus.Subscription[events.EvtPeerConnectednessChanged]
	started  *eventbus.Emitter[EvtSessionStarted]
	ended    *eventbus.Emitter[EvtSessionEnded]
	sessions prometheus.Counter // nil without a registerer
	done     chan struct{}

	mu    sync.Mutex
	peers map[peer.ID]*peerUptime
}

type peerUptime struct {
	sessions int
	since    time.Time // zero when not connected
	total    time.Duration
}

// UptimeModule is the add-on as one fx option; host.Component names it
// "uptime" in the node's lifecycle events.
var UptimeModule = host.Component("uptime", fx.Provide(NewUptime))

// UptimeDeps are what NewUptime takes from the node. The registerer is
// optional: without one the add-on keeps no metric.
type UptimeDeps struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Bus        *eventbus.Bus
	Clock      clock.Clock
	Registerer prometheus.Registerer `optional:"true"`
	Logger     *slog.Logger
}

// NewUptime builds the add-on. It subscribes here, before the node seals its
// bus, with RequireEmitter: a node without connection tracking would fail to
// start rather than leave the add-on waiting forever. Its counter is
// registered on the node's registerer, if any, and taken off at stop.
func NewUptime(d UptimeDeps) (*Uptime, error) {
	lc, bus, reg := d.Lifecycle, d.Bus, d.Registerer
	u := &Uptime{clk: d.Clock, log: d.Logger, done: make(chan struct{}), peers: make(map[peer.ID]*peerUptime)}
	if reg != nil {
		u.sessions = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "uptime_sessions_total", Help: "Peer sessions the uptime add-on saw start.",
		})
		if err := reg.Register(u.sessions); err != nil {
			return nil, err
		}
	}
	unregister := func() {
		if u.sessions != nil {
			reg.Unregister(u.sessions)
		}
	}
	var err error
	// Block with a generous buffer: a lost disconnect would leave a peer
	// "connected" forever, and this subscriber reads promptly.
	u.sub, err = eventbus.Subscribe[events.EvtPeerConnectednessChanged](bus,
		eventbus.Name("uptime"), eventbus.BufSize(256),
		eventbus.WithPolicy(eventbus.Block), eventbus.RequireEmitter())
	if err != nil {
		unregister()
		return nil, err
	}
	u.started, err = eventbus.NewEmitter[EvtSessionStarted](bus)
	if err != nil {
		u.sub.Close()
		unregister()
		return nil, err
	}
	u.ended, err = eventbus.NewEmitter[EvtSessionEnded](bus)
	if err != nil {
		u.sub.Close()
		u.started.Close()
		unregister()
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go u.run()
			return nil
		},
		OnStop: func(context.Context) error {
			u.sub.Close() // ends run's loop
			<-u.done
			u.started.Close()
			unregister()
			return u.ended.Close()
		},
	})
	return u, nil
}

func (u *Uptime) run() {
	defer close(u.done)
	for e := range u.sub.Out() {
		u.observe(e)
	}
}

func (u *Uptime) observe(e events.EvtPeerConnectednessChanged) {
	now := u.clk.Now()
	u.mu.Lock()
	p := u.peers[e.Peer]
	if p == nil {
		p = &peerUptime{}
		u.peers[e.Peer] = p
	}
	var err error
	switch e.Connectedness {
	case network.Connected:
		p.sessions++
		p.since = now
		u.mu.Unlock()
		if u.sessions != nil {
			u.sessions.Inc()
		}
		err = u.started.Emit(EvtSessionStarted{Peer: e.Peer, At: now})
	case network.NotConnected:
		lasted := now.Sub(p.since)
		p.total += lasted
		p.since = time.Time{}
		u.mu.Unlock()
		err = u.ended.Emit(EvtSessionEnded{Peer: e.Peer, Lasted: lasted, At: now})
	default: // Limited and friends: the tracker does not emit them
		u.mu.Unlock()
	}
	if err != nil {
		u.log.Debug("uptime: emit", "err", err)
	}
}

// Report returns every peer seen, ordered by peer id; a connected peer's
// total includes its current session so far.
func (u *Uptime) Report() []PeerUptime {
	now := u.clk.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	rows := make([]PeerUptime, 0, len(u.peers))
	for id, p := range u.peers {
		r := PeerUptime{Peer: id, Sessions: p.sessions, Connected: !p.since.IsZero(), Total: p.total}
		if r.Connected {
			r.Total += now.Sub(p.since)
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Peer < rows[j].Peer })
	return rows
}

// String renders a row.
func (r PeerUptime) String() string {
	return fmt.Sprintf("%s sessions=%d connected=%v total=%v", r.Peer, r.Sessions, r.Connected, r.Total)
}
