// Package peermgr is the peer manager component: its one job is to keep the
// node connected to the right peers. It keeps the peer store from bus events
// (connections, identify, peer exchange, discovery, scores), dials toward
// the connection targets under a growing backoff and a bounded dial rate,
// trims peers above the budget, enforces the colocation limit and
// graylisting, protects mesh, static and pinned peers in the libp2p
// connection manager, and persists the store.
//
// The logic is the pure state machine in package automaton; this package is
// its driver: one goroutine owns the automaton, the dial workers' results,
// the timers, the database and the bus emitters, and carries out each
// automaton.Output. The public methods reach that goroutine through one
// request channel and wait for its answer.
//
// # Trimming: one owner
//
// The peer manager decides which connections to keep: its budget
// (WithMaxConnections, default 50) is below the watermarks of the
// connection manager go-libp2p installs by default (160/192), so that
// connection manager only acts as a backstop. Should it trim (a user who
// sets low watermarks), it cannot break a mesh: every peer in a topic mesh,
// every static (bootstrap) peer and every pinned service peer is protected
// (tags automaton.TagMesh, TagStatic, TagPinned).
package peermgr
