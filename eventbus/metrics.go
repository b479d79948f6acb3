package eventbus

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exposes the bus's counters to Prometheus. It reads, at scrape
// time, counters the bus maintains anyway, so metrics cost Emit nothing.
type collector struct {
	b *Bus

	emitted, dropped, killed, subscribers, emitters *prometheus.Desc
	subDelivered, subDropped, subQueued, subCap     *prometheus.Desc
	notifierPanics                                  *prometheus.Desc
}

func newCollector(b *Bus) *collector {
	typeLabel := []string{"type"}
	subLabels := []string{"subscriber", "id"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("meshbus_eventbus_"+name, help, labels, nil)
	}
	return &collector{
		b:              b,
		emitted:        d("events_emitted_total", "Events emitted, by event type.", typeLabel),
		dropped:        d("events_dropped_total", "Events dropped by full subscriptions, by event type.", typeLabel),
		killed:         d("subscriptions_killed_total", "Subscriptions ended by the Kill policy, by event type.", typeLabel),
		subscribers:    d("subscribers", "Live subscriptions receiving the type.", typeLabel),
		emitters:       d("emitters", "Live emitters of the type.", typeLabel),
		subDelivered:   d("subscriber_delivered_total", "Events offered to the subscription and not dropped.", subLabels),
		subDropped:     d("subscriber_dropped_total", "Events the subscription dropped.", subLabels),
		subQueued:      d("subscriber_queue_depth", "Events waiting in the subscription's channel.", subLabels),
		subCap:         d("subscriber_queue_capacity", "The subscription's buffer size.", subLabels),
		notifierPanics: d("notifier_panics_total", "Notifier callbacks that panicked.", nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.emitted, c.dropped, c.killed, c.subscribers, c.emitters,
		c.subDelivered, c.subDropped, c.subQueued, c.subCap, c.notifierPanics} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	b.mu.RLock()
	nodes := make([]*node, 0, len(b.nodes))
	emitters := make([]int, 0, len(b.nodes))
	for _, n := range b.nodes {
		nodes = append(nodes, n)
		emitters = append(emitters, n.emitters)
	}
	subs := make([]*subCore, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.RUnlock()

	for i, n := range nodes {
		t := n.typ.String()
		ch <- prometheus.MustNewConstMetric(c.emitted, prometheus.CounterValue, float64(n.emitted.Load()), t)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n.dropped.Load()), t)
		ch <- prometheus.MustNewConstMetric(c.killed, prometheus.CounterValue, float64(n.killed.Load()), t)
		ch <- prometheus.MustNewConstMetric(c.subscribers, prometheus.GaugeValue, float64(n.subscribers()), t)
		ch <- prometheus.MustNewConstMetric(c.emitters, prometheus.GaugeValue, float64(emitters[i]), t)
	}
	for _, s := range subs {
		name, id := s.settings.name, strconv.FormatUint(s.id, 10)
		ch <- prometheus.MustNewConstMetric(c.subDelivered, prometheus.CounterValue, float64(s.delivered()), name, id)
		ch <- prometheus.MustNewConstMetric(c.subDropped, prometheus.CounterValue, float64(s.dropped.Load()), name, id)
		ch <- prometheus.MustNewConstMetric(c.subQueued, prometheus.GaugeValue, float64(s.self.queued()), name, id)
		ch <- prometheus.MustNewConstMetric(c.subCap, prometheus.GaugeValue, float64(s.settings.bufSize), name, id)
	}
	ch <- prometheus.MustNewConstMetric(c.notifierPanics, prometheus.CounterValue, float64(b.notifierPanics.Load()))
}

// Collector returns a Prometheus collector for the bus's metrics: per event
// type emitted, dropped, killed, subscribers and emitters; per subscription
// delivered, dropped, queue depth and capacity (labels: subscriber name and
// a unique id). Register it once.
func (b *Bus) Collector() prometheus.Collector { return newCollector(b) }

// RegisterMetrics registers the bus's collector on reg.
func (b *Bus) RegisterMetrics(reg prometheus.Registerer) error {
	return reg.Register(b.Collector())
}
