package scoring

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/promreg"
)

// ScoreBuckets are the bucket bounds of the meshbus_scoring_peer_score
// histogram: symmetric around 0, with the default thresholds (-80, -50, -10,
// 3, 100) falling between neighbouring bounds.
var ScoreBuckets = []float64{-1000, -100, -50, -10, -1, 0, 1, 10, 50, 100, 1000}

// The component's metric series, shared by every scorer in the process
// (descriptors and label values exist once; a scorer's own part is one
// promreg.Values and its score histogram).
var (
	schema promreg.Schema

	crossingsFam = schema.Family("meshbus_scoring_threshold_crossings_total",
		"Threshold crossings by threshold and direction (below: the score fell under it; above: it rose to or over it).",
		prometheus.CounterValue, "threshold", "direction")
	mCrossings = func() (ids [events.ThresholdOpportunisticGraft + 1][2]promreg.ID) { // [threshold][below]
		for th := events.ThresholdGossip; th <= events.ThresholdOpportunisticGraft; th++ {
			ids[th][0] = crossingsFam.Series(th.String(), "above")
			ids[th][1] = crossingsFam.Series(th.String(), "below")
		}
		return ids
	}()
	mPeers = schema.Gauge("meshbus_scoring_peers",
		"Peers scored at the last refresh, connected and retained.")
	mRetained = schema.Gauge("meshbus_scoring_retained_peers",
		"Disconnected peers whose score is retained, at the last refresh.")
	mRecords = schema.Gauge("meshbus_scoring_delivery_records",
		"Message delivery records kept for near-first and invalid-forwarder accounting, at the last refresh.")
	mSnapshots = schema.Counter("meshbus_scoring_snapshots_total",
		"EvtPeerScoresUpdated snapshots emitted.")
	mObserved = schema.Counter("meshbus_scoring_events_observed_total",
		"Input events fed to the scoring core.")
	mRejectedAppScores = schema.Counter("meshbus_scoring_rejected_app_scores_total",
		"EvtPeerAppScoreSet events ignored because the score was NaN or infinite.")
)

// metrics are one scorer's Prometheus metrics. Without a registerer both
// fields are nil and updating costs a nil check; with one, updating never
// allocates.
type metrics struct {
	v      *promreg.Values
	scores prometheus.Histogram // nil without a registerer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	if reg == nil {
		return m, nil
	}
	m.scores = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "meshbus", Subsystem: "scoring", Name: "peer_score",
		Help:    "Scores of all scored peers, observed once per peer at every decay interval.",
		Buckets: ScoreBuckets,
	})
	v, err := schema.Registered("scoring", reg, m.scores)
	if err != nil {
		return nil, err
	}
	m.v = v
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
	m.v.Inc(mCrossings[c.Threshold][i])
}

// score observes one peer's score in the histogram.
func (m *metrics) score(v float64) {
	if m.scores != nil {
		m.scores.Observe(v)
	}
}

// unregister removes every collector from reg (nil: nothing to do).
func (m *metrics) unregister(reg prometheus.Registerer) {
	m.v.Unregister(reg, m.scores)
}
