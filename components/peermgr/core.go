package peermgr

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/events"
)

// Errors returned by the public API.
var (
	// ErrInvalidPeer reports an empty or malformed peer id.
	ErrInvalidPeer = errors.New("peermgr: invalid peer id")
	// ErrSelf reports an attempt to add the local peer.
	ErrSelf = errors.New("peermgr: peer is the local node")
	// ErrNoAddresses reports a peer given without any address.
	ErrNoAddresses = errors.New("peermgr: no addresses")
	// ErrInvalidSource reports an unknown events.PeerSource.
	ErrInvalidSource = errors.New("peermgr: invalid peer source")
	// ErrUnknownPeer reports a peer that is not in the store.
	ErrUnknownPeer = errors.New("peermgr: unknown peer")
	// ErrNoPeer reports that no peer serves a protocol.
	ErrNoPeer = errors.New("peermgr: no peer for protocol")
	// ErrInvalidProtocol reports an empty or non-UTF-8 protocol id.
	ErrInvalidProtocol = errors.New("peermgr: invalid protocol id")
)

// dialJob is one dial handed to a worker.
type dialJob struct {
	ID      peer.ID
	Addrs   []ma.Multiaddr
	Attempt int
	Started time.Time
}

// dialResult is a worker's answer to a dialJob.
type dialResult struct {
	Job    dialJob
	Reason events.DialFailReason // 0 on success
	Err    error
}

// outbox collects what the core decided, for the driver to carry out in
// order: gater changes, events to emit, dials to start, peers to disconnect.
type outbox struct {
	gates  []gateOp
	events []any
	dials  []dialJob
	closes []peer.ID
}

// core is the peer manager's state machine. Every method takes the time as
// an argument, does no I/O, and appends its decisions to out. It is not safe
// for concurrent use; the Manager serialises access.
type core struct {
	cfg      Config
	sched    Schedule
	targets  Targets
	self     peer.ID
	store    *peerstore.Store
	mesh     map[protocol.ID]struct{}
	slots    map[protocol.ID]peer.ID
	pinned   map[peer.ID]int // how many slots each peer holds
	inflight map[peer.ID]struct{}
	// closing are connected peers we asked the host to disconnect, until
	// their connectedness changes: they are not counted or evicted twice.
	closing map[peer.ID]struct{}
	m       *metrics
	out     outbox
}

func newCore(cfg Config, self peer.ID, m *metrics) *core {
	c := &core{
		cfg:      cfg,
		sched:    cfg.schedule(),
		targets:  cfg.Targets(),
		self:     self,
		store:    peerstore.New(),
		mesh:     make(map[protocol.ID]struct{}, len(cfg.MeshProtocols)),
		slots:    make(map[protocol.ID]peer.ID),
		pinned:   make(map[peer.ID]int),
		inflight: make(map[peer.ID]struct{}),
		closing:  make(map[peer.ID]struct{}),
		m:        m,
	}
	for _, p := range cfg.MeshProtocols {
		c.mesh[p] = struct{}{}
	}
	return c
}

func (c *core) emit(ev any) { c.out.events = append(c.out.events, ev) }

// takeOutbox returns the pending decisions and empties the outbox.
func (c *core) takeOutbox() outbox {
	o := c.out
	c.out = outbox{}
	return o
}

// isMesh reports whether a peer counts against the mesh targets: it is not
// pinned to a service slot, and either has not been identified yet or speaks
// a mesh protocol.
func (c *core) isMesh(p *peerstore.Peer) bool {
	if c.pinned[p.ID] > 0 {
		return false
	}
	if !p.Identified {
		return true
	}
	for _, pr := range p.Protocols {
		if _, ok := c.mesh[pr]; ok {
			return true
		}
	}
	return false
}

// dialable reports whether a not-connected peer may be dialed at now.
func (c *core) dialable(p *peerstore.Peer, now time.Time) bool {
	return !p.Graylisted && len(p.Addrs) > 0 && p.Failures < c.cfg.MaxFailures &&
		!now.Before(p.BackoffUntil) && p.ID != c.self
}

