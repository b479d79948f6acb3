package busmetrics

import (
	"strings"
	"testing"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type evtA struct{ N int }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMetricsPerTypeAndPerSubscriber(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := eventbus.New()
	defer b.Close()
	must(Register(reg, b))
	fast := must(eventbus.Subscribe[evtA](b, eventbus.Name("fast"), eventbus.BufSize(16)))
	slow := must(eventbus.Subscribe[evtA](b, eventbus.Name("slow"), eventbus.BufSize(2), eventbus.WithPolicy(eventbus.Drop)))
	killed := must(eventbus.Subscribe[evtA](b, eventbus.Name("killed"), eventbus.BufSize(1), eventbus.WithPolicy(eventbus.Kill)))
	em := must(eventbus.NewEmitter[evtA](b))
	for i := 0; i < 5; i++ {
		if err := em.Emit(evtA{i}); err != nil {
			t.Fatal(err)
		}
	}
	for range killed.Out() {
	}
	_ = fast
	_ = slow

	want := `
# HELP meshbus_eventbus_events_dropped_total Events dropped by full subscriptions, by event type.
# TYPE meshbus_eventbus_events_dropped_total counter
meshbus_eventbus_events_dropped_total{type="busmetrics.evtA"} 3
# HELP meshbus_eventbus_events_emitted_total Events emitted, by event type.
# TYPE meshbus_eventbus_events_emitted_total counter
meshbus_eventbus_events_emitted_total{type="busmetrics.evtA"} 5
# HELP meshbus_eventbus_subscriptions_killed_total Subscriptions ended by the Kill policy, by event type.
# TYPE meshbus_eventbus_subscriptions_killed_total counter
meshbus_eventbus_subscriptions_killed_total{type="busmetrics.evtA"} 1
# HELP meshbus_eventbus_subscribers Live subscriptions receiving the type.
# TYPE meshbus_eventbus_subscribers gauge
meshbus_eventbus_subscribers{type="busmetrics.evtA"} 2
# HELP meshbus_eventbus_subscriber_delivered_total Events offered to the subscription and not dropped.
# TYPE meshbus_eventbus_subscriber_delivered_total counter
meshbus_eventbus_subscriber_delivered_total{id="1",subscriber="fast"} 5
meshbus_eventbus_subscriber_delivered_total{id="2",subscriber="slow"} 2
# HELP meshbus_eventbus_subscriber_dropped_total Events the subscription dropped.
# TYPE meshbus_eventbus_subscriber_dropped_total counter
meshbus_eventbus_subscriber_dropped_total{id="1",subscriber="fast"} 0
meshbus_eventbus_subscriber_dropped_total{id="2",subscriber="slow"} 3
# HELP meshbus_eventbus_subscriber_queue_depth Events waiting in the subscription's queue.
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
	reg := prometheus.NewRegistry()
	b := eventbus.New()
	defer b.Close()
	if _, err := Register(reg, b); err != nil {
		t.Fatal(err)
	}
	if _, err := Register(reg, b); err == nil {
		t.Fatal("second registration of the same bus succeeded")
	}
}

func TestTypedEmitDoesNotAllocateWithMetrics(t *testing.T) {
	b := eventbus.New()
	defer b.Close()
	must(Register(prometheus.NewRegistry(), b))
	sub := must(eventbus.Subscribe[evtA](b, eventbus.BufSize(1024), eventbus.WithPolicy(eventbus.Drop)))
	em := must(eventbus.NewEmitter[evtA](b))
	allocs := testing.AllocsPerRun(1000, func() {
		_ = em.Emit(evtA{7})
		<-sub.Out()
	})
	if allocs != 0 {
		t.Errorf("Emit allocates %.1f times per event with metrics on, want 0", allocs)
	}
}
