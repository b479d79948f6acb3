package host

import (
	"context"
	"log/slog"
	"testing"

	"github.com/benbjohnson/clock"
	corehost "github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// evtUptimeStarted is emitted by the README add-on's start hook.
type evtUptimeStarted struct{}

// Uptime is the add-on of the README: nothing in the node asks for it.
type Uptime struct {
	em *eventbus.Emitter[evtUptimeStarted]
}

// NewUptime has the README's signature.
func NewUptime(lc fx.Lifecycle, bus *eventbus.Bus, h corehost.Host, clk clock.Clock,
	reg prometheus.Registerer, log *slog.Logger, nodeCtx context.Context) (*Uptime, error) {
	em, err := eventbus.NewEmitter[evtUptimeStarted](bus)
	if err != nil {
		return nil, err
	}
	u := &Uptime{em: em}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { return u.em.Emit(evtUptimeStarted{}) },
		OnStop:  func(context.Context) error { return u.em.Close() },
	})
	return u, nil
}

// TestReadmeAddonRuns builds the add-on exactly as the README shows,
// host.WithComponent("uptime", fx.Provide(NewUptime)), and asserts that
// NewUptime ran, that its start hook ran, and that EvtComponentStarted
// for "uptime" came after that hook (one recorder sees both in emission
// order).
func TestReadmeAddonRuns(t *testing.T) {
	var rec *recorder
	n := newNode(t,
		// Subscribed before the add-on starts: an fx.Invoke placed first.
		WithFx(fx.Invoke(func(b *eventbus.Bus) { rec = record(t, b, new(evtUptimeStarted), new(events.EvtComponentStarted)) })),
		WithComponent("uptime", fx.Provide(NewUptime)),
	)
	_ = n
	seq := rec.until(func(e any) bool {
		s, ok := e.(events.EvtComponentStarted)
		return ok && s.Name == "uptime"
	})
	if len(seq) < 2 {
		t.Fatalf("EvtComponentStarted{uptime} came first: %v", seq)
	}
	if _, ok := seq[len(seq)-2].(evtUptimeStarted); !ok {
		t.Fatalf("the add-on's start hook did not run before EvtComponentStarted{uptime}: %v", seq)
	}
}

// TestComponentForcesEveryProvidedValue: fx.Out results, named values and
// group members in a component are all constructed.
func TestComponentForcesEveryProvidedValue(t *testing.T) {
	type named struct{ v int }
	type grouped struct{ v int }
	type outA struct{ v int }
	type outs struct {
		fx.Out
		A *outA
		G *grouped `group:"g"`
	}
	ran := map[string]bool{}
	newNode(t, WithComponent("many",
		fx.Provide(func() outs { ran["out"] = true; return outs{A: &outA{}, G: &grouped{}} }),
		fx.Options(fx.Provide(fx.Annotated{Name: "n", Target: func() *named { ran["named"] = true; return &named{} }})),
		fx.Provide(func() (*grouped, error) { ran["plain"] = true; return &grouped{}, nil }),
	))
	for _, k := range []string{"out", "named", "plain"} {
		if !ran[k] {
			t.Errorf("constructor %q never ran", k)
		}
	}
}
