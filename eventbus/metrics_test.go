package eventbus

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func TestMetricsPerTypeAndPerSubscriber(t *testing.T) {
	reg := newTestRegistry()
	b := New(WithMetrics(reg))
	defer b.Close()
	fast := must(Subscribe[evtA](b, Name("fast"), BufSize(16)))
	slow := must(Subscribe[evtA](b, Name("slow"), BufSize(2), WithPolicy(Drop)))
	killed := must(Subscribe[evtA](b, Name("killed"), BufSize(1), WithPolicy(Kill)))
	em := must(NewEmitter[evtA](b))
	for i := 0; i < 5; i++ {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	closed(t, killed.Out())
	_ = fast
	_ = slow

	want := `
# HELP meshbus_eventbus_events_dropped_total Events dropped by full subscriptions, by event type.
# TYPE meshbus_eventbus_events_dropped_total counter
meshbus_eventbus_events_dropped_total{type="eventbus.evtA"} 3
# HELP meshbus_eventbus_events_emitted_total Events emitted, by event type.
# TYPE meshbus_eventbus_events_emitted_total counter
meshbus_eventbus_events_emitted_total{type="eventbus.evtA"} 5
# HELP meshbus_eventbus_subscriptions_killed_total Subscriptions ended by the Kill policy, by event type.
# TYPE meshbus_eventbus_subscriptions_killed_total counter
meshbus_eventbus_subscriptions_killed_total{type="eventbus.evtA"} 1
# HELP meshbus_eventbus_subscribers Live subscriptions receiving the type.
# TYPE meshbus_eventbus_subscribers gauge
meshbus_eventbus_subscribers{type="eventbus.evtA"} 2
# HELP meshbus_eventbus_subscriber_delivered_total Events offered to the subscription and not dropped.
# TYPE meshbus_eventbus_subscriber_delivered_total counter
meshbus_eventbus_subscriber_delivered_total{id="1",subscriber="fast"} 5
meshbus_eventbus_subscriber_delivered_total{id="2",subscriber="slow"} 2
# HELP meshbus_eventbus_subscriber_dropped_total Events the subscription dropped.
# TYPE meshbus_eventbus_subscriber_dropped_total counter
meshbus_eventbus_subscriber_dropped_total{id="1",subscriber="fast"} 0
meshbus_eventbus_subscriber_dropped_total{id="2",subscriber="slow"} 3
# HELP meshbus_eventbus_subscriber_queue_depth Events waiting in the subscription's channel.
# TYPE meshbus_eventbus_subscriber_queue_depth gauge
meshbus_eventbus_subscriber_queue_depth{id="1",subscriber="fast"} 5
meshbus_eventbus_subscriber_queue_depth{id="2",subscriber="slow"} 2
`
	names := []string{
		"meshbus_eventbus_events_dropped_total", "meshbus_eventbus_events_emitted_total",
		"meshbus_eventbus_subscriptions_killed_total", "meshbus_eventbus_subscribers",
		"meshbus_eventbus_subscriber_delivered_total", "meshbus_eventbus_subscriber_dropped_total",
		"meshbus_eventbus_subscriber_queue_depth",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterMetricsTwiceFails(t *testing.T) {
	reg := newTestRegistry()
	b := New()
	defer b.Close()
	if err := b.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := b.RegisterMetrics(reg); err == nil {
		t.Fatal("second registration of the same bus succeeded")
	}
}

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
