package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/eventbus"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// diamond starts four routers with opts on clk, all joined to topic:
// a linked to b and c, b to c, and b and c to d (d is not linked to a),
// each link a mesh link. With v14 (the routers negotiate it unless opts
// has WithoutLargeMessages), it waits until every router marked every
// peer as supporting v1.4.
func diamond(t *testing.T, clk *clock.Mock, topic string, v14 bool, opts ...Option) (ns [4]*node, ts [4]*Topic) {
	t.Helper()
	for i := range ns {
		ns[i] = newNode(t, clk, opts...)
		tp, err := ns[i].r.Join(topic)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tp
	}
	links := [][2]int{{0, 1}, {0, 2}, {1, 2}, {1, 3}, {2, 3}}
	for _, l := range links {
		testhost.Connect(t, ns[l[0]].h, ns[l[1]].h)
	}
	for _, l := range links {
		waitMeshed(t, clk, topic, ns[l[0]], ns[l[1]])
	}
	if v14 {
		for _, l := range links {
			for _, d := range [][2]int{l, {l[1], l[0]}} {
				a, b := ns[d[0]], ns[d[1]]
				bustest.Eventually(t, 10*time.Second, fmt.Sprintf("node %d knows node %d's v1.4 support", d[0], d[1]), func() bool {
					e, ok := a.r.PeerExtensions(b.h.ID())
					return ok && e.LargeMessages
				}, nil)
			}
		}
	}
	return ns, ts
}

func sumMetric(t *testing.T, ns [4]*node, name string, labels ...string) float64 {
	t.Helper()
	s := 0.0
	for _, n := range ns {
		s += metrictest.Sum(t, n.reg, name, labels...)
	}
	return s
}

// diamondRun publishes msgs 64 KiB messages from a and returns the
// duplicates received over the four routers, after every router
// delivered every message, and the routers. hold, when set, runs between
// a publish and the clock moves that end announce windows.
func diamondRun(t *testing.T, v14 bool, msgs int, opts []Option, hold func(ns [4]*node, i int)) (float64, [4]*node) {
	t.Helper()
	if !v14 {
		opts = append(slices.Clip(opts), WithoutLargeMessages())
	}
	clk := clock.NewMock()
	ns, ts := diamond(t, clk, "big", v14, opts...)
	var subs [4]*Subscription
	for i, tp := range ts {
		s, err := tp.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	for i := range msgs {
		d := bytes.Repeat([]byte{7}, 64<<10)
		d[0] = byte(i)
		if err := ts[0].Publish(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if hold != nil {
			hold(ns, i)
		}
		for j, s := range subs {
			var got *Message
			bustest.Eventually(t, 20*time.Second, fmt.Sprintf("node %d delivers message %d", j, i), func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				defer cancel()
				if m, err := s.Next(ctx); err == nil {
					got = m
				}
				return got != nil
			}, func() { clk.Add(time.Millisecond) }) // ends announce windows and stagger waits
			if got.Data[0] != byte(i) {
				t.Fatalf("node %d got message %d, want %d", j, got.Data[0], i)
			}
		}
	}
	return sumMetric(t, ns, "meshbus_router_messages_total", "kind", "duplicate"), ns
}

// Among v1.4 routers, a 64 KiB message that b and c both forward to d
// (each gets it from a) is announced to d with PREAMBLE first, and d's
// copies are held for the announce window: d takes the first announcer as
// its source and tells the other IMRECEIVING, which then does not send
// it (counted as skipped), or b and c, having the message, answer each
// other's PREAMBLE with IDONTWANT. Every router delivers every message,
// with fewer duplicates than the same routers with PREAMBLE off. (The
// numbers depend on timing, so the test asserts only what every ordering
// gives: PREAMBLEs and IMRECEIVINGs sent, some copy suppressed by
// IMRECEIVING over the messages, no more duplicates than without.)
func TestPreambleSuppressesDuplicates(t *testing.T) {
	const msgs = 8
	var on float64
	t.Run("on", func(t *testing.T) {
		var ns [4]*node
		on, ns = diamondRun(t, true, msgs, nil, nil)
		sent := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", "sent")
		imr := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", "imreceiving_sent")
		skipped := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", "skipped")
		t.Logf("PREAMBLEs %v, IMRECEIVINGs %v, copies skipped for IMRECEIVING %v, duplicates %v", sent, imr, skipped, on)
		if sent < msgs || imr < msgs || skipped < 1 {
			t.Errorf("PREAMBLEs %v, IMRECEIVINGs %v, skipped %v: want at least %d, %d, 1", sent, imr, skipped, msgs, msgs)
		}
	})
	t.Run("off", func(t *testing.T) {
		off, ns := diamondRun(t, true, msgs, []Option{WithPreamble(PreambleConfig{})}, nil)
		if n := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", "sent"); n != 0 {
			t.Errorf("%v PREAMBLEs sent with PREAMBLE off", n)
		}
		t.Logf("duplicates: %v with PREAMBLE, %v without", on, off)
		if on > off {
			t.Errorf("more duplicates with PREAMBLE (%v) than without (%v)", on, off)
		}
	})
}

