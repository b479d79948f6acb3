package automaton

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// IDontWantLearnConfig is learned IDONTWANT for small messages, a local
// sending policy (nothing changes on the wire: the GossipSub v1.2 spec
// leaves when to send IDONTWANT to the implementation).
//
// An IDONTWANT for a message only saves something if it reaches the peer
// before the peer forwards its own copy to us. For a small message on a
// fast link (loopback, one rack) the peer's copy is usually on its way
// already, and the IDONTWANT only costs both sides CPU; on links with a
// few milliseconds of delay it often arrives in time. So the automaton
// learns, per mesh peer, whether its IDONTWANTs for messages whose data is
// smaller than Below bytes arrive in time:
//
//   - each such IDONTWANT sent to the peer is remembered (its id's key and
//     when it was sent; at most MaxTracked per peer, further ones are not
//     remembered);
//   - if a copy of the message, or the head of one, then arrives from the
//     peer, the IDONTWANT was late: one late sample;
//   - if none arrives within Timeout and the peer sent us an IDONTWANT for
//     the message (so it had it from elsewhere, and had a copy to send us
//     that it did not send), the IDONTWANT was in time: one timely sample;
//   - if neither, there is no sample (the peer most likely got the message
//     from us, and would not have sent it back anyway).
//
// The last Window samples give the peer's late share. When it reaches
// SuppressAt with Window samples, small-message IDONTWANTs to the peer stop,
// except one in ProbeEvery (chosen with the automaton's seeded rand), whose
// outcome keeps being measured; when the share falls below ResumeBelow they
// all go again. Messages of Below bytes or more always get IDONTWANT, as do
// all messages with Below 0. The state lives in the peer's record and goes
// with it.
type IDontWantLearnConfig struct {
	// Below is the data size (bytes) under which a message's IDONTWANT is
	// learned per peer; 0 turns learning off (every message of at least
	// IDontWantThreshold bytes gets IDONTWANT to every v1.2 mesh peer).
	Below int
	// Window is how many of a peer's last samples make its late share, in
	// [1, 64]; suppression needs Window samples.
	Window int
	// SuppressAt is the late share from which small-message IDONTWANTs to
	// the peer stop, in (0, 1].
	SuppressAt float64
	// ResumeBelow is the late share under which they resume, in
	// [0, SuppressAt).
	ResumeBelow float64
	// ProbeEvery: while a peer is suppressed, one small-message IDONTWANT
	// in ProbeEvery still goes to it (and is measured). At least 1 (1:
	// every one goes; learning then only counts).
	ProbeEvery int
	// Timeout is how long after an IDONTWANT a copy from the peer still
	// counts as late; after it, the IDONTWANT counts as in time if the peer
	// sent IDONTWANT for the message. Positive. Outcomes are settled when
	// the next IDONTWANT to the peer is remembered and at each heartbeat.
	Timeout time.Duration
	// MaxTracked bounds the IDONTWANTs remembered per peer awaiting their
	// outcome, in [1, 1024].
	MaxTracked int
}

// DefaultIDontWantLearnConfig returns the defaults: messages under 16 KiB
// of data (the size from which staggered forwarding and the early
// IDONTWANT at a frame's head take over), a window of the last 32
// samples, suppression at a late share of 90% and resumption under 75%,
// one probe in 8, a 1 s timeout and 64 remembered IDONTWANTs per peer.
func DefaultIDontWantLearnConfig() IDontWantLearnConfig {
	return IDontWantLearnConfig{Below: 16 << 10, Window: 32, SuppressAt: 0.9, ResumeBelow: 0.75,
		ProbeEvery: 8, Timeout: time.Second, MaxTracked: 64}
}

func (c IDontWantLearnConfig) validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: IDontWantLearn.%s %s", ErrInvalidConfig, field, why)
	}
	switch {
	case c.Below < 0:
		return bad("Below", "must be >= 0")
	case c.Below == 0:
		return nil
	case c.Window < 1 || c.Window > 64:
		return bad("Window", "must be in [1, 64]")
	case !(c.SuppressAt > 0 && c.SuppressAt <= 1):
		return bad("SuppressAt", "must be in (0, 1]")
	case !(c.ResumeBelow >= 0 && c.ResumeBelow < c.SuppressAt):
		return bad("ResumeBelow", "must be in [0, SuppressAt)")
	case c.ProbeEvery < 1:
		return bad("ProbeEvery", "must be >= 1")
	case c.Timeout <= 0:
		return bad("Timeout", "must be > 0")
	case c.MaxTracked < 1 || c.MaxTracked > 1024:
		return bad("MaxTracked", "must be in [1, 1024]")
	}
	return nil
}

// IDontWantCounts counts what learned IDONTWANT did during one Output's
// inputs (IDontWantLearnConfig); Reset zeroes it. Drivers add it to their
// metrics.
type IDontWantCounts struct {
	// Suppressed is the IDONTWANTs not sent to a peer whose late share is
	// high (one per peer and message).
	Suppressed int
	// Probes is the IDONTWANTs sent to such a peer to keep measuring.
	Probes int
	// Late is the samples that found an IDONTWANT late (the peer's copy
	// came after it).
	Late int
	// Timely is the samples that found an IDONTWANT in time.
	Timely int
	// Quieted is the peers whose small-message IDONTWANTs stopped.
	Quieted int
	// Resumed is the peers whose small-message IDONTWANTs resumed.
	Resumed int
}

