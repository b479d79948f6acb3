package automaton

import "time"

// View is the whole dashboard state at one instant, as the page receives it
// (JSON). It is built fresh by Automaton.View and owned by the caller. Lists
// are sorted so that two views of the same state marshal identically.
type View struct {
	// Seq increases with every published view.
	Seq uint64 `json:"seq"`
	// At is the time of the view (the driver's clock).
	At time.Time `json:"at"`
	// Control reports that the page may ask to kill a node.
	Control bool `json:"control"`
	// Nodes are the attached local nodes, in attach order.
	Nodes []NodeView `json:"nodes"`
	// Vertices are every peer the graph shows: the local nodes and their
	// connected or meshed peers, sorted by id.
	Vertices []Vertex `json:"vertices"`
	// Conns are the open connections, one per local node and remote peer
	// (several connections to one peer are counted), sorted.
	Conns []ConnEdge `json:"conns"`
	// Mesh are the mesh edges: From has To in its mesh of Topic. Sorted.
	Mesh []MeshEdge `json:"mesh"`
	// Fanout are the fanout edges: From publishes to Topic, which it has
	// not joined, through To. Sorted.
	Fanout []FanoutEdge `json:"fanout"`
}

// NodeView is one local node's state.
type NodeView struct {
	// Name is the node's name on the page (Source.Name), unique among the
	// attached nodes.
	Name string `json:"name"`
	// ID is the node's peer id.
	ID string `json:"id"`
	// Alive is false once the node stopped (its bus closed).
	Alive bool `json:"alive"`
	// Killable reports that the page may kill it: control enabled, the
	// node has a kill function, and it is alive.
	Killable bool `json:"killable"`
	// Dropped counts the bus events the dashboard's own subscription on
	// this node dropped because the dashboard was slow.
	Dropped uint64 `json:"dropped"`
	// Resyncs counts how often the mesh and connections were reloaded from
	// the node after such drops.
	Resyncs uint64 `json:"resyncs"`
	// Joined are the topics the node has joined (by EvtTopicJoined or a
	// mesh resync), sorted; they are still listed after the node stopped.
	Joined []string `json:"joined"`
	// Topics are per-topic message counters, sorted by topic.
	Topics []TopicView `json:"topics"`
	// Peers are the peers with a score, sorted by id.
	Peers []PeerView `json:"peers"`
	// Thresholds are the score thresholds in force (zero before the first
	// score snapshot).
	Thresholds Thresholds `json:"thresholds"`
	// Crossings are the latest threshold crossings, newest last.
	Crossings []Crossing `json:"crossings"`
	// Subs are the bus's live subscriptions as of the last stats sample.
	Subs []SubStat `json:"subs"`
	// EventTypes counts the events the dashboard saw per type, sorted by type.
	EventTypes []TypeCount `json:"eventTypes"`
	// PeerMgr is the peer manager's activity.
	PeerMgr PeerMgrView `json:"peermgr"`
}

// Vertex is one peer in the graph.
type Vertex struct {
	// ID is the peer's id.
	ID string `json:"id"`
	// Node is the local node's name when the peer is one, "" otherwise.
	Node string `json:"node"`
	// Alive is false only for a local node that stopped; a remote peer is
	// always alive (the dashboard cannot tell otherwise).
	Alive bool `json:"alive"`
	// Direct reports that a local node has the peer as a direct peer
	// (router.WithDirectPeers).
	Direct bool `json:"direct"`
}

// ConnEdge is the connections between one local node and one peer.
type ConnEdge struct {
	// From is the local node's peer id.
	From string `json:"from"`
	// To is the remote peer's id.
	To string `json:"to"`
	// Outbound counts the connections From dialed, Inbound those To dialed.
	Outbound int `json:"outbound"`
	// Inbound counts the other connections: those To dialed, and any whose
	// direction is unknown.
	Inbound int `json:"inbound"`
	// Direct: To is one of From's direct peers.
	Direct bool `json:"direct"`
}

// FanoutEdge is one entry of a local fanout set: From publishes to Topic,
// which it has not joined, through To.
type FanoutEdge struct {
	// From is the local node's peer id.
	From string `json:"from"`
	// To is the fanout peer's id.
	To string `json:"to"`
	// Topic is the topic From publishes to through To.
	Topic string `json:"topic"`
}

