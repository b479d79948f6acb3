package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// monitoredTypes are the events the monitor prints.
var monitoredTypes = []any{
	new(events.EvtConnOpened),
	new(events.EvtConnClosed),
	new(events.EvtPeerConnectednessChanged),
	new(events.EvtPeerIdentificationCompleted),
	new(events.EvtPeerIdentificationFailed),
	new(events.EvtPeerProtocolsUpdated),
}

// table prints one row per event, live, in fixed-width columns so that rows
// line up without buffering the whole table.
type table struct {
	mu    sync.Mutex
	w     io.Writer
	clk   clock.Clock
	start time.Time
	names sync.Map // peer.ID -> string
	rows  int
}

const rowFormat = "%-9s %-5s %-13s %-8s %-4s %-34s %s\n"

func newTable(w io.Writer, clk clock.Clock) *table {
	t := &table{w: w, clk: clk, start: clk.Now()}
	fmt.Fprintf(w, rowFormat, "TIME", "NODE", "EVENT", "PEER", "DIR", "ADDRESS", "DETAIL")
	return t
}

// name registers a readable name for a peer.
func (t *table) name(p peer.ID, name string) { t.names.Store(p, name) }

func (t *table) nameOf(p peer.ID) string {
	if n, ok := t.names.Load(p); ok {
		return n.(string)
	}
	s := p.String()
	if len(s) > 6 {
		s = "…" + s[len(s)-6:]
	}
	return s
}

// print renders one event seen by node.
func (t *table) print(node string, e any) {
	var kind, who, dir, addr, detail string
	at := t.clk.Now() // events without a time of their own show when printed
	switch e := e.(type) {
	case events.EvtConnOpened:
		at = e.At
		kind, who, dir, addr = "conn-opened", t.nameOf(e.Peer), dirName(e.Direction), e.RemoteAddr.String()
		detail = "conn " + e.ConnID
	case events.EvtConnClosed:
		at = e.At
		kind, who, dir, addr = "conn-closed", t.nameOf(e.Peer), dirName(e.Direction), e.RemoteAddr.String()
		detail = fmt.Sprintf("conn %s, open %v", e.ConnID, e.At.Sub(e.Opened).Round(time.Millisecond))
	case events.EvtPeerConnectednessChanged:
		who = t.nameOf(e.Peer)
		kind = "connected"
		if e.Connectedness != network.Connected {
			kind = "disconnected"
		}
	case events.EvtPeerIdentificationCompleted:
		kind, who = "identified", t.nameOf(e.Peer)
		detail = fmt.Sprintf("agent=%q protocols=%d addrs=%d", e.AgentVersion, len(e.Protocols), len(e.ListenAddrs))
	case events.EvtPeerIdentificationFailed:
		kind, who, detail = "identify-fail", t.nameOf(e.Peer), fmt.Sprint(e.Reason)
	case events.EvtPeerProtocolsUpdated:
		kind, who = "protocols", t.nameOf(e.Peer)
		detail = fmt.Sprintf("added=%v removed=%v", e.Added, e.Removed)
	default:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows++
	elapsed := at.Sub(t.start).Round(time.Millisecond)
	fmt.Fprintf(t.w, rowFormat, fmt.Sprintf("%.3fs", elapsed.Seconds()), node, kind, who, dir, addr, detail)
}

// note prints a line of the scenario between rows.
func (t *table) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "--- "+format+"\n", args...)
}

func dirName(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "in"
	case network.DirOutbound:
		return "out"
	}
	return "?"
}
