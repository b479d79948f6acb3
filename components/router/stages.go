package router

import "github.com/libp2p/go-libp2p/core/peer"

// Stage is a point a message passes inside the router on its way from one
// peer to the next, reported to a StageTracer.
type Stage uint8

// The stages, in the order a forwarded message passes them.
const (
	// StageRead: a reader goroutine decoded an RPC carrying the message
	// from peer (not reported for gossipsub v1.4 fragments, which carry
	// no decoded message yet).
	StageRead Stage = iota + 1
	// StageReceived: the driver took the message from peer (whole, or
	// reassembled from fragments), before its duplicate and signature
	// checks.
	StageReceived
	// StageQueued: the driver queues a copy for peer (reported before
	// the copy is in the queue, so before its writer's stages).
	StageQueued
	// StageWriting: peer's writer took the queued copy and is about to
	// write it (whole, or as gossipsub v1.4 fragments).
	StageWriting
	// StageWritten: peer's writer's stream write of the copy returned.
	StageWritten
	// StageDelivered: the driver handed the message, accepted, to the
	// topic's local subscriptions (peer: the one it came from first; the
	// local peer for its own messages).
	StageDelivered
)

// String returns the stage's name.
func (s Stage) String() string {
	switch s {
	case StageRead:
		return "read"
	case StageReceived:
		return "received"
	case StageQueued:
		return "queued"
	case StageWriting:
		return "writing"
	case StageWritten:
		return "written"
	case StageDelivered:
		return "delivered"
	}
	return "unknown"
}

// StageTracer observes messages passing the router's stages: where a hop's
// time goes (bench/router -stages uses it). Stage is called synchronously on
// the goroutine that passes the stage (a reader, the driver, a writer), so
// it must be fast and must not block or call the router; it is called
// concurrently from many goroutines. id is the message's id (read-only);
// p is the peer the message came from (StageRead, StageReceived,
// StageDelivered) or goes to (the others). The tracer takes its own
// timestamps: the router's clock may be a mock. A copy that is not
// written (the peer's queue was full, or the peer showed it has the
// message, before or after the copy was queued) has StageQueued and no
// later stage.
type StageTracer interface {
	// Stage reports that message id passed stage s, from or to p (see
	// StageTracer); it must return quickly and be safe for concurrent use.
	Stage(s Stage, id string, p peer.ID)
}

// WithStageTracer reports every message's stages to t (StageTracer); a nil
// t is ErrBadOption. It is a diagnostic hook: without it the router pays
// one nil check per stage.
func WithStageTracer(t StageTracer) Option {
	return func(o *config) { o.tracer, o.tracerSet = t, true }
}

// traceIDs reports stage s for each of ids, all from or to p, to the
// configured tracer (the caller checks there is one).
func traceIDs(t StageTracer, s Stage, ids []string, p peer.ID) {
	for _, id := range ids {
		t.Stage(s, id, p)
	}
}
