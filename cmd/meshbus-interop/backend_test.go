package main

import (
	"context"
	"errors"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/interop/testplans/script"
	"github.com/meshbus/meshbus/interop/testplans/script/scripttest"
)

// testImpl is the node on loopback, port 0, instead of the plans' port
// 9000, for the duration of the test.
func testImpl(t *testing.T) scripttest.Impl {
	scripttest.SetListenAddr(t, &listenAddr, scripttest.Loopback)
	return scripttest.Impl{
		New:   newNode,
		Addrs: func(b script.NodeBackend) []ma.Multiaddr { return b.(*backend).node.Host().Addrs() },
	}
}

// The checks every test-plan node must pass (scripttest.Suite).
func TestSuite(t *testing.T) { scripttest.Suite(t, testImpl(t)) }

// meshbus's own errors, beyond scripttest.CheckErrors: publishPartial
// on a topic joined without partial messages, and the router's publish
// errors a script can reach (the empty topic, a message over the RPC size
// limit; a message id published twice is none: scripttest.CheckRepeatedPublish).
func TestScriptErrors(t *testing.T) {
	n := scripttest.Start(t, testImpl(t), 2, 0)
	b := n.B.(*backend)
	ctx, cancel := context.WithTimeout(context.Background(), scripttest.Timeout)
	defer cancel()
	if err := b.Subscribe(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPartialMessage("plain", 1, 0xFF); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishPartial(ctx, "plain", 1, nil); !errors.Is(err, router.ErrPartialDisabled) {
		t.Fatalf("publishPartial on a topic joined without partial messages: %v, want ErrPartialDisabled", err)
	}
	// A topic not joined is joined (and subscribed) by publishPartial, even
	// when the group then turns out unknown.
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
	for _, c := range []struct {
		name  string
		topic string
		data  []byte
		want  error
	}{
		{"empty topic", "", script.MessageData(9, 64), router.ErrInvalidTopic},
		{"over maxRPCSize", "plain", script.MessageData(10, maxRPCSize+1), router.ErrMessageTooLarge},
	} {
		if err := b.Publish(ctx, c.topic, c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
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
