package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// MsgIDMode selects the message id function of the JS peers.
type MsgIDMode string

// The JS peers' message id functions.
const (
	// MsgIDSpec is the pubsub spec's default, from (peer id bytes) || seqno:
	// the same function as meshbus's wire.DefaultMsgID.
	MsgIDSpec MsgIDMode = "spec"
	// MsgIDJSDefault is @chainsafe/libp2p-gossipsub's own default,
	// protobuf(public key) || seqno, which differs from the spec's.
	MsgIDJSDefault MsgIDMode = "js-default"
)

// JSMessage is one message a JS peer delivered to its application.
type JSMessage struct {
	// Topic is the message's topic.
	Topic string
	// From is the author; empty for an unsigned message or an id that does
	// not decode.
	From peer.ID
	// Data is the payload (peer.mjs sends it in base64).
	Data []byte
	// ID is the peer's message id in the library's string form: base64,
	// unpadded from gossipsub, padded from floodsub (Member.Received
	// compares without the padding).
	ID string
	// Seqno is the message's sequence number, 16 hex digits.
	Seqno string
	// ReceivedFrom is the peer the library got the message from (the
	// propagation source); empty if peer.mjs did not know it.
	ReceivedFrom peer.ID
}

// JSMesh is a JS peer's view of one topic.
type JSMesh struct {
	// Peers is the topic's mesh.
	Peers []peer.ID
	// TopicPeers are the peers known to subscribe to the topic.
	TopicPeers []peer.ID
	// Protocols is the pubsub protocol negotiated on the outbound stream to
	// each peer.
	Protocols map[peer.ID]string
	// Scores is the peer's GossipSub score of each pubsub peer.
	Scores map[peer.ID]float64
	// Penalties are the behaviour penalties (P7) the peer gave each peer,
	// by the library's reason label (e.g. "broken_promise").
	Penalties map[peer.ID]map[string]float64
}

// JSStats are a JS peer's counters.
type JSStats struct {
	// Received counts the messages delivered to the application (one per
	// "message" event).
	Received int `json:"received"`
	// Duplicates counts received copies of messages the library had seen
	// already, which it dropped.
	Duplicates int `json:"duplicates"`
	// Invalid counts received messages that failed validation (one per
	// "invalid" event).
	Invalid int `json:"invalid"`
	// IDontWant is, per sender (peer id string), how many distinct ids it
	// sent in IDONTWANT and how many name a message this peer has seen.
	IDontWant map[string]IDontWantStat `json:"idontwant"`
	// Gossip counts IHAVE/IWANT exchanged with each peer (id string).
	Gossip map[string]GossipStat `json:"gossip"`
	// Control counts, per sender (peer id string), the RPCs that carried a
	// control part (GRAFT, PRUNE, IHAVE, IWANT, IDONTWANT). Floodsub peers
	// only (JSOptions.Floodsub): a gossipsub router must send them none.
	Control map[string]int `json:"control"`
}

// GossipStat counts the gossip a JS peer exchanged with one peer.
type GossipStat struct {
	// IHaveIDs were advertised by the peer; IWantAsked of them the JS peer
	// asked for (it had not seen them).
	IHaveIDs int `json:"ihaveIds"`
	// IWantAsked counts the ids the JS peer asked for in IWANT in answer
	// to the peer's IHAVE (what the library's handleIHave returned).
	IWantAsked int `json:"iwantAsked"`
	// IWantIDs the peer asked for; IWantServed messages the JS peer sent
	// in answer.
	IWantIDs int `json:"iwantIds"`
	// IWantServed counts the messages the JS peer sent back for the peer's
	// IWANT (what the library's handleIWant returned).
	IWantServed int `json:"iwantServed"`
}

// IDontWantStat counts the IDONTWANT ids one peer received from another.
type IDontWantStat struct {
	// IDs is how many distinct message ids the sender named in IDONTWANT
	// (peer.mjs keeps at most 100000 per sender).
	IDs int `json:"ids"`
	// Known is how many of those ids are in the receiver's seen cache when
	// the stats are asked for.
	Known int `json:"known"`
}

