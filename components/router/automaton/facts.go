package automaton

import "github.com/meshbus/meshbus/events"

// The events the automaton emits, one FactType each. Adding an event is
// three edits: its struct in package events, one line here, and one line
// binding it to a bus emitter in the driver (router/emit.go); handlers then
// record it with FactX.add(out, ev).
var (
	FactPeerAdded         = newFactType[events.EvtRouterPeerAdded]()      // AddPeer
	FactPeerRemoved       = newFactType[events.EvtRouterPeerRemoved]()    // RemovePeer
	FactTopicJoined       = newFactType[events.EvtTopicJoined]()          // Join
	FactTopicLeft         = newFactType[events.EvtTopicLeft]()            // Leave
	FactPeerSubscribed    = newFactType[events.EvtPeerSubscribed]()       // peer SUBSCRIBE
	FactPeerUnsubscribed  = newFactType[events.EvtPeerUnsubscribed]()     // peer UNSUBSCRIBE or removal
	FactPeerGrafted       = newFactType[events.EvtPeerGrafted]()          // mesh entries, either side's initiative
	FactPeerPruned        = newFactType[events.EvtPeerPruned]()           // mesh exits and refused GRAFTs
	FactPeerExchange      = newFactType[events.EvtPeerExchangeReceived]() // accepted PX
	FactMessagePublished  = newFactType[events.EvtMessagePublished]()     // Publish
	FactMessageDelivered  = newFactType[events.EvtMessageDelivered]()     // Validated(accept)
	FactMessageDuplicated = newFactType[events.EvtMessageDuplicated]()    // copies of seen messages
	FactMessageRejected   = newFactType[events.EvtMessageRejected]()      // every refused message
	FactChokedAnnounced   = newFactType[events.EvtChokedPeerAnnounced]()  // a choked mesh peer's IHAVE of messages we have
	FactPeerChoked        = newFactType[events.EvtPeerChoked]()           // choke state changes, either side
	FactPeerPenalized     = newFactType[events.EvtPeerPenalized]()        // P7 misbehaviours and bad input
	FactFanoutPeerAdded   = newFactType[events.EvtFanoutPeerAdded]()      // fanout made or refilled
	FactFanoutPeerRemoved = newFactType[events.EvtFanoutPeerRemoved]()    // fanout exits, expiry included
)
