// Package automaton is the peer manager's pure core: the peer store, dial
// and reconnect backoff, connection targets, colocation, graylisting, peer
// exchange verification and capacity pruning, as a deterministic state
// machine. It starts no goroutine, does no I/O, takes no lock and reads no
// clock: every handler takes the time as an argument and appends what it
// decided to an Output (events to emit, dials, disconnects, gater and
// connection manager changes), returning a named Outcome. The driver in
// package peermgr owns one Automaton and is the only caller.
package automaton

import (
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

// Automaton is the peer manager's state machine. It is not safe for
// concurrent use: one owner calls it.
type Automaton struct {
	cfg     Config
	sched   Schedule
	targets Targets
	self    peer.ID
	store   *peerstore.Store
	mesh    map[protocol.ID]struct{}
	slots   map[protocol.ID]peer.ID
	pinned  map[peer.ID]int // how many slots each peer holds
	// inflight are the peers being dialed.
	inflight map[peer.ID]struct{}
	// closing are connected peers we asked the driver to disconnect, until
	// their connectedness changes: they are not counted or evicted twice.
	closing map[peer.ID]struct{}
	// scores are the last known peer scores (absent: 0).
	scores map[peer.ID]float64
	// meshTopics counts, per peer, the topic meshes it is in.
	meshTopics map[peer.ID]int
	// reconnects counts consecutive short-lived connections per peer; it
	// sets the growth of the reconnect backoff.
	reconnects map[peer.ID]int
	// tokens is the dial-rate bucket, refilled at DialRate per second up to
	// MaxParallelDials; tokensAt is when it was last refilled.
	tokens   float64
	tokensAt time.Time
}

// New returns an automaton for the local peer self with the persisted peers
// loaded (each not connected). cfg must be valid (Config.Validate).
func New(cfg Config, self peer.ID, loaded []peerstore.Peer) (*Automaton, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Automaton{
		cfg:        cfg,
		sched:      cfg.schedule(),
		targets:    cfg.Targets(),
		self:       self,
		store:      peerstore.New(),
		mesh:       make(map[protocol.ID]struct{}, len(cfg.MeshProtocols)),
		slots:      make(map[protocol.ID]peer.ID),
		pinned:     make(map[peer.ID]int),
		inflight:   make(map[peer.ID]struct{}),
		closing:    make(map[peer.ID]struct{}),
		scores:     make(map[peer.ID]float64),
		meshTopics: make(map[peer.ID]int),
		reconnects: make(map[peer.ID]int),
		tokens:     float64(cfg.MaxParallelDials),
	}
	for _, p := range cfg.MeshProtocols {
		a.mesh[p] = struct{}{}
	}
	a.store.Load(loaded)
	return a, nil
}

// Config returns the configuration in force.
func (a *Automaton) Config() Config { return a.cfg }

// Targets returns the connection targets in force.
func (a *Automaton) Targets() Targets { return a.targets }

// Peers returns snapshots of every peer in the store, sorted by id.
func (a *Automaton) Peers() []peerstore.Peer { return a.store.All() }

// Peer returns a snapshot of one peer and whether it is in the store.
func (a *Automaton) Peer(id peer.ID) (peerstore.Peer, bool) { return a.store.Get(id) }

// TakeDirty returns the peers changed and removed since the last call, for
// persisting (see peerstore.Store.TakeDirty).
func (a *Automaton) TakeDirty() ([]peerstore.Peer, []peer.ID) { return a.store.TakeDirty() }

// Len returns the number of peers in the store.
func (a *Automaton) Len() int { return a.store.Len() }

// isMesh reports whether a peer counts against the mesh targets: it is not
// pinned to a service slot, and either has not been identified yet or speaks
// a mesh protocol.
func (a *Automaton) isMesh(p *peerstore.Peer) bool {
	if a.pinned[p.ID] > 0 {
		return false
	}
	if !p.Identified {
		return true
	}
	for _, pr := range p.Protocols {
		if _, ok := a.mesh[pr]; ok {
			return true
		}
	}
	return false
}

// dialable reports whether a not-connected peer may be dialed at now.
func (a *Automaton) dialable(p *peerstore.Peer, now time.Time) bool {
	return !p.Graylisted && len(p.Addrs) > 0 && p.Failures < a.cfg.MaxFailures &&
		!now.Before(p.BackoffUntil) && p.ID != a.self
}

func (a *Automaton) isPinned(id peer.ID) bool { return a.pinned[id] > 0 }

// exempt peers are never evicted for colocation nor pruned: the user asked
// for them.
func (a *Automaton) exempt(id peer.ID) bool {
	if a.isPinned(id) {
		return true
	}
	static := false
	a.store.View(id, func(p *peerstore.Peer) { static = p.Source == events.SourceStatic })
	return static
}

// AddPeer is a peer given by the user or found by discovery.
type AddPeer struct {
	// Info is the peer's id and the addresses to merge into the store.
	Info peer.AddrInfo
	// Source is where it was learned; SourceStatic makes it a static
	// peer.
	Source events.PeerSource
}

// HandleAddPeer adds a peer (or merges its addresses). A static peer is
// protected in the connection manager and dialed whenever not connected
// (outside backoff). Invalid input is rejected with a named outcome.
func (a *Automaton) HandleAddPeer(now time.Time, in AddPeer, out *Output) Outcome {
	ai, src := in.Info, in.Source
	switch {
	case ai.ID == "" || ai.ID.Validate() != nil:
		return OutcomeRejectedInvalidPeer
	case ai.ID == a.self:
		return OutcomeRejectedSelf
	case len(ai.Addrs) == 0:
		return OutcomeRejectedNoAddresses
	case src < events.SourceStatic || src > events.SourceInbound:
		return OutcomeRejectedSource
	}
	for _, m := range ai.Addrs {
		if len(m.Bytes()) == 0 {
			return OutcomeRejectedNoAddresses
		}
	}
	wasStatic := a.exempt(ai.ID) && !a.isPinned(ai.ID)
	added := a.store.Add(ai.ID, ai.Addrs, src, now)
	if added {
		out.discovered(events.EvtPeerDiscovered{Peer: ai.ID, Source: src, Addrs: slices.Clone(ai.Addrs), At: now})
	}
	if src == events.SourceStatic && !wasStatic {
		out.Protections = append(out.Protections, Protection{Peer: ai.ID, Tag: TagStatic, Protect: true})
	}
	a.pruneIfOver(now, out)
	if added {
		return OutcomePeerAdded
	}
	return OutcomePeerMerged
}

// HandleConnOpened records a connection; an unknown peer enters the store.
// It then enforces graylisting and the colocation limit.
func (a *Automaton) HandleConnOpened(now time.Time, ev events.EvtConnOpened, out *Output) Outcome {
	if ev.Peer == a.self || ev.Peer == "" {
		return OutcomeIgnored
	}
	isNew := a.store.ConnOpened(ev.Peer, ev.ConnID, ev.Direction, ev.RemoteIP, now)
	// An outbound connection's remote address is dialable; an inbound one's
	// is usually an ephemeral port, so identify supplies those instead.
	var addrs []ma.Multiaddr
	if ev.Direction == network.DirOutbound && ev.RemoteAddr != nil {
		addrs = []ma.Multiaddr{ev.RemoteAddr}
		a.store.Add(ev.Peer, addrs, events.SourceDiscovery, now)
	}
	if isNew {
		src := events.SourceDiscovery
		if ev.Direction == network.DirInbound {
			src = events.SourceInbound
		}
		out.discovered(events.EvtPeerDiscovered{Peer: ev.Peer, Source: src, Addrs: addrs, At: now})
	}
	return a.afterConnect(ev.Peer, now, out)
}

// HandleConnClosed forgets a connection. When it was the peer's last, the
// peer is backed off before any redial (see Config.ReconnectBackoff).
func (a *Automaton) HandleConnClosed(now time.Time, ev events.EvtConnClosed, out *Output) Outcome {
	var connectedAt time.Time
	was := false
	a.store.View(ev.Peer, func(p *peerstore.Peer) { was, connectedAt = p.Connected(), p.ConnectedAt })
	a.store.ConnClosed(ev.Peer, ev.ConnID, now)
	still := false
	if !a.store.View(ev.Peer, func(p *peerstore.Peer) { still = p.Connected() }) {
		return OutcomeIgnored
	}
	if !was || still {
		return OutcomeConnClosed
	}
	return a.disconnected(ev.Peer, connectedAt, now, out)
}

// HandleConnectedness applies a connectedness change.
func (a *Automaton) HandleConnectedness(now time.Time, ev events.EvtPeerConnectednessChanged, out *Output) Outcome {
	if ev.Peer == a.self || ev.Peer == "" {
		return OutcomeIgnored
	}
	known := a.store.Has(ev.Peer)
	var connectedAt time.Time
	was := false
	a.store.View(ev.Peer, func(p *peerstore.Peer) { was, connectedAt = p.Connected(), p.ConnectedAt })
	a.store.SetConnectedness(ev.Peer, ev.Connectedness, now)
	delete(a.closing, ev.Peer)
	if ev.Connectedness != network.Connected {
		if was {
			return a.disconnected(ev.Peer, connectedAt, now, out)
		}
		return OutcomeIgnored
	}
	if !known {
		out.discovered(events.EvtPeerDiscovered{Peer: ev.Peer, Source: events.SourceDiscovery, At: now})
	}
	return a.afterConnect(ev.Peer, now, out)
}

// disconnected backs off a peer whose connected period (begun at since)
// just ended, whoever closed it: a connection shorter than StableConnection
// doubles the wait, up to MaxReconnectBackoff. A dial backoff already
// running longer is kept.
func (a *Automaton) disconnected(id peer.ID, since, now time.Time, out *Output) Outcome {
	delete(a.closing, id)
	n := a.reconnects[id]
	if !since.IsZero() && now.Sub(since) >= a.cfg.StableConnection {
		n = 0
	}
	n++
	a.reconnects[id] = n
	wait := a.cfg.ReconnectBackoff
	for i := 1; i < n && wait < a.cfg.MaxReconnectBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, a.cfg.MaxReconnectBackoff)
	until := now.Add(wait)
	var failures int
	var current time.Time
	a.store.View(id, func(p *peerstore.Peer) { failures, current = p.Failures, p.BackoffUntil })
	if current.After(until) {
		until = current
	}
	a.store.SetBackoff(id, until)
	out.backedOff(events.EvtPeerBackedOff{Peer: id, Until: until, Failures: failures, Reconnects: n, At: now})
	return OutcomeDisconnectBackedOff
}

