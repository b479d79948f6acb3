package router

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// The gossipsub v1.3 Extensions control message: what we advertise at the
// start of each outbound stream, and what each peer advertised.

// localExtensions returns the Extensions control message the router sends
// (r.localExt): the partial-messages extension's part, gossipsub v1.4
// large-message handling, meshbus's choke extension; nil when none is on.
// Called once, by New, after initPartial and initLarge.
func (r *Router) localExtensions() *pb.ControlExtensions {
	ext := r.part.core.LocalExtensions() // nil without partial messages
	large, choke := r.large.on, r.cfg.gossip.Choke.Enabled
	if !large && !choke {
		return ext
	}
	if ext == nil {
		ext = &pb.ControlExtensions{}
	}
	if large {
		ext.LargeMessageHandling = proto.Bool(true)
	}
	if choke {
		ext.MeshbusChoke = proto.Bool(true)
	}
	return ext
}

// extensionsRPC is the first RPC of an outbound stream of protocol s, or
// nil when none is due (no extension on, or a stream older than v1.3).
// Called by writers; localExt is immutable.
func (r *Router) extensionsRPC(s string) *pb.RPC {
	if r.localExt == nil || !wire.HasExtensions(protocol.ID(s)) {
		return nil
	}
	return &pb.RPC{Control: &pb.ControlMessage{Extensions: r.localExt}}
}

// Extensions are the gossipsub v1.3 extensions a peer advertised.
type Extensions struct {
	// PartialMessages: the partial-messages extension.
	PartialMessages bool
	// LargeMessages: gossipsub v1.4 large-message handling is in use with
	// the peer: it advertised largeMessageHandling on its current stream
	// (v1.3 or v1.4) and this router has large-message handling on (see
	// WithoutLargeMessages). Such a peer gets large messages as fragments.
	LargeMessages bool
	// Choke: meshbus's choke extension is in use with the peer: it
	// advertised it on its current stream (v1.3 or v1.4) and this router
	// has it on (see WithChoking).
	Choke bool
}

// PeerExtensions returns the extensions p advertised at the start of its
// current stream; ok is false when p is not a tracked pubsub peer.
func (r *Router) PeerExtensions(p peer.ID) (ext Extensions, ok bool) {
	req := peerExtensionsReq{p: p, reply: make(chan peerExtensionsReply, 1)}
	rep, _ := call(r, context.Background(), req, req.reply)
	return rep.ext, rep.ok
}

// peerExtensionsReq is PeerExtensions.
type peerExtensionsReq struct {
	p     peer.ID
	reply chan peerExtensionsReply
}

type peerExtensionsReply struct {
	ext Extensions
	ok  bool
}

func (q peerExtensionsReq) serve(r *Router) {
	ext := Extensions{
		PartialMessages: r.part.core.PeerExtensions(q.p),
		LargeMessages:   r.aut.PeerLargeMessages(q.p),
		Choke:           r.aut.PeerChoke(q.p),
	}
	q.reply <- peerExtensionsReply{ext: ext, ok: r.aut.HasPeer(q.p)}
}
