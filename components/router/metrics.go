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
	"github.com/meshbus/meshbus/internal/promreg"
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

const maxPenaltyReason = events.PenaltyChokeFlood

// The router's metric series, shared by every router in the process
// (descriptors and label values exist once; a router's metrics are one
// promreg.Values of this schema, see newMetrics).
var (
	schema promreg.Schema

	rpcsFam = schema.Family("meshbus_router_rpcs_total",
		"RPCs read from (in) and written to (out) peers.", prometheus.CounterValue, "direction")
	mRPCsIn  = rpcsFam.Series("in")
	mRPCsOut = rpcsFam.Series("out")

	invalidFam = schema.Family("meshbus_router_invalid_rpcs_total",
		"Inbound streams cut because of bad input, by reason.", prometheus.CounterValue, "reason")
	mInvalid = lazySeries(invalidFam, int(badInputCount), func(i int) string { return badInput(i).String() })

	msgsFam = schema.Family("meshbus_router_messages_total",
		"Messages published locally, delivered (first valid copy) and duplicates received.", prometheus.CounterValue, "kind")
	mPublished  = msgsFam.Series("published")
	mDelivered  = msgsFam.Series("delivered")
	mDuplicates = msgsFam.Series("duplicate")

	rejectedFam = schema.Family("meshbus_router_messages_rejected_total",
		"Received messages not delivered, by reason.", prometheus.CounterValue, "reason")
	mRejected = lazySeries(rejectedFam, int(maxRejectReason)+1, func(i int) string {
		if i == 0 {
			return "unknown"
		}
		return events.RejectReason(i).String()
	})

	penaltiesFam = schema.Family("meshbus_router_penalties_total",
		"Behaviour penalties the router reported against peers (EvtPeerPenalized counts), by reason.", prometheus.CounterValue, "reason")
	mPenalties = lazySeries(penaltiesFam, int(maxPenaltyReason)+1, func(i int) string {
		if i == 0 {
			return "unknown"
		}
		return events.PenaltyReason(i).String()
	})

	dropsFam = schema.Family("meshbus_router_queue_drops_total",
		"Outbound entries dropped because a peer's queue was full, by kind (data or control).", prometheus.CounterValue, "kind")
	mDataDrops    = dropsFam.Series("data")
	mControlDrops = dropsFam.Series("control")

	cancelledFam = schema.Family("meshbus_router_queue_cancelled_total",
		"Messages for a peer dropped unsent, by reason: the router learnt the peer sent IDONTWANT for them (idontwant), sent us the message itself or announced it with PREAMBLE (received) or sent IMRECEIVING for it (imreceiving), or the peer's reader had seen one of these before the copy was queued or written (unwanted).", prometheus.CounterValue, "reason")
	mCancelled = func() (ids [automaton.MaxCancelReason + 1]promreg.ID) {
		for r := automaton.CancelIDontWant; int(r) < len(ids); r++ {
			ids[r] = cancelledFam.Series(r.String())
		}
		return ids
	}()
	mUnwantedSkips = cancelledFam.Series("unwanted") // copies not queued or not written: the peer's reader saw it does not need them

	mSubDrops = schema.Counter("meshbus_router_subscription_drops_total",
		"Delivered messages dropped because a local subscription's buffer was full.")
	mStreamFailures = schema.Counter("meshbus_router_stream_failures_total",
		"Outbound streams that could not be opened or failed while writing.")
	mStreamsReplaced = schema.Counter("meshbus_router_inbound_streams_replaced_total",
		"Inbound streams reset because the same peer opened a newer one.")

	sigsFam = schema.Family("meshbus_router_signature_checks_total",
		"Received message copies whose signature policy was checked, or skipped as byte-identical to the copy accepted under a seen id.", prometheus.CounterValue, "result")
	mSigChecked = sigsFam.Series("checked")
	mSigSkipped = sigsFam.Series("skipped_identical")

	peersFam = schema.Family("meshbus_router_peers", "Pubsub peers by negotiated protocol.", prometheus.GaugeValue, "protocol")
	mPeers   = func() map[protocol.ID]promreg.ID {
		ids := make(map[protocol.ID]promreg.ID, len(wire.Protocols))
		for _, p := range wire.Protocols {
			ids[p] = peersFam.Series(string(p))
		}
		return ids
	}()

	// mOutcomes is indexed by automaton.Outcome: a router sees a dozen of
	// the fifty-odd outcomes, and one never met is not exported.
	outcomesFam = schema.Family("meshbus_router_outcomes_total", "Automaton handler outcomes.", prometheus.CounterValue, "outcome")
	mOutcomes   = func() []promreg.ID {
		ids := make([]promreg.ID, len(automaton.Outcomes())+1)
		for _, o := range automaton.Outcomes() {
			ids[o] = outcomesFam.Lazy(o.String())
		}
		return ids
	}()

	idwLearnFam = schema.Family("meshbus_router_idontwant_learned_total",
		"Learned IDONTWANT for small messages: IDONTWANTs not sent to a peer whose small-message IDONTWANTs mostly arrive late (suppressed) and those still sent to it to keep measuring (probe); samples finding an IDONTWANT late or in time (late, timely); peers whose small-message IDONTWANTs stopped (quieted) or resumed (resumed).", prometheus.CounterValue, "kind")
	mIDWSuppressed = idwLearnFam.Lazy("suppressed")
	mIDWProbes     = idwLearnFam.Lazy("probe")
	mIDWLate       = idwLearnFam.Lazy("late")
	mIDWTimely     = idwLearnFam.Lazy("timely")
	mIDWQuieted    = idwLearnFam.Lazy("quieted")
	mIDWResumed    = idwLearnFam.Lazy("resumed")

	preambleFam = schema.Family("meshbus_router_preamble_total",
		"gossipsub v1.4 PREAMBLE and IMRECEIVING with v1.4 peers: PREAMBLEs sent (sent), forwarded messages held for an announce window (held), IMRECEIVINGs sent (imreceiving_sent), IDONTWANTs answering a PREAMBLE for a message we have (idontwant_sent), copies not sent because their peer sent IMRECEIVING (skipped), IWANTs to another announcer after a source missed its deadline (fallback), awaited messages forgotten with nobody left to ask (expired), IDONTWANTs not sent to a peer already told IMRECEIVING (idontwant_spared), IWANTs sent to a message's chosen source (pull_sent), held or waiting copies sent at once because their peer asked with IWANT (pulled), PREAMBLEs left unanswered because their sender had been told IMRECEIVING already (answer_spared).", prometheus.CounterValue, "kind")
	mPreSent      = preambleFam.Lazy("sent")
	mPreHeld      = preambleFam.Lazy("held")
	mPreImrSent   = preambleFam.Lazy("imreceiving_sent")
	mPreIDWSent   = preambleFam.Lazy("idontwant_sent")
	mPreSkipped   = preambleFam.Lazy("skipped")
	mPreFallbacks = preambleFam.Lazy("fallback")
	mPreExpired   = preambleFam.Lazy("expired")
	mPreIDWSpared = preambleFam.Lazy("idontwant_spared")
	mPrePullsSent = preambleFam.Lazy("pull_sent")
	mPrePulled    = preambleFam.Lazy("pulled")
	mPreSpared    = preambleFam.Lazy("answer_spared")
	mPreBroken    = preambleFam.Lazy("broken_head")

	mValidationsAsync = schema.Gauge("meshbus_router_validations_running", "Asynchronous validations in flight.")

	partialRejectedFam = schema.Family("meshbus_router_partial_rejected_total",
		"Partial-messages RPCs rejected, by reason.", prometheus.CounterValue, "reason")
	mPartialRejected = reasonSeries(partialRejectedFam, events.MaxPartialRejectReason)
	mPartialRPCsOut  = schema.Family("meshbus_router_partial_rpcs_sent_total",
		"Partial-messages RPCs queued for peers.", prometheus.CounterValue).Lazy()

	fragRejectedFam = schema.Family("meshbus_router_fragments_rejected_total",
		"gossipsub v1.4 fragments (or reassembled messages) rejected, by reason.", prometheus.CounterValue, "reason")
	mFragRejected = reasonSeries(fragRejectedFam, events.MaxFragmentRejectReason)
	fragsFam      = schema.Family("meshbus_router_fragments_total",
		"gossipsub v1.4 fragments received (in), written (out), received again for an index already held (duplicate), and received for a topic we are not in and not kept (skipped).", prometheus.CounterValue, "kind")
	mFragmentsIn      = fragsFam.Lazy("in")
	mFragmentsOut     = fragsFam.Lazy("out")
	mFragmentsDup     = fragsFam.Lazy("duplicate")
	mFragmentsSkipped = fragsFam.Lazy("skipped")
	fragMsgsFam       = schema.Family("meshbus_router_fragmented_messages_total",
		"Messages reassembled from gossipsub v1.4 fragments (in; then checked as any received message) and written as fragments (out).", prometheus.CounterValue, "direction")
	mFragmentedIn    = fragMsgsFam.Lazy("in")
	mFragmentedOut   = fragMsgsFam.Lazy("out")
	mReassemblyBytes = schema.Gauge("meshbus_router_fragment_reassembly_bytes",
		"Bytes held by gossipsub v1.4 reassemblies in progress (fragment data and slots), bounded by LargeMessageConfig.MaxReassemblyBytes.")
)

