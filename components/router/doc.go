// Package router is the meshbus GossipSub router: the driver that runs the
// pure state machine of package automaton over libp2p streams, speaking
// /meshsub/1.2.0, /meshsub/1.1.0, /meshsub/1.0.0 and /floodsub/1.0.0 on the
// wire exactly as other implementations do (package wire).
//
// # Goroutines
//
// One driver goroutine owns the automaton, the heartbeat ticker (from the
// injected clock) and the bus emitters; every decision is made there, in
// order. Per peer, one writer goroutine opens the single long-lived outbound
// stream and writes what the driver queued; per inbound stream, one reader
// goroutine reads frames, checks signatures and computes message ids, then
// hands the RPC to the driver. Validators run on their own goroutines,
// bounded per topic. The application API (Join, Publish, Subscribe, ...) is
// safe for concurrent use; it talks to the driver through a channel.
//
// # Peers
//
// The router learns peers from the bus only: EvtPeerIdentificationCompleted
// and EvtPeerProtocolsUpdated listing a pubsub protocol make it open a
// stream; EvtPeerConnectednessChanged(NotConnected) makes it forget the
// peer; an inbound pubsub stream from a connected peer is accepted even
// before identify. An outbound stream that fails while the peer stays
// connected is reopened after 1, 2 and 4 s (injected clock), the peer keeping
// its subscriptions and mesh meanwhile; then the peer is removed. Peers
// connected before Start are picked up when their
// next identify or protocol event arrives, or when they open a stream. Scores come from EvtPeerScoresUpdated (every peer scores
// 0 until a scorer emits a snapshot).
//
// # Backpressure
//
// Each peer has a bounded queue with control RPCs ahead of messages. When it
// is full the newest entry is dropped and counted, and EvtPeerQueueOverflowed
// is emitted at most once per heartbeat per peer, so one slow peer never
// stalls the driver or the other peers. A Subscription has a bounded buffer:
// a message that finds it full is dropped for that subscription, counted
// (Subscription.Dropped, meshbus_router_subscription_drops_total) and
// logged at a limited rate.
package router
