package host

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/identify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// evtPeerSeen is an add-on's own event type: add-ons emit like built-ins.
type evtPeerSeen struct {
	Peer  peer.ID
	Total int
}

// peerCounter is a test add-on: it counts connected peers from the bus,
// exports the count as a metric, emits evtPeerSeen, and runs one goroutine
// between start and stop.
type peerCounter struct {
	bus     *eventbus.Bus
	host    corehost.Host
	clk     clock.Clock
	log     *slog.Logger
	nodeCtx context.Context
	gauge   prometheus.Gauge
	sub     *eventbus.Subscription[events.EvtPeerConnectednessChanged]
	em      *eventbus.Emitter[evtPeerSeen]
	done    chan struct{}

	mu    sync.Mutex
	total int
}

func newPeerCounter(lc fx.Lifecycle, bus *eventbus.Bus, h corehost.Host, clk clock.Clock, reg prometheus.Registerer, log *slog.Logger, ctx context.Context) (*peerCounter, error) {
	c := &peerCounter{bus: bus, host: h, clk: clk, log: log, nodeCtx: ctx, done: make(chan struct{})}
	c.gauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "addon_peers_seen", Help: "Peers the add-on saw connect."})
	if err := reg.Register(c.gauge); err != nil {
		return nil, err
	}
	em, err := eventbus.NewEmitter[evtPeerSeen](bus)
	if err != nil {
		return nil, err
	}
	c.em = em
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			sub, err := eventbus.Subscribe[events.EvtPeerConnectednessChanged](bus,
				eventbus.Name("peer-counter"), eventbus.BufSize(64),
				eventbus.WithPolicy(eventbus.Block), eventbus.RequireEmitter())
			if err != nil {
				return err
			}
			c.sub = sub
			go c.run()
			return nil
		},
		OnStop: func(context.Context) error {
			c.sub.Close()
			<-c.done
			return c.em.Close()
		},
	})
	return c, nil
}

func (c *peerCounter) run() {
	defer close(c.done)
	for e := range c.sub.Out() {
		if e.Connectedness != network.Connected {
			continue
		}
		c.mu.Lock()
		c.total++
		total := c.total
		c.mu.Unlock()
		c.gauge.Set(float64(total))
		c.em.Emit(evtPeerSeen{Peer: e.Peer, Total: total})
	}
}

// TestAddonIsInjectedAndReceivesEvents: an add-on given as one option gets
// every dependency a built-in gets, receives connection events, emits its
// own, registers metrics on the node's registry, and stops with the node.
func TestAddonIsInjectedAndReceivesEvents(t *testing.T) {
	clk := clock.NewMock()
	reg := prometheus.NewRegistry()
	var pc *peerCounter
	a := newNode(t, WithClock(clk), WithRegistry(reg),
		WithComponent("peer-counter", fx.Provide(newPeerCounter), fx.Populate(&pc)))
	if pc == nil || pc.host != a.Host() || pc.bus != a.Bus() || pc.clk != clk || pc.log == nil || pc.nodeCtx != a.Context() {
		t.Fatalf("add-on not injected with the node's parts: %+v", pc)
	}
	seen, err := eventbus.Subscribe[evtPeerSeen](a.Bus(), eventbus.BufSize(8), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	b := newNode(t)
	connect(t, b, a)
	select {
	case e := <-seen.Out():
		if e.Peer != b.ID() || e.Total != 1 {
			t.Fatalf("add-on emitted %+v", e)
		}
	case <-time.After(waitFor):
		t.Fatal("add-on emitted nothing")
	}
	if v := testutil.ToFloat64(pc.gauge); v != 1 {
		t.Fatalf("add-on gauge = %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "addon_peers_seen", "meshbus_conntrack_connections_opened_total"); err != nil || n != 2 {
		t.Fatalf("node registry: %d metrics (%v), want the add-on's and the tracker's", n, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pc.done:
	default:
		t.Fatal("add-on goroutine still running after Close")
	}
	if a.Context().Err() == nil {
		t.Fatal("node context not canceled by Close")
	}
}

type evtNobodyEmits struct{ X int }

// TestRequireEmitterFailsStart: a subscription that requires an emitter no
// component provides makes New fail, naming the type; nothing keeps running.
func TestRequireEmitterFailsStart(t *testing.T) {
	requireIn := func(lc fx.Lifecycle, bus *eventbus.Bus) {
		lc.Append(fx.StartHook(func() error {
			_, err := eventbus.Subscribe[evtNobodyEmits](bus, eventbus.RequireEmitter(), eventbus.Name("needy"))
			return err
		}))
	}
	_, err := New(context.Background(), WithComponent("needy", fx.Invoke(requireIn)))
	if !errors.Is(err, ErrStart) || !errors.Is(err, eventbus.ErrNoEmitter) {
		t.Fatalf("New: %v, want ErrStart wrapping ErrNoEmitter", err)
	}
	if !strings.Contains(err.Error(), "host.evtNobodyEmits") || !strings.Contains(err.Error(), "needy") {
		t.Fatalf("error does not name the type and subscriber: %v", err)
	}

	// The built-in tracker's events are required the same way: present by
	// default, missing without the tracker.
	requireConn := fx.Invoke(func(bus *eventbus.Bus) error {
		_, err := eventbus.Subscribe[events.EvtConnOpened](bus, eventbus.RequireEmitter())
		return err
	})
	newNode(t, WithFx(requireConn))
	_, err = New(context.Background(), WithoutComponent(ComponentConnTrack), WithFx(requireConn))
	if !errors.Is(err, eventbus.ErrNoEmitter) || !strings.Contains(err.Error(), "events.EvtConnOpened") {
		t.Fatalf("New without conntrack: %v", err)
	}
}

// stalledAddon subscribes with the given policy and never reads.
func stalledAddon(name string, p eventbus.Policy, buf int) fx.Option {
	return Component(name, fx.Invoke(func(lc fx.Lifecycle, bus *eventbus.Bus) {
		var subs []event2closer
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				for _, sub := range []func() (event2closer, error){
					func() (event2closer, error) {
						return eventbus.Subscribe[events.EvtConnOpened](bus, eventbus.Name(name), eventbus.WithPolicy(p), eventbus.BufSize(buf))
					},
					func() (event2closer, error) {
						return eventbus.Subscribe[events.EvtPeerConnectednessChanged](bus, eventbus.Name(name), eventbus.WithPolicy(p), eventbus.BufSize(buf))
					},
				} {
					s, err := sub()
					if err != nil {
						return err
					}
					subs = append(subs, s)
				}
				return nil
			},
			// Closing the subscriptions at stop is what a Block
			// subscriber owes the node: the tracker may be waiting on it.
			OnStop: func(context.Context) error {
				for _, s := range subs {
					s.Close()
				}
				return nil
			},
		})
	}))
}

