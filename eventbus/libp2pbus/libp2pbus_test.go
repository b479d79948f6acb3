package libp2pbus_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/libp2pbus"
)

type evtA struct{ N int }

// TestAdapterIsAnEventBus drives a meshbus bus only through go-libp2p's
// event.Bus interface, including the wildcard and a typed emitter
// reaching an event.Bus subscription.
func TestAdapterIsAnEventBus(t *testing.T) {
	core := eventbus.New(eventbus.WithDefaultPolicy(eventbus.Block))
	defer core.Close()
	var b event.Bus = libp2pbus.New(core)
	sub, err := b.Subscribe(new(evtA))
	if err != nil {
		t.Fatal(err)
	}
	all, err := b.Subscribe(event.WildcardSubscription)
	if err != nil {
		t.Fatal(err)
	}
	em, err := b.Emitter(new(evtA))
	if err != nil {
		t.Fatal(err)
	}
	typed, err := eventbus.NewEmitter[evtA](core)
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(evtA{1}); err != nil {
		t.Fatal(err)
	}
	if err := typed.Emit(evtA{2}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []event.Subscription{sub, all} {
		for want := 1; want <= 2; want++ {
			select {
			case v := <-s.Out():
				if v.(evtA).N != want {
					t.Fatalf("%s got %+v, want N=%d", s.Name(), v, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no event", s.Name())
			}
		}
	}
	if got := b.GetAllEventTypes(); len(got) != 1 {
		t.Fatalf("GetAllEventTypes = %v", got)
	}
	if _, err := b.Subscribe(event.WildcardSubscription, eventbus.BufSize(eventbus.MaxBufSize+1)); err == nil {
		t.Fatal("oversized buffer accepted")
	}
	em.Close()
	sub.Close()
	all.Close()
}
