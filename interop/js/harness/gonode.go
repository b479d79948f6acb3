package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/components/peermgr"
	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	meshhost "github.com/meshbus/meshbus/host"
	"github.com/meshbus/meshbus/internal/p2phost"
)

// GoMessage is one message a GoNode's subscription delivered.
type GoMessage struct {
	// Topic is the message's topic.
	Topic string
	// From is the author (the wire's from field).
	From peer.ID
	// Seqno is the author's sequence number as it came on the wire.
	Seqno []byte
	// Data is the payload.
	Data []byte
	ID   string // the router's message id (raw bytes)
	// ReceivedFrom is the peer that sent the message first; the node's own
	// id for its own publications (Member.Received skips those).
	ReceivedFrom peer.ID
	// Raw is the wire message as received (with signature); read-only.
	Raw *pb.Message
}

// RouterLog is what a GoNode's router reported on the bus.
type RouterLog struct {
	// Protocols is the pubsub protocol negotiated with each peer
	// (EvtRouterPeerAdded; the last one if a peer was added twice).
	Protocols map[peer.ID]protocol.ID
	// Grafted is, per peer, how many times it entered the topic's mesh
	// (EvtPeerGrafted).
	Grafted map[peer.ID]int
	// Pruned counts EvtPeerPruned per peer.
	Pruned map[peer.ID]int
	// Rejected counts EvtMessageRejected by reason.
	Rejected map[events.RejectReason]int
	// Scores is the last EvtPeerScoresUpdated snapshot (empty without a
	// scorer, as in AssemblyRouter); HasScorer says whether one came.
	Scores map[peer.ID]float64
	// HasScorer is set once any EvtPeerScoresUpdated has arrived.
	HasScorer bool
	// Penalties counts EvtPeerPenalized per peer and reason.
	Penalties map[peer.ID]map[string]int
	// Duplicates counts EvtMessageDuplicated (copies the router received
	// again and did not deliver).
	Duplicates int
}

// GoNode is a meshbus node on 127.0.0.1 (TCP), assembled as its Assembly
// says, joined to one topic with one subscription. Close stops everything
// it started.
type GoNode struct {
	// Name labels the node in reports and logs.
	Name string
	// Host is the node's libp2p host: host.New's under AssemblyHost, a
	// plain go-libp2p host under AssemblyRouter.
	Host host.Host
	// Bus is the node's event bus, which the router and the recorder use.
	Bus *eventbus.Bus
	// Router is the node's gossipsub router.
	Router *router.Router
	// Topic is the one topic the node joined (GoOptions.Topic); Member
	// publishes on it.
	Topic *router.Topic
	// Registry holds the router's metrics (and, under AssemblyHost, the
	// whole node's).
	Registry *prometheus.Registry

	sub     *router.Subscription
	closers []func() error // run in reverse order by Close
	wg      sync.WaitGroup
	cancel  context.CancelFunc

	mu   sync.Mutex
	msgs []GoMessage
	log  RouterLog
}

// Assembly names how a GoNode is put together.
type Assembly string

// The assemblies.
const (
	// AssemblyHost is a full meshbus node from host.New: connection
	// tracking, scoring, the router and the peer manager, on TCP.
	AssemblyHost Assembly = "host"
	// AssemblyRouter is the router alone on a go-libp2p host (TCP, noise,
	// yamux) and a bus, with the host's events bridged onto the bus: no
	// scorer, no peer manager.
	AssemblyRouter Assembly = "router"
)

// GoOptions configure a GoNode.
type GoOptions struct {
	// Name labels the node (GoNode.Name) and its log lines and bus
	// subscription.
	Name string
	// Topic is the topic the node joins and subscribes to.
	Topic string
	// Seed makes the router's random choices reproducible.
	Seed     uint64
	Assembly Assembly // default AssemblyHost
	// Sparse sets the mesh degree to 1 (D = Dlo = Dhi = 1, Dout = Dscore
	// = 0) and turns flood publishing off, so that most messages travel by
	// gossip.
	Sparse bool
	// Logger receives the node's logs, tagged with its name (nil:
	// discarded).
	Logger *slog.Logger
}

