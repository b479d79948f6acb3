package scoring

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

func TestModuleWithSuppliedParams(t *testing.T) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	defer bus.Close()
	clk := clock.NewMock()
	p := penaltyParams(0.5)

	snaps, err := eventbus.Subscribe[events.EvtPeerScoresUpdated](bus, eventbus.BufSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer snaps.Close()

	var c *Scorer
	app := fxtest.New(t,
		fx.Supply(bus, quietLogger()),
		Options(WithParams(p)),
		fx.NopLogger,
		fx.Provide(func() clock.Clock { return clk }),
		Module,
		fx.Populate(&c),
	)
	app.RequireStart()
	if c.Thresholds() != p.Thresholds {
		t.Fatalf("thresholds %+v, want the supplied %+v", c.Thresholds(), p.Thresholds)
	}
	em, err := eventbus.NewEmitter[events.EvtPeerPenalized](bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	em.Emit(events.EvtPeerPenalized{Peer: pA, Count: 4, At: clk.Now()})
	// -16 crosses the gossip threshold: a snapshot follows at once.
	select {
	case snap := <-snaps.Out():
		if s, _ := scoreOf(snap, "A"); s != -16 {
			t.Fatalf("snapshot %+v", snap)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no snapshot")
	}
	app.RequireStop()
	if err := c.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatal("the stop hook did not close the component")
	}
}

func TestModuleDefaults(t *testing.T) {
	bus := eventbus.New(eventbus.WithLogger(quietLogger()))
	defer bus.Close()
	var c *Scorer
	app := fxtest.New(t, fx.Supply(bus), fx.NopLogger, Module, fx.Populate(&c))
	app.RequireStart()
	if c.Thresholds() != DefaultThresholds() {
		t.Fatalf("thresholds %+v, want the defaults", c.Thresholds())
	}
	app.RequireStop()
}