// reasonSeries adds f's lazy series for the reasons 0..max, each labelled
// with its name; the result is indexed by reason.
func reasonSeries[R interface {
	~uint8
	String() string
}](f *promreg.Family, max R) []promreg.ID {
	ids := make([]promreg.ID, int(max)+1)
	for r := R(0); r <= max; r++ {
		ids[r] = f.Lazy(r.String())
	}
	return ids
}

// lazySeries adds n lazy series of f labelled label(0..n-1).
func lazySeries(f *promreg.Family, n int, label func(int) string) []promreg.ID {
	ids := make([]promreg.ID, n)
	for i := range ids {
		ids[i] = f.Lazy(label(i))
	}
	return ids
}

// metrics are one router's Prometheus metrics: its numbers (nil without a
// registerer: then every update is a nil check and nothing is kept) and
// the per-topic mesh sizes. Updating either never allocates.
type metrics struct {
	v    *promreg.Values
	mesh *meshCollector
}

// newMetrics registers the router's metrics on reg; with a nil reg it
// keeps none (the mesh sizes still serve the driver).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{mesh: &meshCollector{}}
	v, err := schema.Registered("router", reg, m.mesh)
	if err != nil {
		return nil, err
	}
	m.v = v
	return m, nil
}

// outcome counts o. Called on the driver goroutine only.
func (m *metrics) outcome(o automaton.Outcome) {
	if o <= 0 || int(o) >= len(mOutcomes) {
		return
	}
	m.v.Inc(mOutcomes[o])
}

