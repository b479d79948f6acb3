package scoring

import (
	"testing"

	"github.com/meshbus/meshbus/events"
)

// fill and take hand out the input events oldest first, across the
// backlog and the channel, never hold more than backlogCap in the backlog,
// and see the channel's end.
func TestBacklogKeepsOrderAndBound(t *testing.T) {
	s := &Scorer{backlogCap: 5}
	in := make(chan any, 8)
	next := 0
	push := func(n int) {
		for range n {
			in <- next
			next++
		}
	}
	want := 0
	takeAll := func(n int) {
		t.Helper()
		for range n {
			ev, ok := s.take(in)
			if !ok || ev.(int) != want {
				t.Fatalf("take = %v, %v; want %d", ev, ok, want)
			}
			want++
		}
	}
	push(8)
	s.fill(in)
	if got := len(s.backlog) - s.backlogHead; got != 5 || len(in) != 3 {
		t.Fatalf("backlog %d, channel %d after fill; want 5 and 3", got, len(in))
	}
	takeAll(2)
	push(2) // 0..9 pushed; 2..6 in the backlog, 7..9 in the channel
	s.fill(in)
	if got := len(s.backlog) - s.backlogHead; got != 5 {
		t.Fatalf("backlog %d after refill; want 5", got)
	}
	takeAll(8)
	if _, ok := s.take(in); ok {
		t.Fatal("take returned an event from an empty queue")
	}
	if s.backlogHead != 0 || len(s.backlog) != 0 {
		t.Fatalf("worked-off backlog not reset: head %d len %d", s.backlogHead, len(s.backlog))
	}
	push(3)
	close(in)
	s.fill(in)
	takeAll(3)
	if _, ok := s.take(in); ok || !s.inClosed {
		t.Fatalf("closed channel: inClosed %v", s.inClosed)
	}
}

// A burst far larger than the subscription's channel is handled whole
// while the driver runs: every event counts.
func TestComponentHandlesBurstBeyondChannel(t *testing.T) {
	r := newRig(t, penaltyParams(0.5))
	if r.c.backlogCap != DefaultInputBuffer-maxChanBuffer {
		t.Fatalf("backlog cap %d; want %d", r.c.backlogCap, DefaultInputBuffer-maxChanBuffer)
	}
	const n = 5 * maxChanBuffer
	burst := make([]any, n)
	for i := range burst {
		burst[i] = events.EvtPeerPenalized{Peer: pA, Count: 1, At: r.clk.Now()}
	}
	r.emit(burst...) // returns once the driver has observed all n
	b, err := r.c.Breakdown(ctx, pA)
	if err != nil || b.P7 != n*n {
		t.Fatalf("breakdown %+v, %v; want P7 %d (every penalty of the burst)", b, err, n*n)
	}
}
