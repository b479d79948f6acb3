package busbench

// setupChan builds the typed API's floor: one chan Event per subscriber, and
// an emitter that sends each event on every channel in turn, blocking when
// one is full (the same lossless contract as the Block policy).
func setupChan(r *Rig) error {
	chs := plainChans[Event](r)
	ev := sampleEvent()
	r.emit = func(n int) error {
		for range n {
			for _, ch := range chs {
				ch <- ev
			}
		}
		return nil
	}
	return nil
}

// setupChanAny builds the event.Bus API's floor: one chan any per
// subscriber, and an emitter that boxes each event once (emitBoxed takes an
// any, so the conversion happens at its call, as at a call of Emit) and
// sends the box on every channel in turn, blocking when one is full.
func setupChanAny(r *Rig) error {
	chs := plainChans[any](r)
	ev := sampleEvent()
	r.emit = func(n int) error {
		for range n {
			emitBoxed(chs, ev)
		}
		return nil
	}
	return nil
}

// plainChans makes one buffered channel per subscriber, each drained by the
// rig, and sets the rig to close them all.
func plainChans[E any](r *Rig) []chan E {
	chs := make([]chan E, r.cfg.Subs)
	for i := range chs {
		chs[i] = make(chan E, r.cfg.Buf)
		drain(r, i, chs[i])
	}
	r.closeFn = func() error {
		for _, ch := range chs {
			close(ch)
		}
		return nil
	}
	return chs
}

// emitBoxed sends ev on every channel. It is not inlined, so that its
// caller boxes ev for the call exactly as a caller of event.Emitter.Emit
// boxes its event.
//
//go:noinline
func emitBoxed(chs []chan any, ev any) {
	for _, ch := range chs {
		ch <- ev
	}
}
