package scoring

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// BenchmarkDriverIngest times the facts the router emits for 1 KiB
// messages on one node of the router benchmark's mesh (a delivery and
// four duplicates per message, from two typed emitters on this goroutine)
// through the bus to the running driver, per fact: the emitters' side of
// the subscription, the driver's wake-ups and reads, and the core's
// handling (the same whatever the path). The facts are quiet
// (QuietEvents): "burst" emits them all, then makes the driver take them
// (a Breakdown, as its tick does) and waits until it has; "per-message"
// does so after each message's five facts, so that the driver wakes and
// parks once per message: what every message cost it at the router
// benchmark's 4 ms spacing before the facts were quiet.
func BenchmarkDriverIngest(b *testing.B) {
	b.Run("burst", func(b *testing.B) { benchIngest(b, false) })
	b.Run("per-message", func(b *testing.B) { benchIngest(b, true) })
}

func benchIngest(b *testing.B, perMessage bool) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	defer bus.Close()
	p := DefaultParams()
	p.Topics = map[string]TopicParams{"t": DefaultTopicParams()}
	s, err := New(bus, WithParams(p), WithClock(clock.NewMock()), WithLogger(quietLogger()),
		WithRegisterer(prometheus.NewRegistry())) // the driver counts what it handled there
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	graft := must(eventbus.NewEmitter[events.EvtPeerGrafted](bus))
	del := must(eventbus.NewEmitter[events.EvtMessageDelivered](bus))
	dup := must(eventbus.NewEmitter[events.EvtMessageDuplicated](bus))
	defer graft.Close()
	defer del.Close()
	defer dup.Close()
	const meshPeers = 5
	waitObserved := func(n float64) {
		_, _ = s.Breakdown(ctx, "") // takes the queued quiet facts; "" is not scored
		for s.m.v.Value(mObserved) < n {
			runtime.Gosched()
		}
	}
	var mesh [meshPeers]events.EvtPeerGrafted
	for i := range mesh {
		mesh[i] = events.EvtPeerGrafted{Peer: peerID(fmt.Sprint("mesh", i)), Topic: "t"}
		_ = graft.Emit(mesh[i])
	}
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprint("message-", i)
	}
	waitObserved(meshPeers)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id, from := ids[(i/meshPeers)%len(ids)], mesh[i%meshPeers].Peer
		if i%meshPeers == 0 {
			_ = del.Emit(events.EvtMessageDelivered{Topic: "t", ID: id, From: from, Author: from, Size: 1024})
		} else {
			_ = dup.Emit(events.EvtMessageDuplicated{Topic: "t", ID: id, From: from})
		}
		if perMessage && i%meshPeers == meshPeers-1 {
			waitObserved(float64(i + 1 + meshPeers))
		}
	}
	waitObserved(float64(b.N + meshPeers))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