// MeshEdge is one entry of a local mesh: From has To in its mesh of Topic.
type MeshEdge struct {
	// From is the local node's peer id.
	From string `json:"from"`
	// To is the mesh peer's id.
	To string `json:"to"`
	// Topic is the mesh's topic.
	Topic string `json:"topic"`
	// Outbound: From sent the GRAFT (as last known: a resync after
	// dropped events keeps it for a peer still in the mesh and sets it
	// false for one it adds, since its snapshot does not say).
	Outbound bool `json:"outbound"`
	// Choked: From choked To (the choke extension): To sends From ids
	// in IHAVE instead of the messages it forwards. ChokedBy: To choked
	// From.
	Choked bool `json:"choked"`
	// ChokedBy reports that To choked From: From sends To ids in IHAVE
	// instead of the messages.
	ChokedBy bool `json:"chokedBy"`
}

// TopicView is one local node's counters for one topic.
type TopicView struct {
	// Topic is the topic's name.
	Topic string `json:"topic"`
	// Joined reports that the node has joined the topic (as of its last
	// event, once it stopped); a topic it left stays listed with its
	// counters.
	Joined bool `json:"joined"`
	// Published counts the messages the node published to the topic
	// (EvtMessagePublished) since it was attached.
	Published uint64 `json:"published"`
	// Delivered counts the messages first seen, validated and delivered
	// (EvtMessageDelivered) since the node was attached.
	Delivered uint64 `json:"delivered"`
	// Dups counts the copies of already seen messages
	// (EvtMessageDuplicated) since the node was attached.
	Dups uint64  `json:"dups"`
	Rate float64 `json:"rate"` // delivered+published per second, recent
	// Rejected counts rejections by reason name, sorted.
	Rejected []TypeCount `json:"rejected"`
	// Mesh is the size of the node's mesh of the topic now.
	Mesh int `json:"mesh"`
	// Fanout is the size of the node's fanout set of the topic (a topic
	// it publishes to without having joined it).
	Fanout int `json:"fanout"`
	// Grafts counts the peers that entered the mesh (EvtPeerGrafted) since
	// the node was attached; a resync adds none.
	Grafts uint64 `json:"grafts"`
	// Prunes counts mesh departures by reason name, sorted.
	Prunes []TypeCount `json:"prunes"`
}

// PeerView is one scored peer as one local node sees it.
type PeerView struct {
	// ID is the peer's id.
	ID string `json:"id"`
	// Score is the peer's score in the latest EvtPeerScoresUpdated
	// snapshot.
	Score float64 `json:"score"`
	// Terms is the P1-P7 breakdown, nil when the node has no breakdown source.
	Terms *ScoreTerms `json:"terms,omitempty"`
	// Below names the thresholds the score is under (gossip, publish, ...).
	Below []string `json:"below"`
	// Penalties counts behaviour penalties (P7 causes) by reason.
	Penalties []TypeCount `json:"penalties"`
}

// ScoreTerms is one peer's score term by term (see components/scoring's
// Breakdown): P1-P4 summed over topics as raw values, and P5-P7.
type ScoreTerms struct {
	// Score is the peer's total score as the breakdown source computed it
	// (which may be newer than PeerView.Score).
	Score float64 `json:"score"`
	// TopicScore is the weighted sum of the topic terms, after the topic
	// score cap.
	TopicScore float64 `json:"topicScore"`
	// P1 is the time in mesh (whole quanta, capped).
	P1 float64 `json:"p1"`
	// P2 is the first message deliveries.
	P2 float64 `json:"p2"`
	// P3 is the mesh message delivery deficit squared.
	P3 float64 `json:"p3"`
	// P3b is the mesh failure penalty.
	P3b float64 `json:"p3b"`
	// P4 is the invalid message deliveries squared.
	P4 float64 `json:"p4"`
	// P5 is the application-specific score.
	P5 float64 `json:"p5"`
	// P6 is the IP colocation surplus squared, summed over the peer's IPs.
	P6 float64 `json:"p6"`
	// P7 is the behaviour penalty counter squared.
	P7 float64 `json:"p7"`
}

