// Package fragment is gossipsub v1.4 message fragmentation as a pure
// piece: Split cuts an encoded message into LargeMessageFragments, and a
// Reassembler puts received fragments back together per (sender, message
// id) within bounds. No goroutines, no I/O, no locks; time is an input.
// The router's driver goroutine owns one Reassembler.
package fragment

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

// Spec defaults (gossipsub v1.4, "Parameters").
const (
	// DefaultFragmentSize is fragment_size: at most this many bytes of the
	// encoded message per fragment.
	DefaultFragmentSize = 64 << 10
	// DefaultThreshold is fragmentation_threshold: a message whose encoding
	// is larger is fragmented (for peers that take fragments).
	DefaultThreshold = 64 << 10
	// DefaultTimeout is fragment_timeout: a reassembly not complete after
	// this long is discarded.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxPendingPerPeer is max_pending_fragments: messages in
	// reassembly at once per peer.
	DefaultMaxPendingPerPeer = 16
)

// Bounds of the fragment count a receiver accepts.
const (
	// MinFragmentSize is the smallest fragment size a receiver assumes of
	// a sender (except for a message's last fragment): a message of the
	// maximum size has at most MaxMessageSize/MinFragmentSize fragments.
	// Senders here use at least this (Split's size is validated by the
	// router against it).
	MinFragmentSize = 512
	// HardMaxFragments caps a message's fragment count whatever the
	// maximum message size.
	HardMaxFragments = 4096
	// slotCost is what one fragment slot of a reassembly costs against the
	// byte budget (a slice header), charged for the declared total when
	// the reassembly starts.
	slotCost = 24
)

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("fragment: invalid config")

// Config bounds a Reassembler.
type Config struct {
	// MaxMessageSize: the reassembled encoding of a message may be at most
	// this many bytes (the router's maximum RPC size).
	MaxMessageSize int
	// MaxPendingPerPeer: messages one peer may have in reassembly at once.
	MaxPendingPerPeer int
	// MaxBytes is the global budget: the fragment bytes (and slots) held by
	// every reassembly of every peer together.
	MaxBytes int
	// Timeout: a reassembly is discarded this long after its first
	// fragment if it is not complete.
	Timeout time.Duration
	// MaxIDLength and MaxTopicLength cap a fragment's message id and topic.
	MaxIDLength int
	// MaxTopicLength caps a fragment's topic, in bytes; a longer (or empty)
	// topic is rejected as malformed.
	MaxTopicLength int
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(f string) error { return fmt.Errorf("%w: %s must be > 0", ErrInvalidConfig, f) }
	switch {
	case c.MaxMessageSize <= 0:
		return bad("MaxMessageSize")
	case c.MaxPendingPerPeer <= 0:
		return bad("MaxPendingPerPeer")
	case c.MaxBytes <= 0:
		return bad("MaxBytes")
	case c.Timeout <= 0:
		return bad("Timeout")
	case c.MaxIDLength <= 0:
		return bad("MaxIDLength")
	case c.MaxTopicLength <= 0:
		return bad("MaxTopicLength")
	}
	return nil
}

// MaxFragments is the largest total a fragment may declare under c:
// ceil(MaxMessageSize / MinFragmentSize), at most HardMaxFragments.
func (c Config) MaxFragments() int {
	return min(HardMaxFragments, (c.MaxMessageSize+MinFragmentSize-1)/MinFragmentSize)
}

// Outcome names what Add did with a fragment.
type Outcome uint8

// Add's outcomes.
const (
	// OutcomeStored: the fragment was kept; more are awaited.
	OutcomeStored Outcome = iota + 1
	// OutcomeDuplicate: a fragment with this index was already kept for the
	// message; ignored (not a rejection).
	OutcomeDuplicate
	// OutcomeCompleted: the fragment completed the message: Result.Data
	// holds the reassembled bytes and the reassembly is released.
	OutcomeCompleted
	// OutcomeRejected: see Result.Reason.
	OutcomeRejected
	// OutcomeSkipped: a fragment of a message whose earlier fragment from
	// the same peer was refused for the budget (not the peer's fault) or
	// dropped by the caller (Refuse), within the timeout: its reassembly
	// could never complete, so it is not kept, and not rejected either.
	OutcomeSkipped
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case OutcomeStored:
		return "stored"
	case OutcomeDuplicate:
		return "duplicate"
	case OutcomeCompleted:
		return "completed"
	case OutcomeRejected:
		return "rejected"
	case OutcomeSkipped:
		return "skipped"
	}
	return "unknown"
}

// Result is what Add reports.
type Result struct {
	// Outcome is what Add did with the fragment.
	Outcome Outcome
	// Reason is set with OutcomeRejected.
	Reason events.FragmentRejectReason
	// First: the fragment started the message's reassembly (it is the
	// first one received of this message from this peer). Set with
	// OutcomeStored and OutcomeCompleted.
	First bool
	// Size estimates the message's encoded size from the first fragment
	// (its length times the total, at most MaxMessageSize); set with First.
	Size int
	// Data is the reassembled message encoding, with OutcomeCompleted.
	Data []byte
}

