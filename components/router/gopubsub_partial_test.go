package router

import (
	"context"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p-pubsub/partialmessages"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
)

// goTracer records what a go-libp2p-pubsub node saw of the meshbus peer.
type goTracer struct {
	mu        sync.Mutex
	outProto  map[peer.ID]protocol.ID
	grafted   map[peer.ID]bool
	firstExt  map[peer.ID]bool // the first RPC from the peer carried Extensions
	rpcsFrom  map[peer.ID]int
	extCounts map[peer.ID]int
}

func newGoTracer() *goTracer {
	return &goTracer{outProto: map[peer.ID]protocol.ID{}, grafted: map[peer.ID]bool{}, firstExt: map[peer.ID]bool{}, rpcsFrom: map[peer.ID]int{}, extCounts: map[peer.ID]int{}}
}

func (g *goTracer) OnNewOutboundStream(p peer.ID, proto protocol.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.outProto[p] = proto
}
func (g *goTracer) Graft(p peer.ID, topic string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grafted[p] = true
}
func (g *goTracer) RecvRPC(rpc *pubsub.RPC) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ext := rpc.GetControl().GetExtensions() != nil
	if g.rpcsFrom[rpc.From()] == 0 {
		g.firstExt[rpc.From()] = ext
	}
	if ext {
		g.extCounts[rpc.From()]++
	}
	g.rpcsFrom[rpc.From()]++
}
func (g *goTracer) OnClosedOutboundStream(peer.ID)                       {}
func (g *goTracer) Join(string)                                          {}
func (g *goTracer) Leave(string)                                         {}
func (g *goTracer) Prune(peer.ID, string)                                {}
func (g *goTracer) ValidateMessage(*pubsub.Message)                      {}
func (g *goTracer) DeliverMessage(*pubsub.Message)                       {}
func (g *goTracer) RejectMessage(*pubsub.Message, string)                {}
func (g *goTracer) DuplicateMessage(*pubsub.Message)                     {}
func (g *goTracer) ThrottlePeer(peer.ID)                                 {}
func (g *goTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (g *goTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (g *goTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (g *goTracer) UndeliverableMessage(*pubsub.Message)                 {}
func (g *goTracer) snapshot(p peer.ID) (protocol.ID, bool, bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.outProto[p], g.grafted[p], g.firstExt[p], g.extCounts[p]
}

// goPeerState is the go-libp2p-pubsub application's per-peer state for a
// group: the peer's last parts bitmap, and the last one we told it.
type goPeerState struct {
	known, sentAny bool
	recvd, sent    byte
}

// goApp is the go-libp2p-pubsub side's application: the same bitParts
// encoding as the meshbus test application, driven by partialmessages.
type goApp struct {
	mu     sync.Mutex
	groups map[string]*bitParts
	ps     *pubsub.PubSub
	wg     sync.WaitGroup
	ext    *partialmessages.PartialMessagesExtension[goPeerState]
}

func (a *goApp) group(gid string) *bitParts {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.groups[gid]
	if m == nil {
		m = newBitParts(4)
		a.groups[gid] = m
	}
	return m
}

func goActions(m *bitParts) partialmessages.PublishActionsFn[goPeerState] {
	return func(states map[peer.ID]goPeerState, requests func(peer.ID) bool) iter.Seq2[peer.ID, partialmessages.PublishAction] {
		return func(yield func(peer.ID, partialmessages.PublishAction) bool) {
			m.mu.Lock()
			have, parts := m.have, m.parts
			m.mu.Unlock()
			for p, st := range states {
				var act partialmessages.PublishAction
				if requests(p) && st.known {
					if lacks := have &^ st.recvd; lacks != 0 {
						act.EncodedPartialMessage = encodeParts(parts[:], lacks)
						st.recvd |= lacks
					}
				}
				if !st.sentAny || st.sent != have {
					act.EncodedPartsMetadata = []byte{have}
					st.sent, st.sentAny = have, true
				}
				states[p] = st
				if !yield(p, act) {
					return
				}
			}
		}
	}
}

func newGoApp(topic string) *goApp {
	a := &goApp{groups: map[string]*bitParts{}}
	a.ext = &partialmessages.PartialMessagesExtension[goPeerState]{
		Logger: slog.New(slog.DiscardHandler),
		OnEmitGossip: func(topic string, gid []byte, _ []peer.ID, _ map[peer.ID]goPeerState) {
			_ = a.ext.PublishPartial(topic, gid, goActions(a.group(string(gid))))
		},
		OnIncomingRPC: func(from peer.ID, states map[peer.ID]goPeerState, rpc *pubsubpb.PartialMessagesExtension) error {
			st := states[from]
			if md := rpc.GetPartsMetadata(); len(md) == 1 {
				st.recvd, st.known = md[0], true
			}
			m := a.group(string(rpc.GetGroupID()))
			if len(rpc.GetPartialMessage()) > 0 {
				if _, err := m.Extend(rpc.GetPartialMessage()); err != nil {
					return err
				}
			}
			states[from] = st
			// Answer outside the event loop, as the package requires.
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				_ = pubsub.PublishPartial(a.ps, topic, rpc.GetGroupID(), goActions(m))
			}()
			return nil
		},
	}
	return a
}

// A meshbus node and a go-libp2p-pubsub v0.19.0 node (its partialmessages
// package) over TCP on 127.0.0.1: they negotiate /meshsub/1.3.0 both ways,
// each opens its stream with the Extensions control message (once), and a
// partial-message group published on either side completes on the other.
func TestPartialMessagesInteropGoPubsub(t *testing.T) {
	const topic = "pm"
	clk := clock.NewMock()
	a := newNode(t, clk, WithPartialMessages(DefaultPartialConfig()))
	exts, err := eventbus.Subscribe[events.EvtPeerExtensionsReceived](a.bus, eventbus.BufSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer exts.Close()
	ta, err := a.r.Join(topic, WithPartial(PartialOptions{RequestsPartial: true, Logic: &bitLogic{n: 4}}))
	if err != nil {
		t.Fatal(err)
	}
	subA, err := ta.SubscribePartial(8)
	if err != nil {
		t.Fatal(err)
	}

	hb := testhost.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	app := newGoApp(topic)
	tr := newGoTracer()
	ps, err := pubsub.NewGossipSub(ctx, hb, pubsub.WithPartialMessagesExtension(app.ext), pubsub.WithRawTracer(tr))
	if err != nil {
		t.Fatal(err)
	}
	app.ps = ps
	tb, err := ps.Join(topic, pubsub.RequestPartialMessages())
	if err != nil {
		t.Fatal(err)
	}
	subB, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		subB.Cancel()
		_ = tb.Close()
		cancel()
		app.wg.Wait()
		_ = hb.Close()
	})

	testhost.Connect(t, a.h, hb)
	idA, idB := a.h.ID(), hb.ID()
	bustest.Eventually(t, 20*time.Second, "both meshes and extensions", func() bool {
		_, grafted, _, _ := tr.snapshot(idA)
		e, _ := a.r.PeerExtensions(idB)
		return grafted && e.PartialMessages && contains(a.r.Mesh(topic), idB)
	}, heartbeat(clk))

	// Negotiation, both directions.
	var inProto protocol.ID
	select {
	case ev := <-exts.Out():
		inProto = ev.Protocol
		if ev.Peer != idB || ev.Protocol != "/meshsub/1.3.0" || !ev.PartialMessages {
			t.Fatalf("meshbus saw %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EvtPeerExtensionsReceived")
	}
	proto, _, firstExt, _ := tr.snapshot(idA)
	if proto != "/meshsub/1.3.0" || !firstExt {
		t.Fatalf("go-libp2p-pubsub negotiated %q with meshbus, extensions in first RPC: %v", proto, firstExt)
	}
	// meshbus's own outbound stream, as the go node's host sees it.
	var ourProto protocol.ID
	for _, c := range hb.Network().ConnsToPeer(idA) {
		for _, s := range c.GetStreams() {
			if s.Stat().Direction == network.DirInbound && strings.HasPrefix(string(s.Protocol()), "/meshsub/") {
				ourProto = s.Protocol()
			}
		}
	}
	if ourProto != "/meshsub/1.3.0" || inProto != proto {
		t.Fatalf("meshbus's stream to go-libp2p-pubsub is %q; go's stream seen as %q and %q", ourProto, inProto, proto)
	}
	t.Logf("negotiated: go-libp2p-pubsub -> meshbus %s, meshbus -> go-libp2p-pubsub %s", proto, ourProto)

	// meshbus -> go-libp2p-pubsub.
	if err := ta.PublishPartial(context.Background(), []byte("from-meshbus"), fullBitParts(4, "m")); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 20*time.Second, "go node completes the meshbus group", func() bool {
		return app.group("from-meshbus").Complete()
	}, nil)
	if got := string(app.group("from-meshbus").Full()); got != "m-0m-1m-2m-3" {
		t.Fatalf("go node assembled %q", got)
	}

	// go-libp2p-pubsub -> meshbus.
	gm := app.group("from-go")
	for i := range 4 {
		_, _ = gm.Extend(encodeParts([][]byte{[]byte("g-0"), []byte("g-1"), []byte("g-2"), []byte("g-3")}, 1<<i))
	}
	if err := pubsub.PublishPartial(ps, topic, []byte("from-go"), goActions(gm)); err != nil {
		t.Fatal(err)
	}
	for {
		u := nextPartial(t, subA)
		if string(u.GroupID) != "from-go" || u.From != idB {
			t.Fatalf("update %+v", u)
		}
		if u.Complete {
			if got := string(u.Message.(*bitParts).Full()); got != "g-0g-1g-2g-3" {
				t.Fatalf("meshbus assembled %q", got)
			}
			break
		}
	}
	if _, _, _, n := tr.snapshot(idA); n != 1 {
		t.Fatalf("meshbus sent the Extensions control message %d times on its stream", n)
	}
	if got := metrictest.Sum(t, a.reg, "meshbus_router_partial_rejected_total"); got != 0 {
		t.Fatalf("%v partial RPCs from go-libp2p-pubsub rejected", got)
	}
}
