package peerstore

import (
	"net/netip"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/events"
)

// conn is one open connection of a peer.
type conn struct {
	dir    network.Direction
	ip     netip.Addr
	opened time.Time
	seq    uint64 // breaks ties between connections opened at the same instant
}

// entry is a peer plus the bookkeeping that is never persisted.
type entry struct {
	Peer
	conns map[string]conn
}

// Store holds every known peer. The zero value is not usable; call New.
type Store struct {
	peers   map[peer.ID]*entry
	byIP    map[netip.Addr]map[peer.ID]struct{} // connected peers by IP
	dirty   map[peer.ID]struct{}                // changed since TakeDirty
	removed map[peer.ID]struct{}                // removed since TakeDirty
	seq     uint64
}

// New returns an empty store.
func New() *Store {
	return &Store{
		peers:   make(map[peer.ID]*entry),
		byIP:    make(map[netip.Addr]map[peer.ID]struct{}),
		dirty:   make(map[peer.ID]struct{}),
		removed: make(map[peer.ID]struct{}),
	}
}

// Len returns how many peers the store holds.
func (s *Store) Len() int { return len(s.peers) }

// Has reports whether the store holds id.
func (s *Store) Has(id peer.ID) bool { _, ok := s.peers[id]; return ok }

// Get returns a copy of the peer, and whether it exists.
func (s *Store) Get(id peer.ID) (Peer, bool) {
	e, ok := s.peers[id]
	if !ok {
		return Peer{}, false
	}
	return e.clone(), true
}

// View calls fn with the stored peer (not a copy) if it exists; fn must not
// modify or retain it. It allocates nothing.
func (s *Store) View(id peer.ID, fn func(*Peer)) bool {
	e, ok := s.peers[id]
	if ok {
		fn(&e.Peer)
	}
	return ok
}

// Range calls fn for every peer, in no particular order, until fn returns
// false. fn must not modify or retain the peer, nor change the store.
func (s *Store) Range(fn func(*Peer) bool) {
	for _, e := range s.peers {
		if !fn(&e.Peer) {
			return
		}
	}
}

