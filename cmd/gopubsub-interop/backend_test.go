package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/interop/testplans/script"
	"github.com/meshbus/meshbus/interop/testplans/script/scripttest"
)

// testImpl is the node on loopback, port 0, instead of the plans' port
// 9000, for the duration of the test.
func testImpl(t *testing.T) scripttest.Impl {
	setListenAddr(t, "/ip4/127.0.0.1/tcp/0")
	return scripttest.Impl{
		New:   newNode,
		Addrs: func(b script.NodeBackend) []ma.Multiaddr { return b.(*backend).h.Addrs() },
	}
}

func setListenAddr(t *testing.T, a string) {
	old := listenAddr
	listenAddr = a
	t.Cleanup(func() { listenAddr = old })
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestPublishBasic(t *testing.T) { scripttest.CheckPublish(t, testImpl(t), 0, 1024) }

// The blob scenario: 96 KiB messages and a 5 ms validation delay.
func TestPublishBlob(t *testing.T) {
	scripttest.CheckPublish(t, testImpl(t), 5*time.Millisecond, 2*1024*48)
}

func TestPartialExchange(t *testing.T) { scripttest.CheckPartial(t, testImpl(t)) }

// The errors a script can cause on a running node, and what
// go-libp2p-pubsub takes without one.
func TestScriptErrors(t *testing.T) {
	n := scripttest.Start(t, testImpl(t), 2, 0)
	b := n.B.(*backend)
	ctx, cancel := context.WithTimeout(context.Background(), scripttest.Timeout)
	defer cancel()

	if err := b.Subscribe(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	if err := b.SubscribePartial(ctx, "plain"); err == nil {
		t.Fatal("subscribePartial on a topic joined without partial messages: no error")
	}
	if err := b.PublishPartial(ctx, "parts", 2, nil); err == nil {
		t.Fatal("publishPartial of an unknown group: no error")
	}
	// Not errors here (meshbus-interop refuses the duplicate): a second
	// subscription, a repeated message id (dropped as seen), a topic not
	// subscribed (fanout).
	if err := b.Subscribe(ctx, "plain"); err != nil {
		t.Fatalf("second subscribe: %v", err)
	}
	data := script.MessageData(7, 64)
	for range 2 {
		if err := b.Publish(ctx, "plain", data); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	if err := b.Publish(ctx, "elsewhere", script.MessageData(8, 64)); err != nil {
		t.Fatalf("publish to a topic not subscribed: %v", err)
	}
	if n.Count(t, scripttest.ReceivedAny(7)) != 0 {
		t.Fatal("a local publish was recorded as received")
	}
}

// A dial that reaches a node other than the one named fails (the
// security handshake checks the peer id) instead of connecting.
func TestConnectWrongPeer(t *testing.T) {
	impl := testImpl(t)
	a, b := scripttest.Start(t, impl, 2, 0), scripttest.Start(t, impl, 2, 1)
	ctx, cancel := context.WithTimeout(context.Background(), scripttest.Timeout)
	defer cancel()
	ai := peer.AddrInfo{ID: script.PeerIDOf(2), Addrs: b.AddrInfo().Addrs}
	if err := a.B.Connect(ctx, ai); err == nil {
		t.Fatal("connected to node1 as node2")
	}
	a.Connect(t, b) // the backoff of the failed dial is no obstacle
}

// A script that fails before initGossipSub still closes its node
// (script.Main does): the host goes, nothing is left running.
func TestCloseWithoutInit(t *testing.T) {
	setListenAddr(t, "/ip4/127.0.0.1/tcp/0")
	b, err := newNode(0, nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
