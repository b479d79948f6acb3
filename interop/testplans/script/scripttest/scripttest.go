// Package scripttest runs test-plan node backends (script.NodeBackend) in
// one process, on loopback, and checks the records they write: the checks
// every node binary (cmd/meshbus-interop, cmd/gopubsub-interop) must pass.
// It drives a backend by its methods, in the order script.Run calls them
// for the plans' scenarios, but without the fixed port and the nodeN host
// names: Impl.New must listen on a loopback address with port 0.
//
// Waits poll the records until a condition holds, with a deadline
// (Timeout); nothing sleeps for things to settle. A Recorder flushes every
// script.FlushInterval, so a record shows up at most that long after it
// was written.
package scripttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/interop/testplans/netrun"
	"github.com/meshbus/meshbus/interop/testplans/script"
)

// Timeout bounds every wait and every backend call of this package. A
// mesh forms at the first heartbeat (1 s by default), so this leaves room
// for a loaded machine and the race detector.
const Timeout = 15 * time.Second

// Topic is the topic of the plans' scenarios.
const Topic = "a-subnet"

// Impl is a backend under test.
type Impl struct {
	// New builds node id's backend, as script.Main's newBackend argument
	// does. The backend must listen on Loopback (see SetListenAddr).
	New func(id int, rec *script.Recorder, log *slog.Logger) (script.NodeBackend, error)
	// Addrs returns the addresses b listens on, once Init returned.
	Addrs func(b script.NodeBackend) []ma.Multiaddr
}

// Loopback is where a node under test listens: loopback, a free port.
const Loopback = "/ip4/127.0.0.1/tcp/0"

// SetListenAddr sets a node's listen address variable (the plans' nodes
// listen on a fixed port, script.Port) to addr for the rest of the test,
// and restores it at cleanup.
func SetListenAddr(tb testing.TB, listenAddr *string, addr string) {
	tb.Helper()
	old := *listenAddr
	*listenAddr = addr
	tb.Cleanup(func() { *listenAddr = old })
}

// Record is one record a node wrote, the fields the plans' records carry
// (script.Recorder's methods); a field the record lacks is zero.
type Record struct {
	// Time is the record's "time": the instant it describes.
	Time time.Time `json:"time"`
	// Msg is the record's kind ("msg"): "PeerID", "Received Message",
	// "Published Message", "Published Partial", "All parts received" or
	// "Mesh".
	Msg string `json:"msg"`
	// ID is "id": the node's peer id in a PeerID record, the message id
	// in decimal (script.FormatID) in a Received or Published Message one.
	ID string `json:"id"`
	// NodeID is "node_id", of the PeerID record.
	NodeID int `json:"node_id"`
	// From is "from", of a Received Message record: the peer id of the
	// neighbour the copy came from.
	From string `json:"from"`
	// Topic is "topic": the record's topic.
	Topic string `json:"topic"`
	// Op is "op", of a Mesh record: "graft" or "prune".
	Op string `json:"op"`
	// Peer is "peer", of a Mesh record: the peer id that entered or left
	// the mesh.
	Peer string `json:"peer"`
	// Group is "group id", of a Published Partial or All parts received
	// record: the group's number.
	Group uint64 `json:"group id"`
}