func (c *core) isPinned(id peer.ID) bool { return c.pinned[id] > 0 }

// exempt peers are never evicted for colocation nor pruned: the user asked
// for them.
func (c *core) exempt(id peer.ID) bool {
	if c.isPinned(id) {
		return true
	}
	static := false
	c.store.View(id, func(p *peerstore.Peer) { static = p.Source == events.SourceStatic })
	return static
}

// addPeer adds or merges a peer given by the user or discovery.
func (c *core) addPeer(ai peer.AddrInfo, src events.PeerSource, now time.Time) error {
	switch {
	case ai.ID == "" || ai.ID.Validate() != nil:
		return fmt.Errorf("%w: %q", ErrInvalidPeer, ai.ID)
	case ai.ID == c.self:
		return ErrSelf
	case len(ai.Addrs) == 0:
		return fmt.Errorf("%w: peer %s", ErrNoAddresses, ai.ID)
	case src < events.SourceStatic || src > events.SourceInbound:
		return fmt.Errorf("%w: %d", ErrInvalidSource, src)
	}
	for _, a := range ai.Addrs {
		if len(a) == 0 {
			return fmt.Errorf("%w: empty address for peer %s", ErrNoAddresses, ai.ID)
		}
	}
	if c.store.Add(ai.ID, ai.Addrs, src, now) {
		c.emit(events.EvtPeerDiscovered{Peer: ai.ID, Source: src, Addrs: slices.Clone(ai.Addrs), At: now})
	}
	c.pruneIfOver(now)
	return nil
}

// onConnOpened records a connection; an unknown peer enters the store.
func (c *core) onConnOpened(ev events.EvtConnOpened, now time.Time) {
	if ev.Peer == c.self || ev.Peer == "" {
		return
	}
	isNew := c.store.ConnOpened(ev.Peer, ev.ConnID, ev.Direction, ev.RemoteIP, now)
	// An outbound connection's remote address is dialable; an inbound one's
	// is usually an ephemeral port, so identify supplies those instead.
	var addrs []ma.Multiaddr
	if ev.Direction == network.DirOutbound && ev.RemoteAddr != nil {
		addrs = []ma.Multiaddr{ev.RemoteAddr}
		c.store.Add(ev.Peer, addrs, events.SourceDiscovery, now)
	}
	if isNew {
		src := events.SourceDiscovery
		if ev.Direction == network.DirInbound {
			src = events.SourceInbound
		}
		c.emit(events.EvtPeerDiscovered{Peer: ev.Peer, Source: src, Addrs: addrs, At: now})
	}
	c.afterConnect(ev.Peer, now)
}

// onConnClosed forgets a connection.
func (c *core) onConnClosed(ev events.EvtConnClosed, now time.Time) {
	c.store.ConnClosed(ev.Peer, ev.ConnID, now)
}

// onConnectedness applies a connectedness change.
func (c *core) onConnectedness(ev events.EvtPeerConnectednessChanged, now time.Time) {
	if ev.Peer == c.self || ev.Peer == "" {
		return
	}
	known := c.store.Has(ev.Peer)
	c.store.SetConnectedness(ev.Peer, ev.Connectedness, now)
	delete(c.closing, ev.Peer)
	if ev.Connectedness != network.Connected {
		return
	}
	if !known {
		c.emit(events.EvtPeerDiscovered{Peer: ev.Peer, Source: events.SourceDiscovery, At: now})
	}
	c.afterConnect(ev.Peer, now)
}

// afterConnect enforces graylisting and the colocation limit on a peer that
// just connected.
func (c *core) afterConnect(id peer.ID, now time.Time) {
	var gray bool
	ip := c.ipOf(id)
	c.store.View(id, func(p *peerstore.Peer) { gray = p.Graylisted })
	if gray {
		c.evict(id, events.EvictGraylisted, false, now)
		return
	}
	for _, victim := range colocationExcess(c.store, ip, c.cfg.ColocationLimit, c.exempt) {
		c.evict(victim, events.EvictColocation, true, now)
	}
}

func (c *core) ipOf(id peer.ID) (ip netip.Addr) {
	c.store.View(id, func(p *peerstore.Peer) { ip = p.IP })
	return ip
}

