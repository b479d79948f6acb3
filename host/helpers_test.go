package host

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// waitFor bounds every wait on an event in these tests.
const waitFor = 10 * time.Second

func newNode(t *testing.T, opts ...Option) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	n, err := New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

func connect(t *testing.T, from, to *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := from.Connect(ctx, to.AddrInfo()); err != nil {
		t.Fatal(err)
	}
}

// connTypes are the connection events the recorders follow.
var connTypes = []any{
	new(events.EvtConnOpened),
	new(events.EvtConnClosed),
	new(events.EvtPeerConnectednessChanged),
	new(events.EvtPeerIdentificationCompleted),
}

// recorder reads several event types from one subscription, so it sees
// them in the order the emitter emitted them.
type recorder struct {
	t   *testing.T
	sub event.Subscription
}

func record(t *testing.T, b *eventbus.Bus, types ...any) *recorder {
	t.Helper()
	sub, err := b.Subscribe(types, eventbus.BufSize(4096), eventbus.WithPolicy(eventbus.Block), eventbus.Name("test-recorder"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return &recorder{t: t, sub: sub}
}

// until reads events until pred accepts one and returns all of them,
// failing after waitFor.
func (r *recorder) until(pred func(any) bool) []any {
	r.t.Helper()
	var got []any
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-r.sub.Out():
			if !ok {
				r.t.Fatalf("recorder ended after %d events", len(got))
			}
			got = append(got, e)
			if pred(e) {
				return got
			}
		case <-timer.C:
			r.t.Fatalf("condition not met within %v; got %d events: %v", waitFor, len(got), got)
		}
	}
}

// connectedness returns a predicate matching a connectedness change of p.
func connectedness(p peer.ID, c network.Connectedness) func(any) bool {
	return func(e any) bool {
		ev, ok := e.(events.EvtPeerConnectednessChanged)
		return ok && ev.Peer == p && ev.Connectedness == c
	}
}

func identified(p peer.ID) func(any) bool {
	return func(e any) bool {
		ev, ok := e.(events.EvtPeerIdentificationCompleted)
		return ok && ev.Peer == p
	}
}

// connChecker replays a stream of connection events and checks the
// tracker's ordering guarantees as it goes.
type connChecker struct {
	t      *testing.T
	open   map[string]peer.ID                // open connection ids
	count  map[peer.ID]int                   // open connections per peer
	state  map[peer.ID]network.Connectedness // last connectedness per peer
	expect []any                             // connectedness change owed next
	seen   map[peer.ID]int                   // Connected events per peer
	opened int                               // EvtConnOpened events
	closed int                               // EvtConnClosed events
}

func newConnChecker(t *testing.T) *connChecker {
	return &connChecker{
		t: t, open: map[string]peer.ID{}, count: map[peer.ID]int{},
		state: map[peer.ID]network.Connectedness{}, seen: map[peer.ID]int{},
	}
}

