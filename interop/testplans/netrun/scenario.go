package netrun

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Scenario describes a generated params.json in the plans' format.
type Scenario struct {
	// Name is "basic", "blob", "partial" or "partial-fanout".
	Name string
	// Nodes is the node count.
	Nodes int
	// Conns is how many peers each node dials at most (the plans use 20,
	// capped at Nodes-1).
	Conns int
	// Setup is when the first message is published (the plans: 120 s).
	Setup int
	// Interval is the seconds between two publishes (the plans: 12).
	Interval int
	// Messages is how many messages are published (the plans: 16); for the
	// partial scenarios, how many partial-message groups.
	Messages int
	// Drain is how long the script runs after the last publish (the plans: 30).
	Drain int
	// Seed seeds the topology and the publishers.
	Seed uint64
}

// DefaultScenario returns the defaults for the named scenario, shortened from the plans' timings (setup
// 120 s, one message per 12 s, 30 s drain) so that a run takes under a
// minute; the topology, message sizes and validation delay are the plans'.
func DefaultScenario(name string, nodes int, seed uint64) Scenario {
	s := Scenario{Name: name, Nodes: nodes, Conns: 20, Setup: 15, Interval: 1, Messages: 16, Drain: 6, Seed: seed}
	switch name {
	case "blob":
		s.Interval = 2
	case "partial", "partial-fanout":
		s.Interval, s.Messages, s.Drain = 2, 4, 8
	}
	return s
}

// Partial reports whether the scenario exchanges partial messages.
func (s Scenario) Partial() bool { return s.Name == "partial" || s.Name == "partial-fanout" }

// MessageSize returns the scenario's message size: 1 KiB for basic, and
// 2 KiB x 48 blobs (the plans' subnet-blob-msg) for blob.
func (s Scenario) MessageSize() int {
	if s.Name == "blob" {
		return 2 * 1024 * 48
	}
	return 1024
}

// Duration is when the script ends.
func (s Scenario) Duration() time.Duration {
	return time.Duration(s.Setup+s.Interval*s.Messages+s.Drain) * time.Second
}

type obj = map[string]any

// Params returns the scenario's params.json, in the plans' format.
func (s Scenario) Params() ([]byte, error) {
	switch s.Name {
	case "basic", "blob", "partial", "partial-fanout":
	default:
		return nil, fmt.Errorf("%w: unknown scenario %q (basic, blob, partial, partial-fanout)", ErrBadConfig, s.Name)
	}
	if s.Nodes < 2 || s.Messages < 1 || s.Interval < 1 || s.Setup < 1 {
		return nil, fmt.Errorf("%w: scenario needs 2+ nodes, 1+ messages, interval and setup >= 1 s", ErrBadConfig)
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x6d657368627573))
	var script []obj
	// The plans' spread_heartbeat_delay: node i's first heartbeat at
	// 100 ms + (i+1) x 0.1 ms.
	for i := range s.Nodes {
		d := 100*time.Millisecond + time.Duration(i+1)*100*time.Microsecond
		script = append(script, obj{"type": "ifNodeIDEquals", "nodeID": i,
			"instruction": obj{"type": "initGossipSub", "gossipSubParams": obj{"HeartbeatInitialDelay": d.Nanoseconds()}}})
	}
	topic := "a-subnet"
	if s.Name == "blob" {
		// The plans: a column takes about 5 ms to validate.
		script = append(script, obj{"type": "setTopicValidationDelay", "topicID": topic, "delaySeconds": 0.005})
	}
	// The plans' random_network_mesh.
	conns := min(s.Conns, s.Nodes-1)
	linked := make([]map[int]bool, s.Nodes)
	for i := range linked {
		linked[i] = map[int]bool{}
	}
	connectTo := make([][]int, s.Nodes)
	for i := range s.Nodes {
		for tries := 0; len(linked[i]) < conns && tries < 100*s.Nodes; tries++ {
			t := rng.IntN(s.Nodes)
			if t == i || linked[i][t] {
				continue
			}
			linked[i][t], linked[t][i] = true, true
			connectTo[i] = append(connectTo[i], t)
		}
	}
	for i, to := range connectTo {
		if len(to) > 0 {
			script = append(script, obj{"type": "ifNodeIDEquals", "nodeID": i, "instruction": obj{"type": "connect", "connectTo": to}})
		}
	}
	if s.Partial() {
		return s.partialScript(rng, script)
	}
	script = append(script, obj{"type": "subscribeToTopic", "topicID": topic})
	at := s.Setup
	script = append(script, obj{"type": "waitUntil", "elapsedSeconds": at})
	for m := range s.Messages {
		script = append(script, obj{"type": "ifNodeIDEquals", "nodeID": rng.IntN(s.Nodes),
			"instruction": obj{"type": "publish", "messageID": m, "messageSizeBytes": s.MessageSize(), "topicID": topic}})
		at += s.Interval
		script = append(script, obj{"type": "waitUntil", "elapsedSeconds": at})
	}
	script = append(script, obj{"type": "waitUntil", "elapsedSeconds": at + s.Drain})
	return json.MarshalIndent(obj{"script": script}, "", " ")
}

