package peermgr

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/promreg"
)

// The manager's metric series, shared by every manager in the process
// (descriptors and label values exist once; a manager's own part is one
// promreg.Values, its per-protocol gauge and the gater's counters).
var (
	schema promreg.Schema

	dialsFam = schema.Family("meshbus_peermgr_dials_total",
		"Dials by the peer manager, by outcome (success or the failure reason).", prometheus.CounterValue, "outcome")
	mDialOK   = dialsFam.Series("success")
	mDialFail = func() (ids [events.DialFailCanceled + 1]promreg.ID) {
		for r := events.DialFailTimeout; r <= events.DialFailCanceled; r++ {
			ids[r] = dialsFam.Series(r.String())
		}
		return ids
	}()

	rejectedFam = schema.Family("meshbus_peermgr_records_rejected_total",
		"Peer records refused, by reason.", prometheus.CounterValue, "reason")
	mRejectedBy = func() map[string]promreg.ID {
		ids := make(map[string]promreg.ID)
		for _, r := range automaton.RejectReasons() {
			ids[r] = rejectedFam.Series(r)
		}
		return ids
	}()

	evictedFam = schema.Family("meshbus_peermgr_evictions_total",
		"Peers disconnected or removed by the peer manager, by reason.", prometheus.CounterValue, "reason")
	mEvictedBy = func() (ids [events.EvictExcessService + 1]promreg.ID) {
		for r := events.EvictColocation; r <= events.EvictExcessService; r++ {
			ids[r] = evictedFam.Series(r.String())
		}
		return ids
	}()

	connectedFam = schema.Family("meshbus_peermgr_connected_peers",
		"Connected peers by direction of their oldest connection.", prometheus.GaugeValue, "direction")
	mConnDir = func() (ids [3]promreg.ID) { // by network.Direction
		for d := network.DirUnknown; d <= network.DirOutbound; d++ {
			ids[d] = connectedFam.Series(dirName(d))
		}
		return ids
	}()

	mStoreSize = schema.Gauge("meshbus_peermgr_store_peers", "Peers in the peer store.")

	gaterDesc = prometheus.NewDesc("meshbus_peermgr_gater_refused_total",
		"Connections the gater refused to graylisted peers, by stage (dial: our dial; secured: after the handshake).",
		[]string{"stage"}, nil)
)

// metrics are one manager's Prometheus metrics. Without a registerer v and
// byProto are nil and updating costs a nil check; with one, a count never
// allocates.
type metrics struct {
	v       *promreg.Values
	byProto *prometheus.GaugeVec // labelled by whatever protocols the census names
}

// newMetrics registers the manager's metrics on reg (nil: it keeps none),
// with the refusal counters of g (if any).
func newMetrics(reg prometheus.Registerer, g *Gater) (*metrics, error) {
	m := &metrics{}
	if reg == nil {
		return m, nil
	}
	m.v = schema.NewValues()
	m.byProto = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "meshbus", Subsystem: "peermgr", Name: "connected_peers_by_protocol",
		Help: "Connected peers speaking each tracked protocol (mesh protocols and service slots).",
	}, []string{"protocol"})
	cs := []prometheus.Collector{m.v, m.byProto}
	if g != nil {
		cs = append(cs, gaterCollector{g})
	}
	if err := promreg.Register("peermgr", reg, cs...); err != nil {
		return nil, err
	}
	return m, nil
}

// gaterCollector exports g's refusal counts, read at scrape time.
type gaterCollector struct{ g *Gater }

func (c gaterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- gaterDesc }

func (c gaterCollector) Collect(ch chan<- prometheus.Metric) {
	d, s := c.g.Refused()
	ch <- prometheus.MustNewConstMetric(gaterDesc, prometheus.CounterValue, float64(d), "dial")
	ch <- prometheus.MustNewConstMetric(gaterDesc, prometheus.CounterValue, float64(s), "secured")
}

func dirName(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	}
	return "unknown"
}

func (m *metrics) dialFailed(r events.DialFailReason) {
	if r >= events.DialFailTimeout && int(r) < len(mDialFail) {
		m.v.Inc(mDialFail[r])
	}
}

func (m *metrics) reject(reason string) {
	if id, ok := mRejectedBy[reason]; ok {
		m.v.Inc(id)
	}
}

func (m *metrics) evict(r events.EvictReason) {
	if r >= events.EvictColocation && int(r) < len(mEvictedBy) {
		m.v.Inc(mEvictedBy[r])
	}
}

// gauges sets the connection and store gauges from a census.
func (m *metrics) gauges(c automaton.Census) {
	if m.v == nil {
		return
	}
	for d, n := range c.ByDirection {
		m.v.Set(mConnDir[d], float64(n))
	}
	m.byProto.Reset()
	for p, n := range c.ByProtocol {
		m.byProto.WithLabelValues(string(p)).Set(float64(n))
	}
	m.v.Set(mStoreSize, float64(c.StorePeers))
}
