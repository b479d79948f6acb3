package promreg

import (
	"math"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Schema is a component's list of metric series, built once per process
// (package-level variables) and shared by every node in it: each family's
// descriptor and each series' label values exist once, however many nodes
// run. A node's metrics are then one Values, a flat array of numbers,
// instead of a client_golang collector, descriptor and labelled child per
// series per node.
//
// A Schema is filled by Counter, Gauge and Family calls at package
// initialisation and must not change once a Values of it exists.
type Schema struct {
	descs  []*prometheus.Desc
	series []series
}

type series struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	labels []string
	lazy   bool // exported once nonzero
}

// ID names one series of a Schema: an index into a Values of it.
type ID int

// Family is one metric family of a Schema with a variable label: its
// series are the label values given to Series or Lazy.
type Family struct {
	s    *Schema
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

// Family adds a family named name (the full name, e.g.
// "meshbus_router_rpcs_total") of type typ (prometheus.CounterValue or
// prometheus.GaugeValue) with the variable labels given; its series are
// added with Series or Lazy.
func (s *Schema) Family(name, help string, typ prometheus.ValueType, labels ...string) *Family {
	d := prometheus.NewDesc(name, help, labels, nil)
	s.descs = append(s.descs, d)
	return &Family{s: s, desc: d, typ: typ}
}

// Counter adds a counter without labels and returns its series.
func (s *Schema) Counter(name, help string) ID {
	return s.Family(name, help, prometheus.CounterValue).Series()
}

// Gauge adds a gauge without labels and returns its series.
func (s *Schema) Gauge(name, help string) ID {
	return s.Family(name, help, prometheus.GaugeValue).Series()
}

// Series adds the family's series with these label values, exported from
// the start (at zero until counted).
func (f *Family) Series(labelValues ...string) ID { return f.add(labelValues, false) }

// Lazy adds the family's series with these label values, exported only
// once its value is nonzero: for rare events (rejections, penalties), most
// of which a node never sees.
func (f *Family) Lazy(labelValues ...string) ID { return f.add(labelValues, true) }

func (f *Family) add(labelValues []string, lazy bool) ID {
	f.s.series = append(f.s.series, series{desc: f.desc, typ: f.typ, labels: labelValues, lazy: lazy})
	return ID(len(f.s.series) - 1)
}

// Values are one node's numbers for a Schema, and the Prometheus
// collector that exports them. Counters are integers, gauges float64s,
// each in one atomic word: updating one never allocates and is safe for
// concurrent use. Every method of a nil *Values does nothing, so a
// component without a registry keeps a nil Values and its metrics cost
// nothing.
type Values struct {
	s *Schema
	v []atomic.Uint64
}

// NewValues returns zeroed values for every series of s.
func (s *Schema) NewValues() *Values {
	return &Values{s: s, v: make([]atomic.Uint64, len(s.series))}
}

// Inc adds one to counter id.
func (v *Values) Inc(id ID) {
	if v != nil {
		v.v[id].Add(1)
	}
}

// Add adds n to counter id.
func (v *Values) Add(id ID, n uint64) {
	if v != nil {
		v.v[id].Add(n)
	}
}

// Set sets gauge id to f.
func (v *Values) Set(id ID, f float64) {
	if v != nil {
		v.v[id].Store(math.Float64bits(f))
	}
}

// AddGauge adds d (which may be negative) to gauge id.
func (v *Values) AddGauge(id ID, d float64) {
	if v == nil {
		return
	}
	for {
		old := v.v[id].Load()
		if v.v[id].CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Value returns series id's current value (0 for a nil Values).
func (v *Values) Value(id ID) float64 {
	if v == nil {
		return 0
	}
	if v.s.series[id].typ == prometheus.CounterValue {
		return float64(v.v[id].Load())
	}
	return math.Float64frombits(v.v[id].Load())
}

// Describe sends the descriptor of every family of the schema.
func (v *Values) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range v.s.descs {
		ch <- d
	}
}

// Collect sends every series' current value (a lazy one only once it is
// nonzero), in schema order. It allocates the exported metrics; updates
// never do.
func (v *Values) Collect(ch chan<- prometheus.Metric) {
	for i, s := range v.s.series {
		raw := v.v[i].Load()
		if s.lazy && raw == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(s.desc, s.typ, v.Value(ID(i)), s.labels...)
	}
}

// Key is a small enumeration (an outcome, a reason) whose values label a
// family's series: a non-negative integer with a String method.
type Key interface {
	~uint8 | ~uint16 | ~uint32 | ~int
	// String returns the value's name, which SeriesOf uses as the label
	// value of the value's series.
	String() string
}

// Keyed are a family's series for the values of an enumeration, indexed
// by value.
type Keyed[K Key] []ID

// SeriesOf adds one series of f for each key, labelled key.String(), and
// returns them indexed by key. It is for Schema building at package
// initialisation.
func SeriesOf[K Key](f *Family, keys ...K) Keyed[K] {
	var ids Keyed[K]
	for _, k := range keys {
		for len(ids) <= int(k) {
			ids = append(ids, -1)
		}
		ids[k] = f.Series(k.String())
	}
	return ids
}

// ID returns key's series; ok is false for a value SeriesOf was not given.
func (ks Keyed[K]) ID(key K) (id ID, ok bool) {
	if int(key) < 0 || int(key) >= len(ks) || ks[key] < 0 {
		return 0, false
	}
	return ks[key], true
}

// Registered returns new Values of s registered on reg together with the
// extra collectors, all or none (see Register); with a nil reg it returns
// nil and keeps nothing: every update on a nil Values is a no-op, so a
// component calls it once at construction and updates unconditionally.
func (s *Schema) Registered(component string, reg prometheus.Registerer, extra ...prometheus.Collector) (*Values, error) {
	if reg == nil {
		return nil, nil
	}
	v := s.NewValues()
	if err := Register(component, reg, append([]prometheus.Collector{v}, extra...)...); err != nil {
		return nil, err
	}
	return v, nil
}

// Unregister takes v and the extra collectors off reg, as Registered put
// them there; a nil v (nothing was registered) does nothing.
func (v *Values) Unregister(reg prometheus.Registerer, extra ...prometheus.Collector) {
	if v != nil {
		Unregister(reg, append([]prometheus.Collector{v}, extra...)...)
	}
}
