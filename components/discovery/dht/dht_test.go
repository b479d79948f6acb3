package dht

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"strings"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/internal/metrictest"
	"github.com/meshbus/meshbus/internal/testhost"
	"github.com/prometheus/client_golang/prometheus"
)

// TestOptionsAndLifecycle: invalid options are ErrBadOption, nil
// dependencies ErrNilDependency; Close is idempotent and works before
// Start; Start after Close is ErrClosed, a second Start ErrStarted; a
// started DHT stops cleanly.
func TestOptionsAndLifecycle(t *testing.T) {
	h := testhost.New(t)
	bus := eventbus.New()
	defer bus.Close()
	for name, opt := range map[string]Option{
		"interval": WithInterval(0), "timeout": WithRoundTimeout(-time.Second), "topic": WithTopics(""),
		"reannounce": WithReannounce(-time.Second), "maxpeers": WithMaxPeers(0),
	} {
		if _, err := New(h, bus, opt); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: %v, want ErrBadOption", name, err)
		}
	}
	if _, err := New(nil, bus); !errors.Is(err, ErrNilDependency) {
		t.Errorf("nil host: %v", err)
	}
	reg := prometheus.NewRegistry()
	d, err := New(h, bus, WithTopics("t"), WithLogger(nil), WithClock(nil), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(h, bus, WithRegisterer(reg)); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second add-on on one registry: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := metrictest.Value(t, reg, "meshbus_dht_rounds_total"); ok {
		t.Fatal("metrics still registered after Close")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := d.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	d2, err := New(h, bus, WithTopics("t"), WithRegisterer(reg)) // Close unregistered d's
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if d2.Routing() == nil {
		t.Fatal("no DHT after Start")
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	if Namespace("x") != "meshbus/topic/x" {
		t.Fatalf("namespace %q", Namespace("x"))
	}
}

// TestRoundsAnnounceEachPeerOnce: two nodes that know only a bootstrap
// node find each other under a topic one of them follows through
// WithTopics and the other through an EvtTopicJoined on its bus. Rounds
// run on a mock clock; a peer found again in later rounds with the same
// addresses is announced once, not once per round. The metrics count the
// rounds and every find by the core's outcome.
func TestRoundsAnnounceEachPeerOnce(t *testing.T) {
	const topic = "rendezvous"
	clk := clock.NewMock()
	boot := testhost.New(t)
	bootBus := eventbus.New()
	defer bootBus.Close()
	bd, err := New(boot, bootBus, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if err := bd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer bd.Close()

	type member struct {
		d   *DHT
		bus *eventbus.Bus
		rec *bustest.Recorder
		reg *prometheus.Registry
	}
	var ms [2]member
	for i := range ms {
		h := testhost.New(t)
		bus := eventbus.New()
		defer bus.Close()
		reg := prometheus.NewRegistry()
		opts := []Option{WithClock(clk), WithBootstrapPeers(testhost.Info(boot)), WithRegisterer(reg)}
		if i == 0 {
			opts = append(opts, WithTopics(topic))
		}
		d, err := New(h, bus, opts...)
		if err != nil {
			t.Fatal(err)
		}
		rec := bustest.NewRecorder(t, bus, new(events.EvtPeerFound))
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		testhost.Connect(t, h, boot)
		ms[i] = member{d, bus, rec, reg}
	}
	// The second member follows the topic because "the router" joined it.
	em, err := eventbus.NewEmitter[events.EvtTopicJoined](ms[1].bus)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if err := em.Emit(events.EvtTopicJoined{Topic: topic}); err != nil {
		t.Fatal(err)
	}

	const rounds = 4
	for r := uint64(1); r <= rounds; r++ {
		clk.Add(30 * time.Second)
		for _, m := range ms {
			bustest.Eventually(t, testhost.Timeout, fmt.Sprintf("round %d", r), func() bool { return m.d.Rounds() >= r }, nil)
		}
	}
	for i, m := range ms {
		other := ms[1-i].d.h.ID()
		got := bustest.Of[events.EvtPeerFound](m.rec)
		n := 0
		for _, e := range got {
			if e.Info.ID == other {
				n++
				if e.Via != "dht" || e.Topic != topic || len(e.Info.Addrs) == 0 {
					t.Fatalf("member %d: event %+v", i, e)
				}
			}
		}
		if n != 1 {
			t.Fatalf("member %d announced the other %d times in %d rounds, want once (events %+v)", i, n, rounds, got)
		}
		if m.d.Found() != uint64(len(got)) {
			t.Fatalf("member %d: Found() %d, %d events", i, m.d.Found(), len(got))
		}
		if v := metrictest.Must(t, m.reg, "meshbus_dht_found_total", "outcome", "announced"); v != float64(len(got)) {
			t.Fatalf("member %d: found_total{announced} %v, %d events", i, v, len(got))
		}
		if v := metrictest.Must(t, m.reg, "meshbus_dht_rounds_total"); v != float64(m.d.Rounds()) || v < rounds {
			t.Fatalf("member %d: rounds_total %v, Rounds() %d", i, v, m.d.Rounds())
		}
		metrictest.Must(t, m.reg, "meshbus_dht_errors_total", "op", "advertise")
		metrictest.Must(t, m.reg, "meshbus_dht_found_total", "outcome", "repeat")
	}
}