// JSEvent is a graft, prune or invalid-message report from a JS peer.
type JSEvent struct {
	Kind string // "graft", "prune" or "invalid"
	// Peer is the peer grafted or pruned, or for "invalid" the peer the
	// invalid message came from; empty if its id did not decode.
	Peer peer.ID
	// Topic is the topic of the graft, prune or invalid message.
	Topic     string
	Direction string // graft/prune: "inbound" or "outbound"
	Error     string // invalid: the library's reason
}

// line is one JSON line from peer.mjs (the union of every event's fields).
type line struct {
	Event        string                        `json:"event"`
	Req          *uint64                       `json:"req"`
	Error        string                        `json:"error"`
	PeerID       string                        `json:"peerId"`
	Addrs        []string                      `json:"addrs"`
	ProtocolList []string                      `json:"pubsubProtocols"`
	Topic        string                        `json:"topic"`
	From         string                        `json:"from"`
	Data         string                        `json:"data"`
	ID           string                        `json:"id"`
	Seqno        string                        `json:"seqno"`
	ReceivedFrom string                        `json:"receivedFrom"`
	Peer         string                        `json:"peer"`
	Direction    string                        `json:"direction"`
	Peers        []string                      `json:"peers"`
	TopicPeers   []string                      `json:"topicPeers"`
	Protocols    map[string]string             `json:"protocols"`
	Scores       map[string]float64            `json:"scores"`
	Penalties    map[string]map[string]float64 `json:"penalties"`
	Recipients   []string                      `json:"recipients"`
	JSStats
}

// JSPeer is a running js-libp2p gossipsub node in a child process. Its
// methods are safe for concurrent use. Close always ends the process.
type JSPeer struct {
	// Name labels the peer in reports and logs.
	Name      string
	id        peer.ID
	addrs     []ma.Multiaddr
	protocols []string

	cmd    *exec.Cmd
	stdin  *os.File // write end of the child's stdin; writes honour deadlines
	stderr *tailBuffer
	done   chan struct{} // closed when the process has exited and stdout is drained
	exit   error

	wmu         sync.Mutex // serialises writes to stdin and guards its closing
	stdinClosed bool

	mu      sync.Mutex
	nextReq uint64
	pending map[uint64]chan line
	msgs    []JSMessage
	events  []JSEvent
	closed  bool
}

// JSOptions configure a JS peer.
type JSOptions struct {
	// MsgID is its message id function (default MsgIDSpec).
	MsgID MsgIDMode
	// Protocols, if set, are the only pubsub protocols it speaks, in
	// preference order (default the library's: meshsub 1.2.0, 1.1.0, 1.0.0).
	Protocols []string
	// Sparse sets the mesh degree to 1 (D = Dlo = Dhi = 1) and turns flood
	// publishing off.
	Sparse bool
	// NoMesh keeps no mesh at all (D = Dlo = Dhi = Dscore = Dout = 0) and
	// keeps flood publishing: the JS library then never grafts and answers
	// a GRAFT over a connection the other side dialed with PRUNE and a
	// backoff, so the peer receives others' messages only through IHAVE
	// and its own IWANT. It excludes Sparse.
	NoMesh bool
	// Floodsub runs @libp2p/floodsub (/floodsub/1.0.0 only) instead of
	// gossipsub: same commands and events, no mesh, no control messages,
	// no scores. Its messages' ids are the library's dedup key,
	// protobuf(public key) || seqno (floodsub sends no ids on the wire).
	// MsgID, Protocols and Sparse are gossipsub options and must be unset.
	Floodsub bool
}