// Expired is a reassembly that Expire discarded.
type Expired struct {
	// Peer is the peer that sent the fragments.
	Peer peer.ID
	// ID is the message id the fragments carried.
	ID string
	// Topic is the message's topic, as its fragments carried it.
	Topic string
}

type key struct {
	p  peer.ID
	id string
}

type buffer struct {
	topic   string
	total   int
	got     int
	bytes   int // data bytes held
	charged int // bytes charged against the budget (data + slots)
	started time.Time
	frags   [][]byte
}

// Reassembler holds the reassemblies in progress. Create it with New. It
// is not safe for concurrent use. The fragment data it keeps is the
// caller's (decoded fragments' slices, which nothing else writes); it
// never keeps more than Config.MaxBytes of it.
type Reassembler struct {
	cfg     Config
	maxFrag int
	bufs    map[key]*buffer
	perPeer map[peer.ID]int
	bytes   int
	// refused holds, until the timeout, the messages whose later
	// fragments are skipped (OutcomeSkipped), oldest first in
	// refusedOrder; at most maxRefused.
	refused      map[key]time.Time
	refusedOrder []refusal
}

// refusal is one entry of Reassembler.refusedOrder.
type refusal struct {
	k  key
	at time.Time
}

// maxRefused bounds the refusals remembered; past it the oldest is
// forgotten (its later fragments then start a reassembly that times out,
// as before refusals were remembered).
const maxRefused = 1024

// New returns an empty Reassembler; cfg is validated (ErrInvalidConfig).
func New(cfg Config) (*Reassembler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reassembler{cfg: cfg, maxFrag: cfg.MaxFragments(), bufs: make(map[key]*buffer), perPeer: make(map[peer.ID]int),
		refused: make(map[key]time.Time)}, nil
}

// Refuse makes Add skip the fragments of message id from p that arrive
// within the timeout (OutcomeSkipped), and discards a reassembly of it in
// progress: the caller dropped one of its fragments (its topic is not
// joined), so it could never complete, and its sender is not to blame.
func (r *Reassembler) Refuse(now time.Time, p peer.ID, id string) {
	k := key{p: p, id: id}
	if b := r.bufs[k]; b != nil {
		r.drop(k, b)
	}
	r.refuse(now, k)
}

func (r *Reassembler) refuse(now time.Time, k key) {
	if _, ok := r.refused[k]; ok {
		return
	}
	if len(r.refusedOrder) >= maxRefused {
		if old := r.refusedOrder[0]; r.refused[old.k].Equal(old.at) {
			delete(r.refused, old.k) // not a later refusal of the same message
		}
		r.refusedOrder = r.refusedOrder[1:]
	}
	k.id = strings.Clone(k.id)
	r.refused[k] = now
	r.refusedOrder = append(r.refusedOrder, refusal{k: k, at: now})
}

// Bytes returns the bytes currently charged against the global budget.
func (r *Reassembler) Bytes() int { return r.bytes }

// Pending returns how many messages p has in reassembly.
func (r *Reassembler) Pending(p peer.ID) int { return r.perPeer[p] }

// Holds reports whether a reassembly of message id from p is in progress.
func (r *Reassembler) Holds(p peer.ID, id string) bool {
	_, ok := r.bufs[key{p: p, id: id}]
	return ok
}

// Len returns how many reassemblies are in progress.
func (r *Reassembler) Len() int { return len(r.bufs) }

func reject(reason events.FragmentRejectReason) Result {
	return Result{Outcome: OutcomeRejected, Reason: reason}
}

