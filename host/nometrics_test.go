package host

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/conntrack"
	"github.com/meshbus/meshbus/internal/promreg"
)

// metricsIn reads the node's registry from its graph, if it has one.
type metricsIn struct {
	fx.In
	Registerer prometheus.Registerer `optional:"true"`
	Gatherer   prometheus.Gatherer   `optional:"true"`
	Registry   *prometheus.Registry  `optional:"true"`
}

// TestNodeWithoutMetrics: a node built WithoutMetrics has no registry, its
// graph provides none, none of its components keeps a metric, and it works:
// two such nodes exchange a message both ways.
func TestNodeWithoutMetrics(t *testing.T) {
	var graph [2]metricsIn
	var trackers [2]*conntrack.Tracker
	var nodes [2]*Node
	for i := range nodes {
		nodes[i] = newNode(t, WithRegistry(prometheus.NewRegistry()), WithoutMetrics(),
			WithFx(fx.Populate(&graph[i], &trackers[i])))
	}
	a, b := nodes[0], nodes[1]
	for i, n := range nodes {
		if n.Registry() != nil {
			t.Errorf("node %d: Registry() = %v, want nil", i, n.Registry())
		}
		if n.busCol != nil {
			t.Errorf("node %d: the bus collector exists", i)
		}
		if g := graph[i]; g.Registerer != nil || g.Gatherer != nil || g.Registry != nil {
			t.Errorf("node %d: the graph provides a registry: %+v", i, g)
		}
		for name, c := range map[string]any{"conntrack": trackers[i], "router": n.Router(),
			"scoring": n.Scoring(), "peermgr": n.PeerManager()} {
			if kept := keptMetrics(c); kept != nil {
				t.Errorf("node %d: %s keeps metrics: %v", i, name, kept)
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ta, err := a.Router().Join("t")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Router().Join("t")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := ta.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	connect(t, a, b)
	if err := errors.Join(ta.WaitPeers(ctx, 1), tb.WaitPeers(ctx, 1)); err != nil {
		t.Fatalf("the nodes never learned each other's subscription: %v", err)
	}
	if err := ta.Publish(ctx, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	if m, err := sb.Next(ctx); err != nil || string(m.Data) != "from a" || m.From != a.ID() {
		t.Fatalf("b got %v, %v", m, err)
	}
	if err := tb.Publish(ctx, []byte("from b")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"from a", "from b"} { // a's own copy first
		if m, err := sa.Next(ctx); err != nil || string(m.Data) != want {
			t.Fatalf("a got %v, %v; want %q", m, err, want)
		}
	}
}

// TestKeptMetricsFindsThem: the check above is not vacuous: in a default
// node it finds every built-in's metrics.
func TestKeptMetricsFindsThem(t *testing.T) {
	var tr *conntrack.Tracker
	n := newNode(t, WithFx(fx.Populate(&tr)))
	for name, c := range map[string]any{"conntrack": tr, "router": n.Router(),
		"scoring": n.Scoring(), "peermgr": n.PeerManager()} {
		if keptMetrics(c) == nil {
			t.Errorf("%s: no metrics found in a default node", name)
		}
	}
}

// TestWithoutMetricsOptions: WithoutMetrics and WithRegistry override each
// other in order; WithLibp2pMetrics needs a registry.
func TestWithoutMetricsOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	if c, err := newConfig([]Option{WithoutMetrics(), WithRegistry(reg)}); err != nil || c.reg != reg {
		t.Errorf("WithoutMetrics then WithRegistry: reg %p, %v", c.reg, err)
	}
	if c, err := newConfig([]Option{WithRegistry(reg), WithoutMetrics()}); err != nil || c.reg != nil {
		t.Errorf("WithRegistry then WithoutMetrics: reg %p, %v", c.reg, err)
	}
	if _, err := newConfig([]Option{WithoutMetrics(), WithLibp2pMetrics()}); !errors.Is(err, ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "WithoutMetrics") {
		t.Errorf("WithoutMetrics with WithLibp2pMetrics: %v", err)
	}
}

var valuesType = reflect.TypeFor[*promreg.Values]()

// keptMetrics walks component c (a pointer to a struct) and the structs
// it points to, two pointers deep, and returns the path of every non-nil
// metric holder it finds: a *promreg.Values, or a value of a client_golang
// type (a collector, a histogram, a vector). Maps, slices and channels
// are not followed.
func keptMetrics(c any) []string {
	var kept []string
	var walk func(v reflect.Value, path string, depth int)
	walk = func(v reflect.Value, path string, depth int) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			if v.Type() == valuesType || isPrometheus(v.Type().Elem()) {
				kept = append(kept, path)
				return
			}
			if depth < 2 {
				walk(v.Elem(), path, depth+1)
			}
		case reflect.Interface:
			if !v.IsNil() && isPrometheus(v.Elem().Type()) {
				kept = append(kept, path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), fmt.Sprintf("%s.%s", path, v.Type().Field(i).Name), depth)
			}
		}
	}
	walk(reflect.ValueOf(c), reflect.TypeOf(c).String(), 0)
	return kept
}

// isPrometheus reports whether t (or what it points to) is declared in
// client_golang.
func isPrometheus(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.HasPrefix(t.PkgPath(), "github.com/prometheus/client_golang/")
}
