package automaton

import "github.com/libp2p/go-libp2p/core/peer"

// maxLazyAsked is how many of the ids we last asked choked peers for
// lazyAsked remembers: far more than can be in flight between an IWANT and
// its answer at the rates where choking narrows a topic, since a mesh peer
// we choked announces only what our eager peers have not brought yet.
const maxLazyAsked = 128

// lazyAsk is one IWANT entry sent to a mesh peer we choked in the
// message's topic.
type lazyAsk struct {
	id   string
	from peer.ID
}

// lazyAsked remembers the last maxLazyAsked ids we asked choked mesh peers
// for (IWANT answering their IHAVE), with the peer asked. Only such a copy
// arriving first is a lazy win (chokeFirst): the IHAVE path beat the eager
// ones. A choked peer's copy we did not ask for says nothing about that
// path: it was pushed before our choke reached the peer (the copies in
// flight and in its queue right after a decision), or it is larger than
// ChokeConfig.MaxData, which choked peers still push. Counted as wins,
// such copies right after a decision made a majority of the handful of
// deliveries since it and unchoked the peers just choked (on 20 loopback
// nodes, 6-31 unchokes a run in the first 200 ms, their copies pushed
// until the first heartbeat).
type lazyAsked struct {
	ring [maxLazyAsked]lazyAsk
	next int
}

// add records that we asked from for id.
func (r *lazyAsked) add(id string, from peer.ID) {
	r.ring[r.next] = lazyAsk{id: id, from: from}
	r.next = (r.next + 1) % maxLazyAsked
}

// has reports whether id is among the last maxLazyAsked ids asked, and
// asked of from. It is consulted only when a choked peer's copy comes
// first, so a scan of the ring costs less than an index kept per IWANT.
func (r *lazyAsked) has(id string, from peer.ID) bool {
	for _, e := range r.ring {
		if e.from == from && e.id == id {
			return true
		}
	}
	return false
}