// evict disconnects a peer (and removes it from the store if remove).
func (c *core) evict(id peer.ID, reason events.EvictReason, remove bool, now time.Time) {
	connected := false
	c.store.View(id, func(p *peerstore.Peer) { connected = p.Connected() })
	if connected {
		c.out.closes = append(c.out.closes, id)
		c.closing[id] = struct{}{}
	}
	if remove {
		c.remove(id)
	}
	c.m.evict(reason)
	c.emit(events.EvtPeerEvicted{Peer: id, Reason: reason, Removed: remove, At: now})
}

// remove deletes a peer and frees any service slot it held. A graylisted
// peer's gate is cleared (the store no longer hears of its score; its
// backoff still runs), and the next snapshot graylists it again if it comes
// back.
func (c *core) remove(id peer.ID) {
	c.ungraylist(id)
	c.store.Remove(id)
	if c.pinned[id] > 0 {
		for proto, p := range c.slots {
			if p == id {
				delete(c.slots, proto)
			}
		}
		delete(c.pinned, id)
	}
}

// onIdentified records a peer's protocols and listen addresses. It reports
// whether the peer is a connected service peer, which may put the node over
// its service budget.
func (c *core) onIdentified(ev events.EvtPeerIdentificationCompleted, now time.Time) bool {
	if !c.store.Has(ev.Peer) {
		return false
	}
	c.store.SetProtocols(ev.Peer, ev.Protocols)
	if len(ev.ListenAddrs) > 0 {
		c.store.Add(ev.Peer, ev.ListenAddrs, events.SourceDiscovery, now)
	}
	return c.isConnectedService(ev.Peer)
}