// All returns copies of every peer, sorted by id.
func (s *Store) All() []Peer {
	out := make([]Peer, 0, len(s.peers))
	for _, e := range s.peers {
		out = append(out, e.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PeersAt returns the connected peers whose oldest connection comes from ip.
func (s *Store) PeersAt(ip netip.Addr) []peer.ID {
	set := s.byIP[ip]
	out := make([]peer.ID, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	return out
}

// Add inserts the peer if it is new, merging addrs into its known addresses
// otherwise, and reports whether it was new. A static source upgrades an
// existing peer's source; other sources keep the first one.
func (s *Store) Add(id peer.ID, addrs []ma.Multiaddr, src events.PeerSource, now time.Time) bool {
	e, ok := s.peers[id]
	if !ok {
		e = &entry{Peer: Peer{ID: id, Source: src, AddedAt: now, Connectedness: network.NotConnected}}
		s.peers[id] = e
		delete(s.removed, id)
	} else if src == events.SourceStatic {
		e.Source = src
	}
	for _, a := range addrs {
		if !containsAddr(e.Addrs, a) {
			e.Addrs = append(e.Addrs, a)
		}
	}
	s.dirty[id] = struct{}{}
	return !ok
}

// SetAddrs replaces the peer's addresses (a signed record is authoritative).
// It does nothing if the peer is unknown.
func (s *Store) SetAddrs(id peer.ID, addrs []ma.Multiaddr) {
	if e, ok := s.peers[id]; ok {
		e.Addrs = append(e.Addrs[:0:0], addrs...)
		s.dirty[id] = struct{}{}
	}
}

// SetProtocols records the protocols the peer announced.
func (s *Store) SetProtocols(id peer.ID, protos []protocol.ID) {
	if e, ok := s.peers[id]; ok {
		e.Protocols = append(e.Protocols[:0:0], protos...)
		e.Identified = true
		s.dirty[id] = struct{}{}
	}
}

// ConnOpened records an open connection, adding the peer (source inbound or
// discovery, by direction) if it is unknown; it reports whether the peer was
// new. A connection id seen twice is counted once.
func (s *Store) ConnOpened(id peer.ID, connID string, dir network.Direction, ip netip.Addr, now time.Time) bool {
	src := events.SourceDiscovery
	if dir == network.DirInbound {
		src = events.SourceInbound
	}
	isNew := s.Add(id, nil, src, now)
	e := s.peers[id]
	if e.conns == nil {
		e.conns = make(map[string]conn, 1)
	}
	if _, dup := s.peers[id].conns[connID]; !dup {
		s.seq++
		e.conns[connID] = conn{dir: dir, ip: ip, opened: now, seq: s.seq}
	}
	s.markConnected(e, now)
	return isNew
}

// ConnClosed forgets a connection; when it was the peer's last one the peer
// becomes not connected at now.
func (s *Store) ConnClosed(id peer.ID, connID string, now time.Time) {
	e, ok := s.peers[id]
	if !ok {
		return
	}
	if _, had := e.conns[connID]; !had {
		return
	}
	delete(e.conns, connID)
	if len(e.conns) == 0 {
		s.markDisconnected(e, now)
		return
	}
	s.refreshConn(e)
}

// SetConnectedness applies a connectedness change. Connected without any
// known connection marks the peer connected with an unknown direction;
// NotConnected drops every connection the store still tracks.
func (s *Store) SetConnectedness(id peer.ID, c network.Connectedness, now time.Time) {
	e, ok := s.peers[id]
	if !ok {
		if c != network.Connected {
			return
		}
		s.Add(id, nil, events.SourceDiscovery, now)
		e = s.peers[id]
	}
	if c == network.Connected {
		s.markConnected(e, now)
		return
	}
	clear(e.conns)
	s.markDisconnected(e, now)
}

func (s *Store) markConnected(e *entry, now time.Time) {
	if e.Connectedness != network.Connected {
		e.Connectedness = network.Connected
		e.ConnectedAt = now
		s.dirty[e.ID] = struct{}{}
	}
	s.refreshConn(e)
}

func (s *Store) markDisconnected(e *entry, now time.Time) {
	if e.Connectedness == network.Connected {
		e.LastDisconnect = now
		s.dirty[e.ID] = struct{}{}
	}
	e.Connectedness = network.NotConnected
	e.ConnectedAt = time.Time{}
	s.setIP(e, netip.Addr{})
	e.Direction = network.DirUnknown
}

// refreshConn derives direction and IP from the oldest open connection.
func (s *Store) refreshConn(e *entry) {
	var oldest conn
	found := false
	for _, c := range e.conns {
		if !found || c.opened.Before(oldest.opened) || (c.opened.Equal(oldest.opened) && c.seq < oldest.seq) {
			oldest, found = c, true
		}
	}
	if !found {
		e.Direction = network.DirUnknown
		s.setIP(e, netip.Addr{})
		return
	}
	e.Direction = oldest.dir
	s.setIP(e, oldest.ip)
}

func (s *Store) setIP(e *entry, ip netip.Addr) {
	if e.IP == ip {
		return
	}
	if e.IP.IsValid() {
		if set := s.byIP[e.IP]; set != nil {
			delete(set, e.ID)
			if len(set) == 0 {
				delete(s.byIP, e.IP)
			}
		}
	}
	e.IP = ip
	if ip.IsValid() {
		set := s.byIP[ip]
		if set == nil {
			set = make(map[peer.ID]struct{})
			s.byIP[ip] = set
		}
		set[e.ID] = struct{}{}
	}
}

// DialFailed counts a failed dial at now, sets the backoff to until, and
// returns the new failure count (0 if the peer is unknown).
func (s *Store) DialFailed(id peer.ID, now, until time.Time) int {
	e, ok := s.peers[id]
	if !ok {
		return 0
	}
	e.Failures++
	e.LastFailure = now
	e.BackoffUntil = until
	s.dirty[id] = struct{}{}
	return e.Failures
}

// SetBackoff sets the earliest time the peer may be dialed again, without
// counting a failure (a connection that ended).
func (s *Store) SetBackoff(id peer.ID, until time.Time) {
	if e, ok := s.peers[id]; ok && !e.BackoffUntil.Equal(until) {
		e.BackoffUntil = until
		s.dirty[id] = struct{}{}
	}
}

// DialSucceeded clears the peer's failures and backoff.
func (s *Store) DialSucceeded(id peer.ID) {
	if e, ok := s.peers[id]; ok {
		e.Failures = 0
		e.BackoffUntil = time.Time{}
		s.dirty[id] = struct{}{}
	}
}

// SetGraylisted marks or clears the peer's graylisting.
func (s *Store) SetGraylisted(id peer.ID, on bool) {
	if e, ok := s.peers[id]; ok && e.Graylisted != on {
		e.Graylisted = on
		s.dirty[id] = struct{}{}
	}
}

// Remove deletes the peer and reports whether it existed.
func (s *Store) Remove(id peer.ID) bool {
	e, ok := s.peers[id]
	if !ok {
		return false
	}
	s.setIP(e, netip.Addr{})
	delete(s.peers, id)
	delete(s.dirty, id)
	s.removed[id] = struct{}{}
	return true
}

// Load inserts persisted peers, resetting each to not connected (no
// connection survives a restart). Loaded peers are not marked dirty.
func (s *Store) Load(peers []Peer) {
	for i := range peers {
		p := peers[i].clone()
		p.Connectedness = network.NotConnected
		p.Direction = network.DirUnknown
		p.IP = netip.Addr{}
		p.ConnectedAt = time.Time{}
		s.peers[p.ID] = &entry{Peer: p}
	}
}

// TakeDirty returns copies of the peers changed and the ids removed since the
// last call, and resets both sets. Upserts are sorted by id.
func (s *Store) TakeDirty() (upserts []Peer, removed []peer.ID) {
	for id := range s.dirty {
		if e, ok := s.peers[id]; ok {
			upserts = append(upserts, e.clone())
		}
	}
	for id := range s.removed {
		removed = append(removed, id)
	}
	clear(s.dirty)
	clear(s.removed)
	sort.Slice(upserts, func(i, j int) bool { return upserts[i].ID < upserts[j].ID })
	sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
	return upserts, removed
}

func containsAddr(addrs []ma.Multiaddr, a ma.Multiaddr) bool {
	for _, b := range addrs {
		if b.Equal(a) {
			return true
		}
	}
	return false
}
