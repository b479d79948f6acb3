// Package router is the meshbus GossipSub router: the driver that runs the
// pure state machine of package automaton over libp2p streams, speaking
// /meshsub/1.4.0, /meshsub/1.3.0, /meshsub/1.2.0, /meshsub/1.1.0,
// /meshsub/1.0.0 and /floodsub/1.0.0 on the wire exactly as other
// implementations do (package wire). gossipsub v1.4 large-message
// handling is on by default: large messages go to v1.4 peers as fragments,
// fragments received are reassembled (package fragment) and checked as
// any message (WithLargeMessages, WithoutLargeMessages; docs/router.md,
// "GossipSub v1.4"). With WithPartialMessages it also speaks the gossipsub v1.3
// partial-messages extension (pure core: package partial; application API:
// PartialMessage, PartialLogic, WithPartial, Topic.PublishPartial,
// Topic.SubscribePartial; see docs/gossipsub-v1.3.md).
//
// # Goroutines and files
//
// One driver goroutine (loop.go) owns the automaton, the heartbeat ticker
// (from the injected clock), the bus emitters and every peer's send queue
// head; it is the only goroutine that touches the automaton, and every
// decision is made there, in order. The application API (Join, Publish,
// Subscribe, ...) is safe for concurrent use and reaches the driver one way:
// a typed request on one channel, answered on the request's own reply
// channel (requests.go). Per inbound stream, one reader goroutine
// (inbound.go) owns the stream and its frame reader, decodes frames and
// hands the RPCs to the driver. Per peer, one writer goroutine (outbound.go)
// owns the outbound stream, its frame writer and batch buffer, and writes
// what the driver queued. Peer lifecycle (identify, connectedness, stream
// failures and retries) is peers.go. Validators run on their own
// goroutines, bounded per topic, and carry the message they validate back
// to the driver. Two read-only views are shared by copy-on-write atomic
// pointers: the joined topics' message id functions (the driver writes) and
// the validators (RegisterValidator writes).
//
// # Who owns what
//
// The automaton is the one owner of the router's protocol state, and the
// driver keeps no copy of any of it:
//   - the seen-cache (message ids, each with the fingerprint of the copy
//     accepted under it, for SeenTTL);
//   - the pending validations (messages awaiting a validator's verdict; the
//     driver's validator goroutines carry the message they validate and
//     hand it back with the verdict);
//   - the peer records sent in PX (of tracked peers, and of connected peers
//     identify reported before they opened a pubsub stream);
//   - meshes, fanout, subscriptions, backoffs, the message cache, promises.
//
// Signatures: every received message is given to the automaton, which
// refuses unknown and graylisted senders, malformed messages and unjoined
// topics first, then answers OutcomeNeedsSignatureCheck for anything but a
// byte-identical copy of a message it accepted under a seen id. The driver
// then applies the signing policy to that message's own bytes and hands the
// verdict back. No message is delivered or forwarded without that check.
//
// Bad input costs the sender: a message failing the signing policy or
// malformed, and a frame that is oversized or does not decode, each emit
// EvtPeerPenalized (a behaviour penalty the scoring component counts,
// whatever the topic parameters) besides the named rejection in metrics
// and EvtMessageRejected. One such input costs little; a peer that keeps
// sending it is graylisted, and the peer manager disconnects it.
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
// 0 until a scorer emits a snapshot). Round-trip times come from
// EvtPeerRTTMeasured (the RTT prober, components/rtt, built into host.New's
// nodes); choking chokes only peers measured within ChokeConfig.MaxRTT,
// PREAMBLE's windows use them when known, and WithLatencyAwareMesh
// prefers fast peers. A peer never measured is unknown.
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
