package eventbus

import "unsafe"

// queuedLen returns len(ch) for the emit path's hand-off check (Emit reads
// a channel's length right after each send to see whether the value went
// straight to a parked reader).
//
// Since Go 1.23 len of a channel is a call into the runtime (which first
// asks whether the channel is a timer's), and at fan-out that call is the
// typed Emit's whole cost above the plain channel floor: about 4 ns per
// subscriber, 13% of the emitter's time at 64 subscribers (measured in
// docs/eventbus.md, "Fifth pass"). The count of queued elements is the
// first word of every channel the runtime makes, and the bus's channels
// are never timer channels, so the emit path reads that word directly,
// without a lock, as len does. hchanQcountOK checks the layout once at
// start-up on channels of the element sizes the bus uses; if it does not
// hold (a runtime that moved the field), queuedLen is len.
//
// The read is as racy as len's own: a reader may take an element right
// after it; the hand-off check tolerates that (it only decides whether
// to yield or record a yield debt).
func queuedLen[E any](ch chan E) int {
	if hchanQcountOK {
		return int(*(*uint)(*(*unsafe.Pointer)(unsafe.Pointer(&ch))))
	}
	return len(ch)
}

// hchanQcountOK reports whether a channel's first word is its element
// count on this runtime (checked once, see queuedLen).
var hchanQcountOK = checkQcount[struct{ a, b, c, d, e, f, g, h uint64 }]() &&
	checkQcount[any]() && checkQcount[uint8]()

// checkQcount checks queuedLen's layout assumption on a channel of E,
// reading the word as queuedLen does while len changes: empty, filling,
// full, emptying, closed with elements queued.
func checkQcount[E any]() bool {
	const n = 5
	ch := make(chan E, n)
	word := func() int { return int(*(*uint)(*(*unsafe.Pointer)(unsafe.Pointer(&ch)))) }
	if word() != 0 {
		return false
	}
	var zero E
	for i := 1; i <= n; i++ {
		ch <- zero
		if word() != i || len(ch) != i {
			return false
		}
	}
	<-ch
	<-ch
	close(ch)
	return word() == n-2 && len(ch) == n-2
}
