package router

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// badInput names why an inbound stream was cut.
type badInput uint8

const (
	badFrameTooLarge badInput = iota
	badLengthPrefix
	badUndecodable
	badInputCount
)

// penalty is the behaviour penalty the bad input costs the peer.
func (b badInput) penalty() events.PenaltyReason {
	if b == badFrameTooLarge {
		return events.PenaltyOversizedRPC
	}
	return events.PenaltyUndecodableRPC
}

func (b badInput) String() string {
	switch b {
	case badFrameTooLarge:
		return "frame_too_large"
	case badLengthPrefix:
		return "bad_length_prefix"
	case badUndecodable:
		return "undecodable"
	}
	return "unknown"
}

const maxRejectReason = events.RejectGraylisted

const maxPenaltyReason = events.PenaltyBadPartial

// metrics are the router's Prometheus metrics. Every labelled child is
// resolved once here, so recording costs no allocation.
type metrics struct {
	rpcsIn, rpcsOut  prometheus.Counter
	invalidRPCs      lazyCounters // by badInput
	published        prometheus.Counter
	delivered        prometheus.Counter
	duplicates       prometheus.Counter
	rejected         lazyCounters // by events.RejectReason; 0 is "unknown"
	penalties        lazyCounters // by events.PenaltyReason; 0 is "unknown"
	dataDrops        prometheus.Counter
	controlDrops     prometheus.Counter
	cancelled        [automaton.CancelReceived + 1]prometheus.Counter // by automaton.CancelReason
	unwantedSkips    prometheus.Counter                               // copies not queued or not written: the peer's reader saw it does not need them
	subDrops         prometheus.Counter
	streamFailures   prometheus.Counter
	streamsReplaced  prometheus.Counter
	sigChecked       prometheus.Counter
	sigSkipped       prometheus.Counter
	peers            map[protocol.ID]prometheus.Gauge
	outcomes         []prometheus.Counter // indexed by automaton.Outcome; each made at its first count
	outcomeVec       *prometheus.CounterVec
	mesh             *meshCollector
	validationsAsync prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "meshbus", "router"
	m := &metrics{peers: make(map[protocol.ID]prometheus.Gauge), mesh: &meshCollector{}}
	rpcs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rpcs_total",
		Help: "RPCs read from (in) and written to (out) peers."}, []string{"direction"})
	invalid := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "invalid_rpcs_total",
		Help: "Inbound streams cut because of bad input, by reason."}, []string{"reason"})
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_total",
		Help: "Messages published locally, delivered (first valid copy) and duplicates received."}, []string{"kind"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_rejected_total",
		Help: "Received messages not delivered, by reason."}, []string{"reason"})
	penalties := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "penalties_total",
		Help: "Behaviour penalties the router reported against peers (EvtPeerPenalized counts), by reason."}, []string{"reason"})
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "queue_drops_total",
		Help: "Outbound entries dropped because a peer's queue was full, by kind (data or control)."}, []string{"kind"})
	cancelled := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "queue_cancelled_total",
		Help: "Messages for a peer dropped unsent, by reason: the router learnt the peer sent IDONTWANT for them (idontwant) or sent us the message itself (received), or the peer's reader had seen either before the copy was queued or written (unwanted)."}, []string{"reason"})
	subDrops := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "subscription_drops_total",
		Help: "Delivered messages dropped because a local subscription's buffer was full."})
	streamFail := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "stream_failures_total",
		Help: "Outbound streams that could not be opened or failed while writing."})
	replaced := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "inbound_streams_replaced_total",
		Help: "Inbound streams reset because the same peer opened a newer one."})
	sigs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "signature_checks_total",
		Help: "Received message copies whose signature policy was checked, or skipped as byte-identical to the copy accepted under a seen id."}, []string{"result"})
	peers := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "peers",
		Help: "Pubsub peers by negotiated protocol."}, []string{"protocol"})
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "outcomes_total",
		Help: "Automaton handler outcomes."}, []string{"outcome"})
	async := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "validations_running",
		Help: "Asynchronous validations in flight."})
	for _, c := range []prometheus.Collector{rpcs, invalid, msgs, rejected, penalties, drops, cancelled, subDrops, streamFail, replaced, sigs, peers, outcomes, async, m.mesh} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.rpcsIn, m.rpcsOut = rpcs.WithLabelValues("in"), rpcs.WithLabelValues("out")
	m.invalidRPCs = newLazyCounters(invalid, int(badInputCount), func(i int) string { return badInput(i).String() })
	m.published, m.delivered, m.duplicates = msgs.WithLabelValues("published"), msgs.WithLabelValues("delivered"), msgs.WithLabelValues("duplicate")
	m.rejected = newLazyCounters(rejected, int(maxRejectReason)+1, func(i int) string {
		if i == 0 {
			return "unknown"
		}
		return events.RejectReason(i).String()
	})
	m.penalties = newLazyCounters(penalties, int(maxPenaltyReason)+1, func(i int) string {
		if i == 0 {
			return "unknown"
		}
		return events.PenaltyReason(i).String()
	})
	m.dataDrops, m.controlDrops = drops.WithLabelValues("data"), drops.WithLabelValues("control")
	for r := automaton.CancelIDontWant; int(r) < len(m.cancelled); r++ {
		m.cancelled[r] = cancelled.WithLabelValues(r.String())
	}
	m.unwantedSkips = cancelled.WithLabelValues("unwanted")
	m.subDrops, m.streamFailures, m.validationsAsync = subDrops, streamFail, async
	m.streamsReplaced = replaced
	m.sigChecked, m.sigSkipped = sigs.WithLabelValues("checked"), sigs.WithLabelValues("skipped_identical")
	for _, p := range wire.Protocols {
		m.peers[p] = peers.WithLabelValues(string(p))
	}
	m.outcomes = make([]prometheus.Counter, len(automaton.Outcomes())+1)
	m.outcomeVec = outcomes
	return m, nil
}

