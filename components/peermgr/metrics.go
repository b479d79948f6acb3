package peermgr

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/peermgr/automaton"
	"github.com/meshbus/meshbus/events"
)

// metrics are the manager's Prometheus collectors. Counters used per event
// are resolved once, so counting allocates nothing.
type metrics struct {
	dials      *prometheus.CounterVec
	dialOK     prometheus.Counter
	dialFail   [events.DialFailCanceled + 1]prometheus.Counter
	rejected   *prometheus.CounterVec
	rejectedBy map[string]prometheus.Counter
	evicted    *prometheus.CounterVec
	evictedBy  [events.EvictExcessService + 1]prometheus.Counter
	connected  *prometheus.GaugeVec
	connDir    [3]prometheus.Gauge // by network.Direction
	byProto    *prometheus.GaugeVec
	storeSize  prometheus.Gauge
}

// newMetrics builds the collectors and registers them on reg (if any), with
// the refusal counters of g (if any).
func newMetrics(reg prometheus.Registerer, g *Gater) (*metrics, error) {
	m := &metrics{
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meshbus", Subsystem: "peermgr", Name: "dials_total",
			Help: "Dials by the peer manager, by outcome (success or the failure reason).",
		}, []string{"outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meshbus", Subsystem: "peermgr", Name: "records_rejected_total",
			Help: "Peer records refused, by reason.",
		}, []string{"reason"}),
		evicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meshbus", Subsystem: "peermgr", Name: "evictions_total",
			Help: "Peers disconnected or removed by the peer manager, by reason.",
		}, []string{"reason"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meshbus", Subsystem: "peermgr", Name: "connected_peers",
			Help: "Connected peers by direction of their oldest connection.",
		}, []string{"direction"}),
		byProto: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meshbus", Subsystem: "peermgr", Name: "connected_peers_by_protocol",
			Help: "Connected peers speaking each tracked protocol (mesh protocols and service slots).",
		}, []string{"protocol"}),
		storeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "meshbus", Subsystem: "peermgr", Name: "store_peers",
			Help: "Peers in the peer store.",
		}),
		rejectedBy: make(map[string]prometheus.Counter),
	}
	m.dialOK = m.dials.WithLabelValues("success")
	for r := events.DialFailTimeout; r <= events.DialFailCanceled; r++ {
		m.dialFail[r] = m.dials.WithLabelValues(r.String())
	}
	for _, r := range automaton.RejectReasons() {
		m.rejectedBy[r] = m.rejected.WithLabelValues(r)
	}
	for r := events.EvictColocation; r <= events.EvictExcessService; r++ {
		m.evictedBy[r] = m.evicted.WithLabelValues(r.String())
	}
	for d := network.DirUnknown; d <= network.DirOutbound; d++ {
		m.connDir[d] = m.connected.WithLabelValues(dirName(d))
	}
	if reg != nil {
		cs := []prometheus.Collector{m.dials, m.rejected, m.evicted, m.connected, m.byProto, m.storeSize}
		if g != nil {
			cs = append(cs, gaterCounter(g, "dial"), gaterCounter(g, "secured"))
		}
		for _, c := range cs {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// gaterCounter exports one of g's refusal counts.
func gaterCounter(g *Gater, stage string) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "meshbus", Subsystem: "peermgr", Name: "gater_refused_total",
		Help:        "Connections the gater refused to graylisted peers, by stage (dial: our dial; secured: after the handshake).",
		ConstLabels: prometheus.Labels{"stage": stage},
	}, func() float64 {
		d, s := g.Refused()
		if stage == "dial" {
			return float64(d)
		}
		return float64(s)
	})
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
	if int(r) < len(m.dialFail) && m.dialFail[r] != nil {
		m.dialFail[r].Inc()
	}
}

func (m *metrics) reject(reason string) {
	if c, ok := m.rejectedBy[reason]; ok {
		c.Inc()
	}
}

func (m *metrics) evict(r events.EvictReason) {
	if int(r) < len(m.evictedBy) && m.evictedBy[r] != nil {
		m.evictedBy[r].Inc()
	}
}

// gauges sets the connection and store gauges from a census.
func (m *metrics) gauges(c automaton.Census) {
	for d, n := range c.ByDirection {
		m.connDir[d].Set(float64(n))
	}
	m.byProto.Reset()
	for p, n := range c.ByProtocol {
		m.byProto.WithLabelValues(string(p)).Set(float64(n))
	}
	m.storeSize.Set(float64(c.StorePeers))
}