// afterConnect enforces graylisting and the colocation limit on a peer that
// just connected.
func (a *Automaton) afterConnect(id peer.ID, now time.Time, out *Output) Outcome {
	var gray bool
	var ip netip.Addr
	a.store.View(id, func(p *peerstore.Peer) { gray, ip = p.Graylisted, p.IP })
	if gray {
		a.evict(id, events.EvictGraylisted, false, now, out)
		return OutcomeGraylistedEvicted
	}
	if a.colocationExempt(ip) {
		return OutcomeConnRecorded
	}
	victims := colocationExcess(a.store, ip, a.cfg.ColocationLimit, a.exempt, a.score)
	for _, v := range victims {
		a.evict(v, events.EvictColocation, true, now, out)
	}
	if len(victims) > 0 {
		return OutcomeColocationEvicted
	}
	return OutcomeConnRecorded
}

// colocationExempt reports whether ip is in an exempt range.
func (a *Automaton) colocationExempt(ip netip.Addr) bool {
	for _, p := range a.cfg.ColocationExempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *Automaton) score(id peer.ID) float64 { return a.scores[id] }

// evict disconnects a peer (and removes it from the store if remove).
func (a *Automaton) evict(id peer.ID, reason events.EvictReason, remove bool, now time.Time, out *Output) {
	connected := false
	a.store.View(id, func(p *peerstore.Peer) { connected = p.Connected() })
	if connected {
		if _, already := a.closing[id]; !already {
			out.Closes = append(out.Closes, id)
		}
		a.closing[id] = struct{}{}
	}
	if remove {
		a.remove(id, out)
	}
	out.evicted(events.EvtPeerEvicted{Peer: id, Reason: reason, Removed: remove, At: now})
}

