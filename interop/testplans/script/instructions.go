package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// Errors of this package. Every error Parse or Run returns wraps one of them.
var (
	// ErrUnknownInstruction: the script holds an instruction type this
	// package does not know; the error names it.
	ErrUnknownInstruction = errors.New("unknown script instruction")
	// ErrUnsupportedInstruction: the instruction is known but the backend
	// cannot carry it out (for example partial messages); the error names it.
	ErrUnsupportedInstruction = errors.New("unsupported script instruction")
	// ErrBadParams: params.json or one of its instructions is malformed.
	ErrBadParams = errors.New("bad params")
	// ErrBadHostname: the host name is not nodeN.
	ErrBadHostname = errors.New("host name is not nodeN")
)

// ExperimentParams is the content of params.json (the plans' ExperimentParams).
type ExperimentParams struct {
	// Script is the plans' script array, as Parse decodes it: the
	// instructions every node runs, in order (each node skips an
	// ifNodeIDEquals naming another node).
	Script []Instruction
}

// Instruction is one script instruction; its concrete type is one of the
// types below, named after the plans' script_instruction.py classes.
type Instruction interface {
	// Type returns the instruction's "type" value in params.json.
	Type() string
}

// Connect dials every listed node (TCP port 9000, address from the host
// name nodeN).
type Connect struct {
	// ConnectTo is the plans' connectTo: the node ids to dial. Run dials
	// up to 4 at a time, retrying each for up to Config.ConnectTimeout; the
	// node's own id is an error.
	ConnectTo []int `json:"connectTo"`
}

// IfNodeIDEquals runs Instruction only on the node whose id is NodeID.
type IfNodeIDEquals struct {
	// NodeID is the plans' nodeID: the node that runs Instruction.
	NodeID int
	// Instruction is the plans' instruction, any instruction type
	// (ifNodeIDEquals nests at most 8 deep).
	Instruction Instruction
}

// WaitUntil blocks the script until ElapsedSeconds have passed since the
// node started; messages keep flowing meanwhile.
type WaitUntil struct {
	// ElapsedSeconds is the plans' elapsedSeconds: whole seconds since
	// Config.Start; an instant already past does not wait.
	ElapsedSeconds int `json:"elapsedSeconds"`
}

// Publish publishes a message of MessageSizeBytes whose first 8 bytes are
// MessageID, big-endian.
type Publish struct {
	// MessageID is the plans' messageID; its 8 big-endian bytes start the
	// payload and are the message's id (MsgID).
	MessageID uint64 `json:"messageID"`
	// MessageSizeBytes is the plans' messageSizeBytes: the payload's whole
	// size, at least 8 (Parse refuses less); the bytes after the id are
	// zero.
	MessageSizeBytes int `json:"messageSizeBytes"`
	// TopicID is the plans' topicID: the topic to publish on (not empty).
	TopicID string `json:"topicID"`
}

// SubscribeToTopic joins and subscribes to TopicID (Partial: as a partial
// messages topic).
type SubscribeToTopic struct {
	// TopicID is the plans' topicID: the topic to join (not empty).
	TopicID string `json:"topicID"`
	// Partial is the plans' partial: request partial messages on the topic
	// (PartialBackend.SubscribePartial); without a PartialBackend it fails
	// with ErrUnsupportedInstruction.
	Partial bool `json:"partial"`
}

// SetTopicValidationDelay makes every message of TopicID take DelaySeconds to
// validate (a mock of real validation work), then is accepted.
type SetTopicValidationDelay struct {
	// TopicID is the plans' topicID: the topic whose messages are delayed.
	TopicID string `json:"topicID"`
	// DelaySeconds is the plans' delaySeconds: the validation time in
	// seconds, fractions allowed, from 0 to 3600 (Parse refuses others).
	DelaySeconds float64 `json:"delaySeconds"`
}

// InitGossipSub starts the router with the given parameters (unset fields
// keep the implementation's defaults).
type InitGossipSub struct {
	// GossipSubParams is the plans' gossipSubParams, passed to
	// Backend.Init.
	GossipSubParams GossipSubParams `json:"gossipSubParams"`
}