// Log is the writer of a node's Recorder: it keeps what was written, for
// Records. It is safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Records parses the complete lines written so far; a line that is not a
// record fails the test.
func (l *Log) Records(tb testing.TB) []Record {
	tb.Helper()
	l.mu.Lock()
	data := bytes.Clone(l.buf.Bytes())
	l.mu.Unlock()
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("scripttest: record %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// Node is one backend under test, with its Recorder and what it wrote.
type Node struct {
	// ID is the node id (its key is script.NodeKey(ID)).
	ID int
	// B is the backend Impl.New built; Start has run its Init.
	B script.NodeBackend
	// Rec is the Recorder B writes to; Start wrote the PeerID record.
	Rec *script.Recorder
	// Log holds what Rec has flushed so far (see Records).
	Log *Log

	impl   Impl
	diag   *Log // the backend's diagnostics, shown if the test fails
	closed bool
}

// PlansParams returns node id's initGossipSub parameters in the plans'
// basic scenario of n nodes (netrun.DefaultScenario, which writes them as
// the plans' run.py does).
func PlansParams(tb testing.TB, n, id int) script.GossipSubParams {
	tb.Helper()
	js, err := netrun.DefaultScenario("basic", n, 1).Params()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := script.Parse(bytes.NewReader(js))
	if err != nil {
		tb.Fatal(err)
	}
	for _, in := range p.Script {
		if c, ok := in.(script.IfNodeIDEquals); ok && c.NodeID == id {
			if init, ok := c.Instruction.(script.InitGossipSub); ok {
				return init.GossipSubParams
			}
		}
	}
	tb.Fatalf("scripttest: no initGossipSub for node %d", id)
	return script.GossipSubParams{}
}

// Start builds node id of a network of n nodes and runs Init with the
// plans' parameters for it (PlansParams). The test's cleanup closes the
// node unless Close came first. The PeerID record is written first, as
// script.Main does.
func Start(tb testing.TB, impl Impl, n, id int) *Node {
	tb.Helper()
	nd := &Node{ID: id, Log: &Log{}, diag: &Log{}, impl: impl}
	nd.Rec = script.NewRecorder(nd.Log)
	nd.Rec.PeerID(script.PeerIDOf(id), id)
	log := slog.New(slog.NewTextHandler(nd.diag, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := impl.New(id, nd.Rec, log)
	if err != nil {
		_ = nd.Rec.Close()
		tb.Fatalf("scripttest: node%d: new: %v", id, err)
	}
	nd.B = b
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("node%d diagnostics:\n%s", id, nd.diag.String())
		}
		nd.Close(tb)
	})
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	notes, err := b.Init(ctx, PlansParams(tb, n, id))
	if err != nil {
		tb.Fatalf("scripttest: node%d: init: %v (notes %q)", id, err, notes)
	}
	return nd
}

// Close closes the backend, then the Recorder, failing the test on an
// error; a second Close does nothing.
func (n *Node) Close(tb testing.TB) {
	tb.Helper()
	if n.closed {
		return
	}
	n.closed = true
	if err := n.B.Close(); err != nil {
		tb.Errorf("scripttest: node%d: close: %v", n.ID, err)
	}
	if err := n.Rec.Close(); err != nil {
		tb.Errorf("scripttest: node%d: recorder: %v", n.ID, err)
	}
}

// Connect dials to from n, as the plans' connect instruction does.
func (n *Node) Connect(tb testing.TB, to *Node) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := n.B.Connect(ctx, to.AddrInfo()); err != nil {
		tb.Fatalf("scripttest: node%d connect to node%d: %v", n.ID, to.ID, err)
	}
}

// AddrInfo returns the node's peer id and listen addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: script.PeerIDOf(n.ID), Addrs: n.impl.Addrs(n.B)}
}

// Count returns how many records written so far match pred.
func (n *Node) Count(tb testing.TB, pred func(Record) bool) int {
	tb.Helper()
	c := 0
	for _, r := range n.Log.Records(tb) {
		if pred(r) {
			c++
		}
	}
	return c
}

// WaitFor waits until the node wrote a record matching pred, failing the
// test (naming what) after Timeout.
func (n *Node) WaitFor(tb testing.TB, what string, pred func(Record) bool) {
	tb.Helper()
	bustest.Eventually(tb, Timeout, fmt.Sprintf("node%d: %s", n.ID, what), func() bool { return n.Count(tb, pred) > 0 }, nil)
}

// Received matches the "Received Message" record of message id (the
// plans' id, see script.MessageData) from node from on topic.
func Received(id uint64, from int, topic string) func(Record) bool {
	fid, fp := script.FormatID(script.MsgID(script.MessageData(id, 8))), script.PeerIDOf(from).String()
	return func(r Record) bool {
		return r.Msg == "Received Message" && r.ID == fid && r.From == fp && r.Topic == topic
	}
}

// ReceivedAny matches every "Received Message" record of message id.
func ReceivedAny(id uint64) func(Record) bool {
	fid := script.FormatID(script.MsgID(script.MessageData(id, 8)))
	return func(r Record) bool { return r.Msg == "Received Message" && r.ID == fid }
}

// Grafted matches a Mesh record: node p entered the mesh of topic.
func Grafted(p int, topic string) func(Record) bool {
	pp := script.PeerIDOf(p).String()
	return func(r Record) bool { return r.Msg == "Mesh" && r.Op == "graft" && r.Peer == pp && r.Topic == topic }
}

// AllParts matches the "All parts received" record of group gid.
func AllParts(gid uint64) func(Record) bool {
	return func(r Record) bool { return r.Msg == "All parts received" && r.Group == gid }
}