// partialScript ends the script of the partial scenarios, after the common
// start (initGossipSub, connects):
//
//   - partial, the plans' partial-messages repeated for Messages groups:
//     every node subscribes requesting partial messages; for each group,
//     every node gets random parts (addPartialMessage with a random bitmap)
//     and every node publishes its partial message (publishPartial). The
//     plans draw the bitmaps independently, so a group may miss a part at
//     every node and can then never complete (likely at 8 nodes: 1 - (1 -
//     2^-8)^8 = 3%); here the last node also gets the parts no one else
//     drew, so that every group can complete.
//   - partial-fanout, the plans' partial-messages-fanout: node 0 does not
//     subscribe; for each group it holds every part and publishes to nodes
//     1..7 (publishToNodeIDs), the only nodes offered the group at first.
//
// Group ids are random (seeded) below 2^32, distinct.
func (s Scenario) partialScript(rng *rand.Rand, script []obj) ([]byte, error) {
	topic := "a-subnet"
	fanout := s.Name == "partial-fanout"
	for i := range s.Nodes {
		if fanout && i == 0 {
			continue
		}
		script = append(script, obj{"type": "ifNodeIDEquals", "nodeID": i, "instruction": obj{"type": "subscribeToTopic", "topicID": topic, "partial": true}})
	}
	at := s.Setup
	seen := map[uint64]bool{}
	for range s.Messages {
		var gid uint64
		for gid = uint64(rng.Uint32()); seen[gid]; gid = uint64(rng.Uint32()) {
		}
		seen[gid] = true
		script = append(script, obj{"type": "waitUntil", "elapsedSeconds": at})
		add := func(node int, parts byte) {
			script = append(script, obj{"type": "ifNodeIDEquals", "nodeID": node,
				"instruction": obj{"type": "addPartialMessage", "topicID": topic, "groupID": gid, "parts": int(parts)}})
		}
		if fanout {
			add(0, 0xFF)
			var to []int
			for i := 1; i < min(8, s.Nodes); i++ {
				to = append(to, i)
			}
			script = append(script, obj{"type": "ifNodeIDEquals", "nodeID": 0,
				"instruction": obj{"type": "publishPartial", "topicID": topic, "groupID": gid, "publishToNodeIDs": to}})
		} else {
			var union byte
			for i := range s.Nodes {
				parts := byte(rng.Uint32())
				if i == s.Nodes-1 {
					parts |= ^union
				}
				union |= parts
				add(i, parts)
			}
			script = append(script, obj{"type": "publishPartial", "topicID": topic, "groupID": gid})
		}
		at += s.Interval
	}
	script = append(script, obj{"type": "waitUntil", "elapsedSeconds": at + s.Drain})
	return json.MarshalIndent(obj{"script": script}, "", " ")
}