// AddPartialMessage holds the parts (a bitmap of 8 parts) of group GroupID.
type AddPartialMessage struct {
	// Parts is the plans' parts: the bitmap of the parts to add (bit i:
	// part i); Run refuses a value outside 0..255.
	Parts int `json:"parts"`
	// TopicID is the plans' topicID: the group's topic (not empty).
	TopicID string `json:"topicID"`
	// GroupID is the plans' groupID: the group's number, whose 8
	// big-endian bytes are its group id (GroupIDBytes).
	GroupID uint64 `json:"groupID"`
}

// PublishPartial publishes the partial message of group GroupID, to the mesh
// or to PublishToNodeIDs when given.
type PublishPartial struct {
	// TopicID is the plans' topicID: the group's topic (not empty).
	TopicID string `json:"topicID"`
	// GroupID is the plans' groupID: the group's number (see
	// AddPartialMessage.GroupID).
	GroupID uint64 `json:"groupID"`
	// PublishToNodeIDs is the plans' publishToNodeIDs: the node ids to
	// offer the group to; nil or empty means the topic's mesh.
	PublishToNodeIDs []int `json:"publishToNodeIDs"`
}

// Type implements Instruction.
func (Connect) Type() string { return "connect" }

// Type implements Instruction.
func (IfNodeIDEquals) Type() string { return "ifNodeIDEquals" }

// Type implements Instruction.
func (WaitUntil) Type() string { return "waitUntil" }

// Type implements Instruction.
func (Publish) Type() string { return "publish" }

// Type implements Instruction.
func (SubscribeToTopic) Type() string { return "subscribeToTopic" }

// Type implements Instruction.
func (SetTopicValidationDelay) Type() string { return "setTopicValidationDelay" }

// Type implements Instruction.
func (InitGossipSub) Type() string { return "initGossipSub" }

// Type implements Instruction.
func (AddPartialMessage) Type() string { return "addPartialMessage" }

// Type implements Instruction.
func (PublishPartial) Type() string { return "publishPartial" }

// Nanos is a duration given in params.json as a number of nanoseconds; the
// plans' Python writes it as an integer or a float, both are accepted.
type Nanos time.Duration

// UnmarshalJSON accepts any JSON number of nanoseconds that fits an int64.
func (n *Nanos) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if math.IsNaN(f) || f < 0 || f > math.MaxInt64 {
		return fmt.Errorf("duration %s ns out of range", b)
	}
	*n = Nanos(time.Duration(f))
	return nil
}

// MarshalJSON writes the duration as an integer number of nanoseconds.
func (n Nanos) MarshalJSON() ([]byte, error) { return json.Marshal(int64(n)) }

