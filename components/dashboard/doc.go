// Package dashboard is a live, read-only web view of one or more meshbus
// nodes: an add-on that subscribes to each node's bus, folds the events into
// a view (package automaton) and streams it to a browser page.
//
// The page, served from embedded files (no CDN, works offline), draws the
// nodes and their peers as a graph (connections with direction, mesh edges
// per topic), and shows per-peer scores with the P1-P7 breakdown and
// threshold crossings, per-topic message rates, duplicates and rejections
// by reason, the bus's live subscriptions (policy, queue depth, delivered
// and dropped counts) and the peer manager's dials, backoffs and evictions.
//
// The view travels as Server-Sent Events: GET /api/events streams one
// complete view per change (at most one per publish interval), GET
// /api/state returns the current one. A slow browser only skips views; the
// bus subscriptions use the Drop policy, so a slow dashboard never slows a
// node, and each node's view says how many events the dashboard dropped
// (after drops, the mesh and connections are reloaded from the node when it
// has a resync source).
//
// The server binds to loopback unless told otherwise, refuses requests whose
// Host header is not a loopback name while bound to loopback (DNS
// rebinding), and is read-only unless WithControl is given, which enables
// POST /api/nodes/{name}/kill for nodes attached with a Kill function.
package dashboard