// onProtocolsUpdated applies a protocol change; it reports whether the peer
// is a connected service peer, as onIdentified does.
func (c *core) onProtocolsUpdated(ev events.EvtPeerProtocolsUpdated) bool {
	var protos []protocol.ID
	ok := c.store.View(ev.Peer, func(p *peerstore.Peer) { protos = slices.Clone(p.Protocols) })
	if !ok {
		return false
	}
	protos = slices.DeleteFunc(protos, func(p protocol.ID) bool { return slices.Contains(ev.Removed, p) })
	for _, p := range ev.Added {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	c.store.SetProtocols(ev.Peer, protos)
	return c.isConnectedService(ev.Peer)
}

// isConnectedService reports whether id is connected and not a mesh peer.
func (c *core) isConnectedService(id peer.ID) (svc bool) {
	c.store.View(id, func(p *peerstore.Peer) { svc = p.Connected() && !c.isMesh(p) })
	return svc
}

// onExchange verifies and stores peer exchange records; it reports how many
// new peers entered the store.
func (c *core) onExchange(ev events.EvtPeerExchangeReceived, now time.Time) int {
	added := 0
	for _, rec := range ev.Records {
		v, reason := verifyExchangeRecord(rec, c.self)
		if reason != "" {
			c.m.reject(reason)
			c.emit(events.EvtPeerRecordRejected{From: ev.From, Peer: rec.Peer, Reason: reason, At: now})
			continue
		}
		if c.store.Add(v.ID, nil, events.SourceExchange, now) {
			added++
			c.emit(events.EvtPeerDiscovered{Peer: v.ID, Source: events.SourceExchange, Addrs: v.Addrs, At: now})
		}
		// The signed record is authoritative for its addresses.
		c.store.SetAddrs(v.ID, v.Addrs)
	}
	c.pruneIfOver(now)
	return added
}

// onThreshold applies a graylist crossing.
func (c *core) onThreshold(ev events.EvtPeerScoreThresholdCrossed, now time.Time) {
	if ev.Threshold != events.ThresholdGraylist {
		return
	}
	if ev.Below {
		c.graylist(ev.Peer, now)
		return
	}
	c.ungraylist(ev.Peer)
}

// onScores applies a score snapshot: peers below the graylist threshold are
// graylisted, graylisted peers at or above it (or no longer scored) are
// cleared.
func (c *core) onScores(ev events.EvtPeerScoresUpdated, now time.Time) {
	below := make(map[peer.ID]struct{})
	for _, s := range ev.Scores {
		if s.Score < ev.Thresholds.Graylist {
			below[s.Peer] = struct{}{}
			c.graylist(s.Peer, now)
		}
	}
	var clear []peer.ID
	c.store.Range(func(p *peerstore.Peer) bool {
		if _, ok := below[p.ID]; p.Graylisted && !ok {
			clear = append(clear, p.ID)
		}
		return true
	})
	for _, id := range clear {
		c.ungraylist(id)
	}
}

// graylist disconnects a peer whose score fell below the graylist threshold
// and backs it off as if a dial had failed. A peer already graylisted or not
// in the store is left alone.
func (c *core) graylist(id peer.ID, now time.Time) {
	already := false
	ok := c.store.View(id, func(p *peerstore.Peer) { already = p.Graylisted })
	if !ok || already {
		return
	}
	c.store.SetGraylisted(id, true)
	c.evict(id, events.EvictGraylisted, false, now)
	c.backoff(id, true, now)
	var until time.Time
	c.store.View(id, func(p *peerstore.Peer) { until = p.BackoffUntil })
	c.out.gates = append(c.out.gates, gateOp{ID: id, Graylisted: true, Until: until})
}

// ungraylist clears a peer's graylisting; its backoff still runs.
func (c *core) ungraylist(id peer.ID) {
	was := false
	c.store.View(id, func(p *peerstore.Peer) { was = p.Graylisted })
	if !was {
		return
	}
	c.store.SetGraylisted(id, false)
	c.out.gates = append(c.out.gates, gateOp{ID: id})
}

// syncGates restates every graylisted peer for the gater (after a load, whose
// peers' backoffs may not come from a graylisting, so none is restated).
func (c *core) syncGates() {
	c.store.Range(func(p *peerstore.Peer) bool {
		if p.Graylisted {
			c.out.gates = append(c.out.gates, gateOp{ID: p.ID, Graylisted: true})
		}
		return true
	})
}

// backoff counts a failure and emits the resulting backoff; it returns the
// new failure count.
func (c *core) backoff(id peer.ID, graylisted bool, now time.Time) int {
	failures := 0
	if !c.store.View(id, func(p *peerstore.Peer) { failures = p.Failures }) {
		return 0
	}
	until, ok := c.sched.Next(failures+1, now)
	n := c.store.DialFailed(id, now, until)
	c.emit(events.EvtPeerBackedOff{Peer: id, Until: until, Failures: n, Permanent: !ok, Graylisted: graylisted, At: now})
	return n
}

// onDialResult applies a worker's answer.
func (c *core) onDialResult(r dialResult, now time.Time) {
	delete(c.inflight, r.Job.ID)
	if r.Reason == 0 {
		c.store.DialSucceeded(r.Job.ID)
		c.m.dialOK.Inc()
		c.emit(events.EvtDialSucceeded{Peer: r.Job.ID, Took: now.Sub(r.Job.Started), At: now})
		return
	}
	c.m.dialFailed(r.Reason)
	errText := ""
	if r.Err != nil {
		errText = r.Err.Error()
	}
	failed := events.EvtDialFailed{Peer: r.Job.ID, Reason: r.Reason, Err: errText, At: now}
	if r.Reason == events.DialFailCanceled || !c.store.Has(r.Job.ID) {
		// Shutting down is not the peer's fault; a removed peer has no
		// failures to count.
		c.store.View(r.Job.ID, func(p *peerstore.Peer) { failed.Failures = p.Failures })
		c.emit(failed)
		return
	}
	// Emit the failure before the backoff it causes; the count is known
	// before the store changes.
	c.store.View(r.Job.ID, func(p *peerstore.Peer) { failed.Failures = p.Failures + 1 })
	c.emit(failed)
	c.backoff(r.Job.ID, false, now)
}

// connectivity runs one pass of the connectivity loop and returns the time
// until the next pass.
func (c *core) connectivity(now time.Time) time.Duration {
	p := planConnectivity(c.store, planInput{
		Now:      now,
		Targets:  c.targets,
		Parallel: c.cfg.MaxParallelDials,
		Normal:   c.cfg.ConnectivityInterval,
		Fast:     c.cfg.FastConnectivityInterval,
		Inflight: c.inflight,
		Closing:  c.closing,
		IsMesh:   c.isMesh,
		Pinned:   c.isPinned,
		Dialable: c.dialable,
	})
	for _, id := range p.Dial {
		var job dialJob
		c.store.View(id, func(pe *peerstore.Peer) {
			job = dialJob{ID: id, Addrs: slices.Clone(pe.Addrs), Attempt: pe.Failures + 1, Started: now}
		})
		c.inflight[id] = struct{}{}
		c.emit(events.EvtDialAttempted{Peer: id, Attempt: job.Attempt, At: now})
		c.out.dials = append(c.out.dials, job)
	}
	for _, id := range p.Trim {
		c.evict(id, events.EvictExcessInbound, false, now)
	}
	for _, id := range p.TrimService {
		c.evict(id, events.EvictExcessService, false, now)
	}
	c.census()
	return p.Next
}

// census refreshes the gauges.
func (c *core) census() {
	var byDir [3]int
	byProto := make(map[protocol.ID]int)
	for p := range c.mesh {
		byProto[p] = 0
	}
	for p := range c.slots {
		byProto[p] = 0
	}
	c.store.Range(func(p *peerstore.Peer) bool {
		if !p.Connected() {
			return true
		}
		if d := int(p.Direction); d >= 0 && d < len(byDir) {
			byDir[d]++
		}
		for _, pr := range p.Protocols {
			if n, ok := byProto[pr]; ok {
				byProto[pr] = n + 1
			}
		}
		return true
	})
	c.m.gauges(byDir, byProto, c.store.Len())
}

// prune removes peers beyond the store's capacity.
func (c *core) prune(now time.Time) {
	keep := func(id peer.ID) bool {
		_, flying := c.inflight[id]
		return flying || c.isPinned(id)
	}
	for _, v := range capacityPrune(c.store, c.cfg.StoreCapacity, c.cfg.MaxFailures, keep) {
		c.remove(v.ID)
		c.m.evict(v.Reason)
		c.emit(events.EvtPeerEvicted{Peer: v.ID, Reason: v.Reason, Removed: true, At: now})
	}
}

func (c *core) pruneIfOver(now time.Time) {
	if c.store.Len() > c.cfg.StoreCapacity {
		c.prune(now)
	}
}

// pin sets (or with id "" clears) the service slot of proto.
func (c *core) pin(proto protocol.ID, id peer.ID) error {
	// The id becomes a metric label, which must be valid UTF-8.
	if proto == "" || !utf8.ValidString(string(proto)) {
		return fmt.Errorf("%w: %q", ErrInvalidProtocol, proto)
	}
	if id != "" && !c.store.Has(id) {
		return fmt.Errorf("%w: %s", ErrUnknownPeer, id)
	}
	if old, ok := c.slots[proto]; ok {
		if c.pinned[old]--; c.pinned[old] <= 0 {
			delete(c.pinned, old)
		}
		delete(c.slots, proto)
	}
	if id != "" {
		c.slots[proto] = id
		c.pinned[id]++
	}
	return nil
}

// selectPeer returns the slot peer of proto if any, else the connected,
// non-graylisted peer speaking proto that has been connected longest.
func (c *core) selectPeer(proto protocol.ID) (peer.ID, error) {
	if id, ok := c.slots[proto]; ok {
		return id, nil
	}
	var best *peerstore.Peer
	c.store.Range(func(p *peerstore.Peer) bool {
		if !p.Connected() || p.Graylisted || !p.Speaks(proto) {
			return true
		}
		if best == nil || p.ConnectedAt.Before(best.ConnectedAt) ||
			(p.ConnectedAt.Equal(best.ConnectedAt) && p.ID < best.ID) {
			best = p
		}
		return true
	})
	if best == nil {
		return "", fmt.Errorf("%w: %s", ErrNoPeer, proto)
	}
	return best.ID, nil
}
