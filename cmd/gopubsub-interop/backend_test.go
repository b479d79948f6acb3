package main

import (
	"context"
	"log/slog"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/interop/testplans/script"
	"github.com/meshbus/meshbus/interop/testplans/script/scripttest"
)

// testImpl is the node on loopback, port 0, instead of the plans' port
// 9000, for the duration of the test.
func testImpl(t *testing.T) scripttest.Impl {
	scripttest.SetListenAddr(t, &listenAddr, scripttest.Loopback)
	return scripttest.Impl{
		New:   newNode,
		Addrs: func(b script.NodeBackend) []ma.Multiaddr { return b.(*backend).h.Addrs() },
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The checks every test-plan node must pass (scripttest.Suite).
func TestSuite(t *testing.T) { scripttest.Suite(t, testImpl(t)) }

// What go-libp2p-pubsub takes without an error where meshbus-interop
// refuses: a topic joined without partial messages, where publishPartial
// reaches no peer. (A message id published twice is no error in either:
// scripttest.CheckRepeatedPublish.)
func TestNotErrors(t *testing.T) {
	a, _ := scripttest.Pair(t, testImpl(t), func(n *scripttest.Node) {
		if err := n.B.Subscribe(context.Background(), scripttest.Topic); err != nil {
			t.Fatal(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), scripttest.Timeout)
	defer cancel()
	pb := a.B.(*backend)
	if err := pb.AddPartialMessage(scripttest.Topic, 1, 0xFF); err != nil {
		t.Fatal(err)
	}
	if err := pb.PublishPartial(ctx, scripttest.Topic, 1, nil); err != nil {
		t.Fatalf("publishPartial on a topic joined without partial messages: %v", err)
	}
}

// A script that fails before initGossipSub still closes its node
// (script.Main does): the host goes, nothing is left running.
func TestCloseWithoutInit(t *testing.T) {
	scripttest.SetListenAddr(t, &listenAddr, scripttest.Loopback)
	b, err := newNode(0, nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
