// Package outbox carries the events a pure component core decided to emit to
// the bus, in the order it decided them, without boxing them.
//
// A core's Output embeds an Outbox and declares one Lane per event type:
//
//	type Output struct {
//		outbox.Outbox
//		Opened outbox.Lane[events.EvtConnOpened]
//		Closed outbox.Lane[events.EvtConnClosed]
//	}
//
// NewOutput calls Init once (it finds the lanes by reflection); the core's
// handlers call out.Opened.Add(evt). The driver builds Emitters once with
// NewEmitters (one bus emitter per lane, found the same way) and, after each
// input, calls Emitters.Emit, which emits every event in decision order across
// lanes and resets the Outbox. Adding an event type to a component is
// therefore one Lane field plus the Add call in the handler that decides it;
// the driver does not change.
//
// Neither an Outbox nor Emitters is safe for concurrent use: the one driver
// goroutine owns both.
package outbox

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/meshbus/meshbus/eventbus"
)

// ErrNotInitialized is returned by NewEmitters for an output whose Outbox
// was not set up with Init.
var ErrNotInitialized = errors.New("outbox: output not initialized (call outbox.Init)")

// ErrClosed is passed to Emit's onErr for the events of an Outbox emitted
// after Close.
var ErrClosed = errors.New("outbox: emitters closed")

// Outbox records the order in which events were added to the lanes of the
// output that embeds it. The zero value has no lanes; Init attaches them.
type Outbox struct {
	order []uint16 // lane index per added event, in decision order
	lanes []lane
}

// lane is what the Outbox and the Emitters need of a Lane[T], whatever T.
type lane interface {
	attach(o *Outbox, idx uint16)
	reset()
	newSink(b *eventbus.Bus) (sink, error)
	boxed(i int) any
}

// Lane holds the events of one type that a core decided to emit, in decision
// order. Add it as a field of an output that embeds Outbox; the zero value
// is ready once Init ran on that output.
type Lane[T any] struct {
	items []T
	box   *Outbox
	idx   uint16
}

func (l *Lane[T]) attach(o *Outbox, idx uint16) { l.box, l.idx = o, idx }

// Add appends v; it is emitted after every event added before it to any lane
// of the same Outbox. It panics if Init did not run on the output (a
// programming error, caught by the first test that uses the output).
func (l *Lane[T]) Add(v T) {
	if l.box == nil {
		panic("outbox: Lane.Add on an output that outbox.Init did not set up")
	}
	l.items = append(l.items, v)
	l.box.order = append(l.box.order, l.idx)
}

// Items returns the lane's events in decision order. The slice is valid
// until the next Reset and must not be modified.
func (l *Lane[T]) Items() []T { return l.items }

// Len returns how many events the lane holds.
func (l *Lane[T]) Len() int { return len(l.items) }

func (l *Lane[T]) reset() {
	clear(l.items) // drop references held by the events
	l.items = l.items[:0]
}

func (l *Lane[T]) boxed(i int) any { return l.items[i] }

func (l *Lane[T]) newSink(b *eventbus.Bus) (sink, error) {
	em, err := eventbus.NewEmitter[T](b)
	if err != nil {
		return nil, fmt.Errorf("outbox: emitter for %v: %w", reflect.TypeFor[T](), err)
	}
	return &typedSink[T]{em: em}, nil
}

// Init attaches every Lane field of output, a pointer to a struct that
// embeds Outbox, to that Outbox. It panics when output is not such a
// pointer (a programming error in the core's NewOutput).
func Init(output any) {
	o, lanes := lanesOf(output)
	o.lanes = lanes
	for i, l := range lanes {
		l.attach(o, uint16(i))
	}
}

// lanesOf returns the embedded Outbox of output and its Lane fields in
// declaration order.
func lanesOf(output any) (*Outbox, []lane) {
	v := reflect.ValueOf(output)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("outbox: Init needs a pointer to a struct, got %T", output))
	}
	v = v.Elem()
	var o *Outbox
	var lanes []lane
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanAddr() || !v.Type().Field(i).IsExported() {
			continue
		}
		switch p := f.Addr().Interface().(type) {
		case *Outbox:
			o = p
		case lane:
			lanes = append(lanes, p)
		}
	}
	if o == nil {
		panic(fmt.Sprintf("outbox: %T does not embed outbox.Outbox", output))
	}
	if len(lanes) > 1<<16 {
		panic("outbox: too many lanes")
	}
	return o, lanes
}

// Len returns how many events the Outbox holds across its lanes.
func (o *Outbox) Len() int { return len(o.order) }

// Reset empties every lane, keeping their capacity.
func (o *Outbox) Reset() {
	for _, l := range o.lanes {
		l.reset()
	}
	o.order = o.order[:0]
}

// ForEach calls fn with every event, boxed, in decision order. It allocates;
// drivers use Emitters.Emit, ForEach is for simulations and tests.
func (o *Outbox) ForEach(fn func(ev any)) {
	next := make([]int, len(o.lanes))
	for _, li := range o.order {
		fn(o.lanes[li].boxed(next[li]))
		next[li]++
	}
}

// sink emits the events of one lane.
type sink interface {
	emit(l lane, i int) error
	close() error
}

type typedSink[T any] struct{ em *eventbus.Emitter[T] }

func (s *typedSink[T]) emit(l lane, i int) error { return s.em.Emit(l.(*Lane[T]).items[i]) }
func (s *typedSink[T]) close() error             { return s.em.Close() }

// Emitters holds one bus emitter per lane of an output type. Build it once
// per driver; it serves every output of that type.
type Emitters struct {
	sinks []sink
	next  []int // per-lane cursor, reused by Emit
}

// NewEmitters creates one emitter on b for each Lane of output (a pointer to
// an initialised output of the core). The emitters exist from now on, so
// subscriptions that require an emitter are satisfied before the driver
// starts. On error nothing stays open.
func NewEmitters(b *eventbus.Bus, output any) (*Emitters, error) {
	o, lanes := lanesOf(output)
	if len(o.lanes) != len(lanes) {
		return nil, ErrNotInitialized
	}
	e := &Emitters{next: make([]int, len(lanes))}
	for _, l := range lanes {
		s, err := l.newSink(b)
		if err != nil {
			_ = e.Close()
			return nil, err
		}
		e.sinks = append(e.sinks, s)
	}
	return e, nil
}

// Emit emits every event of o in decision order, calls onErr (if not nil)
// for each emit that failed (the bus or an emitter closed), and resets o.
// Each emit follows its emitter's blocking rules (a Block subscriber that
// is behind holds Emit up). o must belong to an output of the type the
// Emitters were built for.
func (e *Emitters) Emit(o *Outbox, onErr func(error)) {
	if e.sinks == nil { // closed
		if o.Len() > 0 && onErr != nil {
			onErr(ErrClosed)
		}
		o.Reset()
		return
	}
	clear(e.next)
	for _, li := range o.order {
		if err := e.sinks[li].emit(o.lanes[li], e.next[li]); err != nil && onErr != nil {
			onErr(err)
		}
		e.next[li]++
	}
	o.Reset()
}

// Close closes every emitter. Closing twice is harmless.
func (e *Emitters) Close() error {
	var errs []error
	for _, s := range e.sinks {
		errs = append(errs, s.close())
	}
	e.sinks = nil
	return errors.Join(errs...)
}