// Thresholds are the score thresholds in force.
type Thresholds struct {
	// Gossip: below it, no gossip to or from the peer.
	Gossip float64 `json:"gossip"`
	// Publish: below it, no self-published messages to the peer.
	Publish float64 `json:"publish"`
	// Graylist: below it, the peer's RPCs are ignored.
	Graylist float64 `json:"graylist"`
	// AcceptPX: a PRUNE's peer exchange is accepted from peers at or above
	// it.
	AcceptPX float64 `json:"acceptPX"`
	// OpportunisticGraft: a median mesh score below it triggers
	// opportunistic grafting.
	OpportunisticGraft float64 `json:"opportunisticGraft"`
}

// Crossing is one threshold crossing.
type Crossing struct {
	// At is the event's time (the scorer's clock).
	At time.Time `json:"at"`
	// Peer is the peer's id.
	Peer string `json:"peer"`
	// Threshold names the threshold crossed ("gossip", "publish",
	// "graylist", "accept_px" or "opportunistic_graft").
	Threshold string `json:"threshold"`
	// Below is true when the score fell below the threshold, false when it
	// rose to or above it.
	Below bool `json:"below"`
	// Score is the score after the change.
	Score float64 `json:"score"`
}

// SubStat is one bus subscription as introspection reports it.
type SubStat struct {
	// ID is unique among the bus's subscriptions.
	ID uint64 `json:"id"`
	// Name is the subscription's name.
	Name string `json:"name"`
	// Types are the subscribed event types' names (reflect.Type.String);
	// nil for a wildcard subscription.
	Types []string `json:"types"`
	// Wildcard reports a subscription to every type.
	Wildcard bool `json:"wildcard"`
	// Policy names what the bus does when the buffer is full ("block",
	// "drop", "kill" or "notify").
	Policy string `json:"policy"`
	// BufSize is the buffer's capacity in events.
	BufSize int `json:"bufSize"`
	// Queued is how many events waited in the buffer at the sample.
	Queued int `json:"queued"`
	// Delivered counts the events offered to the subscription and not
	// dropped.
	Delivered uint64 `json:"delivered"`
	// Dropped counts the events the subscription dropped.
	Dropped uint64 `json:"dropped"`
	// Self marks the dashboard's own subscription.
	Self bool `json:"self"`
}

// TypeCount is a named counter.
type TypeCount struct {
	// Name is what is counted: an event type or a reason's name.
	Name string `json:"name"`
	// Count is the counter's value, a running total.
	Count uint64 `json:"count"`
}

// PeerMgrView is the peer manager's activity on one node.
type PeerMgrView struct {
	// Discovered counts the peers added to the peer store
	// (EvtPeerDiscovered).
	Discovered uint64 `json:"discovered"`
	// Dials counts the dials started (EvtDialAttempted).
	Dials uint64 `json:"dials"`
	// DialsOK counts the dials that connected (EvtDialSucceeded).
	DialsOK uint64 `json:"dialsOK"`
	// DialFailures counts the failed dials by reason, sorted by reason.
	DialFailures []TypeCount `json:"dialFailures"`
	// Backoffs counts the backoffs imposed (EvtPeerBackedOff).
	Backoffs uint64 `json:"backoffs"`
	// BackedOffNow is how many peers are backed off at the view's time:
	// permanently, or until a later time. A successful dial ends a peer's
	// backoff.
	BackedOffNow int `json:"backedOffNow"`
	// Evictions counts the evictions by reason, sorted by reason.
	Evictions []TypeCount `json:"evictions"`
	// RecordsRefused counts the peer-exchange and discovery records
	// refused (EvtPeerRecordRejected).
	RecordsRefused uint64 `json:"recordsRefused"`
	// Recent are the latest peer-manager events, newest last.
	Recent []LogLine `json:"recent"`
}

// LogLine is one remembered event.
type LogLine struct {
	// At is the event's own time (its At field).
	At time.Time `json:"at"`
	// Text describes the event for the page, peers shortened to the last
	// 6 characters of their id.
	Text string `json:"text"`
}
