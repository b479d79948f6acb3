package host

import (
	"context"
	"log/slog"
	"strings"
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
	type named struct{ _ int }
	type grouped struct{ _ int }
	type outA struct{ _ int }
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

// annotatedIface is what an fx.As annotation provides in
// TestComponentForcesAnnotatedConstructors.
type annotatedIface interface{ annotated() }

type annotatedImpl struct{ _ int }

func (*annotatedImpl) annotated() {}

// TestComponentForcesAnnotatedConstructors: constructors wrapped in
// fx.Annotate (named and grouped results, fx.As, an fx.OnStart hook) are
// constructed like plain ones, although nothing asks for their values, and
// the hook an annotation adds runs.
func TestComponentForcesAnnotatedConstructors(t *testing.T) {
	type named struct{ _ int }
	type grouped struct{ _ int }
	type hooked struct{ _ int }
	ran := map[string]bool{}
	newNode(t, WithComponent("annotated",
		fx.Provide(fx.Annotate(func() *named { ran["named"] = true; return &named{} }, fx.ResultTags(`name:"n"`))),
		fx.Provide(fx.Annotate(func() (*grouped, error) { ran["grouped"] = true; return &grouped{}, nil }, fx.ResultTags(`group:"g"`))),
		fx.Options(fx.Provide(fx.Annotate(func() *annotatedImpl { ran["as"] = true; return &annotatedImpl{} }, fx.As(new(annotatedIface))))),
		fx.Provide(fx.Annotate(func() *hooked { ran["hooked"] = true; return &hooked{} },
			fx.OnStart(func(context.Context, *hooked) error { ran["hook"] = true; return nil }))),
	))
	for _, k := range []string{"named", "grouped", "as", "hooked", "hook"} {
		if !ran[k] {
			t.Errorf("%q never ran", k)
		}
	}
}

// TestComponentBadAnnotation: an fx.Annotate that fx cannot build (an
// fx.As naming an interface the result does not implement) fails New with
// fx's error; the forcing of constructors leaves it to fx.
func TestComponentBadAnnotation(t *testing.T) {
	type v struct{ _ int }
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	n, err := New(ctx, WithComponent("bad",
		fx.Provide(fx.Annotate(func() *v { return &v{} }, fx.As(new(annotatedIface)))),
	))
	if err == nil {
		_ = n.Close()
		t.Fatal("New accepted an annotation fx cannot build")
	}
	if !strings.Contains(err.Error(), "fx.As") {
		t.Fatalf("New: %v, want fx's error about the fx.As", err)
	}
}