// remove deletes a peer and frees any service slot it held. A graylisted
// peer's gate is cleared (the store no longer hears of its score; its
// backoff still runs), and the next snapshot graylists it again if it comes
// back. Its reconnect count is kept, so an evicted peer that comes straight
// back is backed off longer.
func (a *Automaton) remove(id peer.ID, out *Output) {
	a.ungraylist(id, out)
	a.store.Remove(id)
	if a.pinned[id] > 0 {
		for proto, p := range a.slots {
			if p == id {
				delete(a.slots, proto)
			}
		}
		delete(a.pinned, id)
	}
}

// HandleIdentified records a peer's protocols and listen addresses.
func (a *Automaton) HandleIdentified(now time.Time, ev events.EvtPeerIdentificationCompleted, out *Output) Outcome {
	if !a.store.Has(ev.Peer) {
		return OutcomeIgnored
	}
	a.store.SetProtocols(ev.Peer, ev.Protocols)
	if len(ev.ListenAddrs) > 0 {
		a.store.Add(ev.Peer, ev.ListenAddrs, events.SourceDiscovery, now)
	}
	if a.isConnectedService(ev.Peer) {
		return OutcomeServicePeer
	}
	return OutcomeIdentified
}

// HandleProtocolsUpdated applies a protocol change.
func (a *Automaton) HandleProtocolsUpdated(_ time.Time, ev events.EvtPeerProtocolsUpdated, _ *Output) Outcome {
	var protos []protocol.ID
	if !a.store.View(ev.Peer, func(p *peerstore.Peer) { protos = slices.Clone(p.Protocols) }) {
		return OutcomeIgnored
	}
	protos = slices.DeleteFunc(protos, func(p protocol.ID) bool { return slices.Contains(ev.Removed, p) })
	for _, p := range ev.Added {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	a.store.SetProtocols(ev.Peer, protos)
	if a.isConnectedService(ev.Peer) {
		return OutcomeServicePeer
	}
	return OutcomeIdentified
}

// isConnectedService reports whether id is connected and not a mesh peer.
func (a *Automaton) isConnectedService(id peer.ID) (svc bool) {
	a.store.View(id, func(p *peerstore.Peer) { svc = p.Connected() && !a.isMesh(p) })
	return svc
}

// HandleExchange verifies and stores peer exchange records.
func (a *Automaton) HandleExchange(now time.Time, ev events.EvtPeerExchangeReceived, out *Output) Outcome {
	for _, rec := range ev.Records {
		v, reason := verifyExchangeRecord(rec, a.self)
		if reason != "" {
			out.rejected(events.EvtPeerRecordRejected{From: ev.From, Peer: rec.Peer, Reason: reason, At: now})
			continue
		}
		if a.store.Add(v.ID, nil, events.SourceExchange, now) {
			out.discovered(events.EvtPeerDiscovered{Peer: v.ID, Source: events.SourceExchange, Addrs: v.Addrs, At: now})
		}
		// The signed record is authoritative for its addresses.
		a.store.SetAddrs(v.ID, v.Addrs)
	}
	a.pruneIfOver(now, out)
	return OutcomeExchangeApplied
}

// HandleThreshold applies a graylist crossing.
func (a *Automaton) HandleThreshold(now time.Time, ev events.EvtPeerScoreThresholdCrossed, out *Output) Outcome {
	if ev.Threshold != events.ThresholdGraylist {
		return OutcomeIgnored
	}
	if ev.Below {
		if a.graylist(ev.Peer, now, out) {
			return OutcomeGraylisted
		}
		return OutcomeIgnored
	}
	if a.ungraylist(ev.Peer, out) {
		return OutcomeUngraylisted
	}
	return OutcomeIgnored
}

// HandleScores applies a score snapshot: the scores order colocation
// eviction; peers below the graylist threshold are graylisted, graylisted
// peers at or above it (or no longer scored) are cleared.
func (a *Automaton) HandleScores(now time.Time, ev events.EvtPeerScoresUpdated, out *Output) Outcome {
	clear(a.scores)
	below := make(map[peer.ID]struct{})
	for _, s := range ev.Scores {
		a.scores[s.Peer] = s.Score
		if s.Score < ev.Thresholds.Graylist {
			below[s.Peer] = struct{}{}
			a.graylist(s.Peer, now, out)
		}
	}
	var clearList []peer.ID
	a.store.Range(func(p *peerstore.Peer) bool {
		if _, ok := below[p.ID]; p.Graylisted && !ok {
			clearList = append(clearList, p.ID)
		}
		return true
	})
	for _, id := range clearList {
		a.ungraylist(id, out)
	}
	return OutcomeScoresApplied
}

// graylist disconnects a peer whose score fell below the graylist threshold
// and backs it off as if a dial had failed. A peer already graylisted or not
// in the store is left alone (false).
func (a *Automaton) graylist(id peer.ID, now time.Time, out *Output) bool {
	already := false
	if !a.store.View(id, func(p *peerstore.Peer) { already = p.Graylisted }) || already {
		return false
	}
	a.store.SetGraylisted(id, true)
	a.evict(id, events.EvictGraylisted, false, now, out)
	a.backoff(id, true, now, out)
	var until time.Time
	a.store.View(id, func(p *peerstore.Peer) { until = p.BackoffUntil })
	out.Gates = append(out.Gates, Gate{Peer: id, Graylisted: true, Until: until})
	return true
}

// ungraylist clears a peer's graylisting; its backoff still runs.
func (a *Automaton) ungraylist(id peer.ID, out *Output) bool {
	was := false
	a.store.View(id, func(p *peerstore.Peer) { was = p.Graylisted })
	if !was {
		return false
	}
	a.store.SetGraylisted(id, false)
	out.Gates = append(out.Gates, Gate{Peer: id})
	return true
}

// SyncGates restates every graylisted peer for the gater (after a load),
// with the backoff the peer store kept for it, so that a restart does not
// cut a graylisting's backoff short, and every static peer's protection;
// the driver calls it once at start.
func (a *Automaton) SyncGates(out *Output) {
	a.store.Range(func(p *peerstore.Peer) bool {
		if p.Graylisted {
			out.Gates = append(out.Gates, Gate{Peer: p.ID, Graylisted: true, Until: p.BackoffUntil})
		}
		if p.Source == events.SourceStatic {
			out.Protections = append(out.Protections, Protection{Peer: p.ID, Tag: TagStatic, Protect: true})
		}
		return true
	})
}

// backoff counts a failure and emits the resulting backoff.
func (a *Automaton) backoff(id peer.ID, graylisted bool, now time.Time, out *Output) (int, bool) {
	failures := 0
	if !a.store.View(id, func(p *peerstore.Peer) { failures = p.Failures }) {
		return 0, false
	}
	until, ok := a.sched.Next(failures+1, now)
	n := a.store.DialFailed(id, now, until)
	out.backedOff(events.EvtPeerBackedOff{Peer: id, Until: until, Failures: n, Permanent: !ok, Graylisted: graylisted, At: now})
	return n, ok
}

// HandleDialResult applies the driver's answer to a Dial.
func (a *Automaton) HandleDialResult(now time.Time, r DialResult, out *Output) Outcome {
	id := r.Dial.Peer
	delete(a.inflight, id)
	if r.Reason == 0 {
		a.store.DialSucceeded(id)
		out.succeeded(events.EvtDialSucceeded{Peer: id, Took: now.Sub(r.Dial.Started), At: now})
		return OutcomeDialSucceeded
	}
	errText := ""
	if r.Err != nil {
		errText = r.Err.Error()
	}
	failed := events.EvtDialFailed{Peer: id, Reason: r.Reason, Err: errText, At: now}
	if r.Reason == events.DialFailCanceled || !a.store.Has(id) {
		// Shutting down is not the peer's fault; a removed peer has no
		// failures to count.
		a.store.View(id, func(p *peerstore.Peer) { failed.Failures = p.Failures })
		out.failed(failed)
		return OutcomeDialCanceled
	}
	// The failure comes before the backoff it causes.
	a.store.View(id, func(p *peerstore.Peer) { failed.Failures = p.Failures + 1 })
	out.failed(failed)
	if _, ok := a.backoff(id, false, now, out); !ok {
		return OutcomeDialFailedGivenUp
	}
	return OutcomeDialFailedBackedOff
}

// refill adds the dial tokens earned since the last refill.
func (a *Automaton) refill(now time.Time) {
	if !a.tokensAt.IsZero() && now.After(a.tokensAt) {
		a.tokens += now.Sub(a.tokensAt).Seconds() * a.cfg.DialRate
	}
	if a.tokensAt.IsZero() || now.After(a.tokensAt) {
		a.tokensAt = now
	}
	a.tokens = min(a.tokens, float64(a.cfg.MaxParallelDials))
}

// HandleTick runs one connectivity pass: dials toward the outbound target
// (static and pinned peers whenever not connected), never more in flight
// than MaxParallelDials nor faster than DialRate; trims inbound mesh and
// service peers above their budgets; sets Output.Next and the census.
func (a *Automaton) HandleTick(now time.Time, out *Output) Outcome {
	a.refill(now)
	p := planConnectivity(a.store, planInput{
		Now:      now,
		Targets:  a.targets,
		Parallel: min(a.cfg.MaxParallelDials, len(a.inflight)+int(a.tokens)),
		Normal:   a.cfg.ConnectivityInterval,
		Fast:     a.cfg.FastConnectivityInterval,
		Inflight: a.inflight,
		Closing:  a.closing,
		IsMesh:   a.isMesh,
		Pinned:   a.isPinned,
		Dialable: a.dialable,
	})
	for _, id := range p.Dial {
		var d Dial
		a.store.View(id, func(pe *peerstore.Peer) {
			d = Dial{Peer: id, Addrs: slices.Clone(pe.Addrs), Attempt: pe.Failures + 1, Started: now}
		})
		a.inflight[id] = struct{}{}
		a.tokens--
		out.attempted(events.EvtDialAttempted{Peer: id, Attempt: d.Attempt, At: now})
		out.Dials = append(out.Dials, d)
	}
	for _, id := range p.Trim {
		a.evict(id, events.EvictExcessInbound, false, now, out)
	}
	for _, id := range p.TrimService {
		a.evict(id, events.EvictExcessService, false, now, out)
	}
	out.Census, out.HasCensus = a.census(), true
	out.Next = p.Next
	if p.Starved && out.Next > a.tokenWait() {
		// Candidates wait for dial tokens: come back when one is earned.
		out.Next = a.tokenWait()
	}
	return OutcomePassed
}

// tokenWait is how long until the bucket holds one token.
func (a *Automaton) tokenWait() time.Duration {
	if a.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - a.tokens) / a.cfg.DialRate * float64(time.Second))
}

