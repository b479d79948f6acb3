package gopubsub

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/meshbus/meshbus/components/router/wire"
)

// goNegotiationTimeout is go-libp2p's basic host's protocol negotiation
// timeout (basichost.DefaultNegotiationTimeout; libp2p.New offers no
// option to change it): a stream whose protocol is still unnegotiated
// after it is reset by the side that accepted it.
const goNegotiationTimeout = 10 * time.Second

// TestStreamWithoutSubscriptionsSurvives: a meshbus node that has joined no
// topic opens its pubsub stream to a go-libp2p-pubsub node. go-libp2p
// negotiates an outbound stream's protocol lazily, with the first write,
// and the go host resets an inbound stream still unnegotiated after 10 s;
// meshbus once wrote nothing on such a stream (it had no subscriptions to
// announce), so the go side reset it and the next RPC meshbus wrote failed.
// Now meshbus's first RPC on every stream goes at once (its subscriptions,
// an empty RPC when it has none), so:
//   - the go host sees the stream negotiated to a pubsub protocol at once
//     (before the fix it stayed unnegotiated until the reset);
//   - the same stream is still open on both sides after go's 10 s timeout;
//   - a subscription meshbus announces after that reaches the go node over
//     that same stream.
//
// The go host's timeout is real time, so this test lasts about 11 s.
func TestStreamWithoutSubscriptionsSurvives(t *testing.T) {
	g := startGo(t, goOpts{name: "go", key: testKey(t, 3400)})
	t.Cleanup(func() { _ = g.Close() })
	m := startMB(t, mbOpts{name: "mb", key: testKey(t, 3401)})
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := within(time.Minute)
	defer cancel()
	if err := connect(ctx, m, g); err != nil {
		t.Fatal(err)
	}
	// inbound returns the pubsub streams the go host accepted from mb, and
	// the count of its inbound streams from mb not negotiated yet.
	inbound := func() (pubsub []network.Stream, pending int) {
		for _, c := range g.Host().Network().ConnsToPeer(m.ID()) {
			for _, s := range c.GetStreams() {
				if s.Stat().Direction != network.DirInbound {
					continue
				}
				switch p := s.Protocol(); {
				case wire.IsPubsub(p):
					pubsub = append(pubsub, s)
				case p == "":
					pending++
				}
			}
		}
		return pubsub, pending
	}
	// outbound reports whether mb's host holds an open pubsub stream to go.
	outbound := func() bool {
		for _, c := range m.Host().Network().ConnsToPeer(g.ID()) {
			for _, s := range c.GetStreams() {
				if s.Stat().Direction == network.DirOutbound && wire.IsPubsub(s.Protocol()) {
					return true
				}
			}
		}
		return false
	}

	// 1. The stream is negotiated on the go side well before go's timeout.
	start := time.Now()
	var st network.Stream
	for st == nil {
		ss, pending := inbound()
		if len(ss) > 0 {
			st = ss[0]
			break
		}
		if time.Since(start) > goNegotiationTimeout {
			t.Fatalf("after %v the go host has no negotiated pubsub stream from meshbus (%d inbound streams unnegotiated): meshbus wrote nothing on it",
				time.Since(start).Round(time.Millisecond), pending)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for a state
	}
	opened := st.Stat().Opened
	t.Logf("go host: pubsub stream %s from meshbus negotiated (%s) %v after the connection",
		st.ID(), st.Protocol(), time.Since(start).Round(time.Millisecond))

	// 2. It outlives go's negotiation timeout, on both sides.
	deadline := opened.Add(goNegotiationTimeout + time.Second)
	for time.Now().Before(deadline) {
		ss, _ := inbound()
		if !slices.ContainsFunc(ss, func(s network.Stream) bool { return s.ID() == st.ID() }) {
			t.Fatalf("the go host dropped meshbus's pubsub stream %v after it opened", time.Since(opened).Round(time.Millisecond))
		}
		if !outbound() {
			t.Fatalf("meshbus lost its pubsub stream to go %v after it opened", time.Since(opened).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}

	// 3. A subscription announced now reaches go over that stream.
	const topic = "late"
	tp, err := m.r.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	m.topics[topic] = tp
	waitUntil(t, 5*time.Second, func() string {
		return fmt.Sprintf("go does not see meshbus subscribed to %q: %v", topic, g.TopicPeers(topic))
	}, func() bool { return slices.Contains(g.TopicPeers(topic), m.ID()) })
	ss, _ := inbound()
	if len(ss) != 1 || ss[0].ID() != st.ID() {
		var ids []string
		for _, s := range ss {
			ids = append(ids, s.ID())
		}
		t.Fatalf("go's pubsub streams from meshbus are %v, want the first one (%s) alone", ids, st.ID())
	}
	t.Logf("stream %s open %v later, past go's %v timeout; the subscription to %q arrived on it",
		st.ID(), time.Since(opened).Round(time.Millisecond), goNegotiationTimeout, topic)
}
