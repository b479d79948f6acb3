package router

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// PartialTo offers a group to the listed peers only: of two mesh peers,
// the one named completes the group and the other is not offered it (the
// next group, offered to it alone over the same stream, is the first
// update it sees).
func TestPublishPartialToListedPeers(t *testing.T) {
	clk := clock.NewMock()
	a := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	b := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	c := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	join := func(n *node) *Topic {
		tp, err := n.r.Join("t", WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	ta, tb, tc := join(a), join(b), join(c)
	sb, err := tb.SubscribePartial(8)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := tc.SubscribePartial(8)
	if err != nil {
		t.Fatal(err)
	}
	testhost.Connect(t, a.h, b.h)
	testhost.Connect(t, a.h, c.h)
	bustest.Eventually(t, 10*time.Second, "a meshed with b and c, extensions known", func() bool {
		eb, _ := a.r.PeerExtensions(b.h.ID())
		ec, _ := a.r.PeerExtensions(c.h.ID())
		m := a.r.Mesh("t")
		return eb.PartialMessages && ec.PartialMessages && contains(m, b.h.ID()) && contains(m, c.h.ID())
	}, heartbeat(clk))

	ctx := context.Background()
	if err := ta.PublishPartial(ctx, []byte("g1"), fullBitParts(4, "x"), PartialTo(b.h.ID())); err != nil {
		t.Fatal(err)
	}
	if u := nextPartial(t, sb); string(u.GroupID) != "g1" || !u.Complete {
		t.Fatalf("b update %+v", u)
	}
	if err := ta.PublishPartial(ctx, []byte("g2"), fullBitParts(4, "y"), PartialTo(c.h.ID())); err != nil {
		t.Fatal(err)
	}
	if u := nextPartial(t, sc); string(u.GroupID) != "g2" || !u.Complete {
		t.Fatalf("c's first update is %q (complete %v), want g2: g1 was offered to b only", u.GroupID, u.Complete)
	}
}
