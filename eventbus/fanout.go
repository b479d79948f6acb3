package eventbus

import "reflect"

// fanout is a node's sinks arranged for Emit. The sinks that take the
// emitted value as it is (no conversion) are flattened into arrays of
// flatSink, so that an Emit reaches each with one channel send, without an
// interface call or a pointer chase per sink:
//   - boxed: event.Bus-API sinks (a chan any);
//   - typed: a []flatSink[T] for typed sinks of exactly the node's type T
//     (nil when there are none), with the same sinks as interfaces in
//     typedSinks for emitters that do not know T;
//   - lane: the node's lane (nil until a batch subscription of exactly T
//     joined), which holds every bound batch queue; a fanout never lists
//     them otherwise;
//   - other: the rest (sequenced, interface-typed, other batch queues),
//     reached through the sink interface.
type fanout struct {
	boxed      []flatSink[any]
	typed      any
	typedSinks []sink
	lane       laneOps
	other      []sink
	// mixed is set when boxed or other has sinks: a typed Emit must look
	// beyond its flat array.
	mixed bool
	// laneOnly is set when the lane is all there is (no typed, boxed,
	// other or sequenced sinks): a typed Emit then takes the lane's lock
	// and no other.
	laneOnly bool
	// seqSinks counts the sinks that want sequence numbers.
	seqSinks int
	// typedFast and boxedFast are set when a typed Emit (of the node's
	// type) or an event.Bus-API Emit may take the channel fast path
	// (fastpath.go): plain channel subscriptions only, no lane, nothing
	// sequenced, interface-typed or converting; for the event.Bus API
	// also no typed channel (it would need a type assertion per Emit).
	typedFast, boxedFast bool
}

// flatSink is a sink that takes the emitted value unconverted, as the emit
// path sees it.
type flatSink[E any] struct {
	ch    chan E
	c     *subCore
	block bool
}

// flattener is implemented by the sinks that can join a fanout's arrays.
type flattener interface {
	// flatten appends the sink to list (a []flatSink[E] or nil) if its
	// element type is typ and it converts nothing, reporting whether it did.
	flatten(typ reflect.Type, list any) (any, bool)
}

func (s *chanSink[E]) flatten(typ reflect.Type, list any) (any, bool) {
	if s.convert != nil || reflect.TypeFor[E]() != typ {
		return list, false
	}
	l, _ := list.([]flatSink[E])
	return append(l, flatSink[E]{ch: s.ch, c: &s.subCore, block: s.settings.policy == Block}), true
}

// split rebuilds n's fanout from n.sinks into fresh arrays (an Emit holding
// the lock never sees one change) and publishes it. Called with n.mu and
// n.emu held; attaches and detaches are rare next to Emits.
func (n *node) split() {
	f := &fanout{lane: n.lane}
	for _, s := range n.sinks {
		if s.core().settings.sequenced {
			f.seqSinks++
		}
	}
	anyType := reflect.TypeFor[any]()
	for _, s := range n.sinks {
		if r, ok := s.(interface{ boundTo(*node) bool }); ok && r.boundTo(n) {
			continue // in the lane
		}
		fl, ok := s.(flattener)
		if !ok {
			f.other = append(f.other, s)
			continue
		}
		if l, ok := fl.flatten(anyType, f.boxed); ok {
			f.boxed = l.([]flatSink[any])
			continue
		}
		if n.typ != anyType {
			if l, ok := fl.flatten(n.typ, f.typed); ok {
				f.typed = l
				f.typedSinks = append(f.typedSinks, s)
				continue
			}
		}
		f.other = append(f.other, s)
	}
	f.mixed = len(f.boxed) > 0 || len(f.other) > 0
	f.typedFast = !f.mixed && f.lane == nil && f.seqSinks == 0
	f.boxedFast = f.lane == nil && len(f.other) == 0 && f.seqSinks == 0 && len(f.typedSinks) == 0
	f.laneOnly = f.lane != nil && !f.mixed && f.typed == nil && f.seqSinks == 0
	n.fanp.Store(f)
}

// handoff is what the sends of one Emit handed straight to parked channel
// readers (see yielder.maybeYield): woke asks for a yield (a Block
// subscriber's reader), oweTo records a yield debt (a Drop, Kill or
// Notify subscriber's reader; oweLen its queue length right after).
type handoff struct {
	woke   bool
	oweTo  *subCore
	oweLen int
}

// offer sends *v on the channels of list in order, without blocking, and
// applies the policy of each one that is full: a Block subscriber's
// emitter waits (blockSend), the others drop, notify or kill (overflow,
// collecting kills in kill; fast is the Emit's fast-path slot or nil).
// Sinks that ended are skipped and counted as abandoned when checkEnded
// (Bus.ending). Called with n.mu held or on the fast path.
//
// A send that finds its channel empty afterwards went straight to a
// parked reader; so did one that finds a single event under Drop, Kill or
// Notify, where another emitter may have sent right after the hand-off,
// and a reader missed there would wait for the time slice (a Block
// subscriber's emitter parks once its queue is full, which lets the reader
// run). The length is read after the send, while the channel's line is
// still this processor's (a read before it cost 1/1024 end to end up to
// 1.5x). h collects the hand-offs.
//
// It is the typed and event.Bus Emits' per-subscriber loop. As a function
// of its own, few values are live across each send's runtime call: written
// out in Emit, the loop spilled and reloaded the Emit's state around every
// send (docs/eventbus.md, "Ninth pass"). v is a pointer so that the value
// is not copied into the call.
func offer[E any](n *node, list []flatSink[E], v *E, checkEnded bool, h *handoff, kill *kills, fast *emitSlot) {
	for i := range list {
		t := &list[i]
		if checkEnded && t.c.ended.Load() {
			t.c.abandoned.Add(1)
			continue
		}
		select {
		case t.ch <- *v:
			if l := queuedLen(t.ch); l == 0 || l == 1 && !t.block {
				if t.block {
					h.woke = true
				} else {
					h.oweTo, h.oweLen = t.c, l
				}
			}
		default:
			if t.block {
				blockSend(t.ch, t.c, *v)
			} else {
				t.c.overflow(n, kill, fast)
			}
		}
	}
}
