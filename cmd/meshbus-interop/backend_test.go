package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/interop/testplans/script"
	"github.com/meshbus/meshbus/interop/testplans/script/scripttest"
)

// testImpl is the node on loopback, port 0, instead of the plans' port
// 9000, for the duration of the test.
func testImpl(t *testing.T) scripttest.Impl {
	setListenAddr(t, "/ip4/127.0.0.1/tcp/0")
	return scripttest.Impl{
		New:   newNode,
		Addrs: func(b script.NodeBackend) []ma.Multiaddr { return b.(*backend).node.Host().Addrs() },
	}
}

func setListenAddr(t *testing.T, a string) {
	old := listenAddr
	listenAddr = a
	t.Cleanup(func() { listenAddr = old })
}

func TestPublishBasic(t *testing.T) { scripttest.CheckPublish(t, testImpl(t), 0, 1024) }

// The blob scenario: 96 KiB messages (large-message handling, PREAMBLE)
// and a 5 ms validation delay (the validator off the router's loop).
func TestPublishBlob(t *testing.T) {
	scripttest.CheckPublish(t, testImpl(t), 5*time.Millisecond, 2*1024*48)
}

func TestPartialExchange(t *testing.T) { scripttest.CheckPartial(t, testImpl(t)) }

// The errors a script can cause on a running node.
func TestScriptErrors(t *testing.T) {
	n := scripttest.Start(t, testImpl(t), 2, 0)
	b := n.B.(*backend)
	ctx, cancel := context.WithTimeout(context.Background(), scripttest.Timeout)
	defer cancel()

	if err := b.Subscribe(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "plain"); err != nil {
		t.Fatalf("second subscribe to a topic: %v, want nil (no-op)", err)
	}
	if err := b.SubscribePartial(ctx, "plain"); err == nil {
		t.Fatal("subscribePartial on a topic joined without partial messages: no error")
	}
	if err := b.AddPartialMessage("plain", 1, 0xFF); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishPartial(ctx, "plain", 1, nil); !errors.Is(err, router.ErrPartialDisabled) {
		t.Fatalf("publishPartial on a topic joined without partial messages: %v, want ErrPartialDisabled", err)
	}
	// A group no addPartialMessage created: an error, after joining the
	// (unjoined) topic offering partial messages.
	if err := b.PublishPartial(ctx, "parts", 2, nil); err == nil {
		t.Fatal("publishPartial of an unknown group: no error")
	}
	if _, ok := b.topics["parts"]; !ok {
		t.Fatal("publishPartial did not join its topic")
	}

	data := script.MessageData(7, 64)
	if err := b.Publish(ctx, "plain", data); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "plain", data); !errors.Is(err, router.ErrDuplicate) {
		t.Fatalf("publishing message id 7 twice: %v, want ErrDuplicate", err)
	}
	// A topic not subscribed: a fanout publish, not an error (without
	// peers the message goes nowhere).
	if err := b.Publish(ctx, "elsewhere", script.MessageData(8, 64)); err != nil {
		t.Fatalf("publish to a topic not subscribed: %v", err)
	}
	if err := b.Publish(ctx, "", script.MessageData(9, 64)); !errors.Is(err, router.ErrInvalidTopic) {
		t.Fatalf("publish to topic \"\": %v, want ErrInvalidTopic", err)
	}
	if err := b.Publish(ctx, "plain", script.MessageData(10, maxRPCSize+1)); !errors.Is(err, router.ErrMessageTooLarge) {
		t.Fatalf("publishing more than maxRPCSize: %v, want ErrMessageTooLarge", err)
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
// (script.Main does); nothing was started.
func TestCloseWithoutInit(t *testing.T) {
	b, err := newNode(0, nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A group id that is not the plans' 8 bytes is refused; parts metadata
// that is not one byte is refused; no metadata from a peer yet: nothing
// to send.
func TestPartialLogic(t *testing.T) {
	b := newBackend(0, nil, discardLog())
	l := partialLogic{b}
	for _, gid := range [][]byte{nil, {1, 2, 3}, make([]byte, 9)} {
		if _, err := l.NewGroup("t", gid); err == nil {
			t.Errorf("group id %x: no error", gid)
		}
	}
	m, err := l.NewGroup("t", script.GroupIDBytes(5))
	if err != nil {
		t.Fatal(err)
	}
	if parts, meta, err := m.PartsFor(nil); parts != nil || meta != nil || err != nil {
		t.Fatalf("PartsFor(nil) = %x %x %v", parts, meta, err)
	}
	if _, _, err := m.PartsFor([]byte{1, 2}); !errors.Is(err, script.ErrBadPartial) {
		t.Fatalf("PartsFor(2 bytes): %v, want ErrBadPartial", err)
	}
	if got := m.PartsMetadata(); len(got) != 1 || got[0] != 0 {
		t.Fatalf("metadata of an empty group %x", got)
	}
	if m.Complete() {
		t.Fatal("empty group complete")
	}
}