// Pair starts nodes 0 and 1 with Mesh records on (script.MeshEnv, set for
// the test, so the test cannot run in parallel), connects 0 to 1, calls
// subscribe on each (it must join Topic), and waits until each node's mesh
// of Topic holds the other.
func Pair(t *testing.T, impl Impl, subscribe func(n *Node)) (a, b *Node) {
	t.Helper()
	t.Setenv(script.MeshEnv, "1")
	a, b = Start(t, impl, 2, 0), Start(t, impl, 2, 1)
	a.Connect(t, b)
	subscribe(a)
	subscribe(b)
	a.WaitFor(t, "node1 grafted", Grafted(1, Topic))
	b.WaitFor(t, "node0 grafted", Grafted(0, Topic))
	return a, b
}

// Suite runs every check of this package on impl, as subtests: publish
// in the basic scenario (1 KiB, no validation delay) and in the blob
// scenario (96 KiB, 5 ms validation delay), partial messages, connect, the
// errors every node reports, a repeated publish that is none.
func Suite(t *testing.T, impl Impl) {
	t.Run("publish/basic", func(t *testing.T) { CheckPublish(t, impl, 0, 1024) })
	t.Run("publish/blob", func(t *testing.T) { CheckPublish(t, impl, 5*time.Millisecond, 2*1024*48) })
	t.Run("partial", func(t *testing.T) { CheckPartial(t, impl) })
	t.Run("connect", func(t *testing.T) { CheckConnect(t, impl) })
	t.Run("errors", func(t *testing.T) { CheckErrors(t, impl) })
	t.Run("repeated-publish", func(t *testing.T) { CheckRepeatedPublish(t, impl) })
}

// CheckRepeatedPublish checks that a publish instruction whose message id the node
// published already is no error (the plans' go node, on go-libp2p-pubsub,
// drops the repeat silently; an error would end the node's script and so
// the run); the message is sent once: the peer records it once, and a
// message published after the repeat arrives (once it is in, the repeat
// would have been too, on the same stream).
func CheckRepeatedPublish(t *testing.T, impl Impl) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	a, b := Pair(t, impl, func(n *Node) {
		if err := n.B.Subscribe(ctx, Topic); err != nil {
			t.Fatalf("node%d: subscribe: %v", n.ID, err)
		}
	})
	data := script.MessageData(7, 64)
	for i := range 2 {
		if err := a.B.Publish(ctx, Topic, data); err != nil {
			t.Fatalf("publish %d of message 7: %v", i+1, err)
		}
	}
	if err := a.B.Publish(ctx, Topic, script.MessageData(8, 64)); err != nil {
		t.Fatalf("publish of message 8: %v", err)
	}
	b.WaitFor(t, "message 8", Received(8, 0, Topic))
	a.Close(t)
	b.Close(t)
	if c := b.Count(t, ReceivedAny(7)); c != 1 {
		t.Errorf("message 7 recorded %d times, want 1:\n%s", c, dump(t, b))
	}
}

