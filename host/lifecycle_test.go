package host

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// lifecycleCollector subscribes, before start, to the lifecycle events with
// an unbuffered Block subscription read by its own goroutine: every event is
// in hand before the emitter moves on, so none can be lost when the bus
// closes.
func lifecycleCollector(c **collector) Option {
	return WithFx(fx.Invoke(func(bus *eventbus.Bus) error {
		sub, err := bus.Subscribe([]any{new(events.EvtComponentStarted), new(events.EvtComponentStopped)},
			eventbus.BufSize(0), eventbus.WithPolicy(eventbus.Block))
		if err != nil {
			return err
		}
		*c = collect(sub)
		return nil
	}))
}

// names renders lifecycle events as "+name" (started) and "-name" (stopped).
func names(evs []any) []string {
	var s []string
	for _, e := range evs {
		switch e := e.(type) {
		case events.EvtComponentStarted:
			s = append(s, "+"+e.Name)
		case events.EvtComponentStopped:
			if e.Err != "" {
				s = append(s, "-"+e.Name+"!"+e.Err)
			} else {
				s = append(s, "-"+e.Name)
			}
		}
	}
	return s
}

// plus renders component names as started events.
func plus(names []string) []string {
	var s []string
	for _, n := range names {
		s = append(s, "+"+n)
	}
	return s
}

// minusReversed renders component names as stopped events, in stop order.
func minusReversed(names []string) []string {
	var s []string
	for i := len(names) - 1; i >= 0; i-- {
		s = append(s, "-"+names[i])
	}
	return s
}

// hook returns a component body whose one hook records its own start and
// stop in log, to check that the events bracket the hooks.
func hook(log *[]string, name string, stopErr error) fx.Option {
	return fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error { *log = append(*log, "start "+name); return nil },
			OnStop:  func(context.Context) error { *log = append(*log, "stop "+name); return stopErr },
		})
	})
}

func TestLifecycleEventsInOrder(t *testing.T) {
	var c *collector
	var hooks []string
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	n, err := New(context.Background(), WithClock(clk), lifecycleCollector(&c),
		WithComponent("first", hook(&hooks, "first", nil)),
		WithComponent("second", hook(&hooks, "second-a", nil), hook(&hooks, "second-b", nil)),
		WithComponent("hookless", fx.Provide(func() int { return 1 })),
		WithComponent("failing-stop", hook(&hooks, "failing-stop", errors.New("disk on fire"))),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := append(plus(BuiltinNames()), "+first", "+second", "+hookless", "+failing-stop")
	started := names(c.atLeast(t, len(want)))
	if !reflect.DeepEqual(started, want) {
		t.Fatalf("started events %v, want %v", started, want)
	}
	for _, e := range c.events() {
		if at := e.(events.EvtComponentStarted).At; !at.Equal(clk.Now()) {
			t.Fatalf("event time %v, want the mock clock's %v", at, clk.Now())
		}
	}
	if err := n.Close(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Close: %v, want the stop hook's error", err)
	}
	<-c.done
	got := names(c.events())
	want = append(want, "-failing-stop!disk on fire", "-hookless", "-second", "-first")
	want = append(want, minusReversed(BuiltinNames())...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lifecycle events\n got %v\nwant %v", got, want)
	}
	wantHooks := []string{"start first", "start second-a", "start second-b", "start failing-stop",
		"stop failing-stop", "stop second-b", "stop second-a", "stop first"}
	if !reflect.DeepEqual(hooks, wantHooks) {
		t.Fatalf("hooks ran %v, want %v", hooks, wantHooks)
	}
}

// TestLifecycleStartFailure: a component whose start fails gets neither
// event, the ones started before it are stopped (with their events), and
// New returns the cause.
func TestLifecycleStartFailure(t *testing.T) {
	var c *collector
	var hooks []string
	_, err := New(context.Background(), lifecycleCollector(&c),
		WithComponent("ok", hook(&hooks, "ok", nil)),
		WithComponent("broken", fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.StartHook(func() error { return errors.New("no disk") }))
		})),
		WithComponent("never", hook(&hooks, "never", nil)),
	)
	if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "no disk") {
		t.Fatalf("New: %v", err)
	}
	<-c.done // the bus closed
	got := names(c.events())
	want := append(plus(BuiltinNames()), "+ok", "-ok")
	want = append(want, minusReversed(BuiltinNames())...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lifecycle events %v, want %v", got, want)
	}
	if !reflect.DeepEqual(hooks, []string{"start ok", "stop ok"}) {
		t.Fatalf("hooks ran %v", hooks)
	}
}