// census counts connected peers.
func (a *Automaton) census() Census {
	c := Census{ByProtocol: make(map[protocol.ID]int, len(a.mesh)+len(a.slots)), StorePeers: a.store.Len()}
	for p := range a.mesh {
		c.ByProtocol[p] = 0
	}
	for p := range a.slots {
		c.ByProtocol[p] = 0
	}
	a.store.Range(func(p *peerstore.Peer) bool {
		if !p.Connected() {
			return true
		}
		if d := int(p.Direction); d >= 0 && d < len(c.ByDirection) {
			c.ByDirection[d]++
		}
		for _, pr := range p.Protocols {
			if n, ok := c.ByProtocol[pr]; ok {
				c.ByProtocol[pr] = n + 1
			}
		}
		return true
	})
	return c
}

// HandlePrune removes peers beyond the store's capacity.
func (a *Automaton) HandlePrune(now time.Time, out *Output) Outcome {
	keep := func(id peer.ID) bool {
		_, flying := a.inflight[id]
		return flying || a.isPinned(id)
	}
	for _, v := range capacityPrune(a.store, a.cfg.StoreCapacity, a.cfg.MaxFailures, keep) {
		a.remove(v.ID, out)
		out.evicted(events.EvtPeerEvicted{Peer: v.ID, Reason: v.Reason, Removed: true, At: now})
	}
	// Forget reconnect counts of peers long gone.
	for id := range a.reconnects {
		if !a.store.Has(id) {
			delete(a.reconnects, id)
		}
	}
	return OutcomePruned
}