// feed checks one event: opens and closes pair up by connection id, a
// Connected follows at once the open of a peer's first connection and a
// NotConnected the close of its last, connectedness alternates per peer,
// and an identify result only arrives for a connected peer.
func (c *connChecker) feed(e any) {
	c.t.Helper()
	if len(c.expect) > 0 {
		want := c.expect[0].(events.EvtPeerConnectednessChanged)
		got, ok := e.(events.EvtPeerConnectednessChanged)
		if !ok || got != want {
			c.t.Fatalf("after a first open or last close want %+v next, got %T %+v", want, e, e)
		}
		c.expect = c.expect[1:]
	}
	switch ev := e.(type) {
	case events.EvtConnOpened:
		if _, dup := c.open[ev.ConnID]; dup {
			c.t.Fatalf("connection %s opened twice", ev.ConnID)
		}
		c.open[ev.ConnID] = ev.Peer
		c.opened++
		if c.count[ev.Peer]++; c.count[ev.Peer] == 1 {
			c.expect = append(c.expect, events.EvtPeerConnectednessChanged{Peer: ev.Peer, Connectedness: network.Connected})
		}
	case events.EvtConnClosed:
		p, ok := c.open[ev.ConnID]
		if !ok || p != ev.Peer {
			c.t.Fatalf("close of connection %s that is not open", ev.ConnID)
		}
		delete(c.open, ev.ConnID)
		c.closed++
		if c.count[ev.Peer]--; c.count[ev.Peer] == 0 {
			c.expect = append(c.expect, events.EvtPeerConnectednessChanged{Peer: ev.Peer, Connectedness: network.NotConnected})
		}
	case events.EvtPeerConnectednessChanged:
		prev := c.state[ev.Peer]
		if ev.Connectedness == prev || (prev == network.NotConnected && ev.Connectedness != network.Connected) {
			c.t.Fatalf("peer %s: %v after %v", ev.Peer, ev.Connectedness, prev)
		}
		c.state[ev.Peer] = ev.Connectedness
		if ev.Connectedness == network.Connected {
			c.seen[ev.Peer]++
		}
	case events.EvtPeerIdentificationCompleted:
		if c.state[ev.Peer] != network.Connected {
			c.t.Fatalf("identify result for %s while %v", ev.Peer, c.state[ev.Peer])
		}
	}
}

// collector gathers every event of a subscription on its own goroutine
// until the subscription's channel closes.
type collector struct {
	mu      sync.Mutex
	got     []any
	changed chan struct{} // capacity 1: something was appended
	done    chan struct{}
}

func collect(sub event.Subscription) *collector {
	c := &collector{changed: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for e := range sub.Out() {
			c.mu.Lock()
			c.got = append(c.got, e)
			c.mu.Unlock()
			select {
			case c.changed <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

// atLeast waits until the collector holds n events and returns them.
func (c *collector) atLeast(t *testing.T, n int) []any {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		if got := c.events(); len(got) >= n {
			return got
		}
		select {
		case <-c.changed:
		case <-c.done:
		case <-timer.C:
			t.Fatalf("collector has %v, want %d events", c.events(), n)
		}
	}
}

func (c *collector) events() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]any(nil), c.got...)
}

// swarmCounter is a go-libp2p notifiee counting what the swarm itself
// reports, as the ground truth the tracker's events are compared with.
type swarmCounter struct {
	mu      sync.Mutex
	opened  int
	closed  int
	changed chan struct{}
	// closing, once set, closes every connection the swarm adds.
	closing atomic.Bool
}

func countSwarm(n *Node) *swarmCounter {
	c := &swarmCounter{changed: make(chan struct{}, 1)}
	n.Host().Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, conn network.Conn) {
			c.add(1, 0)
			if c.closing.Load() {
				go conn.Close()
			}
		},
		DisconnectedF: func(network.Network, network.Conn) { c.add(0, 1) },
	})
	return c
}

func (c *swarmCounter) add(o, cl int) {
	c.mu.Lock()
	c.opened += o
	c.closed += cl
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// closeAll closes n's connections to remote and, from now on, every
// connection the swarm adds: a connection whose handshake was still in
// flight when the caller closed the peer is added afterwards and would
// otherwise stay open.
func (c *swarmCounter) closeAll(n *Node, remote peer.ID) {
	c.closing.Store(true)
	_ = n.Host().Network().ClosePeer(remote)
}

// settled waits until every connection the swarm reported open was
// reported closed, and returns the counts.
func (c *swarmCounter) settled(t *testing.T) (opened, closed int) {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		c.mu.Lock()
		opened, closed = c.opened, c.closed
		c.mu.Unlock()
		if opened > 0 && opened == closed {
			return opened, closed
		}
		select {
		case <-c.changed:
		case <-timer.C:
			t.Fatalf("swarm did not settle: %d opened, %d closed", opened, closed)
		}
	}
}
