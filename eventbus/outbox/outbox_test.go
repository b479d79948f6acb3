package outbox_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/outbox"
)

type evtA struct{ N int }
type evtB struct{ S string }

type output struct {
	outbox.Outbox
	A outbox.Lane[evtA]
	B outbox.Lane[evtB]
}

func newOutput() *output {
	o := &output{}
	outbox.Init(o)
	return o
}

// TestEmitKeepsDecisionOrderAcrossLanes: one subscriber of both types sees
// the events in the order they were added, and the Outbox is empty after.
func TestEmitKeepsDecisionOrderAcrossLanes(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	out := newOutput()
	em, err := outbox.NewEmitters(bus, out)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := bus.Subscribe([]any{new(evtA), new(evtB)}, eventbus.BufSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	out.A.Add(evtA{1})
	out.B.Add(evtB{"x"})
	out.A.Add(evtA{2})
	out.B.Add(evtB{"y"})
	if out.Len() != 4 || out.A.Len() != 2 || out.B.Items()[1].S != "y" {
		t.Fatalf("lanes: %d events, A %d, B %v", out.Len(), out.A.Len(), out.B.Items())
	}
	var boxed []string
	out.ForEach(func(ev any) { boxed = append(boxed, fmt.Sprint(ev)) })
	em.Emit(&out.Outbox, func(err error) { t.Fatal(err) })
	if out.Len() != 0 || out.A.Len() != 0 || out.B.Len() != 0 {
		t.Fatal("Emit did not reset the Outbox")
	}
	var got []string
	for range 4 {
		got = append(got, fmt.Sprint(<-sub.Out()))
	}
	want := "[{1} {x} {2} {y}]"
	if fmt.Sprint(got) != want || fmt.Sprint(boxed) != want {
		t.Fatalf("emitted %v, ForEach %v, want %s", got, boxed, want)
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	out.A.Add(evtA{3})
	var errs []error
	em.Emit(&out.Outbox, func(err error) { errs = append(errs, err) })
	if len(errs) != 1 || !errors.Is(errs[0], outbox.ErrClosed) || out.Len() != 0 {
		t.Fatalf("Emit after Close: %v", errs)
	}
}

func TestMisuse(t *testing.T) {
	bus := eventbus.New()
	defer bus.Close()
	if _, err := outbox.NewEmitters(bus, &output{}); !errors.Is(err, outbox.ErrNotInitialized) {
		t.Fatalf("NewEmitters on an uninitialised output: %v", err)
	}
	mustPanic(t, "Add before Init", func() { (&output{}).A.Add(evtA{}) })
	mustPanic(t, "Init of a non-pointer", func() { outbox.Init(output{}) })
	mustPanic(t, "Init without an Outbox", func() { outbox.Init(&struct{ A outbox.Lane[evtA] }{}) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

// BenchmarkAddEmit: two events through an Outbox to one subscriber each; no
// allocation per event once the lanes are warm.
func BenchmarkAddEmit(b *testing.B) {
	bus := eventbus.New()
	defer bus.Close()
	out := newOutput()
	em, err := outbox.NewEmitters(bus, out)
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	b.ReportAllocs()
	for b.Loop() {
		out.A.Add(evtA{1})
		out.B.Add(evtB{"x"})
		em.Emit(&out.Outbox, nil)
	}
}
