package scoring

import (
	"testing"

	"github.com/meshbus/meshbus/events"
)

// A burst larger than the input buffer is handled whole while the driver
// runs: the emitters wait (Block) instead of losing facts, and every event
// counts.
func TestComponentHandlesBurstBeyondInputBuffer(t *testing.T) {
	r := newRig(t, penaltyParams(0.5))
	const n = DefaultInputBuffer + 3*inputBatch + 7
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