// StartGoNode starts a meshbus node as o.Assembly says, joins o.Topic and
// subscribes; the node records the subscription's messages and the
// router's events from before its first peer.
func StartGoNode(o GoOptions) (n *GoNode, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	n = &GoNode{
		Name: o.Name,
		log: RouterLog{
			Protocols: make(map[peer.ID]protocol.ID),
			Grafted:   make(map[peer.ID]int),
			Pruned:    make(map[peer.ID]int),
			Rejected:  make(map[events.RejectReason]int),
			Penalties: make(map[peer.ID]map[string]int),
			Scores:    make(map[peer.ID]float64),
		},
	}
	defer func() {
		if err != nil {
			_ = n.Close()
			n = nil
		}
	}()
	logger := o.Logger.With("node", o.Name)
	ropts := []router.Option{router.WithSeed(o.Seed)}
	if o.Sparse {
		gc := router.DefaultGossipConfig()
		gc.D, gc.Dlo, gc.Dhi, gc.Dout, gc.Dscore = 1, 1, 1, 0, 0
		gc.FloodPublish = false
		ropts = append(ropts, router.WithGossipConfig(gc))
	}
	switch o.Assembly {
	case AssemblyHost, "":
		err = n.startHost(ropts, logger)
	case AssemblyRouter:
		err = n.startRouter(ropts, logger)
	default:
		err = fmt.Errorf("%w: Assembly %q", ErrInvalidConfig, o.Assembly)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Name, err)
	}
	if n.Topic, err = n.Router.Join(o.Topic); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Name, err)
	}
	if n.sub, err = n.Topic.Subscribe(router.SubscriptionBuffer(4096)); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go n.collect(ctx)
	return n, nil
}

// startHost builds the node with host.New. The recorder subscribes in an
// fx.Invoke, which runs before any component starts.
//
// The peer manager's per-IP connection limit (default 5) is off: every node
// of the harness is on 127.0.0.1, and the limit would cut links in a dense
// mesh (scoring already exempts loopback from its colocation penalty, and
// the JS peers are told to).
func (n *GoNode) startHost(ropts []router.Option, logger *slog.Logger) error {
	var r *router.Router
	node, err := meshhost.New(context.Background(),
		meshhost.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		meshhost.WithLogger(logger),
		meshhost.WithFx(
			router.Options(ropts...),
			peermgr.Options(peermgr.WithColocationLimit(0)),
			fx.Invoke(func(b *eventbus.Bus) error { n.Bus = b; return n.record() }),
			fx.Populate(&r),
		),
	)
	if err != nil {
		return err
	}
	n.closers = append(n.closers, node.Close)
	n.Host, n.Router, n.Registry = node.Host(), r, node.Registry()
	return nil
}

// startRouter builds a libp2p host, a bus, the bridge and a router.
func (n *GoNode) startRouter(ropts []router.Option, logger *slog.Logger) error {
	h, err := newLibp2pHost()
	if err != nil {
		return fmt.Errorf("libp2p: %w", err)
	}
	n.Host = h
	n.closers = append(n.closers, h.Close)
	n.Bus = eventbus.New(eventbus.WithLogger(logger))
	n.closers = append(n.closers, n.Bus.Close)
	if err := n.bridge(); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	if err := n.record(); err != nil {
		return fmt.Errorf("router events: %w", err)
	}
	n.Registry = prometheus.NewRegistry()
	r, err := router.New(h, n.Bus,
		append([]router.Option{router.WithClock(clock.New()), router.WithRegisterer(n.Registry), router.WithLogger(logger)}, ropts...)...)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if err := r.Start(context.Background()); err != nil {
		return fmt.Errorf("router start: %w", err)
	}
	n.Router = r
	n.closers = append(n.closers, r.Close)
	return nil
}

