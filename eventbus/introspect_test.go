package eventbus

import "testing"

func TestSubscriptionsIntrospection(t *testing.T) {
	b := New()
	defer b.Close()
	must(Subscribe[evtA](b, Name("a"), BufSize(3), WithPolicy(Drop)))
	must(b.Subscribe([]any{new(evtB), new(describer)}, Name("b"), WithSequence()))
	wild := must(b.Subscribe(new(any), Name("all")))
	em := must(NewEmitter[evtA](b))
	for i := 0; i < 5; i++ {
		_ = em.Emit(evtA{i})
	}
	infos := b.Subscriptions()
	if len(infos) != 3 {
		t.Fatalf("%d subscriptions, want 3", len(infos))
	}
	a := infos[0]
	if a.Name != "a" || a.Policy != Drop || a.BufSize != 3 || a.Queued != 3 || a.Dropped != 2 || a.Delivered != 3 {
		t.Fatalf("a = %+v", a)
	}
	if bi := infos[1]; bi.Name != "b" || len(bi.Types) != 2 || !bi.Sequenced {
		t.Fatalf("b = %+v", bi)
	}
	if all := infos[2]; all.Name != "all" || all.Queued != 5 {
		t.Fatalf("all = %+v", all)
	}
	wild.Close()
	if n := len(b.Subscriptions()); n != 2 {
		t.Fatalf("closed subscription still listed: %d", n)
	}
}

// Each kind of subscription knows its id: the ID of its SubscriptionInfo,
// distinct even where names repeat.
func TestSubscriptionIDsMatchIntrospection(t *testing.T) {
	b := New()
	defer b.Close()
	typed := must(Subscribe[evtA](b, Name("same")))
	batch := must(SubscribeBatch[evtA](b, Name("same")))
	anySub := must(b.Subscribe(new(evtB), Name("same")))
	ids := map[uint64]string{}
	for _, info := range b.Subscriptions() {
		ids[info.ID] = info.Name
	}
	seen := map[uint64]bool{}
	for kind, id := range map[string]uint64{"typed": typed.ID(), "batch": batch.ID(), "event.Bus": anySub.ID()} {
		if _, ok := ids[id]; !ok {
			t.Errorf("%s subscription's ID %d is not in Subscriptions (%v)", kind, id, ids)
		}
		if seen[id] {
			t.Errorf("%s subscription's ID %d repeats another's", kind, id)
		}
		seen[id] = true
	}
}
