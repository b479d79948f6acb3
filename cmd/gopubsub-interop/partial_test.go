package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

// The queue hands jobs over in order, pop blocks until a push, and after
// close pop ends and pushes are dropped.
func TestPartialQueue(t *testing.T) {
	var q partialQueue
	q.close() // before init: nothing to wake
	q = partialQueue{}
	q.init()
	q.push(partialJob{topic: "a"})
	q.push(partialJob{topic: "b"})
	for _, want := range []string{"a", "b"} {
		if j, ok := q.pop(); !ok || j.topic != want {
			t.Fatalf("pop %q %v, want %q", j.topic, ok, want)
		}
	}
	got := make(chan string)
	go func() {
		j, _ := q.pop()
		got <- j.topic
	}()
	q.push(partialJob{topic: "c"}) // wakes the blocked pop (or is there before it looks)
	select {
	case s := <-got:
		if s != "c" {
			t.Fatalf("blocked pop got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked pop not woken by push")
	}
	done := make(chan bool)
	go func() {
		_, ok := q.pop()
		done <- ok
	}()
	q.close()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("pop after close returned a job")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked pop not ended by close")
	}
	q.push(partialJob{topic: "d"})
	if _, ok := q.pop(); ok {
		t.Fatal("a job pushed after close came out")
	}
}

// onPartialRPC refuses a group id or parts metadata that is not the
// plans' (the extension then rejects the RPC); a good RPC updates what the
// sender holds and queues the RPC for the worker.
func TestOnPartialRPC(t *testing.T) {
	b := &backend{}
	b.work.init()
	from := script.PeerIDOf(3)
	topic := "t"
	for _, c := range []struct {
		name string
		rpc  *pubsubpb.PartialMessagesExtension
	}{
		{"short group id", &pubsubpb.PartialMessagesExtension{TopicID: &topic, GroupID: []byte{1}}},
		{"no group id", &pubsubpb.PartialMessagesExtension{TopicID: &topic}},
		{"two-byte metadata", &pubsubpb.PartialMessagesExtension{TopicID: &topic, GroupID: script.GroupIDBytes(1), PartsMetadata: []byte{1, 2}}},
		{"empty metadata", &pubsubpb.PartialMessagesExtension{TopicID: &topic, GroupID: script.GroupIDBytes(1), PartsMetadata: []byte{}}},
	} {
		states := map[peer.ID]peerParts{}
		if err := b.onPartialRPC(from, states, c.rpc); !errors.Is(err, script.ErrBadPartial) {
			t.Errorf("%s: %v, want ErrBadPartial", c.name, err)
		}
		if len(states) != 0 {
			t.Errorf("%s: state changed: %+v", c.name, states)
		}
	}
	states := map[peer.ID]peerParts{}
	meta := &pubsubpb.PartialMessagesExtension{TopicID: &topic, GroupID: script.GroupIDBytes(9), PartsMetadata: []byte{0x03}}
	if err := b.onPartialRPC(from, states, meta); err != nil {
		t.Fatal(err)
	}
	if st := states[from]; st.has != 0x03 || !st.knowsHas {
		t.Fatalf("after metadata: %+v", st)
	}
	// Parts sent (bitmap 0x10) count as held by their sender.
	parts := &pubsubpb.PartialMessagesExtension{TopicID: &topic, GroupID: script.GroupIDBytes(9), PartialMessage: []byte{0x10}}
	if err := b.onPartialRPC(from, states, parts); err != nil {
		t.Fatal(err)
	}
	if st := states[from]; st.has != 0x13 {
		t.Fatalf("after parts: %+v", st)
	}
	for _, want := range []*pubsubpb.PartialMessagesExtension{meta, parts} {
		j, ok := b.work.pop()
		if !ok || j.rpc != want || j.from != from || j.topic != topic || !bytes.Equal(j.gid, script.GroupIDBytes(9)) {
			t.Fatalf("queued %+v %v", j, ok)
		}
	}
	b.work.close()
}

