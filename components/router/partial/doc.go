// Package partial is the pure core of the router's gossipsub v1.3 extensions
// and of the partial-messages extension: which extensions each peer
// advertised, which topics each peer wants or sends partial messages on, and
// the state of every message group (its time to live, who opened it, the last
// parts metadata each peer sent and the last we sent it), with the limits
// that keep peer-initiated state bounded.
//
// Like the router's automaton it has no goroutines, does no I/O, reads no
// clock and takes no locks: each Handle method takes the time and an
// *Output, and returns a named Outcome. It never sees the parts themselves:
// the application owns them. The core decides what to send to whom (Output
// Sends and Deliveries); the router's driver asks the application for the
// bytes (its parts for a peer, its metadata), writes the RPCs and reports
// back what it sent (Sent) and what the application made of received parts
// (Merged).
//
// Iteration never follows a Go map where the order could show in the output:
// the same inputs give the same outputs.
package partial