func (a *Automaton) pruneIfOver(now time.Time, out *Output) {
	if a.store.Len() > a.cfg.StoreCapacity {
		a.HandlePrune(now, out)
	}
}

// Pin sets (or with Peer "" clears) the service slot of Protocol.
type Pin struct {
	// Protocol is the service protocol whose slot is set; it must be
	// non-empty valid UTF-8, as it becomes a metric label.
	Protocol protocol.ID
	// Peer is the peer to pin, which must be in the store; "" clears the
	// slot.
	Peer peer.ID
}

// HandlePin sets or clears a service slot. A pinned peer does not count
// against the mesh targets, is dialed whenever it is not connected and
// outside backoff, is protected in the connection manager and is never
// trimmed, pruned or evicted for colocation.
func (a *Automaton) HandlePin(_ time.Time, in Pin, out *Output) Outcome {
	// The id becomes a metric label, which must be valid UTF-8.
	if in.Protocol == "" || !utf8.ValidString(string(in.Protocol)) {
		return OutcomeRejectedProtocol
	}
	if in.Peer != "" && !a.store.Has(in.Peer) {
		return OutcomeRejectedUnknownPeer
	}
	if old, ok := a.slots[in.Protocol]; ok {
		if a.pinned[old]--; a.pinned[old] <= 0 {
			delete(a.pinned, old)
			out.Protections = append(out.Protections, Protection{Peer: old, Tag: TagPinned})
		}
		delete(a.slots, in.Protocol)
	}
	if in.Peer != "" {
		a.slots[in.Protocol] = in.Peer
		if a.pinned[in.Peer]++; a.pinned[in.Peer] == 1 {
			out.Protections = append(out.Protections, Protection{Peer: in.Peer, Tag: TagPinned, Protect: true})
		}
	}
	return OutcomePinned
}

