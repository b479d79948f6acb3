package router

import (
	"errors"
	"fmt"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// factEmitters binds every automaton fact type to a typed bus emitter, one
// line each. Adding an event: its struct in package events, its FactType in
// automaton/facts.go, and its line here (newEmitters fails, and so does
// TestEveryFactHasAnEmitter, if a fact type has no line).
var factEmitters = []func(*eventbus.Bus) (factEmitter, error){
	bind(automaton.FactPeerAdded),
	bind(automaton.FactPeerRemoved),
	bind(automaton.FactTopicJoined),
	bind(automaton.FactTopicLeft),
	bind(automaton.FactPeerSubscribed),
	bind(automaton.FactPeerUnsubscribed),
	bind(automaton.FactPeerGrafted),
	bind(automaton.FactPeerPruned),
	bind(automaton.FactPeerExchange),
	bind(automaton.FactMessagePublished),
	bind(automaton.FactMessageDelivered),
	bind(automaton.FactMessageDuplicated),
	bind(automaton.FactChokedAnnounced),
	bind(automaton.FactPeerChoked),
	bind(automaton.FactMessageRejected),
	bind(automaton.FactPeerPenalized),
	bind(automaton.FactFanoutPeerAdded),
	bind(automaton.FactFanoutPeerRemoved),
}

// factEmitter emits one fact type's events from an Output.
type factEmitter interface {
	kind() automaton.FactKind
	// emit emits the Output's i-th event of the type, unboxed.
	emit(o *automaton.Output, i int) error
	close() error
}

type typedFactEmitter[T any] struct {
	ft automaton.FactType[T]
	em *eventbus.Emitter[T]
}

func (e typedFactEmitter[T]) kind() automaton.FactKind { return e.ft.Kind() }

func (e typedFactEmitter[T]) emit(o *automaton.Output, i int) error { return e.em.Emit(e.ft.In(o)[i]) }

func (e typedFactEmitter[T]) close() error { return e.em.Close() }

// bind returns the constructor of ft's emitter.
func bind[T any](ft automaton.FactType[T]) func(*eventbus.Bus) (factEmitter, error) {
	return func(b *eventbus.Bus) (factEmitter, error) {
		em, err := eventbus.NewEmitter[T](b)
		if err != nil {
			return nil, err
		}
		return typedFactEmitter[T]{ft: ft, em: em}, nil
	}
}

// emitters holds the router's bus emitters: one per automaton fact type,
// indexed by kind, plus the driver's own events.
type emitters struct {
	facts         []factEmitter // by FactKind-1
	queueOverflow *eventbus.Emitter[events.EvtPeerQueueOverflowed]
	fragRejected  *eventbus.Emitter[events.EvtFragmentRejected]
	penalized     *eventbus.Emitter[events.EvtPeerPenalized] // the driver's own (fragments)
}

func newEmitters(b *eventbus.Bus) (*emitters, error) {
	e := &emitters{facts: make([]factEmitter, automaton.FactKinds())}
	for _, mk := range factEmitters {
		fe, err := mk(b)
		if err != nil {
			e.close()
			return nil, err
		}
		e.facts[fe.kind()-1] = fe
	}
	for k, fe := range e.facts {
		if fe == nil {
			e.close()
			return nil, fmt.Errorf("router: automaton fact kind %d has no emitter (add it to factEmitters)", k+1)
		}
	}
	var err error
	if e.queueOverflow, err = eventbus.NewEmitter[events.EvtPeerQueueOverflowed](b); err != nil {
		e.close()
		return nil, err
	}
	if e.fragRejected, err = eventbus.NewEmitter[events.EvtFragmentRejected](b); err != nil {
		e.close()
		return nil, err
	}
	if e.penalized, err = eventbus.NewEmitter[events.EvtPeerPenalized](b); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *emitters) close() {
	for _, fe := range e.facts {
		if fe != nil {
			_ = fe.close()
		}
	}
	if e.queueOverflow != nil {
		_ = e.queueOverflow.Close()
	}
	if e.fragRejected != nil {
		_ = e.fragRejected.Close()
	}
	if e.penalized != nil {
		_ = e.penalized.Close()
	}
}

// emitFacts emits the Output's facts in decision order, without boxing.
// Errors (the bus closed) end it: the router is shutting down then.
func (e *emitters) emitFacts(o *automaton.Output) {
	for _, f := range o.Facts {
		err := e.facts[f.Kind-1].emit(o, f.Index)
		if err != nil && !errors.Is(err, eventbus.ErrClosed) && !errors.Is(err, eventbus.ErrEmitterClosed) {
			return
		}
	}
}