// GossipSubParams is go-libp2p-pubsub's GossipSubParams as the plans write
// it: every field optional (nil = the implementation's default), durations
// in nanoseconds. Field names are those of go-libp2p-pubsub.
type GossipSubParams struct {
	// D is the mesh degree the heartbeat aims for.
	D *int `json:"D,omitempty"`
	// Dlo is the mesh size below which the heartbeat grafts more peers.
	Dlo *int `json:"Dlo,omitempty"`
	// Dhi is the mesh size above which the heartbeat prunes peers.
	Dhi *int `json:"Dhi,omitempty"`
	// Dscore is how many of the peers kept when pruning an oversized mesh
	// are the best-scoring ones.
	Dscore *int `json:"Dscore,omitempty"`
	// Dout is how many outbound peers a pruned mesh keeps at least.
	Dout *int `json:"Dout,omitempty"`
	// HistoryLength is how many heartbeats the message cache keeps a
	// message for.
	HistoryLength *int `json:"HistoryLength,omitempty"`
	// HistoryGossip is how many of the latest heartbeats' messages IHAVE
	// gossip advertises.
	HistoryGossip *int `json:"HistoryGossip,omitempty"`
	// Dlazy is the least number of non-mesh peers the heartbeat sends
	// gossip to.
	Dlazy *int `json:"Dlazy,omitempty"`
	// GossipFactor is the fraction of the non-mesh peers the heartbeat
	// sends gossip to, when that is more than Dlazy.
	GossipFactor *float64 `json:"GossipFactor,omitempty"`
	// GossipRetransmission is how many times a peer may ask for one
	// message id with IWANT before it is ignored.
	GossipRetransmission *int `json:"GossipRetransmission,omitempty"`
	// HeartbeatInitialDelay is the delay before the first heartbeat.
	HeartbeatInitialDelay *Nanos `json:"HeartbeatInitialDelay,omitempty"`
	// HeartbeatInterval is the time between heartbeats.
	HeartbeatInterval *Nanos `json:"HeartbeatInterval,omitempty"`
	// SlowHeartbeatWarning is the heartbeat duration, as a fraction of
	// HeartbeatInterval, above which go-libp2p-pubsub warns (not a
	// duration).
	SlowHeartbeatWarning *float64 `json:"SlowHeartbeatWarning,omitempty"`
	// FanoutTTL is how long fanout state for a topic not subscribed to is
	// kept after the last publish on it.
	FanoutTTL *Nanos `json:"FanoutTTL,omitempty"`
	// PrunePeers is how many peers a PRUNE offers for peer exchange.
	PrunePeers *int `json:"PrunePeers,omitempty"`
	// PruneBackoff is how long a pruned peer must wait before grafting
	// again.
	PruneBackoff *Nanos `json:"PruneBackoff,omitempty"`
	// UnsubscribeBackoff is the backoff given to mesh peers when leaving
	// a topic.
	UnsubscribeBackoff *Nanos `json:"UnsubscribeBackoff,omitempty"`
	// Connectors is how many dials to peers learned by peer exchange run
	// at once.
	Connectors *int `json:"Connectors,omitempty"`
	// MaxPendingConnections bounds the pending dials to peers learned by
	// peer exchange.
	MaxPendingConnections *int `json:"MaxPendingConnections,omitempty"`
	// ConnectionTimeout bounds one dial to a peer learned by peer exchange.
	ConnectionTimeout *Nanos `json:"ConnectionTimeout,omitempty"`
	// DirectConnectTicks is the number of heartbeats between redials of
	// disconnected direct peers.
	DirectConnectTicks *int `json:"DirectConnectTicks,omitempty"`
	// DirectConnectInitialDelay is the delay before the first dial to
	// direct peers.
	DirectConnectInitialDelay *Nanos `json:"DirectConnectInitialDelay,omitempty"`
	// OpportunisticGraftTicks is the number of heartbeats between rounds
	// of opportunistic grafting.
	OpportunisticGraftTicks *int `json:"OpportunisticGraftTicks,omitempty"`
	// OpportunisticGraftPeers is how many peers one opportunistic graft
	// adds.
	OpportunisticGraftPeers *int `json:"OpportunisticGraftPeers,omitempty"`
	// GraftFloodThreshold is the time after our PRUNE within which a GRAFT
	// from the pruned peer costs it an extra behaviour penalty (P7).
	GraftFloodThreshold *Nanos `json:"GraftFloodThreshold,omitempty"`
	// MaxIHaveLength bounds the message ids in one IHAVE, and the IHAVE
	// ids accepted from a peer per heartbeat.
	MaxIHaveLength *int `json:"MaxIHaveLength,omitempty"`
	// MaxIHaveMessages bounds the IHAVE messages accepted from a peer per
	// heartbeat.
	MaxIHaveMessages *int `json:"MaxIHaveMessages,omitempty"`
	// MaxIDontWantLength bounds the message ids in one IDONTWANT, and the
	// IDONTWANT ids accepted.
	MaxIDontWantLength *int `json:"MaxIDontWantLength,omitempty"`
	// MaxIDontWantMessages bounds the IDONTWANT messages accepted from a
	// peer per heartbeat.
	MaxIDontWantMessages *int `json:"MaxIDontWantMessages,omitempty"`
	// IWantFollowupTime is how long a message asked for with IWANT may
	// take to arrive before the promise counts as broken.
	IWantFollowupTime *Nanos `json:"IWantFollowupTime,omitempty"`
	// IDontWantMessageThreshold is the message size in bytes from which
	// IDONTWANT is sent.
	IDontWantMessageThreshold *int `json:"IDontWantMessageThreshold,omitempty"`
	// IDontWantMessageTTL is in heartbeats in go-libp2p-pubsub.
	IDontWantMessageTTL *int `json:"IDontWantMessageTTL,omitempty"`
}

