package busbench

// setupChan builds the floor: one chan Event per subscriber, and an emitter
// that sends each event on every channel in turn, blocking when one is full
// (the same lossless contract as the Block policy).
func setupChan(r *Rig) error {
	chs := make([]chan Event, r.cfg.Subs)
	for i := range chs {
		chs[i] = make(chan Event, r.cfg.Buf)
		drain(r, i, chs[i])
	}
	ev := sampleEvent()
	r.emit = func(n int) error {
		for range n {
			for _, ch := range chs {
				ch <- ev
			}
		}
		return nil
	}
	r.closeFn = func() error {
		for _, ch := range chs {
			close(ch)
		}
		return nil
	}
	return nil
}
