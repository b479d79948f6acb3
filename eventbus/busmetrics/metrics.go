// Package busmetrics exports a meshbus event bus's counters to Prometheus.
// It is apart from the eventbus core so that a program using only the bus
// does not link Prometheus.
package busmetrics

import (
	"strconv"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes a bus's counters to Prometheus. It reads, at scrape
// time, counters the bus maintains anyway (eventbus.Bus.Types,
// Subscriptions, NotifierPanics), so metrics cost Emit nothing. Its
// descriptors are shared by every Collector in the process: a bus's
// collector is one pointer. (It therefore needs no per-node array of
// numbers like the components' promreg.Values: it keeps no numbers, and its
// series, one per event type and per subscription, are only known at
// scrape time.)
type Collector struct {
	b *eventbus.Bus
}

var _ prometheus.Collector = (*Collector)(nil)

// The descriptors of every bus's metrics, built once per process.
var (
	emitted        = desc("events_emitted_total", "Events emitted, by event type.", typeLabel)
	dropped        = desc("events_dropped_total", "Events dropped by full subscriptions, by event type.", typeLabel)
	killed         = desc("subscriptions_killed_total", "Subscriptions ended by the Kill policy, by event type.", typeLabel)
	subscribers    = desc("subscribers", "Live subscriptions receiving the type.", typeLabel)
	emitters       = desc("emitters", "Live emitters of the type.", typeLabel)
	subDelivered   = desc("subscriber_delivered_total", "Events offered to the subscription and not dropped.", subLabels)
	subDropped     = desc("subscriber_dropped_total", "Events the subscription dropped.", subLabels)
	subQueued      = desc("subscriber_queue_depth", "Events waiting in the subscription's queue.", subLabels)
	subCap         = desc("subscriber_queue_capacity", "The subscription's buffer size.", subLabels)
	notifierPanics = desc("notifier_panics_total", "Notifier callbacks that panicked.", nil)

	allDescs = []*prometheus.Desc{emitted, dropped, killed, subscribers, emitters,
		subDelivered, subDropped, subQueued, subCap, notifierPanics}
)

var (
	typeLabel = []string{"type"}
	subLabels = []string{"subscriber", "id"}
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("meshbus_eventbus_"+name, help, labels, nil)
}

// New returns a collector of b's metrics: per event type emitted, dropped,
// killed, subscribers and emitters; per subscription delivered, dropped,
// queue depth and capacity (labels: subscriber name and a unique id); and
// notifier panics. Register it once per registry.
func New(b *eventbus.Bus) *Collector { return &Collector{b: b} }

// Register registers a collector of b's metrics on reg.
func Register(reg prometheus.Registerer, b *eventbus.Bus) (*Collector, error) {
	c := New(b)
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range c.b.Types() {
		t := n.Type.String()
		ch <- prometheus.MustNewConstMetric(emitted, prometheus.CounterValue, float64(n.Emitted), t)
		ch <- prometheus.MustNewConstMetric(dropped, prometheus.CounterValue, float64(n.Dropped), t)
		ch <- prometheus.MustNewConstMetric(killed, prometheus.CounterValue, float64(n.Killed), t)
		ch <- prometheus.MustNewConstMetric(subscribers, prometheus.GaugeValue, float64(n.Subscribers), t)
		ch <- prometheus.MustNewConstMetric(emitters, prometheus.GaugeValue, float64(n.Emitters), t)
	}
	for _, s := range c.b.Subscriptions() {
		name, id := s.Name, strconv.FormatUint(s.ID, 10)
		ch <- prometheus.MustNewConstMetric(subDelivered, prometheus.CounterValue, float64(s.Delivered), name, id)
		ch <- prometheus.MustNewConstMetric(subDropped, prometheus.CounterValue, float64(s.Dropped), name, id)
		ch <- prometheus.MustNewConstMetric(subQueued, prometheus.GaugeValue, float64(s.Queued), name, id)
		ch <- prometheus.MustNewConstMetric(subCap, prometheus.GaugeValue, float64(s.BufSize), name, id)
	}
	ch <- prometheus.MustNewConstMetric(notifierPanics, prometheus.CounterValue, float64(c.b.NotifierPanics()))
}
