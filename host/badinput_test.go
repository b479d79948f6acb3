package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/fx"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/components/scoring"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// badTopic is the topic the target of the bad-input tests joins.
const badTopic = "bad-input"

// badInputClass is one kind of bad input a peer can send.
type badInputClass struct {
	name string
	// penalty is the meshbus_router_penalties_total reason it must count
	// ("" when it must cost nothing).
	penalty string
	// send writes one instance from the attacker.
	send func(a *attacker)
}

// TestBadInputCostsTheSender: each kind of bad input, sent by a raw peer to
// a full node with default settings (scoring with its default parameters
// and no topic parameters, the peer manager with its defaults), is counted
// under a named reason and costs the sender a behaviour penalty; one
// instance leaves the sender connected (and its next honest message is
// delivered), and a sender that keeps sending it is graylisted and
// disconnected. A message for a topic the node has not joined costs nothing
// and is refused before any signature check. The test logs the outcome
// table (run with -v).
func TestBadInputCostsTheSender(t *testing.T) {
	classes := []badInputClass{
		{"invalid signature", "invalid_signature", func(a *attacker) {
			m := a.signed(badTopic, "genuine")
			m.Data = []byte("tampered")
			a.rpc(&pb.RPC{Publish: []*pb.Message{m}})
		}},
		{"missing signature (StrictSign)", "missing_signature", func(a *attacker) {
			m := &pb.Message{From: []byte(a.h.ID()), Seqno: a.seq.Next(), Topic: proto.String(badTopic), Data: []byte("unsigned")}
			a.rpc(&pb.RPC{Publish: []*pb.Message{m}})
		}},
		{"malformed: 3-byte seqno", "malformed_message", func(a *attacker) {
			m := &pb.Message{From: []byte(a.h.ID()), Seqno: []byte{1, 2, 3}, Topic: proto.String(badTopic), Data: []byte("short seqno")}
			if err := wire.Sign(m, a.h.Peerstore().PrivKey(a.h.ID())); err != nil {
				a.t.Fatal(err)
			}
			a.rpc(&pb.RPC{Publish: []*pb.Message{m}})
		}},
		{"malformed: empty topic", "malformed_message", func(a *attacker) {
			a.rpc(&pb.RPC{Publish: []*pb.Message{a.signed("", "no topic")}})
		}},
		{"undecodable frame", "undecodable_rpc", func(a *attacker) {
			a.raw(append(binary.AppendUvarint(nil, 4), 0xff, 0xff, 0xff, 0xff))
		}},
		{"oversized frame", "oversized_rpc", func(a *attacker) {
			a.raw(binary.AppendUvarint(nil, 16<<20))
		}},
		{"unjoined topic, bad signature", "", func(a *attacker) {
			m := a.signed("not-joined", "genuine")
			m.Data = []byte("tampered")
			a.rpc(&pb.RPC{Publish: []*pb.Message{m}})
		}},
	}
	var table []string
	for _, c := range classes {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			table = append(table, runBadInputClass(t, c))
		})
	}
	t.Logf("\n| input | rejections | penalties | score after 1 | after 1 | sent until disconnected |\n|---|---|---|---|---|---|\n%s", strings.Join(table, "\n"))
}

// maxBadInputs bounds how many instances the test sends before it fails
// for want of a graylisting (the default parameters need 9).
const maxBadInputs = 20

