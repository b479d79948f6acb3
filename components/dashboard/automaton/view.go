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
	Name string `json:"name"`
	ID   string `json:"id"`
	// Alive is false once the node stopped (its bus closed).
	Alive bool `json:"alive"`
	// Killable reports that the page may kill it (control enabled and the
	// node has a kill function).
	Killable bool `json:"killable"`
	// Dropped counts the bus events the dashboard's own subscription on
	// this node dropped because the dashboard was slow.
	Dropped uint64 `json:"dropped"`
	// Resyncs counts how often the mesh and connections were reloaded from
	// the node after such drops.
	Resyncs uint64   `json:"resyncs"`
	Joined  []string `json:"joined"`
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
	ID string `json:"id"`
	// Node is the local node's name when the peer is one, "" otherwise.
	Node  string `json:"node"`
	Alive bool   `json:"alive"`
	// Direct reports that a local node has the peer as a direct peer
	// (router.WithDirectPeers).
	Direct bool `json:"direct"`
}

// ConnEdge is the connections between one local node and one peer.
type ConnEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Outbound counts the connections From dialed, Inbound those To dialed.
	Outbound int `json:"outbound"`
	Inbound  int `json:"inbound"`
	// Direct: To is one of From's direct peers.
	Direct bool `json:"direct"`
}

// FanoutEdge is one entry of a local fanout set: From publishes to Topic,
// which it has not joined, through To.
type FanoutEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Topic string `json:"topic"`
}

// MeshEdge is one entry of a local mesh: From has To in its mesh of Topic.
type MeshEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Topic string `json:"topic"`
	// Outbound: From sent the GRAFT.
	Outbound bool `json:"outbound"`
	// Choked: From choked To (the choke extension): To sends From ids
	// in IHAVE instead of the messages it forwards. ChokedBy: To choked
	// From.
	Choked   bool `json:"choked"`
	ChokedBy bool `json:"chokedBy"`
}

// TopicView is one local node's counters for one topic.
type TopicView struct {
	Topic     string  `json:"topic"`
	Joined    bool    `json:"joined"`
	Published uint64  `json:"published"`
	Delivered uint64  `json:"delivered"`
	Dups      uint64  `json:"dups"`
	Rate      float64 `json:"rate"` // delivered+published per second, recent
	// Rejected counts rejections by reason name, sorted.
	Rejected []TypeCount `json:"rejected"`
	Mesh     int         `json:"mesh"`
	// Fanout is the size of the node's fanout set of the topic (a topic
	// it publishes to without having joined it).
	Fanout int    `json:"fanout"`
	Grafts uint64 `json:"grafts"`
	// Prunes counts mesh departures by reason name, sorted.
	Prunes []TypeCount `json:"prunes"`
}

// PeerView is one scored peer as one local node sees it.
type PeerView struct {
	ID    string  `json:"id"`
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
	Score      float64 `json:"score"`
	TopicScore float64 `json:"topicScore"`
	P1         float64 `json:"p1"`
	P2         float64 `json:"p2"`
	P3         float64 `json:"p3"`
	P3b        float64 `json:"p3b"`
	P4         float64 `json:"p4"`
	P5         float64 `json:"p5"`
	P6         float64 `json:"p6"`
	P7         float64 `json:"p7"`
}

// Thresholds are the score thresholds in force.
type Thresholds struct {
	Gossip             float64 `json:"gossip"`
	Publish            float64 `json:"publish"`
	Graylist           float64 `json:"graylist"`
	AcceptPX           float64 `json:"acceptPX"`
	OpportunisticGraft float64 `json:"opportunisticGraft"`
}

// Crossing is one threshold crossing.
type Crossing struct {
	At        time.Time `json:"at"`
	Peer      string    `json:"peer"`
	Threshold string    `json:"threshold"`
	Below     bool      `json:"below"`
	Score     float64   `json:"score"`
}

// SubStat is one bus subscription as introspection reports it.
type SubStat struct {
	ID        uint64   `json:"id"`
	Name      string   `json:"name"`
	Types     []string `json:"types"`
	Wildcard  bool     `json:"wildcard"`
	Policy    string   `json:"policy"`
	BufSize   int      `json:"bufSize"`
	Queued    int      `json:"queued"`
	Delivered uint64   `json:"delivered"`
	Dropped   uint64   `json:"dropped"`
	// Self marks the dashboard's own subscription.
	Self bool `json:"self"`
}

// TypeCount is a named counter.
type TypeCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// PeerMgrView is the peer manager's activity on one node.
type PeerMgrView struct {
	Discovered     uint64      `json:"discovered"`
	Dials          uint64      `json:"dials"`
	DialsOK        uint64      `json:"dialsOK"`
	DialFailures   []TypeCount `json:"dialFailures"`
	Backoffs       uint64      `json:"backoffs"`
	BackedOffNow   int         `json:"backedOffNow"`
	Evictions      []TypeCount `json:"evictions"`
	RecordsRefused uint64      `json:"recordsRefused"`
	// Recent are the latest peer-manager events, newest last.
	Recent []LogLine `json:"recent"`
}

// LogLine is one remembered event.
type LogLine struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}