type event2closer interface{ Close() error }

// TestStalledSubscribers: add-ons that never read (Drop, Notify, and even
// Block) do not keep go-libp2p from connecting and identifying; under Drop
// and Notify, other subscribers still get every connection event.
func TestStalledSubscribers(t *testing.T) {
	const rounds = 20
	for _, tc := range []struct {
		policy     eventbus.Policy
		othersFlow bool // whether other subscribers keep receiving
	}{{eventbus.Drop, true}, {eventbus.Notify, true}, {eventbus.Block, false}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			// a listens on one TCP address only: given TCP and QUIC
			// addresses, b's go-libp2p may complete two dials for one
			// Connect, and this test counts one connection per round.
			a := newNode(t, noDialer, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithFx(stalledAddon("stalled", tc.policy, 1)))
			b := newNode(t, noDialer)
			// Under Block the tracker waits on the stalled add-on, and a
			// recorder's Close would wait on the tracker: no recorder then.
			var ra *recorder
			if tc.othersFlow {
				ra = record(t, a.Bus(), connTypes...)
			}
			sa := countSwarm(a)
			check := newConnChecker(t)
			for i := 0; i < rounds; i++ {
				connect(t, b, a)
				// Identify between them completes: a's go-libp2p answers
				// b's identify request while a's subscriber is stalled.
				waitIdentified(t, b, a.ID())
				b.Host().Network().ClosePeer(a.ID())
				// a learns of the close over the network. Dialing again
				// before a's tracker has seen it would overlap two rounds'
				// connections on a's side: one Connected for two rounds
				// (correct, but not what this test counts). So each round
				// waits for a to report b gone.
				if tc.othersFlow {
					ra.until(func(e any) bool {
						check.feed(e)
						return connectedness(b.ID(), network.NotConnected)(e)
					})
				}
			}
			opened, closed := sa.settled(t)
			if opened != rounds || closed != rounds {
				t.Fatalf("swarm saw %d opens and %d closes, want %d", opened, closed, rounds)
			}
			if !tc.othersFlow {
				return
			}
			if check.opened != rounds || check.closed != rounds || len(check.expect) != 0 {
				t.Fatalf("other subscriber saw %d opens and %d closes, owed %v, want %d each", check.opened, check.closed, check.expect, rounds)
			}
			if check.seen[b.ID()] != rounds {
				t.Fatalf("other subscriber saw %d Connected, want %d", check.seen[b.ID()], rounds)
			}
			var dropped uint64
			for _, s := range a.Bus().Subscriptions() {
				if s.Name == "stalled" {
					dropped += s.Dropped
				}
			}
			if dropped == 0 {
				t.Fatalf("stalled %v subscriber dropped nothing: %+v", tc.policy, a.Bus().Subscriptions())
			}
		})
	}
}

// waitIdentified waits until go-libp2p's identify service of n finished on
// its connections to p.
func waitIdentified(t *testing.T, n *Node, p peer.ID) {
	t.Helper()
	ids, ok := n.Host().(interface{ IDService() identify.IDService })
	if !ok {
		t.Fatalf("host %T has no identify service", n.Host())
	}
	for _, c := range n.Host().Network().ConnsToPeer(p) {
		select {
		case <-ids.IDService().IdentifyWait(c):
		case <-time.After(waitFor):
			t.Fatalf("identify with %s did not finish", p)
		}
	}
}

// TestCloseWithStuckBlockSubscriber: a Block subscriber that never reads and
// never closes holds the tracker up; Close gives up after the stop timeout,
// reports it, and closing the bus still releases the tracker (the leak check
// in TestMain would catch its goroutine otherwise).
func TestCloseWithStuckBlockSubscriber(t *testing.T) {
	a, err := New(context.Background(), noDialer, WithStopTimeout(300*time.Millisecond),
		WithFx(fx.Invoke(func(bus *eventbus.Bus) error {
			_, err := eventbus.Subscribe[events.EvtConnOpened](bus, eventbus.Name("stuck"),
				eventbus.WithPolicy(eventbus.Block), eventbus.BufSize(0))
			return err
		})))
	if err != nil {
		t.Fatal(err)
	}
	b := newNode(t, noDialer)
	rb := record(t, b.Bus(), connTypes...)
	for i := 0; i < 3; i++ {
		connect(t, b, a)
		rb.until(identified(a.ID())) // go-libp2p on a still answers identify
		b.Host().Network().ClosePeer(a.ID())
		rb.until(connectedness(a.ID(), network.NotConnected))
	}
	if err := a.Close(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the stop timeout", err)
	}
}