func runBadInputClass(t *testing.T, c badInputClass) string {
	clk := clock.NewMock()
	var r *router.Router
	var sc *scoring.Scorer
	n := newNode(t, WithClock(clk), WithFx(fx.Populate(&r, &sc)))
	top, err := r.Join(badTopic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := top.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	a := newAttacker(t, n)

	penalties := func() float64 {
		if c.penalty == "" {
			return metrictest.Sum(t, n.Registry(), "meshbus_router_penalties_total")
		}
		return metrictest.Sum(t, n.Registry(), "meshbus_router_penalties_total", "reason", c.penalty)
	}
	rejections := func() float64 {
		return metrictest.Sum(t, n.Registry(), "meshbus_router_messages_rejected_total") + metrictest.Sum(t, n.Registry(), "meshbus_router_invalid_rpcs_total")
	}
	breakdown := func() scoring.Breakdown {
		b, _ := sc.Breakdown(context.Background(), a.h.ID())
		return b
	}
	// scored is how many behaviour penalties the scorer has applied to the
	// sender: P7 is that counter squared, and the mock clock never decays it.
	scored := func() int { return int(math.Round(math.Sqrt(breakdown().P7))) }
	connected := func() bool { return n.Host().Network().Connectedness(a.h.ID()) == network.Connected }

	// One instance.
	c.send(a)
	bustest.Eventually(t, waitFor, "the input is counted", func() bool { return rejections() >= 1 }, nil)
	if c.penalty != "" {
		bustest.Eventually(t, waitFor, "the penalty is counted and scored", func() bool { return penalties() == 1 && scored() == 1 }, nil)
	}
	score1 := breakdown().Score
	// The sender is still connected, and its next honest message is delivered.
	a.rpc(&pb.RPC{Publish: []*pb.Message{a.signed(badTopic, "honest")}})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	m, err := sub.Next(ctx)
	if err != nil || string(m.Data) != "honest" {
		t.Fatalf("after one bad input the sender's honest message was not delivered: %v %v", m, err)
	}
	if !connected() {
		t.Fatal("one bad input disconnected the sender")
	}
	after1 := "connected, honest message delivered"
	rej1, pen1 := rejections(), penalties()

	// Keep sending, one input at a time. The next input goes out only once
	// the scorer has applied the last one's penalty: the scorer emits a
	// threshold crossing in the same driver step that applies the penalty,
	// before it answers Breakdown, so at that point the peer manager has
	// the graylist crossing if there is one, and the sender's fate is
	// decided. Sending before that races the disconnect being measured
	// (the input lands on a connection the node is closing).
	sent := 1
	var until string
	if c.penalty != "" {
		graylist := sc.Thresholds().Graylist
		for breakdown().Score >= graylist {
			if sent >= maxBadInputs {
				t.Fatalf("%s: still above the graylist threshold after %d (score %v)", c.name, sent, breakdown().Score)
			}
			if !connected() {
				t.Fatalf("%s: disconnected after %d while above the graylist threshold (score %v)", c.name, sent, breakdown().Score)
			}
			c.send(a)
			sent++
			bustest.Eventually(t, waitFor, "the penalty is scored", func() bool { return scored() >= sent }, nil)
		}
		bustest.Eventually(t, waitFor, "the graylisted sender disconnected", func() bool { return !connected() }, nil)
		if got := penalties(); got != float64(sent) {
			t.Fatalf("%v penalties counted for %d inputs", got, sent)
		}
		until = fmt.Sprintf("%d (graylisted and disconnected)", sent)
	} else {
		for sent < 10 {
			c.send(a)
			sent++
			bustest.Eventually(t, waitFor, "the input is counted", func() bool { return rejections() >= float64(sent) }, nil)
		}
		if penalties() != 0 {
			t.Fatalf("%s cost the sender %v penalties", c.name, penalties())
		}
		if !connected() {
			t.Fatalf("%s disconnected the sender", c.name)
		}
		// Dropped before any signature check: the one check made was
		// for the honest message.
		if got := metrictest.Sum(t, n.Registry(), "meshbus_router_signature_checks_total"); got != 1 {
			t.Fatalf("%v signature checks, want 1 (the honest message only)", got)
		}
		until = fmt.Sprintf("never (still connected after %d)", sent)
	}
	return fmt.Sprintf("| %s | %v | %v | %.0f | %s | %s |", c.name, rej1, pen1, score1, after1, until)
}

// attacker is a plain libp2p host (internal/testhost) that speaks the
// pubsub wire by hand.
type attacker struct {
	t   *testing.T
	h   corehost.Host
	to  peer.ID
	s   network.Stream
	w   *wire.Writer
	seq *wire.Seqno
}

func newAttacker(t *testing.T, target *Node) *attacker {
	t.Helper()
	h := testhost.New(t)
	// Drain the target's outbound stream so its writer stays healthy.
	h.SetStreamHandler(wire.ProtocolMeshsub12, func(s network.Stream) {
		rd := wire.NewReader(s, 0)
		for {
			if _, err := rd.ReadRPC(); err != nil {
				_ = s.Reset()
				return
			}
		}
	})
	a := &attacker{t: t, h: h, to: target.ID(), seq: wire.NewSeqno(1)}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.Connect(ctx, target.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	if !a.open() {
		t.Fatal("cannot open a pubsub stream to the target")
	}
	a.rpc(&pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String(badTopic)}}})
	return a
}

// open opens a fresh pubsub stream (a frame error makes the target reset
// the previous one).
func (a *attacker) open() bool {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := a.h.NewStream(network.WithNoDial(ctx, "test"), a.to, wire.ProtocolMeshsub12)
	if err != nil {
		return false
	}
	a.s, a.w = s, wire.NewWriter(s, 0)
	return true
}

func (a *attacker) signed(topic, data string) *pb.Message {
	m := &pb.Message{From: []byte(a.h.ID()), Seqno: a.seq.Next(), Topic: proto.String(topic), Data: []byte(data)}
	if err := wire.Sign(m, a.h.Peerstore().PrivKey(a.h.ID())); err != nil {
		a.t.Fatal(err)
	}
	return m
}

// stream returns the attacker's pubsub stream, opening a fresh one if the
// last input cut the previous one. The connection is never redialed: every
// input is sent while the node still accepts the sender, so a missing
// connection is a failure.
func (a *attacker) stream() {
	if a.s == nil && !a.open() {
		a.t.Fatal("cannot open a pubsub stream to the target")
	}
}

func (a *attacker) rpc(rpc *pb.RPC) {
	a.stream()
	if err := a.w.WriteRPC(rpc); err != nil {
		a.t.Fatalf("attacker write: %v", err)
	}
}

func (a *attacker) raw(b []byte) {
	a.stream()
	if _, err := a.s.Write(b); err != nil {
		a.t.Fatalf("attacker write: %v", err)
	}
	// The target resets this stream; the next input goes on a new one.
	_ = a.s.CloseWrite()
	a.s, a.w = nil, nil
}