// TestComponentOutsideNode: Component is a plain fx.Module in an fx
// application that New did not build.
func TestComponentOutsideNode(t *testing.T) {
	var hooks []string
	app := fx.New(fx.NopLogger, Component("plain", hook(&hooks, "plain", nil)))
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(hooks) != "[start plain stop plain]" {
		t.Fatalf("hooks %v", hooks)
	}
}

func TestWithoutAndReplaceComponent(t *testing.T) {
	n := newNode(t, WithoutComponent(ComponentConnTrack))
	if st := eventbus.StatOf[events.EvtConnOpened](n.Bus()); st.Emitters != 0 {
		t.Fatalf("conntrack left out but EvtConnOpened has %d emitters", st.Emitters)
	}

	var c *collector
	var hooks []string
	n2 := newNode(t, lifecycleCollector(&c), ReplaceComponent(ComponentConnTrack, hook(&hooks, "replacement", nil)))
	if st := eventbus.StatOf[events.EvtConnOpened](n2.Bus()); st.Emitters != 0 {
		t.Fatalf("conntrack replaced but EvtConnOpened has %d emitters", st.Emitters)
	}
	want := plus(BuiltinNames())
	if got := names(c.atLeast(t, len(want))); !reflect.DeepEqual(got, want) || fmt.Sprint(hooks) != "[start replacement]" {
		t.Fatalf("replacement: events %v, hooks %v", got, hooks)
	}
}

func TestUnknownComponentNames(t *testing.T) {
	if _, err := New(context.Background(), WithoutComponent("nope")); !errors.Is(err, ErrUnknownComponent) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("WithoutComponent(nope): %v", err)
	}
	if _, err := New(context.Background(), ReplaceComponent("nope", fx.Options())); !errors.Is(err, ErrUnknownComponent) {
		t.Fatalf("ReplaceComponent(nope): %v", err)
	}
	if _, err := New(context.Background(), WithoutComponent(ComponentRouter), ReplaceComponent(ComponentRouter, fx.Options())); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("removed and replaced: %v", err)
	}
}

type lazyThing struct{}

// TestComponentWrapsNestedAndLazyHooks: hooks appended by a module nested in
// a component, and by a component's constructor first called from another
// component, are both bracketed by their component's events (the stop
// errors show up under the right name).
func TestComponentWrapsNestedAndLazyHooks(t *testing.T) {
	var c *collector
	stopFails := func(msg string) func(fx.Lifecycle) *lazyThing {
		return func(lc fx.Lifecycle) *lazyThing {
			lc.Append(fx.StopHook(func() error { return errors.New(msg) }))
			return &lazyThing{}
		}
	}
	n, err := New(context.Background(), lifecycleCollector(&c),
		WithComponent("outer", fx.Module("inner", fx.Provide(stopFails("inner stop"))), fx.Invoke(func(*lazyThing) {})),
	)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	<-c.done
	if got := names(c.events()); !slices.Contains(got, "-outer!inner stop") {
		t.Fatalf("nested hook not bracketed: %v", got)
	}

	c = nil
	n, err = New(context.Background(), lifecycleCollector(&c),
		WithComponent("lazy", fx.Provide(stopFails("lazy stop"))),
		WithComponent("user", fx.Invoke(func(*lazyThing) {})),
	)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	<-c.done
	got := names(c.events())
	if !slices.Contains(got, "-lazy!lazy stop") || !slices.Contains(got, "-user") {
		t.Fatalf("lazily built hook not bracketed under its component: %v", got)
	}
}
