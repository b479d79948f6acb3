package automaton

import (
	"net/netip"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/events"
)

// The decisions below are pure functions of the store's state and the time:
// they change nothing, and the core applies what they return.

// colocationExcess returns the connected peers at ip to disconnect and
// remove so that at most limit remain: lowest score first, and among equal
// scores the newest connection first (ties by id), so that fresh identities
// lose to peers that earned their score; exempt peers are skipped. A limit
// of 0 disables the check.
func colocationExcess(s *peerstore.Store, ip netip.Addr, limit int, exempt func(peer.ID) bool, score func(peer.ID) float64) []peer.ID {
	if limit <= 0 || !ip.IsValid() {
		return nil
	}
	ids := s.PeersAt(ip)
	if len(ids) <= limit {
		return nil
	}
	type ranked struct {
		id    peer.ID
		score float64
		at    time.Time
	}
	list := make([]ranked, 0, len(ids))
	for _, id := range ids {
		s.View(id, func(p *peerstore.Peer) { list = append(list, ranked{id, score(id), p.ConnectedAt}) })
	}
	slices.SortFunc(list, func(a, b ranked) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmpID(a.id, b.id)
	})
	excess := len(list) - limit
	out := make([]peer.ID, 0, excess)
	for _, a := range list {
		if len(out) == excess {
			break
		}
		if !exempt(a.id) {
			out = append(out, a.id)
		}
	}
	return out
}

// pruneVictim is a peer to drop from the store and why.
type pruneVictim struct {
	ID     peer.ID
	Reason events.EvictReason
}

// capacityPrune returns the peers to remove so that the store holds at most
// capacity peers: first not-connected peers past the failure limit (oldest
// failure first), then not-connected peers by how long ago they were last
// seen (longest first). Connected, static, pinned and in-flight peers are
// never pruned, so the store may stay above capacity when only those remain.
func capacityPrune(s *peerstore.Store, capacity, maxFailures int, keep func(peer.ID) bool) []pruneVictim {
	excess := s.Len() - capacity
	if excess <= 0 {
		return nil
	}
	type cand struct {
		id     peer.ID
		failed bool
		at     time.Time
	}
	var cands []cand
	s.Range(func(p *peerstore.Peer) bool {
		if p.Connected() || keep(p.ID) {
			return true
		}
		if p.Failures >= maxFailures {
			cands = append(cands, cand{p.ID, true, p.LastFailure})
		} else if p.Source != events.SourceStatic {
			cands = append(cands, cand{p.ID, false, p.LastSeen()})
		}
		return true
	})
	slices.SortFunc(cands, func(a, b cand) int {
		if a.failed != b.failed {
			if a.failed {
				return -1
			}
			return 1
		}
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmpID(a.id, b.id)
	})
	out := make([]pruneVictim, 0, min(excess, len(cands)))
	for _, c := range cands[:min(excess, len(cands))] {
		r := events.EvictCapacity
		if c.failed {
			r = events.EvictFailures
		}
		out = append(out, pruneVictim{c.id, r})
	}
	return out
}

// plan is one connectivity decision.
type plan struct {
	// Dial are the peers to dial, best first.
	Dial []peer.ID
	// Trim are the inbound mesh peers to disconnect, newest first.
	Trim []peer.ID
	// TrimService are the service peers to disconnect above the service
	// budget: newest inbound first, then newest outbound.
	TrimService []peer.ID
	// Next is when the loop should run again.
	Next time.Duration
	// Out and In are the connected mesh peers by direction.
	Out, In int
	// Service is the connected service peers, pinned and static included.
	Service int
	// Starved reports that dialable candidates were left undialed for
	// lack of dial slots (parallel or rate limit).
	Starved bool
}

// planInput is what the connectivity decision depends on besides the store.
type planInput struct {
	Now      time.Time
	Targets  Targets
	Parallel int // MaxParallelDials
	Normal   time.Duration
	Fast     time.Duration
	// Inflight are the peers being dialed.
	Inflight map[peer.ID]struct{}
	// Closing are connected peers already being disconnected: they count
	// nowhere and are not trimmed again.
	Closing map[peer.ID]struct{}
	// IsMesh reports whether a peer counts against the mesh targets.
	IsMesh func(*peerstore.Peer) bool
	// Pinned reports whether a peer holds a service slot (dialed when not
	// connected, never trimmed).
	Pinned func(peer.ID) bool
	// Dialable reports whether a not-connected peer may be dialed now.
	Dialable func(*peerstore.Peer, time.Time) bool
}