// StartJSPeer starts node peerDir/peer.mjs and waits for it to be ready.
// ctx bounds the process's whole life (it is killed when ctx ends) as well
// as the start. On error the process is already gone.
func StartJSPeer(ctx context.Context, nodePath, peerDir, name string, opts JSOptions) (*JSPeer, error) {
	args := []string{filepath.Join(peerDir, "peer.mjs")}
	switch {
	case opts.Floodsub && (opts.MsgID != "" || len(opts.Protocols) > 0 || opts.Sparse || opts.NoMesh):
		return nil, fmt.Errorf("%w: %s: JSOptions MsgID, Protocols, Sparse and NoMesh are gossipsub options, not for Floodsub", ErrInvalidConfig, name)
	case opts.Sparse && opts.NoMesh:
		return nil, fmt.Errorf("%w: %s: JSOptions Sparse and NoMesh exclude each other", ErrInvalidConfig, name)
	case opts.Floodsub:
		args = append(args, "--router=floodsub")
	case opts.MsgID == "":
		opts.MsgID = MsgIDSpec
		fallthrough
	default:
		args = append(args, "--msgid="+string(opts.MsgID))
	}
	if len(opts.Protocols) > 0 {
		args = append(args, "--protocols="+strings.Join(opts.Protocols, ","))
	}
	if opts.Sparse {
		args = append(args, "--sparse")
	}
	if opts.NoMesh {
		args = append(args, "--no-mesh")
	}
	cmd := exec.CommandContext(ctx, nodePath, args...)
	cmd.Dir = peerDir
	cmd.WaitDelay = 2 * time.Second
	p := newJSPeer(name)
	p.cmd = cmd
	cmd.Stderr = p.stderr
	// An os.Pipe rather than cmd.StdinPipe: its write end takes deadlines,
	// so a peer that stops reading cannot hang a command past its context.
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin = stdinR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return nil, err
	}
	p.stdin = stdinW
	err = cmd.Start()
	_ = stdinR.Close() // the child has its own copy
	if err != nil {
		_ = stdinW.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ready := make(chan line, 1)
	go p.read(stdout, ready)
	select {
	case l := <-ready:
		if err := p.setIdentity(l); err != nil {
			p.Close()
			return nil, err
		}
		return p, nil
	case <-p.done:
		p.Close()
		return nil, fmt.Errorf("%w: %s before ready: %v; stderr:\n%s", ErrPeerExited, name, p.exit, p.Stderr())
	case <-ctx.Done():
		p.Close()
		return nil, fmt.Errorf("start %s: %w", name, ctx.Err())
	}
}

// newJSPeer returns a JSPeer's state, without a process.
func newJSPeer(name string) *JSPeer {
	return &JSPeer{
		Name:    name,
		stderr:  &tailBuffer{max: 64 << 10},
		done:    make(chan struct{}),
		pending: make(map[uint64]chan line),
	}
}

func (p *JSPeer) setIdentity(l line) error {
	id, err := peer.Decode(l.PeerID)
	if err != nil {
		return fmt.Errorf("%s: ready: bad peer id %q: %w", p.Name, l.PeerID, err)
	}
	p.id = id
	for _, s := range l.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("%s: ready: bad address %q: %w", p.Name, s, err)
		}
		// AddrInfo holds transport addresses, without the /p2p/ suffix.
		if t, _ := peer.SplitAddr(a); t != nil {
			a = t
		}
		p.addrs = append(p.addrs, a)
	}
	if len(p.addrs) == 0 {
		return fmt.Errorf("%s: ready: no listen address", p.Name)
	}
	p.protocols = l.ProtocolList
	return nil
}

// read is the stdout reader goroutine: it dispatches replies to waiting
// commands and records messages and events, until stdout closes; then it
// reaps the process.
func (p *JSPeer) read(stdout io.Reader, ready chan<- line) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	readySent := false
	for sc.Scan() {
		if l, ok := p.handleLine(sc.Bytes(), !readySent); ok {
			readySent = true
			ready <- l
		}
	}
	if err := sc.Err(); err != nil {
		// A line over maxLine (or a read error): nobody reads stdout any
		// more, so the process could block on it; end it.
		_, _ = fmt.Fprintf(p.stderr, "harness: reading stdout: %v\n", err)
		_ = p.cmd.Process.Kill()
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exit = err
	p.closed = true
	for req, ch := range p.pending {
		close(ch)
		delete(p.pending, req)
	}
	p.mu.Unlock()
	close(p.done)
}

// maxLine bounds one stdout line (a message event carries its data in
// base64: 8 MiB is room for any message the harness publishes).
const maxLine = 8 << 20

// handleLine decodes one stdout line. When wantReady is set and the line is
// the ready event it returns it; anything else is dispatched. An
// undecodable line is noted in the stderr tail and otherwise ignored.
func (p *JSPeer) handleLine(b []byte, wantReady bool) (line, bool) {
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		_, _ = fmt.Fprintf(p.stderr, "harness: undecodable stdout line %q: %v\n", b, err)
		return l, false
	}
	if wantReady && l.Event == "ready" {
		return l, true
	}
	p.dispatch(l)
	return l, false
}

