package wire

import "github.com/libp2p/go-libp2p/core/protocol"

// Protocol ids of the pubsub family, as other implementations register them.
const (
	// ProtocolMeshsub14 is gossipsub v1.4 (large-message handling: message
	// fragments, PREAMBLE, IMRECEIVING, advertised with the
	// largeMessageHandling extension of the v1.3 Extensions control
	// message). Everything of v1.3 holds on it.
	ProtocolMeshsub14 protocol.ID = "/meshsub/1.4.0"
	// ProtocolMeshsub13 is gossipsub v1.3 (adds the Extensions control
	// message, through which the partial-messages extension is announced).
	ProtocolMeshsub13 protocol.ID = "/meshsub/1.3.0"
	// ProtocolMeshsub12 is gossipsub v1.2 (adds IDONTWANT).
	ProtocolMeshsub12 protocol.ID = "/meshsub/1.2.0"
	// ProtocolMeshsub11 is gossipsub v1.1 (peer exchange, backoff, scoring).
	ProtocolMeshsub11 protocol.ID = "/meshsub/1.1.0"
	// ProtocolMeshsub10 is gossipsub v1.0.
	ProtocolMeshsub10 protocol.ID = "/meshsub/1.0.0"
	// ProtocolFloodsub is floodsub: no control messages, every message is
	// sent to every subscribed peer.
	ProtocolFloodsub protocol.ID = "/floodsub/1.0.0"
)

// Protocols lists the supported protocol ids in order of preference, most
// capable first; an outbound stream negotiates the first one the remote
// speaks. The slice is shared: do not modify it.
var Protocols = []protocol.ID{ProtocolMeshsub14, ProtocolMeshsub13, ProtocolMeshsub12, ProtocolMeshsub11, ProtocolMeshsub10, ProtocolFloodsub}

// IsPubsub reports whether id is one of Protocols.
func IsPubsub(id protocol.ID) bool {
	for _, p := range Protocols {
		if p == id {
			return true
		}
	}
	return false
}

// HasExtensions reports whether id carries the gossipsub v1.3 Extensions
// control message (the first RPC of a stream may advertise extensions):
// /meshsub/1.3.0 and /meshsub/1.4.0.
func HasExtensions(id protocol.ID) bool {
	return id == ProtocolMeshsub14 || id == ProtocolMeshsub13
}