// planConnectivity decides which peers to dial so that outbound mesh peers
// approach the outbound target (never more dials in flight than Parallel),
// which inbound mesh peers to trim above the inbound target, which service
// peers to trim above the service budget, and the next interval: Fast while
// fewer than half the outbound target is connected. Static and pinned peers
// count against the targets but are never trimmed.
// Not-connected pinned and static peers are dialed regardless of the
// targets (static first, within the parallel limit).
// Candidates are ordered static first, then fewest failures, then most
// recently seen, then id.
func planConnectivity(s *peerstore.Store, in planInput) plan {
	var p plan
	var cands, pinned []*peerstore.Peer
	var inbound, service []*peerstore.Peer
	inflightMesh := 0
	s.Range(func(pe *peerstore.Peer) bool {
		_, flying := in.Inflight[pe.ID]
		mesh := in.IsMesh(pe)
		switch {
		case pe.Connected():
			if _, closing := in.Closing[pe.ID]; closing {
				return true
			}
			if !mesh {
				p.Service++
				if pe.Source != events.SourceStatic && !in.Pinned(pe.ID) {
					service = append(service, pe)
				}
				return true
			}
			if pe.Direction == network.DirOutbound {
				p.Out++
			} else {
				p.In++
				if pe.Direction == network.DirInbound && pe.Source != events.SourceStatic && !in.Pinned(pe.ID) {
					inbound = append(inbound, pe)
				}
			}
		case flying:
			if mesh {
				inflightMesh++
			}
		case in.Dialable(pe, in.Now):
			if in.Pinned(pe.ID) || pe.Source == events.SourceStatic {
				pinned = append(pinned, pe)
			} else if mesh {
				cands = append(cands, pe)
			}
		}
		return true
	})
	free := in.Parallel - len(in.Inflight)
	slices.SortFunc(pinned, func(a, b *peerstore.Peer) int { return cmpID(a.ID, b.ID) })
	for _, pe := range pinned {
		if free <= 0 {
			p.Starved = true
			break
		}
		p.Dial = append(p.Dial, pe.ID)
		free--
	}
	need := in.Targets.Outbound - p.Out - inflightMesh
	if need > 0 && len(cands) > 0 {
		n := min(need, max(free, 0), len(cands))
		if n < min(need, len(cands)) {
			p.Starved = true
		}
		slices.SortFunc(cands, candidateOrder)
		for _, pe := range cands[:n] {
			p.Dial = append(p.Dial, pe.ID)
		}
	}
	if excess := p.In - in.Targets.Inbound; excess > 0 && len(inbound) > 0 {
		slices.SortFunc(inbound, func(a, b *peerstore.Peer) int {
			if c := b.ConnectedAt.Compare(a.ConnectedAt); c != 0 {
				return c
			}
			return cmpID(a.ID, b.ID)
		})
		for _, pe := range inbound[:min(excess, len(inbound))] {
			p.Trim = append(p.Trim, pe.ID)
		}
	}
	if excess := p.Service - in.Targets.Service; excess > 0 && len(service) > 0 {
		slices.SortFunc(service, serviceTrimOrder)
		for _, pe := range service[:min(excess, len(service))] {
			p.TrimService = append(p.TrimService, pe.ID)
		}
	}
	p.Next = in.Normal
	if p.Out*2 < in.Targets.Outbound {
		p.Next = in.Fast
	}
	return p
}

// serviceTrimOrder sorts service peers for trimming: inbound before
// outbound (a peer we dialed was wanted), newest connection first within
// each, then id.
func serviceTrimOrder(a, b *peerstore.Peer) int {
	ai, bi := a.Direction == network.DirInbound, b.Direction == network.DirInbound
	if ai != bi {
		if ai {
			return -1
		}
		return 1
	}
	if c := b.ConnectedAt.Compare(a.ConnectedAt); c != 0 {
		return c
	}
	return cmpID(a.ID, b.ID)
}

// candidateOrder sorts dial candidates: static first, fewest failures, most
// recently seen, then id.
func candidateOrder(a, b *peerstore.Peer) int {
	as, bs := a.Source == events.SourceStatic, b.Source == events.SourceStatic
	if as != bs {
		if as {
			return -1
		}
		return 1
	}
	if a.Failures != b.Failures {
		return a.Failures - b.Failures
	}
	if c := b.LastSeen().Compare(a.LastSeen()); c != 0 {
		return c
	}
	return cmpID(a.ID, b.ID)
}

func cmpID(a, b peer.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