// ReadParams reads and parses a params.json file.
func ReadParams(path string) (ExperimentParams, error) {
	if path == "" {
		return ExperimentParams{}, fmt.Errorf("%w: --params is required", ErrBadParams)
	}
	f, err := os.Open(path)
	if err != nil {
		return ExperimentParams{}, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse parses params.json. An unknown instruction type is an error wrapping
// ErrUnknownInstruction that names it; unknown fields of an instruction or
// of gossipSubParams are errors wrapping ErrBadParams.
func Parse(r io.Reader) (ExperimentParams, error) {
	var raw struct {
		Script []json.RawMessage `json:"script"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return ExperimentParams{}, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	p := ExperimentParams{Script: make([]Instruction, 0, len(raw.Script))}
	for i, m := range raw.Script {
		in, err := parseInstruction(m, 0)
		if err != nil {
			return ExperimentParams{}, fmt.Errorf("script[%d]: %w", i, err)
		}
		p.Script = append(p.Script, in)
	}
	return p, nil
}

// maxNesting bounds ifNodeIDEquals nesting.
const maxNesting = 8

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func parseInstruction(b []byte, depth int) (Instruction, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	bad := func(err error) (Instruction, error) {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadParams, head.Type, err)
	}
	switch head.Type {
	case "connect":
		var v struct {
			Type string `json:"type"`
			Connect
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		return v.Connect, nil
	case "ifNodeIDEquals":
		if depth >= maxNesting {
			return bad(fmt.Errorf("nested more than %d deep", maxNesting))
		}
		var v struct {
			Type        string          `json:"type"`
			NodeID      int             `json:"nodeID"`
			Instruction json.RawMessage `json:"instruction"`
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		if len(v.Instruction) == 0 {
			return bad(errors.New("missing instruction"))
		}
		in, err := parseInstruction(v.Instruction, depth+1)
		if err != nil {
			return nil, err
		}
		return IfNodeIDEquals{NodeID: v.NodeID, Instruction: in}, nil
	case "waitUntil":
		var v struct {
			Type string `json:"type"`
			WaitUntil
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		return v.WaitUntil, nil
	case "publish":
		var v struct {
			Type string `json:"type"`
			Publish
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		if v.MessageSizeBytes < 8 {
			return bad(fmt.Errorf("messageSizeBytes %d is below the 8 bytes the message id takes", v.MessageSizeBytes))
		}
		if v.TopicID == "" {
			return bad(errors.New("topicID is empty"))
		}
		return v.Publish, nil
	case "subscribeToTopic":
		var v struct {
			Type string `json:"type"`
			SubscribeToTopic
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		if v.TopicID == "" {
			return bad(errors.New("topicID is empty"))
		}
		return v.SubscribeToTopic, nil
	case "setTopicValidationDelay":
		var v struct {
			Type string `json:"type"`
			SetTopicValidationDelay
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		if v.DelaySeconds < 0 || v.DelaySeconds > 3600 || math.IsNaN(v.DelaySeconds) {
			return bad(fmt.Errorf("delaySeconds %v out of range [0, 3600]", v.DelaySeconds))
		}
		return v.SetTopicValidationDelay, nil
	case "initGossipSub":
		var v struct {
			Type string `json:"type"`
			InitGossipSub
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		return v.InitGossipSub, nil
	case "addPartialMessage":
		var v struct {
			Type string `json:"type"`
			AddPartialMessage
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		if v.TopicID == "" {
			return bad(errors.New("topicID is empty"))
		}
		return v.AddPartialMessage, nil
	case "publishPartial":
		var v struct {
			Type string `json:"type"`
			PublishPartial
		}
		if err := strict(b, &v); err != nil {
			return bad(err)
		}
		if v.TopicID == "" {
			return bad(errors.New("topicID is empty"))
		}
		return v.PublishPartial, nil
	case "":
		return nil, fmt.Errorf("%w: instruction without a type: %s", ErrBadParams, truncate(b))
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownInstruction, head.Type)
}

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
