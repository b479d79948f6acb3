package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

func TestTwoNodesExchangeMessages(t *testing.T) {
	clk := clock.NewMock()
	a, b, ta, tb := pair(t, clk, "chat")
	sa, _ := ta.Subscribe()
	sb, _ := tb.Subscribe()
	x := exchange(t, ta, tb, sa, sb)
	if m := x.OwnA; m.ReceivedFrom != a.h.ID() {
		t.Fatalf("a's own copy: %+v", m)
	}
	if m := x.AtB; m.From != a.h.ID() || m.ReceivedFrom != a.h.ID() || m.Topic != "chat" || m.ID == "" {
		t.Fatalf("b got %+v", m)
	}
	if m := x.AtA; m.From != b.h.ID() {
		t.Fatalf("a got %+v", m)
	}
	ctx := context.Background()
	for i := range 50 {
		if err := ta.Publish(ctx, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if m := next(t, sb); string(m.Data) != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d out of order: %q", i, m.Data)
		}
	}
	// The driver counts a delivery when it flushes the step that handed the
	// message to the subscription, which the reader may beat: wait for it.
	bustest.Eventually(t, 10*time.Second, "b's delivered counter at 51", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_messages_total", "kind", "delivered") >= 51
	}, nil)
	if got := metrictest.Sum(t, b.reg, "meshbus_router_messages_total", "kind", "delivered"); got != 51 {
		t.Fatalf("b delivered %v messages, want 51", got)
	}
	if got := metrictest.Sum(t, a.reg, "meshbus_router_peers", "protocol", "/meshsub/1.4.0"); got != 1 {
		t.Fatalf("a counts %v meshsub/1.4.0 peers", got)
	}
	if got := metrictest.Sum(t, a.reg, "meshbus_router_mesh_peers", "topic", "chat"); got != 1 {
		t.Fatalf("mesh gauge %v, want 1", got)
	}
	if metrictest.Sum(t, a.reg, "meshbus_router_rpcs_total", "direction", "out") < 1 || metrictest.Sum(t, b.reg, "meshbus_router_rpcs_total", "direction", "in") < 1 {
		t.Fatal("RPCs not counted")
	}
	if got := metrictest.Sum(t, a.reg, "meshbus_router_messages_total", "kind", "published"); got != 51 {
		t.Fatalf("a published %v, want 51", got)
	}
	if metrictest.Sum(t, a.reg, "meshbus_router_outcomes_total", "outcome", "graft_accepted")+metrictest.Sum(t, a.reg, "meshbus_router_outcomes_total", "outcome", "heartbeat_done") < 1 {
		t.Fatal("outcomes not counted")
	}
}

func TestMeshOfSixDeliversEverything(t *testing.T) {
	clk := clock.NewMock()
	const n = 6
	nodes := make([]*node, n)
	topics := make([]*Topic, n)
	subs := make([]*Subscription, n)
	for i := range nodes {
		nodes[i] = newNode(t, clk)
		var err error
		if topics[i], err = nodes[i].r.Join("blocks"); err != nil {
			t.Fatal(err)
		}
		if subs[i], err = topics[i].Subscribe(SubscriptionBuffer(256)); err != nil {
			t.Fatal(err)
		}
	}
	// A ring with chords: everyone has 4 neighbours, nobody all 5.
	for i := range nodes {
		testhost.Connect(t, nodes[i].h, nodes[(i+1)%n].h)
		testhost.Connect(t, nodes[i].h, nodes[(i+2)%n].h)
	}
	bustest.Eventually(t, 20*time.Second, "every node has mesh peers", func() bool {
		for _, nd := range nodes {
			if len(nd.r.Mesh("blocks")) < 4 {
				return false
			}
		}
		return true
	}, heartbeat(clk))
	ctx := context.Background()
	for round := range 5 {
		for i, tp := range topics {
			if err := tp.Publish(ctx, fmt.Appendf(nil, "%d-%d", round, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, s := range subs {
		got := map[string]bool{}
		for range 5 * n {
			got[string(next(t, s).Data)] = true
		}
		if len(got) != 5*n {
			t.Fatalf("node %d got %d distinct messages, want %d", i, len(got), 5*n)
		}
	}
}