// Add takes one fragment from peer from, received at now. Reassemblies
// older than the timeout are discarded first only by Expire: Add does not
// time anything out. A rejection of a fragment of a message in
// reassembly for reasons of that message (inconsistent, too large,
// budget) discards the reassembly; other rejections leave it.
func (r *Reassembler) Add(now time.Time, from peer.ID, f *pb.LargeMessageFragment) Result {
	id, topic, data := f.GetMessageID(), f.GetTopicID(), f.GetFragmentData()
	idx, total := int(f.GetFragmentIndex()), int(f.GetTotalFragments())
	if len(id) == 0 || len(id) > r.cfg.MaxIDLength || topic == "" || len(topic) > r.cfg.MaxTopicLength ||
		len(data) == 0 || total == 0 || idx >= total {
		return reject(events.FragmentRejectMalformed)
	}
	if total > r.maxFrag {
		return reject(events.FragmentRejectTooManyFragments)
	}
	k := key{p: from, id: string(id)}
	if _, ok := r.refused[k]; ok {
		return Result{Outcome: OutcomeSkipped}
	}
	b := r.bufs[k]
	first := b == nil
	if first {
		if r.perPeer[from] >= r.cfg.MaxPendingPerPeer {
			return reject(events.FragmentRejectTooManyPending)
		}
		if len(data) > r.cfg.MaxMessageSize {
			return reject(events.FragmentRejectTooLarge)
		}
		cost := total*slotCost + len(data)
		if r.bytes+cost > r.cfg.MaxBytes {
			r.refuse(now, k)
			return reject(events.FragmentRejectBudget)
		}
		k.id = strings.Clone(k.id)
		b = &buffer{topic: strings.Clone(topic), total: total, started: now, frags: make([][]byte, total)}
		r.bufs[k] = b
		r.perPeer[from]++
		r.charge(b, total*slotCost)
	} else {
		if total != b.total || topic != b.topic {
			r.drop(k, b)
			return reject(events.FragmentRejectInconsistent)
		}
		if b.frags[idx] != nil {
			return Result{Outcome: OutcomeDuplicate}
		}
		if b.bytes+len(data) > r.cfg.MaxMessageSize {
			r.drop(k, b)
			return reject(events.FragmentRejectTooLarge)
		}
		if r.bytes+len(data) > r.cfg.MaxBytes {
			r.drop(k, b)
			r.refuse(now, k)
			return reject(events.FragmentRejectBudget)
		}
	}
	b.frags[idx] = data
	b.got++
	b.bytes += len(data)
	r.charge(b, len(data))
	res := Result{Outcome: OutcomeStored, First: first}
	if first {
		res.Size = min(r.cfg.MaxMessageSize, len(data)*total)
	}
	if b.got < b.total {
		return res
	}
	out := make([]byte, 0, b.bytes)
	for _, fr := range b.frags {
		out = append(out, fr...)
	}
	r.drop(k, b)
	res.Outcome, res.Data = OutcomeCompleted, out
	return res
}

func (r *Reassembler) charge(b *buffer, n int) {
	b.charged += n
	r.bytes += n
}

func (r *Reassembler) drop(k key, b *buffer) {
	r.bytes -= b.charged
	delete(r.bufs, k)
	if n := r.perPeer[k.p] - 1; n > 0 {
		r.perPeer[k.p] = n
	} else {
		delete(r.perPeer, k.p)
	}
}

// Expire discards the reassemblies started at or before now minus the
// timeout and appends them to dst, sorted by peer then id (a
// deterministic order), which it returns.
func (r *Reassembler) Expire(now time.Time, dst []Expired) []Expired {
	start := len(dst)
	cut := now.Add(-r.cfg.Timeout)
	n := 0
	for _, f := range r.refusedOrder {
		if f.at.After(cut) {
			break
		}
		if at, ok := r.refused[f.k]; ok && at.Equal(f.at) {
			delete(r.refused, f.k)
		}
		n++
	}
	r.refusedOrder = r.refusedOrder[n:]
	for k, b := range r.bufs {
		if !b.started.After(cut) {
			dst = append(dst, Expired{Peer: k.p, ID: k.id, Topic: b.topic})
			r.drop(k, b)
		}
	}
	slices.SortFunc(dst[start:], func(a, b Expired) int {
		if c := strings.Compare(string(a.Peer), string(b.Peer)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return dst
}

// RemovePeer discards p's reassemblies (the peer left, or its stream was
// replaced) and returns how many there were.
func (r *Reassembler) RemovePeer(p peer.ID) int {
	for k := range r.refused {
		if k.p == p {
			delete(r.refused, k) // its order entry goes at its time
		}
	}
	if r.perPeer[p] == 0 {
		return 0
	}
	n := 0
	for k, b := range r.bufs {
		if k.p == p {
			r.drop(k, b)
			n++
		}
	}
	return n
}

// Count returns how many fragments of at most size bytes an encoding of n
// bytes is cut into by Split.
func Count(n, size int) int { return (n + size - 1) / size }

// Split cuts enc, a message's encoding, into fragments of at most size
// bytes (the last one may be shorter), as gossipsub v1.4's fragmentation
// algorithm does, appending them to dst. The fragments share enc (their
// data are subslices of it) and id: neither may change while they are in
// use. size must be positive.
func Split(dst []*pb.LargeMessageFragment, enc, id []byte, topic string, size int) []*pb.LargeMessageFragment {
	n := Count(len(enc), size)
	total := uint32(n)
	for i := range n {
		lo, hi := i*size, min((i+1)*size, len(enc))
		idx := uint32(i)
		dst = append(dst, &pb.LargeMessageFragment{
			MessageID:      id,
			FragmentIndex:  &idx,
			TotalFragments: &total,
			FragmentData:   enc[lo:hi:hi],
			TopicID:        &topic,
		})
	}
	return dst
}