// publishActions tells a peer our bitmap when it changed, and sends the
// parts it lacks only to a peer that requests partial messages and told us
// its bitmap.
func TestPublishActions(t *testing.T) {
	g := script.NewPartialGroup(4)
	g.Fill(0x0F)
	p1, p2, p3 := script.PeerIDOf(1), script.PeerIDOf(2), script.PeerIDOf(3)
	states := map[peer.ID]peerParts{
		p1: {has: 0x01, knowsHas: true},                         // requests, bitmap known
		p2: {has: 0x00, knowsHas: false},                        // requests, bitmap unknown
		p3: {has: 0x00, knowsHas: true, told: true, sent: 0x0F}, // told already, does not request
	}
	requests := func(p peer.ID) bool { return p != p3 }
	run := func(to []peer.ID) map[peer.ID]partialmessages.PublishAction {
		got := map[peer.ID]partialmessages.PublishAction{}
		for p, a := range publishActions(g, to)(states, requests) {
			got[p] = a
		}
		return got
	}
	got := run(nil)
	if len(got) != 2 {
		t.Fatalf("actions for %d peers, want 2 (p3 needs nothing): %v", len(got), got)
	}
	if a := got[p1]; a.EncodedPartialMessage == nil || a.EncodedPartialMessage[0] != 0x0E || !bytes.Equal(a.EncodedPartsMetadata, []byte{0x0F}) {
		t.Fatalf("p1: parts bitmap %x, metadata %x", a.EncodedPartialMessage[:1], a.EncodedPartsMetadata)
	}
	if a := got[p2]; a.EncodedPartialMessage != nil || !bytes.Equal(a.EncodedPartsMetadata, []byte{0x0F}) {
		t.Fatalf("p2: %+v", a)
	}
	if st := states[p1]; st.has != 0x0F || !st.told || st.sent != 0x0F {
		t.Fatalf("p1 state after: %+v", st)
	}
	if got := run(nil); len(got) != 0 {
		t.Fatalf("nothing changed, yet actions: %v", got)
	}
	g.Fill(0x10)
	if got := run([]peer.ID{p3}); len(got) != 1 || !bytes.Equal(got[p3].EncodedPartsMetadata, []byte{0x1F}) || got[p3].EncodedPartialMessage != nil {
		t.Fatalf("to p3 after a new part: %v", got)
	}
}

// The plans' parameters land in go-libp2p-pubsub's fields of the same
// name; a negative tick count is left at the default.
func TestParams(t *testing.T) {
	i := func(v int) *int { return &v }
	d := func(v time.Duration) *script.Nanos { n := script.Nanos(v); return &n }
	f := func(v float64) *float64 { return &v }
	if params(script.GossipSubParams{}) != pubsub.DefaultGossipSubParams() {
		t.Fatal("no parameters did not give the defaults")
	}
	p := script.GossipSubParams{
		D: i(5), Dlo: i(3), Dhi: i(9), Dscore: i(2), Dout: i(1), HistoryLength: i(7), HistoryGossip: i(4), Dlazy: i(8),
		GossipFactor: f(0.5), GossipRetransmission: i(2), HeartbeatInitialDelay: d(100 * time.Millisecond),
		HeartbeatInterval: d(700 * time.Millisecond), SlowHeartbeatWarning: f(0.2), FanoutTTL: d(time.Minute),
		PrunePeers: i(11), PruneBackoff: d(30 * time.Second), UnsubscribeBackoff: d(5 * time.Second),
		Connectors: i(4), MaxPendingConnections: i(64), ConnectionTimeout: d(time.Second),
		DirectConnectTicks: i(300), DirectConnectInitialDelay: d(2 * time.Second),
		OpportunisticGraftTicks: i(30), OpportunisticGraftPeers: i(3), GraftFloodThreshold: d(8 * time.Second),
		MaxIHaveLength: i(4000), MaxIHaveMessages: i(9), MaxIDontWantLength: i(10), MaxIDontWantMessages: i(900),
		IWantFollowupTime: d(2 * time.Second), IDontWantMessageThreshold: i(512), IDontWantMessageTTL: i(3),
	}
	want := pubsub.DefaultGossipSubParams()
	want.D, want.Dlo, want.Dhi, want.Dscore, want.Dout, want.HistoryLength, want.HistoryGossip, want.Dlazy = 5, 3, 9, 2, 1, 7, 4, 8
	want.GossipFactor, want.GossipRetransmission, want.HeartbeatInitialDelay = 0.5, 2, 100*time.Millisecond
	want.HeartbeatInterval, want.SlowHeartbeatWarning, want.FanoutTTL = 700*time.Millisecond, 0.2, time.Minute
	want.PrunePeers, want.PruneBackoff, want.UnsubscribeBackoff = 11, 30*time.Second, 5*time.Second
	want.Connectors, want.MaxPendingConnections, want.ConnectionTimeout = 4, 64, time.Second
	want.DirectConnectTicks, want.DirectConnectInitialDelay = 300, 2*time.Second
	want.OpportunisticGraftTicks, want.OpportunisticGraftPeers, want.GraftFloodThreshold = 30, 3, 8*time.Second
	want.MaxIHaveLength, want.MaxIHaveMessages, want.MaxIDontWantLength, want.MaxIDontWantMessages = 4000, 9, 10, 900
	want.IWantFollowupTime, want.IDontWantMessageThreshold, want.IDontWantMessageTTL = 2*time.Second, 512, 3
	if got := params(p); got != want {
		t.Fatalf("params\n got %+v\nwant %+v", got, want)
	}
	def := pubsub.DefaultGossipSubParams()
	if got := params(script.GossipSubParams{DirectConnectTicks: i(-1), OpportunisticGraftTicks: i(-5)}); got.DirectConnectTicks != def.DirectConnectTicks || got.OpportunisticGraftTicks != def.OpportunisticGraftTicks {
		t.Fatalf("negative ticks: %d %d", got.DirectConnectTicks, got.OpportunisticGraftTicks)
	}
}