func (p *JSPeer) dispatch(l line) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.Req != nil {
		if ch, ok := p.pending[*l.Req]; ok {
			delete(p.pending, *l.Req)
			ch <- l
		}
		return
	}
	switch l.Event {
	case "message":
		data, err := base64.StdEncoding.DecodeString(l.Data)
		if err != nil {
			_, _ = fmt.Fprintf(p.stderr, "harness: bad message data %q\n", l.Data)
			return
		}
		from, _ := peer.Decode(l.From)
		rf, _ := peer.Decode(l.ReceivedFrom)
		p.msgs = append(p.msgs, JSMessage{Topic: l.Topic, From: from, Data: data, ID: l.ID, Seqno: l.Seqno, ReceivedFrom: rf})
	case "graft", "prune", "invalid":
		pid := l.Peer
		if l.Event == "invalid" {
			pid = l.From
		}
		id, _ := peer.Decode(pid)
		p.events = append(p.events, JSEvent{Kind: l.Event, Peer: id, Topic: l.Topic, Direction: l.Direction, Error: l.Error})
	case "stopped":
	default:
		_, _ = fmt.Fprintf(p.stderr, "harness: unexpected event %q\n", l.Event)
	}
}

// call sends one command and waits for its reply.
func (p *JSPeer) call(ctx context.Context, cmd map[string]any) (line, error) {
	ch := make(chan line, 1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return line{}, fmt.Errorf("%w: %s", ErrPeerExited, p.Name)
	}
	p.nextReq++
	req := p.nextReq
	p.pending[req] = ch
	p.mu.Unlock()
	cmd["req"] = req
	b, err := json.Marshal(cmd)
	if err != nil {
		return line{}, err
	}
	if err := p.write(ctx, append(b, '\n'), false); err != nil {
		p.forget(req)
		return line{}, fmt.Errorf("%s: %v: %w", p.Name, cmd["cmd"], err)
	}
	select {
	case l, ok := <-ch:
		if !ok {
			return line{}, fmt.Errorf("%w: %s during %v: %v", ErrPeerExited, p.Name, cmd["cmd"], p.exit)
		}
		if l.Event == "error" {
			return l, fmt.Errorf("%w: %s: %v: %s", ErrPeerCommand, p.Name, cmd["cmd"], l.Error)
		}
		return l, nil
	case <-ctx.Done():
		p.forget(req)
		return line{}, fmt.Errorf("%s: %v: %w", p.Name, cmd["cmd"], ctx.Err())
	}
}

// write writes b to the child's stdin, giving up when ctx's deadline
// passes; with closeAfter it then closes stdin (the child sees end of input).
func (p *JSPeer) write(ctx context.Context, b []byte, closeAfter bool) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.stdinClosed {
		return fmt.Errorf("%w: %s: stdin closed", ErrPeerExited, p.Name)
	}
	dl, _ := ctx.Deadline() // zero: no deadline
	_ = p.stdin.SetWriteDeadline(dl)
	_, err := p.stdin.Write(b)
	if closeAfter {
		p.stdinClosed = true
		_ = p.stdin.Close()
	}
	return err
}

func (p *JSPeer) forget(req uint64) {
	p.mu.Lock()
	delete(p.pending, req)
	p.mu.Unlock()
}

// ID returns the peer's id.
func (p *JSPeer) ID() peer.ID { return p.id }

// Protocols returns the pubsub protocols the peer speaks, in preference
// order, as it announced them.
func (p *JSPeer) Protocols() []string { return append([]string(nil), p.protocols...) }

// AddrInfo returns the peer's id and listen addresses.
func (p *JSPeer) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: p.id, Addrs: p.addrs} }

// Dial connects the peer to ai (its first address).
func (p *JSPeer) Dial(ctx context.Context, ai peer.AddrInfo) error {
	if len(ai.Addrs) == 0 {
		return fmt.Errorf("%s: dial %s: no address", p.Name, ai.ID)
	}
	full := ai.Addrs[0].Encapsulate(ma.StringCast("/p2p/" + ai.ID.String()))
	_, err := p.call(ctx, map[string]any{"cmd": "dial", "addr": full.String()})
	return err
}

// Subscribe subscribes the peer to topic.
func (p *JSPeer) Subscribe(ctx context.Context, topic string) error {
	_, err := p.call(ctx, map[string]any{"cmd": "subscribe", "topic": topic})
	return err
}

