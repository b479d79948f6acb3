package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/host"
)

// meshbusNode is a full meshbus node (host.New: connection tracking,
// scoring, router, peer manager) with its default options, but metrics:
// go-libp2p-pubsub keeps none unless a tracer is installed, and the
// gossipsub side installs one that counts duplicates and sent RPCs, so
// this node keeps only the router's metrics (the same counts, read by
// Counters), on a registry of its own; the node itself is built
// host.WithoutMetrics (no bus collector, no conntrack, scoring or peer
// manager metrics).
type meshbusNode struct {
	node   *host.Node
	r      *router.Router
	reg    *prometheus.Registry // the router's metrics only
	topics map[string]*router.Topic
	subs   map[string]*router.Subscription
}

func newMeshbusNode(ctx context.Context, cfg Config) (benchNode, error) {
	addr, err := listenAddr(cfg)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &meshbusNode{reg: prometheus.NewRegistry(), topics: map[string]*router.Topic{}, subs: map[string]*router.Subscription{}}
	ropts := []router.Option{router.WithRegisterer(b.reg)}
	// MESHBUS_BENCH_LAZY=1: learned lazy forwarding with its defaults
	// (router.DefaultLazyConfig), for A/B runs (docs/testplans.md, "Round 6").
	// MESHBUS_BENCH_LAZY_FLUSH (a duration; 0 for immediate IHAVEs),
	// MESHBUS_BENCH_LAZY_MINEAGER (an integer) and MESHBUS_BENCH_LAZY_WASTE
	// (the waste threshold, a float in (0, 1]) adjust it.
	if os.Getenv("MESHBUS_BENCH_LAZY") == "1" {
		lc := router.DefaultLazyConfig()
		if err := fromEnv("MESHBUS_BENCH_LAZY_FLUSH", time.ParseDuration, &lc.FlushInterval); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_LAZY_MINEAGER", strconv.Atoi, &lc.MinEager); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_LAZY_WASTE", parseFloat, &lc.WasteThreshold); err != nil {
			return nil, err
		}
		ropts = append(ropts, router.WithLazyForwarding(lc))
	}
	// Choking is on by default (router.DefaultChokeConfig: peers within
	// 10 ms of RTT, measured by the host's prober). MESHBUS_BENCH_CHOKE=0
	// turns it off; MESHBUS_BENCH_CHOKE_UNCHOKED, _MINUNCHOKED (0: no
	// narrow topics), _WIDEN_HOLD, _NARROW_FIRSTS, _MINFIRSTS, _FIRSTFIRSTS, _EXPLORE
	// and _SKIP (SkipAuthorsAfter, 0: no author skip asked) (integers),
	// _WIDEN_AT (a share), MESHBUS_BENCH_CHOKE_FLUSH and
	// MESHBUS_BENCH_CHOKE_MAXRTT (durations; 0 for any RTT) adjust it.
	if v := os.Getenv("MESHBUS_BENCH_CHOKE"); v == "0" {
		ropts = append(ropts, router.WithoutChoking())
	} else if v != "" && v != "1" {
		return nil, fmt.Errorf("MESHBUS_BENCH_CHOKE=%q: want 0 or 1", v)
	} else {
		cc := router.DefaultChokeConfig()
		if err := fromEnv("MESHBUS_BENCH_CHOKE_UNCHOKED", strconv.Atoi, &cc.Unchoked); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_MINUNCHOKED", strconv.Atoi, &cc.MinUnchoked); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_WIDEN_HOLD", strconv.Atoi, &cc.WidenHold); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_WIDEN_AT", parseFloat, &cc.WidenAt); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_NARROW_FIRSTS", strconv.Atoi, &cc.NarrowFirsts); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_MINFIRSTS", strconv.Atoi, &cc.MinFirsts); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_FIRSTFIRSTS", strconv.Atoi, &cc.FirstFirsts); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_EXPLORE", strconv.Atoi, &cc.ExploreEvery); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_FLUSH", time.ParseDuration, &cc.FlushInterval); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_MAXRTT", time.ParseDuration, &cc.MaxRTT); err != nil {
			return nil, err
		}
		if err := fromEnv("MESHBUS_BENCH_CHOKE_SKIP", strconv.Atoi, &cc.SkipAuthorsAfter); err != nil {
			return nil, err
		}
		ropts = append(ropts, router.WithChoking(cc))
	}
	// MESHBUS_BENCH_IDW_THRESHOLD (bytes): the smallest message data the
	// router sends IDONTWANT for (GossipConfig.IDontWantThreshold), for A/B
	// runs of what IDONTWANT costs and saves at a message size.
	gc := router.DefaultGossipConfig()
	gc.FloodPublish = cfg.FloodPublish // as go-libp2p-pubsub is configured (Config.FloodPublish)
	if err := fromEnv("MESHBUS_BENCH_IDW_THRESHOLD", strconv.Atoi, &gc.IDontWantThreshold); err != nil {
		return nil, err
	}
	ropts = append(ropts, router.WithGossipConfig(gc))
	// MESHBUS_BENCH_STAGGER_MIN (bytes; 0 turns it off), _K, _PUBK (copies
	// in flight for forwarded and own messages) and _WAIT (a duration):
	// staggered forwarding of large messages (router.StaggerConfig), for
	// A/B runs; unset ones keep router.DefaultStaggerConfig's values.
	sc := router.DefaultStaggerConfig()
	for _, err := range []error{
		fromEnv("MESHBUS_BENCH_STAGGER_MIN", strconv.Atoi, &sc.MinData),
		fromEnv("MESHBUS_BENCH_STAGGER_K", strconv.Atoi, &sc.K),
		fromEnv("MESHBUS_BENCH_STAGGER_PUBK", strconv.Atoi, &sc.PublishK),
		fromEnv("MESHBUS_BENCH_STAGGER_WAIT", time.ParseDuration, &sc.MaxWait),
	} {
		if err != nil {
			return nil, err
		}
	}
	if sc != router.DefaultStaggerConfig() {
		ropts = append(ropts, router.WithStaggeredForwarding(sc))
	}
	// MESHBUS_BENCH_PREAMBLE_MIN (bytes; 0 turns it off), _UNKNOWN, _BASE,
	// _MAX and _IMMEDIATE_RTT (durations), _RTTS and _IMMEDIATE (integers)
	// and _PULL (0 or 1): gossipsub v1.4 PREAMBLE and IMRECEIVING's
	// announce window and pull (router.PreambleConfig), for A/B runs;
	// unset ones keep router.DefaultPreambleConfig's values. They act only
	// between routers that negotiated v1.4 (MESHBUS_BENCH_LARGE=0 turns
	// v1.4 off).
	pc := router.DefaultPreambleConfig()
	for _, err := range []error{
		fromEnv("MESHBUS_BENCH_PREAMBLE_MIN", strconv.Atoi, &pc.MinData),
		fromEnv("MESHBUS_BENCH_PREAMBLE_UNKNOWN", time.ParseDuration, &pc.WindowUnknown),
		fromEnv("MESHBUS_BENCH_PREAMBLE_BASE", time.ParseDuration, &pc.WindowBase),
		fromEnv("MESHBUS_BENCH_PREAMBLE_MAX", time.ParseDuration, &pc.WindowMax),
		fromEnv("MESHBUS_BENCH_PREAMBLE_RTTS", strconv.Atoi, &pc.WindowRTTs),
		fromEnv("MESHBUS_BENCH_PREAMBLE_IMMEDIATE", strconv.Atoi, &pc.Immediate),
		fromEnv("MESHBUS_BENCH_PREAMBLE_IMMEDIATE_RTT", time.ParseDuration, &pc.ImmediateRTT),
		fromEnv("MESHBUS_BENCH_PREAMBLE_PULL", strconv.ParseBool, &pc.Pull),
	} {
		if err != nil {
			return nil, err
		}
	}
	if pc != router.DefaultPreambleConfig() {
		ropts = append(ropts, router.WithPreamble(pc))
	}
	// MESHBUS_BENCH_IDW_LEARN=0 turns learned IDONTWANT for small messages
	// off (router.WithLearnedIDontWant), =1 turns it on with its defaults;
	// MESHBUS_BENCH_IDW_LEARN_BELOW (bytes), _AT and _RESUME (late shares)
	// and _PROBE (one in N) adjust it, for A/B runs.
	ic := router.DefaultGossipConfig().IDontWantLearn
	switch os.Getenv("MESHBUS_BENCH_IDW_LEARN") {
	case "0":
		ic.Below = 0
	case "1":
		ic = router.DefaultIDontWantLearnConfig()
	}
	for _, err := range []error{
		fromEnv("MESHBUS_BENCH_IDW_LEARN_BELOW", strconv.Atoi, &ic.Below),
		fromEnv("MESHBUS_BENCH_IDW_LEARN_AT", parseFloat, &ic.SuppressAt),
		fromEnv("MESHBUS_BENCH_IDW_LEARN_RESUME", parseFloat, &ic.ResumeBelow),
		fromEnv("MESHBUS_BENCH_IDW_LEARN_PROBE", strconv.Atoi, &ic.ProbeEvery),
	} {
		if err != nil {
			return nil, err
		}
	}
	if ic != router.DefaultGossipConfig().IDontWantLearn {
		ropts = append(ropts, router.WithLearnedIDontWant(ic))
	}
	// MESHBUS_BENCH_FRAGMENT_THRESHOLD and MESHBUS_BENCH_FRAGMENT_SIZE
	// (bytes): gossipsub v1.4 fragmentation between meshbus nodes
	// (router.LargeMessageConfig; a threshold above the message size sends
	// whole messages), and MESHBUS_BENCH_LARGE=0 turns large-message
	// handling off, for A/B runs.
	lmc := router.DefaultLargeMessageConfig()
	for _, err := range []error{
		fromEnv("MESHBUS_BENCH_FRAGMENT_THRESHOLD", strconv.Atoi, &lmc.FragmentThreshold),
		fromEnv("MESHBUS_BENCH_FRAGMENT_SIZE", strconv.Atoi, &lmc.FragmentSize),
	} {
		if err != nil {
			return nil, err
		}
	}
	switch {
	case os.Getenv("MESHBUS_BENCH_LARGE") == "0":
		ropts = append(ropts, router.WithoutLargeMessages())
	case lmc != router.DefaultLargeMessageConfig():
		ropts = append(ropts, router.WithLargeMessages(lmc))
	}
	stageNode := -1
	if cfg.stages != nil {
		stageNode = cfg.stages.node()
		ropts = append(ropts, router.WithStageTracer(routerStages{log: cfg.stages, node: stageNode}))
	}
	hopts := []host.Option{host.WithLogger(quiet), host.WithoutMetrics(), host.WithListenAddrs(addr),
		host.WithFx(fx.Populate(&b.r), router.Options(ropts...))}
	// MESHBUS_BENCH_RTT=0: no RTT prober (host.ComponentRTT), so no RTTs:
	// nobody is choked and PREAMBLE's windows take their unknown-RTT value.
	if os.Getenv("MESHBUS_BENCH_RTT") == "0" {
		hopts = append(hopts, host.WithoutComponent(host.ComponentRTT))
	}
	n, err := host.New(ctx, hopts...)
	if err != nil {
		return nil, err
	}
	b.node = n
	if stageNode >= 0 {
		cfg.stages.setPeer(stageNode, n.ID())
	}
	return b, nil
}

