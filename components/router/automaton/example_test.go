package automaton_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// A driver's loop in miniature: every input goes through a handler, then
// the Output is acted on (sends, facts) and reset.
func Example() {
	id := func(s string) peer.ID { return peer.ID(append([]byte{0, byte(len(s))}, s...)) }
	self, alice := id("self"), id("alice")
	a, err := automaton.New(self, automaton.DefaultConfig(), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out automaton.Output
	flush := func(what string, o automaton.Outcome) {
		fmt.Printf("%s: %s\n", what, o)
		for _, s := range out.Sends {
			fmt.Printf("  send %d subs, %d msgs, control=%v\n", len(s.RPC.Subscriptions), len(s.RPC.Publish), s.RPC.Control != nil)
		}
		out.ForEachFact(func(ev any) { fmt.Printf("  emit %T\n", ev) })
		out.Reset()
	}

	flush("join", a.Join(now, "blocks", &out))
	flush("add alice", a.AddPeer(now, automaton.PeerSpec{ID: alice, Protocol: wire.ProtocolMeshsub12, Outbound: true}, &out))
	flush("alice subscribes", a.HandleSubscription(now, alice, "blocks", true, &out))
	now = now.Add(time.Second)
	flush("heartbeat", a.Heartbeat(now, &out))

	topic := "blocks"
	m := &pb.Message{From: []byte(alice), Seqno: []byte{0, 0, 0, 0, 0, 0, 0, 1}, Topic: &topic, Data: []byte("hello")}
	msgID := string(m.From) + string(m.Seqno) // the default message id: from || seqno
	flush("message", a.HandleMessage(now, alice, m, msgID, true, &out))
	flush("validated", a.Validated(now, msgID, automaton.ValidationAccept, &out))
	flush("duplicate", a.HandleMessage(now, alice, m, msgID, true, &out))

	// Output:
	// join: joined
	//   emit events.EvtTopicJoined
	// add alice: peer_added
	//   send 1 subs, 0 msgs, control=false
	//   emit events.EvtRouterPeerAdded
	// alice subscribes: subscribed
	//   emit events.EvtPeerSubscribed
	// heartbeat: heartbeat_done
	//   send 0 subs, 0 msgs, control=true
	//   emit events.EvtPeerGrafted
	// message: needs_validation
	// validated: delivered
	//   emit events.EvtMessageDelivered
	// duplicate: already_seen
	//   emit events.EvtMessageDuplicated
}
