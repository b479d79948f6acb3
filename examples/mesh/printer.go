package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// printer writes the demo's lines; nodes' printers call it concurrently.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	names map[peer.ID]string
	done  bool // the demo is over: events of the shutdown are not printed
	// delivered counts EvtMessageDelivered lines printed.
	delivered int
}

// deliveredCount returns how many deliveries were printed.
func (p *printer) deliveredCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delivered
}

// finish stops printing events.
func (p *printer) finish() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
}

func (p *printer) name(id peer.ID, name string) {
	p.mu.Lock()
	p.names[id] = name
	p.mu.Unlock()
}

func (p *printer) nameOf(id peer.ID) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.names[id]; ok {
		return n
	}
	return id.ShortString()
}

func (p *printer) note(format string, args ...any) {
	p.line("--", "", fmt.Sprintf(format, args...))
}

// event prints one router event seen on node's bus.
func (p *printer) event(node string, e any) {
	var kind, detail string
	switch e := e.(type) {
	case events.EvtTopicJoined:
		kind, detail = "joined", e.Topic
	case events.EvtPeerSubscribed:
		kind, detail = "peer-subscribed", p.nameOf(e.Peer)+" to "+e.Topic
	case events.EvtPeerGrafted:
		dir := "accepted graft from"
		if e.Outbound {
			dir = "grafted"
		}
		kind, detail = "grafted", dir+" "+p.nameOf(e.Peer)
	case events.EvtPeerPruned:
		kind, detail = "pruned", fmt.Sprintf("%s (%s, backoff %s)", p.nameOf(e.Peer), e.Reason, e.Backoff)
	case events.EvtMessagePublished:
		kind, detail = "published", fmt.Sprintf("%d bytes to %d peers", e.Size, e.Peers)
	case events.EvtMessageDelivered:
		kind, detail = "delivered", fmt.Sprintf("%d bytes from %s, first copy via %s", e.Size, p.nameOf(e.Author), p.nameOf(e.From))
	default:
		kind, detail = fmt.Sprintf("%T", e), ""
	}
	p.line(node, kind, detail)
}

// line prints one line unless the demo is over. A delivery is counted in the
// same critical section that prints it, so once deliveredCount reaches a
// number, that many delivery lines are already written.
func (p *printer) line(node, kind, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	if kind == "delivered" {
		p.delivered++
	}
	ms := time.Since(p.start).Milliseconds()
	fmt.Fprintf(p.w, "%7.3fs  %-3s %-16s %s\n", float64(ms)/1000, node, kind, detail)
}
