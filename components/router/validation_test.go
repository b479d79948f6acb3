package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/internal/metrictest"
)

func TestValidatorsRejectIgnoreAccept(t *testing.T) {
	clk := clock.NewMock()
	a, b, ta, tb := pair(t, clk, "v")
	err := b.r.RegisterValidator("v", func(_ context.Context, from peer.ID, m *Message) ValidationResult {
		if from != a.h.ID() && from != m.ReceivedFrom {
			t.Errorf("validator saw sender %s", from)
		}
		switch string(m.Data) {
		case "bad":
			return ValidationReject
		case "meh":
			return ValidationIgnore
		}
		return ValidationAccept
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.r.RegisterValidator("v", func(context.Context, peer.ID, *Message) ValidationResult { return ValidationAccept }); !errors.Is(err, ErrValidatorExists) {
		t.Fatalf("second validator: %v", err)
	}
	sb, _ := tb.Subscribe()
	ctx := context.Background()
	for _, d := range []string{"bad", "meh", "good"} {
		if err := ta.Publish(ctx, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if m := next(t, sb); string(m.Data) != "good" {
		t.Fatalf("b delivered %q, want only good", m.Data)
	}
	bustest.Eventually(t, 5*time.Second, "rejections counted", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_messages_rejected_total", "reason", "validation_failed") == 1 &&
			metrictest.Sum(t, b.reg, "meshbus_router_messages_rejected_total", "reason", "validation_ignored") == 1
	}, nil)

	// Local publishes go through the local validator.
	if err := tb.Publish(ctx, []byte("bad")); !errors.Is(err, ErrValidationRejected) {
		t.Fatalf("local reject: %v", err)
	}
	if err := tb.Publish(ctx, []byte("meh")); !errors.Is(err, ErrValidationIgnored) {
		t.Fatalf("local ignore: %v", err)
	}
}

func TestValidatorThrottle(t *testing.T) {
	clk := clock.NewMock()
	_, b, ta, tb := pair(t, clk, "slow")
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	err := b.r.RegisterValidator("slow", func(ctx context.Context, _ peer.ID, m *Message) ValidationResult {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return ValidationIgnore
		}
		return ValidationAccept
	}, ValidatorConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := tb.Subscribe()
	ctx := context.Background()
	if err := ta.Publish(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	<-started // the only validation slot is taken
	if err := ta.Publish(ctx, []byte("second")); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 5*time.Second, "throttled message counted", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_messages_rejected_total", "reason", "validation_throttled") == 1
	}, nil)
	close(release)
	if m := next(t, sb); string(m.Data) != "first" {
		t.Fatalf("got %q, want first", m.Data)
	}
	// Inline validators run on the driver and are never throttled.
	b.r.UnregisterValidator("slow")
	if err := b.r.RegisterValidator("slow", func(context.Context, peer.ID, *Message) ValidationResult { return ValidationAccept }, ValidatorInline()); err != nil {
		t.Fatal(err)
	}
	if err := ta.Publish(ctx, []byte("third")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sb); string(m.Data) != "third" {
		t.Fatalf("got %q, want third", m.Data)
	}
}

func TestValidatorPanicIsIgnore(t *testing.T) {
	clk := clock.NewMock()
	_, b, ta, _ := pair(t, clk, "p")
	if err := b.r.RegisterValidator("p", func(context.Context, peer.ID, *Message) ValidationResult { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	if err := ta.Publish(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 5*time.Second, "panic counted as ignore", func() bool {
		return metrictest.Sum(t, b.reg, "meshbus_router_messages_rejected_total", "reason", "validation_ignored") == 1
	}, nil)
}