// Unsubscribe leaves topic: the library sends PRUNE to its mesh peers and
// announces the unsubscription.
func (p *JSPeer) Unsubscribe(ctx context.Context, topic string) error {
	_, err := p.call(ctx, map[string]any{"cmd": "unsubscribe", "topic": topic})
	return err
}

// Publish publishes data on topic and returns the peers the library sent it
// to.
func (p *JSPeer) Publish(ctx context.Context, topic string, data []byte) ([]peer.ID, error) {
	l, err := p.call(ctx, map[string]any{"cmd": "publish", "topic": topic, "data": base64.StdEncoding.EncodeToString(data)})
	if err != nil {
		return nil, err
	}
	return decodeIDs(l.Recipients), nil
}

// PublishSeqno publishes data on topic with the given sequence number, as
// the library encodes it: a floodsub peer (JSOptions.Floodsub) only. The
// library strips leading zero bytes, so a seqno below 2^56 goes out shorter
// than 8 bytes (Publish never does that: see peer.mjs).
func (p *JSPeer) PublishSeqno(ctx context.Context, topic string, data []byte, seqno uint64) ([]peer.ID, error) {
	l, err := p.call(ctx, map[string]any{"cmd": "publish", "topic": topic, "data": base64.StdEncoding.EncodeToString(data),
		"seqno": fmt.Sprintf("%016x", seqno)})
	if err != nil {
		return nil, err
	}
	return decodeIDs(l.Recipients), nil
}

// Mesh returns the peer's view of topic.
func (p *JSPeer) Mesh(ctx context.Context, topic string) (JSMesh, error) {
	l, err := p.call(ctx, map[string]any{"cmd": "peers", "topic": topic})
	if err != nil {
		return JSMesh{}, err
	}
	m := JSMesh{Peers: decodeIDs(l.Peers), TopicPeers: decodeIDs(l.TopicPeers),
		Protocols: make(map[peer.ID]string), Scores: make(map[peer.ID]float64), Penalties: make(map[peer.ID]map[string]float64)}
	for s, proto := range l.Protocols {
		if id, err := peer.Decode(s); err == nil {
			m.Protocols[id] = proto
		}
	}
	for s, score := range l.Scores {
		if id, err := peer.Decode(s); err == nil {
			m.Scores[id] = score
		}
	}
	for s, byReason := range l.Penalties {
		if id, err := peer.Decode(s); err == nil {
			m.Penalties[id] = byReason
		}
	}
	return m, nil
}

// Stats returns the peer's counters: messages delivered, duplicates and
// invalid messages received.
func (p *JSPeer) Stats(ctx context.Context) (JSStats, error) {
	l, err := p.call(ctx, map[string]any{"cmd": "stats"})
	return l.JSStats, err
}

// Messages returns a copy of the messages delivered so far, in order.
func (p *JSPeer) Messages() []JSMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]JSMessage(nil), p.msgs...)
}

// Events returns a copy of the graft, prune and invalid reports so far.
func (p *JSPeer) Events() []JSEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]JSEvent(nil), p.events...)
}

// Stderr returns the tail of the process's stderr (last 64 KiB).
func (p *JSPeer) Stderr() string { return p.stderr.String() }

// Stop asks the peer to stop and waits for the process to exit, killing it
// if it has not exited when ctx ends. It returns the exit error, if any.
func (p *JSPeer) Stop(ctx context.Context) error {
	_ = p.write(ctx, []byte(`{"cmd":"stop"}`+"\n"), true)
	select {
	case <-p.done:
		return p.exit
	case <-ctx.Done():
		p.Close()
		return fmt.Errorf("%s: stop: %w", p.Name, ctx.Err())
	}
}

// Close kills the process if it still runs, waits until it is reaped and
// releases its stdin. It is safe to call several times and after Stop.
func (p *JSPeer) Close() {
	select {
	case <-p.done:
	default:
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
		<-p.done
	}
	p.wmu.Lock()
	if !p.stdinClosed {
		p.stdinClosed = true
		_ = p.stdin.Close()
	}
	p.wmu.Unlock()
}

func decodeIDs(ss []string) []peer.ID {
	out := make([]peer.ID, 0, len(ss))
	for _, s := range ss {
		if id, err := peer.Decode(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
	cut bool
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(b)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
		t.cut = true
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "[...]\n" + t.buf.String()
	}
	return t.buf.String()
}
