package netrun

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Scenario describes a generated params.json in the plans' format.
type Scenario struct {
	// Name is "basic" or "blob".
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
	// Messages is how many messages are published (the plans: 16).
	Messages int
	// Drain is how long the script runs after the last publish (the plans: 30).
	Drain int
	// Seed seeds the topology and the publishers.
	Seed uint64
}

// Defaults for the named scenarios, shortened from the plans' timings (setup
// 120 s, one message per 12 s, 30 s drain) so that a run takes under a
// minute; the topology, message sizes and validation delay are the plans'.
func DefaultScenario(name string, nodes int, seed uint64) Scenario {
	s := Scenario{Name: name, Nodes: nodes, Conns: 20, Setup: 15, Interval: 1, Messages: 16, Drain: 6, Seed: seed}
	if name == "blob" {
		s.Interval = 2
	}
	return s
}

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
	if s.Name != "basic" && s.Name != "blob" {
		return nil, fmt.Errorf("%w: unknown scenario %q (basic, blob)", ErrBadConfig, s.Name)
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
