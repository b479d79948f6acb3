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

// offer sends v to every sink in list, applying each one's policy. Called
// with n.mu held. The two hot paths, a typed Emit to typed
// sinks and an event.Bus Emit to event.Bus sinks, write this loop out: the
// compiler does not inline offer (cost 113 against a budget of 80).
func offer[E any](n *node, list []flatSink[E], v E, kill *kills) {
	for i := range list {
		t := &list[i]
		if t.c.ended.Load() {
			t.c.abandoned.Add(1)
			continue
		}
		select {
		case t.ch <- v:
		default:
			if t.block {
				blockSend(t.ch, t.c, v)
				continue
			}
			t.c.overflow(n, kill, nil)
		}
	}
}