// CheckErrors checks the script errors both nodes report, and what is no
// error.
// subscribeToTopic with partial: true on a topic subscribed without it
// fails; so does publishPartial of a group that neither addPartialMessage
// nor a peer created. A second subscribeToTopic, and a publish on a topic
// not subscribed (a fanout publish, here to no peer), are fine; a node's
// own message is not recorded as received.
func CheckErrors(t *testing.T, impl Impl) {
	n := Start(t, impl, 2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	pb, ok := n.B.(script.PartialBackend)
	if !ok {
		t.Fatalf("%T is no script.PartialBackend", n.B)
	}
	for range 2 {
		if err := n.B.Subscribe(ctx, "plain"); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	if err := pb.SubscribePartial(ctx, "plain"); err == nil {
		t.Error("subscribePartial on a topic subscribed without partial messages: no error")
	}
	if err := pb.PublishPartial(ctx, "parts", 2, nil); err == nil {
		t.Error("publishPartial of an unknown group: no error")
	}
	if err := n.B.Publish(ctx, "plain", script.MessageData(7, 64)); err != nil {
		t.Errorf("publish: %v", err)
	}
	if err := n.B.Publish(ctx, "elsewhere", script.MessageData(8, 64)); err != nil {
		t.Errorf("publish to a topic not subscribed: %v", err)
	}
	n.Close(t)
	if c := n.Count(t, ReceivedAny(7)) + n.Count(t, ReceivedAny(8)); c != 0 {
		t.Errorf("%d of the node's own messages recorded as received", c)
	}
}

// CheckConnect checks that a dial that reaches a node other than the one named fails
// (the security handshake checks the peer id) instead of connecting, and
// the failure leaves no backoff in the way of the right dial.
func CheckConnect(t *testing.T, impl Impl) {
	a, b := Start(t, impl, 2, 0), Start(t, impl, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ai := peer.AddrInfo{ID: script.PeerIDOf(2), Addrs: b.AddrInfo().Addrs}
	if err := a.B.Connect(ctx, ai); err == nil {
		t.Fatal("node0 connected to node1 as node2")
	}
	a.Connect(t, b)
}

// CheckPublish is the plans' basic (delay 0, 1 KiB) or blob (5 ms, 96 KiB)
// exchange between two nodes: each sets the validation delay, subscribes,
// and publishes one message once the mesh formed; each must write exactly
// one "Received Message" record of the other's message (from the other, on
// the topic) and none of its own; both close without error.
func CheckPublish(t *testing.T, impl Impl, delay time.Duration, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	a, b := Pair(t, impl, func(n *Node) {
		if delay > 0 {
			if err := n.B.SetValidationDelay(Topic, delay); err != nil {
				t.Fatalf("node%d: set validation delay: %v", n.ID, err)
			}
		}
		if err := n.B.Subscribe(ctx, Topic); err != nil {
			t.Fatalf("node%d: subscribe: %v", n.ID, err)
		}
	})
	const fromA, fromB = 100, 101
	if err := b.B.Publish(ctx, Topic, script.MessageData(fromB, size)); err != nil {
		t.Fatalf("node1 publish: %v", err)
	}
	if err := a.B.Publish(ctx, Topic, script.MessageData(fromA, size)); err != nil {
		t.Fatalf("node0 publish: %v", err)
	}
	a.WaitFor(t, "message from node1", Received(fromB, 1, Topic))
	b.WaitFor(t, "message from node0", Received(fromA, 0, Topic))
	a.Close(t)
	b.Close(t)
	for _, c := range []struct {
		n         *Node
		mine, its uint64
	}{{a, fromA, fromB}, {b, fromB, fromA}} {
		if got := c.n.Count(t, ReceivedAny(c.its)); got != 1 {
			t.Errorf("node%d: %d Received Message records of message %d, want 1:\n%s", c.n.ID, got, c.its, dump(t, c.n))
		}
		if got := c.n.Count(t, ReceivedAny(c.mine)); got != 0 {
			t.Errorf("node%d: %d Received Message records of its own message %d:\n%s", c.n.ID, got, c.mine, dump(t, c.n))
		}
	}
}

// CheckPartial is the plans' partial scenario between two nodes: both
// subscribe requesting partial messages, node 0 adds parts 0-3 of a group
// and node 1 parts 4-7, both publish the group; each must write "All parts
// received" for the group exactly once.
func CheckPartial(t *testing.T, impl Impl) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	a, b := Pair(t, impl, func(n *Node) {
		pb, ok := n.B.(script.PartialBackend)
		if !ok {
			t.Fatalf("node%d: %T is no script.PartialBackend", n.ID, n.B)
		}
		if err := pb.SubscribePartial(ctx, Topic); err != nil {
			t.Fatalf("node%d: subscribe partial: %v", n.ID, err)
		}
	})
	const gid = 0xdecaf
	for _, c := range []struct {
		n     *Node
		parts uint8
	}{{a, 0x0F}, {b, 0xF0}} {
		pb := c.n.B.(script.PartialBackend)
		if err := pb.AddPartialMessage(Topic, gid, c.parts); err != nil {
			t.Fatalf("node%d: add partial: %v", c.n.ID, err)
		}
		if err := pb.PublishPartial(ctx, Topic, gid, nil); err != nil {
			t.Fatalf("node%d: publish partial: %v", c.n.ID, err)
		}
	}
	a.WaitFor(t, "group complete", AllParts(gid))
	b.WaitFor(t, "group complete", AllParts(gid))
	a.Close(t)
	b.Close(t)
	for _, n := range []*Node{a, b} {
		if got := n.Count(t, AllParts(gid)); got != 1 {
			t.Errorf("node%d: %d All parts received records, want 1:\n%s", n.ID, got, dump(t, n))
		}
	}
}

// dump renders a node's records for a failure message.
func dump(tb testing.TB, n *Node) string {
	var sb strings.Builder
	for _, r := range n.Log.Records(tb) {
		fmt.Fprintf(&sb, "  %+v\n", r)
	}
	return sb.String()
}