// newLibp2pHost returns a go-libp2p host with the JS peers' stack: TCP on
// 127.0.0.1, noise, yamux (and identify, always on), nothing else.
func newLibp2pHost() (host.Host, error) {
	// Listening after the build (internal/p2phost): a listen failure then
	// leaves none of go-libp2p's goroutines behind.
	return p2phost.New([]ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
}

// bridge starts the connection tracker (components/conntrack), which turns the
// host's connection notifications and go-libp2p's events into the meshbus
// events the router learns peers from; in AssemblyRouter nothing else does.
func (n *GoNode) bridge() error {
	t, err := conntrack.New(n.Host, n.Bus)
	if err != nil {
		return err
	}
	if err := t.Start(context.Background()); err != nil {
		return err
	}
	n.closers = append(n.closers, t.Close)
	return nil
}

// record subscribes to the router's events that the checks need. It blocks
// the router rather than lose one: these are the facts the test asserts.
func (n *GoNode) record() error {
	sub, err := n.Bus.Subscribe([]any{new(events.EvtRouterPeerAdded), new(events.EvtPeerGrafted),
		new(events.EvtPeerPruned), new(events.EvtMessageRejected), new(events.EvtMessageDuplicated),
		new(events.EvtPeerPenalized), new(events.EvtPeerScoresUpdated)},
		eventbus.Name("interop/"+n.Name), eventbus.BufSize(4096), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.Out() {
			n.mu.Lock()
			switch e := ev.(type) {
			case events.EvtRouterPeerAdded:
				n.log.Protocols[e.Peer] = e.Protocol
			case events.EvtPeerGrafted:
				n.log.Grafted[e.Peer]++
			case events.EvtPeerPruned:
				n.log.Pruned[e.Peer]++
			case events.EvtMessageRejected:
				n.log.Rejected[e.Reason]++
			case events.EvtMessageDuplicated:
				n.log.Duplicates++
			case events.EvtPeerScoresUpdated:
				n.log.HasScorer = true
				clear(n.log.Scores)
				for _, ps := range e.Scores {
					n.log.Scores[ps.Peer] = ps.Score
				}
			case events.EvtPeerPenalized:
				if n.log.Penalties[e.Peer] == nil {
					n.log.Penalties[e.Peer] = make(map[string]int)
				}
				n.log.Penalties[e.Peer][e.Reason.String()] += e.Count
			}
			n.mu.Unlock()
		}
	}()
	n.closers = append(n.closers, func() error {
		err := sub.Close()
		<-done
		return err
	})
	return nil
}

// collect records every message the subscription delivers until ctx ends
// or the subscription does.
func (n *GoNode) collect(ctx context.Context) {
	defer n.wg.Done()
	for {
		m, err := n.sub.Next(ctx)
		if err != nil {
			return
		}
		n.mu.Lock()
		n.msgs = append(n.msgs, GoMessage{Topic: m.Topic, From: m.From, Seqno: m.Seqno, Data: m.Data, ID: m.ID, ReceivedFrom: m.ReceivedFrom, Raw: m.Raw})
		n.mu.Unlock()
	}
}

// Outcomes returns the router's meshbus_router_outcomes_total counter for
// one automaton outcome (e.g. "idontwant_recorded"), 0 if never counted.
func (n *GoNode) Outcomes(outcome string) int {
	mfs, err := n.Registry.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() != "meshbus_router_outcomes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "outcome" && lp.GetValue() == outcome {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

// PeersByProtocol returns the router's meshbus_router_peers gauge for one
// negotiated protocol (e.g. /floodsub/1.0.0): how many pubsub peers speak
// it now, 0 if never set.
func (n *GoNode) PeersByProtocol(p protocol.ID) int {
	mfs, err := n.Registry.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() != "meshbus_router_peers" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "protocol" && lp.GetValue() == string(p) {
					return int(m.GetGauge().GetValue())
				}
			}
		}
	}
	return 0
}

// ID returns the node's peer id.
func (n *GoNode) ID() peer.ID { return n.Host.ID() }

// AddrInfo returns the node's id and listen addresses.
func (n *GoNode) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()}
}

// Dial connects the node to ai.
func (n *GoNode) Dial(ctx context.Context, ai peer.AddrInfo) error { return n.Host.Connect(ctx, ai) }

// Messages returns a copy of the messages delivered so far, in order; the
// node's own publications are among them (a Subscription sees them).
func (n *GoNode) Messages() []GoMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]GoMessage(nil), n.msgs...)
}

// Log returns a copy of what the router reported so far.
func (n *GoNode) Log() RouterLog {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := RouterLog{
		Protocols:  make(map[peer.ID]protocol.ID, len(n.log.Protocols)),
		Grafted:    make(map[peer.ID]int, len(n.log.Grafted)),
		Pruned:     make(map[peer.ID]int, len(n.log.Pruned)),
		Rejected:   make(map[events.RejectReason]int, len(n.log.Rejected)),
		Penalties:  make(map[peer.ID]map[string]int, len(n.log.Penalties)),
		Scores:     make(map[peer.ID]float64, len(n.log.Scores)),
		HasScorer:  n.log.HasScorer,
		Duplicates: n.log.Duplicates,
	}
	for k, v := range n.log.Scores {
		c.Scores[k] = v
	}
	for k, v := range n.log.Penalties {
		c.Penalties[k] = make(map[string]int, len(v))
		for r, x := range v {
			c.Penalties[k][r] = x
		}
	}
	for k, v := range n.log.Protocols {
		c.Protocols[k] = v
	}
	for k, v := range n.log.Grafted {
		c.Grafted[k] = v
	}
	for k, v := range n.log.Pruned {
		c.Pruned[k] = v
	}
	for k, v := range n.log.Rejected {
		c.Rejected[k] = v
	}
	return c
}

// Close stops the collector, then the router, the bus and the host. It is
// safe to call once; errors are joined.
func (n *GoNode) Close() error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i]())
	}
	return errors.Join(errs...)
}