// idwLearn is one peer's learned-IDONTWANT state.
type idwLearn struct {
	// ring holds the remembered IDONTWANTs, oldest first from head; an
	// entry with at 0 is settled (a tombstone).
	ring       []idwSent
	head, n    int
	late       uint64 // bit i: the i-th last sample was late
	samples    int    // samples in late (<= Window)
	suppressed bool
}

type idwSent struct {
	key idKey
	at  int64 // UnixNano when sent; 0: settled
}

// idwLearned reports whether IDONTWANTs for a message of dataLen bytes
// are learned per peer (it is under Below; never with Below 0), and the
// id's key then, for idwSends.
func (a *Automaton) idwLearned(id string, dataLen int) (idKey, bool) {
	if dataLen >= a.cfg.IDontWantLearn.Below {
		return 0, false
	}
	return keyOf(id), true
}

// idwSends decides whether an IDONTWANT for a learned message (key k, see
// idwLearned) goes to mp, and remembers it when it goes. Called only for
// v1.2 mesh peers the message would otherwise get IDONTWANT.
func (a *Automaton) idwSends(now time.Time, mp *peerState, k idKey, out *Output) bool {
	c := &a.cfg.IDontWantLearn
	l := &mp.idw
	if l.suppressed {
		if c.ProbeEvery > 1 && a.rng.IntN(c.ProbeEvery) != 0 {
			out.IDontWant.Suppressed++
			return false
		}
		out.IDontWant.Probes++
	}
	a.idwSettle(now, mp, out)
	if l.n >= c.MaxTracked {
		return true // sent, not remembered
	}
	if l.ring == nil {
		l.ring = make([]idwSent, c.MaxTracked)
	}
	l.ring[(l.head+l.n)%len(l.ring)] = idwSent{key: k, at: max(now.UnixNano(), 1)}
	l.n++
	return true
}

// idwSettle settles ps's remembered IDONTWANTs older than Timeout (timely
// if the peer sent IDONTWANT for the message, no sample otherwise) and
// drops settled ones from the front.
func (a *Automaton) idwSettle(now time.Time, ps *peerState, out *Output) {
	l := &ps.idw
	due := now.Add(-a.cfg.IDontWantLearn.Timeout).UnixNano()
	for l.n > 0 {
		e := &l.ring[l.head]
		if e.at != 0 && e.at > due {
			return
		}
		if e.at != 0 {
			if v, ok := ps.dontWant[e.key]; ok && v&imrMark == 0 {
				a.idwSample(ps, false, out)
			}
		}
		*e = idwSent{}
		l.head = (l.head + 1) % len(l.ring)
		l.n--
	}
}

// idwCopy records that a copy (or the head of one) of id arrived from ps:
// an IDONTWANT for id still remembered for ps was late.
func (a *Automaton) idwCopy(ps *peerState, id string, out *Output) {
	l := &ps.idw
	if l.n == 0 {
		return
	}
	k := keyOf(id)
	for i := range l.n {
		e := &l.ring[(l.head+i)%len(l.ring)]
		if e.at != 0 && e.key == k {
			e.at = 0
			a.idwSample(ps, true, out)
			return
		}
	}
}

// idwSample adds one sample to ps's window and applies the thresholds.
func (a *Automaton) idwSample(ps *peerState, late bool, out *Output) {
	c := &a.cfg.IDontWantLearn
	l := &ps.idw
	l.late <<= 1
	if late {
		l.late |= 1
		out.IDontWant.Late++
	} else {
		out.IDontWant.Timely++
	}
	l.samples = min(l.samples+1, c.Window)
	if l.samples < c.Window {
		return
	}
	mask := uint64(1)<<c.Window - 1
	if c.Window == 64 {
		mask = ^uint64(0)
	}
	share := float64(bits.OnesCount64(l.late&mask)) / float64(c.Window)
	switch {
	case !l.suppressed && share >= c.SuppressAt:
		l.suppressed = true
		out.IDontWant.Quieted++
	case l.suppressed && share < c.ResumeBelow:
		l.suppressed = false
		out.IDontWant.Resumed++
	}
}

// idwHeartbeat settles every peer's remembered IDONTWANTs due.
func (a *Automaton) idwHeartbeat(now time.Time, out *Output) {
	if a.cfg.IDontWantLearn.Below == 0 {
		return
	}
	for _, ps := range a.peers {
		if ps.idw.n > 0 {
			a.idwSettle(now, ps, out)
		}
	}
}

// IDontWantSuppressed reports whether small-message IDONTWANTs to p are
// suppressed now (IDontWantLearnConfig), and p's late share over its last
// samples (samples of them, at most Window). False, 0, 0 for an unknown
// peer.
func (a *Automaton) IDontWantSuppressed(p peer.ID) (suppressed bool, lateShare float64, samples int) {
	ps := a.peers[p]
	if ps == nil || ps.idw.samples == 0 {
		return false, 0, 0
	}
	l := &ps.idw
	mask := ^uint64(0)
	if l.samples < 64 {
		mask = uint64(1)<<l.samples - 1
	}
	return l.suppressed, float64(bits.OnesCount64(l.late&mask)) / float64(l.samples), l.samples
}
