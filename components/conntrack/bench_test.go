package conntrack

import (
	"fmt"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// fakeConn is the part of network.Conn the tracker reads.
type fakeConn struct {
	network.Conn
	id   string
	p    peer.ID
	addr ma.Multiaddr
}

func (c *fakeConn) ID() string                    { return c.id }
func (c *fakeConn) RemotePeer() peer.ID           { return c.p }
func (c *fakeConn) RemoteMultiaddr() ma.Multiaddr { return c.addr }
func (c *fakeConn) Stat() network.ConnStats {
	return network.ConnStats{Stats: network.Stats{Direction: network.DirInbound}}
}
func (c *fakeConn) IsClosed() bool { return false }

// BenchmarkStateOpenClose: one open and one close through the pure state
// machine (first and last connection of a peer, so both connectedness
// outputs too).
func BenchmarkStateOpenClose(b *testing.B) {
	s := newState(DefaultMaxParked)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
	}
	out := make([]output, 0, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := ci(ids[i%len(ids)], "A")
		out = s.open(c, out[:0])
		out = s.close(c.id, t0, out[:0])
	}
}

// BenchmarkInboxPush: the cost go-libp2p's goroutines pay per notification,
// with the consumer draining concurrently.
func BenchmarkInboxPush(b *testing.B) {
	q := newInbox()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch []input
		for {
			select {
			case <-q.wake:
				batch = q.drain(batch)
			case <-stop:
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q.push(input{kind: inClosed})
		}
	})
	b.StopTimer()
	close(stop)
	<-done
}

// BenchmarkTrackerOpenClose: one connection opened and closed through the
// tracker's driver path (state machine and four emits), with one drained
// subscriber per connection event type.
func BenchmarkTrackerOpenClose(b *testing.B) {
	bus := eventbus.New()
	defer bus.Close()
	tr := &Tracker{bus: bus, clk: clock.NewMock(), cfg: config{maxParked: DefaultMaxParked}, m: newMetrics(), st: newState(DefaultMaxParked)}
	var err error
	if tr.em, err = newEmitters(bus); err != nil {
		b.Fatal(err)
	}
	// Each subscriber is drained until the bus closes its channel.
	drain := func(recv func() bool) {
		go func() {
			for recv() {
			}
		}()
	}
	o, _ := eventbus.Subscribe[events.EvtConnOpened](bus, eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Block))
	c, _ := eventbus.Subscribe[events.EvtConnClosed](bus, eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Block))
	p, _ := eventbus.Subscribe[events.EvtPeerConnectednessChanged](bus, eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Block))
	drain(func() bool { _, ok := <-o.Out(); return ok })
	drain(func() bool { _, ok := <-c.Out(); return ok })
	drain(func() bool { _, ok := <-p.Out(); return ok })

	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	conns := make([]*fakeConn, 1024)
	for i := range conns {
		conns[i] = &fakeConn{id: fmt.Sprint("c", i), p: "A", addr: addr}
	}
	batch := make([]input, 2)
	var out []output
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fc := conns[i%len(conns)]
		batch[0] = input{kind: inOpened, conn: fc}
		batch[1] = input{kind: inClosed, conn: fc}
		out = tr.process(batch, out)
	}
}