// outcome counts o. Its labelled child is made at o's first count (one
// allocation per outcome for the router's life; a router sees a dozen of
// the fifty-odd outcomes), so an outcome never met is not exported.
// Called on the driver goroutine only.
func (m *metrics) outcome(o automaton.Outcome) {
	if o <= 0 || int(o) >= len(m.outcomes) {
		return
	}
	c := m.outcomes[o]
	if c == nil {
		c = m.outcomeVec.WithLabelValues(o.String())
		m.outcomes[o] = c
	}
	c.Inc()
}

func (m *metrics) penalty(e events.EvtPeerPenalized) {
	r := e.Reason
	if r > maxPenaltyReason {
		r = 0
	}
	m.penalties.add(int(r), float64(max(e.Count, 1)))
}

func (m *metrics) reject(r events.RejectReason) {
	if r > maxRejectReason {
		r = 0
	}
	m.rejected.add(int(r), 1)
}

// lazyCounters are the children of one CounterVec, by a small index, each
// made at its first count: these count rare events (rejections,
// penalties, bad input), most of which a node never sees, and every child
// made up front costs its labels and state for the node's life. Safe for
// concurrent use; a child, once made, is counted without allocating.
type lazyCounters struct {
	vec   *prometheus.CounterVec
	label func(int) string
	made  []atomic.Pointer[prometheus.Counter]
}

func newLazyCounters(vec *prometheus.CounterVec, n int, label func(int) string) lazyCounters {
	return lazyCounters{vec: vec, label: label, made: make([]atomic.Pointer[prometheus.Counter], n)}
}

// add adds v to child i (0 <= i < n).
func (l *lazyCounters) add(i int, v float64) {
	c := l.made[i].Load()
	if c == nil {
		// Concurrent first counts get the same child from the vector.
		child := l.vec.WithLabelValues(l.label(i))
		c = &child
		l.made[i].Store(c)
	}
	(*c).Add(v)
}

// meshCollector exports meshbus_router_mesh_peers{topic}, one gauge per
// joined topic, read at scrape time from sizes the driver keeps current (the
// per-topic equivalent of a GaugeFunc, without registering and unregistering
// a collector on every join and leave).
type meshCollector struct {
	mu     sync.RWMutex
	topics map[string]*atomic.Int64
}

var meshDesc = prometheus.NewDesc("meshbus_router_mesh_peers", "Peers in the local mesh of each joined topic.", []string{"topic"}, nil)

func (c *meshCollector) Describe(ch chan<- *prometheus.Desc) { ch <- meshDesc }

func (c *meshCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	names := make([]string, 0, len(c.topics))
	for t := range c.topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		ch <- prometheus.MustNewConstMetric(meshDesc, prometheus.GaugeValue, float64(c.topics[t].Load()), t)
	}
	c.mu.RUnlock()
}

func (c *meshCollector) add(topic string) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.topics == nil {
		c.topics = make(map[string]*atomic.Int64)
	}
	v := new(atomic.Int64)
	c.topics[topic] = v
	return v
}

func (c *meshCollector) remove(topic string) {
	c.mu.Lock()
	delete(c.topics, topic)
	c.mu.Unlock()
}
