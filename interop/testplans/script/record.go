package script

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Recorder writes the plans' newline-delimited JSON records (time, level,
// msg, service and the record's fields, one object per line). It is safe for
// concurrent use. Records are buffered so that writing one costs the caller
// (often a router's event loop) no system call; the buffer is flushed every
// FlushInterval and by Close. A record's time is the instant it describes,
// given by the caller, not the instant it is written.
type Recorder struct {
	h    slog.Handler
	w    *lockedWriter
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// FlushInterval is how often a Recorder flushes its buffer.
const FlushInterval = 200 * time.Millisecond

type lockedWriter struct {
	mu  sync.Mutex
	bw  *bufio.Writer
	err error
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.bw.Write(p)
	l.err = err
	return n, err
}

func (l *lockedWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = l.bw.Flush()
	}
	return l.err
}

// NewRecorder returns a Recorder writing to w (the node's stdout) and starts
// its flushing goroutine; Close stops it.
func NewRecorder(w io.Writer) *Recorder {
	lw := &lockedWriter{bw: bufio.NewWriterSize(w, 64<<10)}
	h := slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug})
	r := &Recorder{h: h.WithAttrs([]slog.Attr{slog.String("service", "gossipsub")}), w: lw, stop: make(chan struct{}), done: make(chan struct{})}
	go r.flusher()
	return r
}

func (r *Recorder) flusher() {
	defer close(r.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = r.w.flush()
		case <-r.stop:
			return
		}
	}
}

// Close stops the flushing goroutine and flushes what is buffered; it
// returns the first write error. Records written after Close stay buffered
// until the next Close (a second Close flushes again).
func (r *Recorder) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	return r.w.flush()
}

func (r *Recorder) write(at time.Time, msg string, attrs ...slog.Attr) {
	rec := slog.NewRecord(at, slog.LevelInfo, msg, 0)
	rec.AddAttrs(attrs...)
	_ = r.h.Handle(context.Background(), rec)
}

// PeerID writes the start record: msg "PeerID", id and node_id.
func (r *Recorder) PeerID(id peer.ID, nodeID int) {
	r.write(time.Now(), "PeerID", slog.String("id", id.String()), slog.Int("node_id", nodeID))
}

// Received writes one "Received Message" record: a copy of message id
// (raw, see MsgID) on topic arrived from the neighbour from at time at.
// It is written for every copy, duplicates included.
func (r *Recorder) Received(at time.Time, id string, from peer.ID, topic string) {
	r.write(at, "Received Message", slog.String("id", FormatID(id)), slog.String("from", from.String()), slog.String("topic", topic))
}

// Published writes a "Published Message" record (not required by the
// plans; the runner's analysis uses it to tell the publisher).
func (r *Recorder) Published(at time.Time, id string, topic string) {
	r.write(at, "Published Message", slog.String("id", FormatID(id)), slog.String("topic", topic))
}

// PublishedPartial writes a "Published Partial" record (not required by
// the plans): the node offered partial-message group gid on topic at time
// at. The runner measures how long a group took to complete everywhere from
// the first of these.
func (r *Recorder) PublishedPartial(at time.Time, gid uint64, topic string) {
	r.write(at, "Published Partial", slog.Uint64("group id", gid), slog.String("topic", topic))
}

// AllPartsReceived writes the "All parts received" record the plans'
// partial-message check counts: this node holds every part of group gid
// (by its own addPartialMessage or by parts received), written once per
// group, when it becomes complete.
func (r *Recorder) AllPartsReceived(at time.Time, gid uint64) {
	r.write(at, "All parts received", slog.Uint64("group id", gid))
}

// MeshEnv is the environment variable that turns on Mesh records
// (INTEROP_MESH_RECORDS=1): not part of the plans' contract, they let a
// runner tell where duplicates come from (mesh peers or others) and how
// large the meshes are.
const MeshEnv = "INTEROP_MESH_RECORDS"

// MeshRecords reports whether Mesh records are on (see MeshEnv).
func MeshRecords() bool { return os.Getenv(MeshEnv) == "1" }

// Mesh writes a "Mesh" record: peer joined (graft true) or left (false)
// this node's mesh of topic at time at.
func (r *Recorder) Mesh(at time.Time, graft bool, p peer.ID, topic string) {
	op := "prune"
	if graft {
		op = "graft"
	}
	r.write(at, "Mesh", slog.String("op", op), slog.String("peer", p.String()), slog.String("topic", topic))
}
