package conntrack

import (
	"fmt"
	"testing"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// fakeHost stands in for the libp2p host of a tracker that is never
// started: New does not call it.
type fakeHost struct{ corehost.Host }

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
// tracker's driver path (core and four emits), with one drained
// subscriber per connection event type.
func BenchmarkTrackerOpenClose(b *testing.B) {
	bus := eventbus.New()
	defer bus.Close()
	tr, err := New(fakeHost{}, bus, WithClock(clock.NewMock()))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
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
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fc := conns[i%len(conns)]
		batch[0] = input{kind: inOpened, conn: fc}
		batch[1] = input{kind: inClosed, conn: fc}
		tr.process(batch)
	}
}