// MeshChange is a peer entering (Joined) or leaving a topic mesh, from the
// router's EvtPeerGrafted and EvtPeerPruned.
type MeshChange struct {
	// Peer is the peer grafted or pruned.
	Peer peer.ID
	// Joined is true for a graft and false for a prune. Changes are per
	// topic: the peer stays protected until it has left every mesh it
	// joined.
	Joined bool
}

// HandleMeshChange keeps the connection manager protection of mesh peers:
// a peer in at least one topic mesh is protected under TagMesh, so a
// connection-manager trim never breaks a mesh.
func (a *Automaton) HandleMeshChange(_ time.Time, in MeshChange, out *Output) Outcome {
	n := a.meshTopics[in.Peer]
	switch {
	case in.Joined:
		a.meshTopics[in.Peer] = n + 1
		if n == 0 {
			out.Protections = append(out.Protections, Protection{Peer: in.Peer, Tag: TagMesh, Protect: true})
			return OutcomeMeshChanged
		}
	case n > 0:
		if n == 1 {
			delete(a.meshTopics, in.Peer)
			out.Protections = append(out.Protections, Protection{Peer: in.Peer, Tag: TagMesh})
			return OutcomeMeshChanged
		}
		a.meshTopics[in.Peer] = n - 1
	}
	return OutcomeMeshUnchanged
}

// SelectPeer returns the slot peer of proto if any, else the connected,
// non-graylisted peer speaking proto that has been connected longest.
func (a *Automaton) SelectPeer(proto protocol.ID) (peer.ID, bool) {
	if id, ok := a.slots[proto]; ok {
		return id, true
	}
	var best *peerstore.Peer
	a.store.Range(func(p *peerstore.Peer) bool {
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
		return "", false
	}
	return best.ID, true
}

// String describes the automaton's size, for logs.
func (a *Automaton) String() string {
	return fmt.Sprintf("peermgr automaton: %d peers, %d dials in flight", a.store.Len(), len(a.inflight))
}
