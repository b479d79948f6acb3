package router

import (
	"errors"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// emitters holds one typed emitter per router event, so emitting neither
// boxes nor reflects.
type emitters struct {
	peerAdded     *eventbus.Emitter[events.EvtRouterPeerAdded]
	peerRemoved   *eventbus.Emitter[events.EvtRouterPeerRemoved]
	topicJoined   *eventbus.Emitter[events.EvtTopicJoined]
	topicLeft     *eventbus.Emitter[events.EvtTopicLeft]
	subscribed    *eventbus.Emitter[events.EvtPeerSubscribed]
	unsubscribed  *eventbus.Emitter[events.EvtPeerUnsubscribed]
	grafted       *eventbus.Emitter[events.EvtPeerGrafted]
	pruned        *eventbus.Emitter[events.EvtPeerPruned]
	exchange      *eventbus.Emitter[events.EvtPeerExchangeReceived]
	published     *eventbus.Emitter[events.EvtMessagePublished]
	delivered     *eventbus.Emitter[events.EvtMessageDelivered]
	duplicate     *eventbus.Emitter[events.EvtMessageDuplicated]
	rejected      *eventbus.Emitter[events.EvtMessageRejected]
	penalized     *eventbus.Emitter[events.EvtPeerPenalized]
	queueOverflow *eventbus.Emitter[events.EvtPeerQueueOverflowed]
	closers       []func() error
}

func newEmitter[T any](b *eventbus.Bus, e *emitters, dst **eventbus.Emitter[T], err *error) {
	if *err != nil {
		return
	}
	em, er := eventbus.NewEmitter[T](b)
	if er != nil {
		*err = er
		return
	}
	*dst = em
	e.closers = append(e.closers, em.Close)
}

func newEmitters(b *eventbus.Bus) (*emitters, error) {
	e := &emitters{}
	var err error
	newEmitter(b, e, &e.peerAdded, &err)
	newEmitter(b, e, &e.peerRemoved, &err)
	newEmitter(b, e, &e.topicJoined, &err)
	newEmitter(b, e, &e.topicLeft, &err)
	newEmitter(b, e, &e.subscribed, &err)
	newEmitter(b, e, &e.unsubscribed, &err)
	newEmitter(b, e, &e.grafted, &err)
	newEmitter(b, e, &e.pruned, &err)
	newEmitter(b, e, &e.exchange, &err)
	newEmitter(b, e, &e.published, &err)
	newEmitter(b, e, &e.delivered, &err)
	newEmitter(b, e, &e.duplicate, &err)
	newEmitter(b, e, &e.rejected, &err)
	newEmitter(b, e, &e.penalized, &err)
	newEmitter(b, e, &e.queueOverflow, &err)
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *emitters) close() {
	for _, c := range e.closers {
		_ = c()
	}
}

// emitFacts emits the Output's facts in decision order, without boxing.
// Errors (the bus closed) are ignored: the router is shutting down then.
func (e *emitters) emitFacts(o *automaton.Output) {
	for _, f := range o.Facts {
		i := f.Index
		var err error
		switch f.Kind {
		case automaton.FactPeerAdded:
			err = e.peerAdded.Emit(o.PeersAdded[i])
		case automaton.FactPeerRemoved:
			err = e.peerRemoved.Emit(o.PeersRemoved[i])
		case automaton.FactTopicJoined:
			err = e.topicJoined.Emit(o.TopicsJoined[i])
		case automaton.FactTopicLeft:
			err = e.topicLeft.Emit(o.TopicsLeft[i])
		case automaton.FactPeerSubscribed:
			err = e.subscribed.Emit(o.Subscribed[i])
		case automaton.FactPeerUnsubscribed:
			err = e.unsubscribed.Emit(o.Unsubscribed[i])
		case automaton.FactPeerGrafted:
			err = e.grafted.Emit(o.Grafted[i])
		case automaton.FactPeerPruned:
			err = e.pruned.Emit(o.Pruned[i])
		case automaton.FactPeerExchange:
			err = e.exchange.Emit(o.PeerExchanges[i])
		case automaton.FactMessagePublished:
			err = e.published.Emit(o.Published[i])
		case automaton.FactMessageDelivered:
			err = e.delivered.Emit(o.Delivered[i])
		case automaton.FactMessageDuplicated:
			err = e.duplicate.Emit(o.Duplicates[i])
		case automaton.FactMessageRejected:
			err = e.rejected.Emit(o.Rejected[i])
		case automaton.FactPeerPenalized:
			err = e.penalized.Emit(o.Penalized[i])
		}
		if err != nil && !errors.Is(err, eventbus.ErrClosed) && !errors.Is(err, eventbus.ErrEmitterClosed) {
			return
		}
	}
}
