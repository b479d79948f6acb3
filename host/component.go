package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/benbjohnson/clock"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Component makes opts a named component of a node: an fx.Module called name
// whose lifecycle hooks are bracketed with lifecycle events. Every hook that
// the module's constructors and invokes append to fx.Lifecycle is wrapped:
//
//   - events.EvtComponentStarted{Name: name} is emitted once, after the
//     OnStart of the component's last hook returned nil (so after all of
//     them: fx starts hooks in order); a component with no hook of its own
//     still gets one, emitted at its place in start order.
//   - events.EvtComponentStopped{Name: name} is emitted once, after the
//     OnStop of the component's first-started hook returned (fx stops in
//     reverse order, so after all of them), with the joined stop errors as
//     Err. It is emitted only for a component whose started event was.
//
// Every value the component's fx.Provide options construct is requested
// when the node starts, so each constructor runs (fx alone runs a
// constructor only when something needs its value): the add-on
// host.WithComponent("uptime", fx.Provide(NewUptime)) is built and started
// although nothing else asks for it, and its EvtComponentStarted comes
// after NewUptime ran and its hooks started. This holds for constructors
// wrapped in fx.Annotated or fx.Annotate too (named and grouped results,
// fx.As, fx.OnStart/fx.OnStop hooks), and inside fx.Options. Constructors
// inside an fx.Module nested in opts are not seen (fx keeps a module's
// options unexported); give those an fx.Invoke.
//
// Built-in components and add-ons both go through Component. Outside a node
// built by New (no lifecycle reporter in the graph) it is a plain fx.Module.
func Component(name string, opts ...fx.Option) fx.Option {
	return fx.Module(name,
		fx.Decorate(func(lc fx.Lifecycle, in reporterIn) fx.Lifecycle {
			if in.Reporter == nil {
				return lc
			}
			return &componentLifecycle{lc: lc, c: &componentHooks{name: name, r: in.Reporter}}
		}),
		fx.Options(opts...),
		fx.Options(forceConstruction(opts)...),
		// Runs after the invokes above: a component whose work is all
		// in constructors still reports, at its place in start order.
		fx.Invoke(func(lc fx.Lifecycle) { lc.Append(fx.Hook{}) }),
	)
}

// reporterIn makes the reporter optional, so that Component also works in
// an fx application not built by New.
type reporterIn struct {
	fx.In
	Reporter *lifecycleReporter `optional:"true"`
}

// lifecycleReporter emits the component lifecycle events of one node.
type lifecycleReporter struct {
	clk     clock.Clock
	log     *slog.Logger
	started *eventbus.Emitter[events.EvtComponentStarted]
	stopped *eventbus.Emitter[events.EvtComponentStopped]
}

func newLifecycleReporter(b *eventbus.Bus, clk clock.Clock, log *slog.Logger) (*lifecycleReporter, error) {
	started, err := eventbus.NewEmitter[events.EvtComponentStarted](b)
	if err != nil {
		return nil, fmt.Errorf("lifecycle emitter: %w", err)
	}
	stopped, err := eventbus.NewEmitter[events.EvtComponentStopped](b)
	if err != nil {
		started.Close()
		return nil, fmt.Errorf("lifecycle emitter: %w", err)
	}
	return &lifecycleReporter{clk: clk, log: log, started: started, stopped: stopped}, nil
}

func (r *lifecycleReporter) close() {
	r.started.Close()
	r.stopped.Close()
}

func (r *lifecycleReporter) reportStarted(name string) {
	r.log.Debug("component started", "component", name)
	if err := r.started.Emit(events.EvtComponentStarted{Name: name, At: r.clk.Now()}); err != nil {
		r.log.Debug("emitting EvtComponentStarted", "component", name, "err", err)
	}
}

func (r *lifecycleReporter) reportStopped(name string, stopErr error) {
	var text string
	if stopErr != nil {
		text = stopErr.Error()
		r.log.Warn("component stopped with an error", "component", name, "err", stopErr)
	} else {
		r.log.Debug("component stopped", "component", name)
	}
	if err := r.stopped.Emit(events.EvtComponentStopped{Name: name, Err: text, At: r.clk.Now()}); err != nil {
		r.log.Debug("emitting EvtComponentStopped", "component", name, "err", err)
	}
}

// componentHooks counts one component's hooks through start and stop. The
// counts are final before Start: fx appends every hook while constructing.
type componentHooks struct {
	name string
	r    *lifecycleReporter

	mu       sync.Mutex
	appended int
	started  int
	stopped  int
	reported bool // EvtComponentStarted was emitted
	errs     []error
}

func (c *componentHooks) hookStarted() {
	c.mu.Lock()
	c.started++
	done := c.started == c.appended && !c.reported
	if done {
		c.reported = true
	}
	c.mu.Unlock()
	if done {
		c.r.reportStarted(c.name)
	}
}

func (c *componentHooks) hookStopped(err error) {

	c.mu.Lock()
	c.stopped++
	if err != nil {
		c.errs = append(c.errs, err)
	}
	done := c.reported && c.stopped == c.started
	errs := c.errs
	c.mu.Unlock()
	if done {
		c.r.reportStopped(c.name, errors.Join(errs...))
	}
}

// componentLifecycle is the fx.Lifecycle a component's constructors see.
type componentLifecycle struct {
	lc fx.Lifecycle
	c  *componentHooks
}

// Append wraps h so that the component's counts follow its start and stop.
func (l *componentLifecycle) Append(h fx.Hook) {
	c := l.c
	c.mu.Lock()
	c.appended++
	c.mu.Unlock()
	l.lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if h.OnStart != nil {
				if err := h.OnStart(ctx); err != nil {
					return err
				}
			}
			c.hookStarted()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			var err error
			if h.OnStop != nil {
				err = h.OnStop(ctx)
			}
			c.hookStopped(err)
			return err
		},
	})
}