// idontwant adds one Output's learned-IDONTWANT counts. Called on the
// driver goroutine only.
// counted is one counter and what to add to it.
type counted struct {
	id promreg.ID
	n  int
}

// addCounts adds each non-zero n to its counter.
func (m *metrics) addCounts(cs ...counted) {
	for _, c := range cs {
		if c.n > 0 {
			m.v.Add(c.id, uint64(c.n))
		}
	}
}

func (m *metrics) idontwant(c automaton.IDontWantCounts) {
	m.addCounts(counted{mIDWSuppressed, c.Suppressed}, counted{mIDWProbes, c.Probes}, counted{mIDWLate, c.Late},
		counted{mIDWTimely, c.Timely}, counted{mIDWQuieted, c.Quieted}, counted{mIDWResumed, c.Resumed})
}

func (m *metrics) preamble(c automaton.PreambleCounts) {
	m.addCounts(counted{mPreSent, c.Sent}, counted{mPreHeld, c.Held}, counted{mPreImrSent, c.ImReceivingSent},
		counted{mPreIDWSent, c.IDontWantSent}, counted{mPreSkipped, c.Skipped}, counted{mPreFallbacks, c.Fallbacks},
		counted{mPreExpired, c.Expired}, counted{mPreIDWSpared, c.IDontWantSpared},
		counted{mPrePullsSent, c.PullsSent}, counted{mPrePulled, c.Pulled}, counted{mPreSpared, c.AnswersSpared},
		counted{mPreBroken, c.BrokenHeads})
}

func (m *metrics) penalty(e events.EvtPeerPenalized) {
	r := e.Reason
	if r > maxPenaltyReason {
		r = 0
	}
	m.v.Add(mPenalties[r], uint64(max(e.Count, 1)))
}

func (m *metrics) reject(r events.RejectReason) {
	if r > maxRejectReason {
		r = 0
	}
	m.v.Inc(mRejected[r])
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