// Without v1.4 support on the peers (the knob off: nothing advertised),
// no PREAMBLE is sent and messages flow as before.
func TestPreambleNotSentWithoutV14Peers(t *testing.T) {
	_, ns := diamondRun(t, false, 2, nil, nil)
	for _, kind := range []string{"sent", "imreceiving_sent", "held"} {
		if n := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", kind); n != 0 {
			t.Errorf("%v %s without v1.4 peers", n, kind)
		}
	}
}

func TestWithPreambleValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	c := DefaultPreambleConfig()
	c.WindowMax = 0
	if _, err := New(h, bus, WithPreamble(c)); !errors.Is(err, ErrBadOption) {
		t.Fatalf("invalid PreambleConfig: %v, want ErrBadOption", err)
	}
}

// The reader's unwanted ring takes a peer's IMRECEIVING ids (its copies
// are skipped at once) and forgets the ids it then asks for with IWANT
// (its source failed: the automaton's answer must be written).
func TestUnwantedRingImReceivingThenIWant(t *testing.T) {
	q := newSendQueue(8, 8)
	m := &pb.Message{Data: []byte("m")}
	imr := &pb.RPC{Control: &pb.ControlMessage{Imreceiving: []*pb.ControlImReceiving{{MessageID: []byte("m")}}}}
	if hs := noteUnwanted(&q.unwanted, imr, nil, nil); len(hs) != 1 {
		t.Fatalf("noted %d ids, want 1", len(hs))
	}
	if q.pushData("m", m, false) != pushUnwanted {
		t.Fatal("a message the peer sent IMRECEIVING for was queued")
	}
	iw := &pb.RPC{Control: &pb.ControlMessage{Iwant: []*pb.ControlIWant{{MessageIDs: [][]byte{[]byte("m")}}}}}
	noteUnwanted(&q.unwanted, iw, nil, nil)
	if q.pushData("m", m, false) != pushQueued {
		t.Fatal("the answer to the peer's IWANT was refused")
	}
}

// With Pull (the default), d asks the announcer it chose for the message
// with IWANT, and that announcer sends the copy it held at once: d
// delivers with the clock stopped, so no announce window (nor stagger
// wait, nor heartbeat) has ended. Without the pull, the held copies wait
// for the clock.
func TestPreamblePullDeliversBeforeTheWindowEnds(t *testing.T) {
	clk := clock.NewMock()
	ns, ts := diamond(t, clk, "big", true)
	sub, err := ts[3].Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	d := bytes.Repeat([]byte{9}, 64<<10)
	if err := ts[0].Publish(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("d did not deliver with the clock stopped: %v", err)
	}
	if !bytes.Equal(m.Data, d) {
		t.Fatal("d delivered other data")
	}
	if n := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", "pull_sent"); n < 1 {
		t.Errorf("pull_sent %v, want at least 1", n)
	}
	if n := sumMetric(t, ns, "meshbus_router_preamble_total", "kind", "pulled"); n < 1 {
		t.Errorf("pulled %v, want at least 1", n)
	}
}
