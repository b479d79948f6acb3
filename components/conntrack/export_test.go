package conntrack

// IPOf exposes ipOf to the external tests.
var IPOf = ipOf

// KeepsMetrics reports whether tr keeps metric values, for the external
// tests (a tracker without a registerer must not).
func KeepsMetrics(tr *Tracker) bool { return tr.m.v != nil }
