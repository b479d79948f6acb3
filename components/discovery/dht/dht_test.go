package dht

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"

	"github.com/meshbus/meshbus/eventbus"
)

// TestOptionsAndLifecycle: invalid options are ErrBadOption; Close is
// idempotent and works before Start; Start after Close is ErrClosed; a
// started DHT stops cleanly.
func TestOptionsAndLifecycle(t *testing.T) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bus := eventbus.New()
	defer bus.Close()
	for name, opt := range map[string]Option{
		"interval": WithInterval(0), "timeout": WithRoundTimeout(-time.Second), "topic": WithTopics(""),
	} {
		if _, err := New(h, bus, opt); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: %v, want ErrBadOption", name, err)
		}
	}
	if _, err := New(nil, bus); !errors.Is(err, ErrBadOption) {
		t.Errorf("nil host: %v", err)
	}
	d, err := New(h, bus, WithTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := d.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	d2, err := New(h, bus, WithTopics("t"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d2.Routing() == nil {
		t.Fatal("no DHT after Start")
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	if Namespace("x") != "meshbus/topic/x" {
		t.Fatalf("namespace %q", Namespace("x"))
	}
}
