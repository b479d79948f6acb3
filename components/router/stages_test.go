package router

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// stageLog is a StageTracer that records what it is told, in order.
type stageLog struct {
	mu   sync.Mutex
	recs []stageRec
}

type stageRec struct {
	s  Stage
	id string
	p  peer.ID
}

func (l *stageLog) Stage(s Stage, id string, p peer.ID) {
	l.mu.Lock()
	l.recs = append(l.recs, stageRec{s, id, p})
	l.mu.Unlock()
}

// stages returns the stages recorded for id and p, in order.
func (l *stageLog) stages(id string, p peer.ID) []Stage {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Stage
	for _, r := range l.recs {
		if r.id == id && r.p == p {
			out = append(out, r.s)
		}
	}
	return out
}

// TestStageTracer: a message published by a and forwarded to b passes
// queued, writing and written at a (toward b), then read and received at
// b (from a) and delivered there, each once and in that order; the tracer's ids are the
// message's id.
func TestStageTracer(t *testing.T) {
	clk := clock.NewMock()
	la, lb := &stageLog{}, &stageLog{}
	a, b := newNode(t, clk, WithStageTracer(la)), newNode(t, clk, WithStageTracer(lb))
	ta, tb := meshed(t, clk, "stages", a, b)
	sb, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := ta.Publish(context.Background(), []byte("traced"), RequirePeers()); err != nil {
		t.Fatal(err)
	}
	m := next(t, sb)
	if string(m.Data) != "traced" {
		t.Fatalf("b read %q", m.Data)
	}
	// a's writer records written after its write returns, which may be
	// after b delivered: wait for it.
	bustest.Eventually(t, 10*time.Second, "a's written stage", func() bool {
		return len(la.stages(m.ID, b.h.ID())) >= 3
	}, nil)
	if got, want := la.stages(m.ID, b.h.ID()), []Stage{StageQueued, StageWriting, StageWritten}; !slices.Equal(got, want) {
		t.Errorf("a's stages toward b: %v, want %v", got, want)
	}
	if got, want := lb.stages(m.ID, a.h.ID()), []Stage{StageRead, StageReceived, StageDelivered}; !slices.Equal(got, want) {
		t.Errorf("b's stages from a: %v, want %v", got, want)
	}
	for _, s := range []Stage{StageRead, StageReceived, StageQueued, StageWriting, StageWritten, StageDelivered} {
		if s.String() == "unknown" {
			t.Errorf("stage %d has no name", s)
		}
	}
	if Stage(0).String() != "unknown" {
		t.Errorf("Stage(0) is %q", Stage(0))
	}
}

// TestDeliveredAfterForwarding: a forwarder hands a message to its local
// subscriptions last in the driver's turn, after it has queued the copy
// for the next peer (so that the subscriber it wakes runs next: see
// Router.deliverLocal).
func TestDeliveredAfterForwarding(t *testing.T) {
	clk := clock.NewMock()
	lb := &stageLog{}
	a, b, c := newNode(t, clk), newNode(t, clk, WithStageTracer(lb)), newNode(t, clk)
	const topic = "forwarded"
	var tops [3]*Topic
	for i, n := range []*node{a, b, c} {
		tp, err := n.r.Join(topic)
		if err != nil {
			t.Fatal(err)
		}
		tops[i] = tp
	}
	testhost.Connect(t, a.h, b.h)
	testhost.Connect(t, b.h, c.h)
	waitMeshed(t, clk, topic, a, b)
	waitMeshed(t, clk, topic, b, c)
	sb, err := tops[1].Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	sc, err := tops[2].Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := tops[0].Publish(context.Background(), []byte("via b"), RequirePeers()); err != nil {
		t.Fatal(err)
	}
	m := next(t, sb)
	if got := next(t, sc); got.ID != m.ID {
		t.Fatalf("c got %q, want b's %q", got.ID, m.ID)
	}
	var order []Stage
	lb.mu.Lock()
	for _, r := range lb.recs {
		if r.id == m.ID && (r.s == StageQueued && r.p == c.h.ID() || r.s == StageDelivered) {
			order = append(order, r.s)
		}
	}
	lb.mu.Unlock()
	if want := []Stage{StageQueued, StageDelivered}; !slices.Equal(order, want) {
		t.Fatalf("b's stages: %v, want the copy for c queued before the local delivery %v", order, want)
	}
}
