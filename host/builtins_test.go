package host

import (
	"testing"
	"time"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// TestBuiltinsWork: with every built-in component, two connected nodes'
// routers learn of each other from the tracker's events alone.
func TestBuiltinsWork(t *testing.T) {
	a, b := newNode(t), newNode(t)
	added, err := eventbus.Subscribe[events.EvtRouterPeerAdded](a.Bus(), eventbus.BufSize(8), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		t.Fatal(err)
	}
	defer added.Close()
	connect(t, b, a)
	select {
	case e := <-added.Out():
		if e.Peer != b.ID() {
			t.Fatalf("router added %s, want %s", e.Peer, b.ID())
		}
		t.Logf("router on a added b with %s", e.Protocol)
	case <-time.After(waitFor):
		t.Fatal("router never added the connected peer")
	}
}
