package automaton

import "time"

// A peer's broken promises: as a PREAMBLE source, deadlines it missed
// (missed); as a sender of message heads, heads whose message did not
// come (brokenHead). Both count runs the same way and both outlive the
// peer's connection, so that reconnecting does not clear them.

// missRun counts one kind of a peer's misses in a row: a miss within
// MissMemory of the previous one extends the run, a longer pause starts
// a new one.
type missRun struct {
	n  int       // misses in the run
	at time.Time // the last one
}

// add records a miss at now and returns the run's length.
func (r *missRun) add(now time.Time, memory time.Duration) int {
	if r.n > 0 && now.Sub(r.at) > memory {
		r.n = 0
	}
	r.n++
	r.at = now
	return r.n
}

// beyond reports whether the run is longer than allowance and still
// counts at now.
func (r missRun) beyond(now time.Time, allowance int, memory time.Duration) bool {
	return r.n > allowance && !r.stale(now, memory)
}

// stale reports whether no miss of the run counts at now.
func (r missRun) stale(now time.Time, memory time.Duration) bool {
	return r.n == 0 || now.Sub(r.at) > memory
}

// peerMisses is a peer's record of broken promises (peerState.misses).
type peerMisses struct {
	demoted time.Time // not chosen as a PREAMBLE source before this
	source  missRun   // missed source deadlines
	heads   missRun   // broken heads
}

// stale reports whether nothing in m counts at now: no demotion runs and
// neither run is within memory.
func (m peerMisses) stale(now time.Time, memory time.Duration) bool {
	return !now.Before(m.demoted) && m.source.stale(now, memory) && m.heads.stale(now, memory)
}

// saveMisses keeps ps's record while any of it still counts at now
// (RemovePeer).
func (a *Automaton) saveMisses(now time.Time, ps *peerState) {
	if ps.misses.stale(now, a.cfg.Preamble.MissMemory) || len(a.misses) >= a.cfg.MaxPeers {
		return
	}
	a.misses[ps.id] = ps.misses
}

// restoreMisses gives a peer that came back the record it left with
// (AddPeer).
func (a *Automaton) restoreMisses(ps *peerState) {
	if m, ok := a.misses[ps.id]; ok {
		ps.misses = m
		delete(a.misses, ps.id)
	}
}

// sweepMisses forgets the saved records that no longer count (Heartbeat).
func (a *Automaton) sweepMisses(now time.Time) {
	for p, m := range a.misses {
		if m.stale(now, a.cfg.Preamble.MissMemory) {
			delete(a.misses, p)
		}
	}
}
