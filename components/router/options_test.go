package router

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/testhost"
)

// TestNilOptionsMeanDefaults: WithLogger(nil), WithClock(nil) and
// WithRegisterer(nil) select the defaults rather than failing or panicking.
func TestNilOptionsMeanDefaults(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	r, err := New(h, bus, WithLogger(nil), WithClock(nil), WithRegisterer(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.log == nil || r.clk == nil || r.m == nil {
		t.Fatal("a nil option left its dependency unset")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsValidated(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	bad := DefaultGossipConfig()
	bad.Dlo = 100
	cases := []struct {
		opt   Option
		field string
	}{
		{WithGossipConfig(bad), "GossipConfig"},
		{WithSignPolicy(wire.SignPolicy(9)), "SignPolicy"},
		{WithSignPolicy(wire.StrictNoSign), "MessageID"},
		{WithMessageID(nil), "MessageID"},
		{WithMessageIDPrefix(-1), "MessageIDPrefix"},
		{WithMessageIDPrefix(8), "MessageIDPrefix"}, // without WithMessageID
		{WithMaxRPCSize(10), "MaxRPCSize"},
		{WithPeerQueues(0, 1), "PeerQueue"},
		{WithSubscriptionBuffer(0), "SubscriptionBuffer"},
		{WithValidationConcurrency(0), "ValidationConcurrency"},
		{WithValidationTimeout(0), "ValidationTimeout"},
		{WithScoreThresholds(events.ScoreThresholds{AcceptPX: -1}), "ScoreThresholds.AcceptPX"},
		{WithStageTracer(nil), "StageTracer"},
	}
	for _, c := range cases {
		_, err := New(h, bus, WithClock(clock.NewMock()), c.opt)
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: got %v", c.field, err)
		}
	}
	if _, err := New(nil, bus, WithClock(clock.NewMock())); !errors.Is(err, ErrBadOption) {
		t.Errorf("nil host: %v", err)
	}
	r, err := New(h, bus, WithClock(clock.NewMock()), WithSignPolicy(wire.StrictNoSign), WithMessageID(wire.ContentMsgID))
	if err != nil {
		t.Fatalf("StrictNoSign with a content id: %v", err)
	}
	if _, err := r.Join("x"); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("join before start: %v", err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second start: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
}

// TestScoreThresholdsInForceFromNew: WithScoreThresholds puts the
// scorer's thresholds in force from New, whichever of it and
// WithGossipConfig comes last.
func TestScoreThresholdsInForceFromNew(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	th := events.ScoreThresholds{Gossip: -10, Publish: -50, Graylist: -80, AcceptPX: 100, OpportunisticGraft: 3}
	for _, opts := range [][]Option{
		{WithScoreThresholds(th), WithGossipConfig(DefaultGossipConfig())},
		{WithGossipConfig(DefaultGossipConfig()), WithScoreThresholds(th)},
	} {
		r, err := New(h, bus, append(opts, WithClock(clock.NewMock()))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.aut.Thresholds(); got != th {
			t.Errorf("thresholds in force after New = %+v, want %+v", got, th)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Under StrictNoSign messages carry no author, and a content-based id works
// end to end.
func TestStrictNoSign(t *testing.T) {
	clk := clock.NewMock()
	_, _, ta, tb := pair(t, clk, "anon", WithSignPolicy(wire.StrictNoSign), WithMessageID(wire.ContentMsgID))
	sb, _ := tb.Subscribe()
	if err := ta.Publish(context.Background(), []byte("anonymous")); err != nil {
		t.Fatal(err)
	}
	m := next(t, sb)
	if string(m.Data) != "anonymous" || m.From != "" || m.Seqno != nil || m.Raw.Signature != nil {
		t.Fatalf("got %+v", m)
	}
}

func TestFxModule(t *testing.T) {
	h := testhost.New(t)
	reg := prometheus.NewRegistry()
	var r *Router
	app := fxtest.New(t,
		fx.Supply(fx.Annotate(h, fx.As(new(host.Host)))),
		fx.Provide(func() *eventbus.Bus { return eventbus.New() }),
		fx.Supply(fx.Annotate(clock.NewMock(), fx.As(new(clock.Clock)))),
		fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Registerer)))),
		Module,
		Options(WithMaxRPCSize(1<<16), WithValidationTimeout(time.Second)),
		fx.Populate(&r),
	)
	app.RequireStart()
	if r.cfg.maxRPCSize != 1<<16 {
		t.Fatalf("option from the group not applied: %d", r.cfg.maxRPCSize)
	}
	if _, err := r.Join("fx"); err != nil {
		t.Fatal(err)
	}
	if mfs, _ := reg.Gather(); len(mfs) == 0 {
		t.Fatal("no metrics on the supplied registerer")
	}
	app.RequireStop()
	if _, err := r.Join("after"); !errors.Is(err, ErrClosed) {
		t.Fatalf("join after stop: %v", err)
	}
}
