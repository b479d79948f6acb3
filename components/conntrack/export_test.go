package conntrack

// IPOf exposes ipOf to the external tests.
var IPOf = ipOf
