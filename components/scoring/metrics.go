package scoring

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/events"
)

// ScoreBuckets are the bucket bounds of the meshbus_scoring_peer_score
// histogram: symmetric around 0, with the default thresholds (-80, -50, -10,
// 3, 100) falling between neighbouring bounds.
var ScoreBuckets = []float64{-1000, -100, -50, -10, -1, 0, 1, 10, 50, 100, 1000}

// metrics are the component's Prometheus collectors. Every child is resolved
// at construction so that updating one allocates nothing.
type metrics struct {
	scores            prometheus.Histogram
	crossings         [events.ThresholdOpportunisticGraft + 1][2]prometheus.Counter // [threshold][below]
	peers             prometheus.Gauge
	retained          prometheus.Gauge
	records           prometheus.Gauge
	snapshots         prometheus.Counter
	observed          prometheus.Counter
	rejectedAppScores prometheus.Counter
	all               []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "meshbus", "scoring"
	m := &metrics{
		scores: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "peer_score",
			Help:    "Scores of all scored peers, observed once per peer at every decay interval.",
			Buckets: ScoreBuckets,
		}),
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "peers",
			Help: "Peers scored at the last refresh, connected and retained.",
		}),
		retained: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "retained_peers",
			Help: "Disconnected peers whose score is retained, at the last refresh.",
		}),
		records: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "delivery_records",
			Help: "Message delivery records kept for near-first and invalid-forwarder accounting, at the last refresh.",
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "snapshots_total",
			Help: "EvtPeerScoresUpdated snapshots emitted.",
		}),
		observed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_observed_total",
			Help: "Input events fed to the scoring core.",
		}),
		rejectedAppScores: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rejected_app_scores_total",
			Help: "EvtPeerAppScoreSet events ignored because the score was NaN or infinite.",
		}),
	}
	crossings := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "threshold_crossings_total",
		Help: "Threshold crossings by threshold and direction (below: the score fell under it; above: it rose to or over it).",
	}, []string{"threshold", "direction"})
	for th := events.ThresholdGossip; th <= events.ThresholdOpportunisticGraft; th++ {
		m.crossings[th][0] = crossings.WithLabelValues(th.String(), "above")
		m.crossings[th][1] = crossings.WithLabelValues(th.String(), "below")
	}
	m.all = []prometheus.Collector{
		m.scores, crossings, m.peers, m.retained, m.records, m.snapshots, m.observed, m.rejectedAppScores,
	}
	if reg == nil {
		return m, nil
	}
	all := m.all
	for i, c := range all {
		if err := reg.Register(c); err != nil {
			for _, done := range all[:i] { // all or nothing
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("scoring: registering metrics: %w", err)
		}
	}
	return m, nil
}

// crossed counts one threshold crossing.
func (m *metrics) crossed(c events.EvtPeerScoreThresholdCrossed) {
	if c.Threshold < events.ThresholdGossip || c.Threshold > events.ThresholdOpportunisticGraft {
		return
	}
	i := 0
	if c.Below {
		i = 1
	}
	m.crossings[c.Threshold][i].Inc()
}

// unregister removes every collector from reg (nil: nothing to do).
func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range m.all {
		reg.Unregister(c)
	}
}
