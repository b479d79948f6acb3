package peermgr

import (
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// emitters are the manager's typed bus emitters, used only by the driver.
type emitters struct {
	discovered *eventbus.Emitter[events.EvtPeerDiscovered]
	attempted  *eventbus.Emitter[events.EvtDialAttempted]
	succeeded  *eventbus.Emitter[events.EvtDialSucceeded]
	failed     *eventbus.Emitter[events.EvtDialFailed]
	backedOff  *eventbus.Emitter[events.EvtPeerBackedOff]
	evicted    *eventbus.Emitter[events.EvtPeerEvicted]
	rejected   *eventbus.Emitter[events.EvtPeerRecordRejected]
}

func (e *emitters) open(bus *eventbus.Bus) (err error) {
	if e.discovered, err = eventbus.NewEmitter[events.EvtPeerDiscovered](bus); err != nil {
		return err
	}
	if e.attempted, err = eventbus.NewEmitter[events.EvtDialAttempted](bus); err != nil {
		return err
	}
	if e.succeeded, err = eventbus.NewEmitter[events.EvtDialSucceeded](bus); err != nil {
		return err
	}
	if e.failed, err = eventbus.NewEmitter[events.EvtDialFailed](bus); err != nil {
		return err
	}
	if e.backedOff, err = eventbus.NewEmitter[events.EvtPeerBackedOff](bus); err != nil {
		return err
	}
	if e.evicted, err = eventbus.NewEmitter[events.EvtPeerEvicted](bus); err != nil {
		return err
	}
	e.rejected, err = eventbus.NewEmitter[events.EvtPeerRecordRejected](bus)
	return err
}

func (e *emitters) close() {
	closeIf(e.discovered)
	closeIf(e.attempted)
	closeIf(e.succeeded)
	closeIf(e.failed)
	closeIf(e.backedOff)
	closeIf(e.evicted)
	closeIf(e.rejected)
}

// closeIf closes an emitter that was created.
func closeIf[T any](e *eventbus.Emitter[T]) {
	if e != nil {
		_ = e.Close()
	}
}