// parseFloat parses a float64.
func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// fromEnv parses the environment variable name into *dst when it is set;
// unset leaves *dst as it is.
func fromEnv[T any](name string, parse func(string) (T, error), dst *T) error {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	x, err := parse(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = x
	return nil
}

func (b *meshbusNode) ID() peer.ID             { return b.node.ID() }
func (b *meshbusNode) AddrInfo() peer.AddrInfo { return b.node.AddrInfo() }
func (b *meshbusNode) Connect(ctx context.Context, ai peer.AddrInfo) error {
	return b.node.Connect(ctx, ai)
}

func (b *meshbusNode) Join(topic string, buffer int) error {
	t, err := b.r.Join(topic)
	if err != nil {
		return err
	}
	s, err := t.Subscribe(router.SubscriptionBuffer(buffer))
	if err != nil {
		return err
	}
	b.topics[topic], b.subs[topic] = t, s
	return nil
}

func (b *meshbusNode) MeshSize(topic string) int { return len(b.r.Mesh(topic)) }

func (b *meshbusNode) Publish(ctx context.Context, topic string, data []byte) error {
	t, ok := b.topics[topic]
	if !ok {
		return fmt.Errorf("publish to %q before Join", topic)
	}
	return t.Publish(ctx, data)
}

func (b *meshbusNode) Next(ctx context.Context, topic string) (peer.ID, string, []byte, error) {
	m, err := b.subs[topic].Next(ctx)
	if err != nil {
		return "", "", nil, err
	}
	return m.From, m.ID, m.Data, nil
}

func (b *meshbusNode) Counters() (float64, float64) {
	reg := b.reg
	return counter(reg, "meshbus_router_messages_total", "kind", "duplicate"),
		counter(reg, "meshbus_router_rpcs_total", "direction", "out")
}

// Cancelled returns the queued copies the router dropped unsent.
func (b *meshbusNode) Cancelled() float64 {
	return counterAll(b.reg, "meshbus_router_queue_cancelled_total")
}

// Close closes the node. With MESHBUS_BENCH_OUTCOMES=1 it first prints
// the router's outcome, message and PREAMBLE counters to stderr
// ("outcome NAME N" lines, one node's each; sum them over nodes), for
// diagnosis.
func (b *meshbusNode) Close() error {
	if os.Getenv("MESHBUS_BENCH_OUTCOMES") == "1" {
		if mfs, err := b.reg.Gather(); err == nil {
			for _, mf := range mfs {
				prefix := ""
				switch mf.GetName() {
				case "meshbus_router_outcomes_total", "meshbus_router_messages_total", "meshbus_router_idontwant_learned_total":
				case "meshbus_router_preamble_total":
					prefix = "preamble_"
				default:
					continue
				}
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						fmt.Fprintf(os.Stderr, "outcome %s%s %.0f\n", prefix, l.GetValue(), m.GetCounter().GetValue())
					}
				}
			}
		}
	}
	return b.node.Close()
}

// counter reads one labelled counter from a registry.
func counter(reg *prometheus.Registry, name, label, value string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label, value) {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// counterAll sums one counter over all its labels.
func counterAll(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// routerStages records a meshbus node's stages in the run's stage log
// (router.WithStageTracer; -stages).
type routerStages struct {
	log  *stageLog
	node int
}

// routerKinds maps the router's stages to the log's.
var routerKinds = map[router.Stage]stageKind{
	router.StageRead: stRead, router.StageReceived: stReceived, router.StageQueued: stQueued,
	router.StageWriting: stWriting, router.StageWritten: stWritten, router.StageDelivered: stHanded,
}

func (t routerStages) Stage(s router.Stage, id string, p peer.ID) {
	if k, ok := routerKinds[s]; ok {
		t.log.add(k, id, t.node, p)
	}
}
