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
	Script []Instruction
}

// Instruction is one script instruction; its concrete type is one of the
// types below, named after the plans' script_instruction.py classes.
type Instruction interface {
	// Type returns the instruction's "type" value in params.json.
	Type() string
}

// Connect: dial every listed node (TCP port 9000, address from the host
// name nodeN).
type Connect struct {
	ConnectTo []int `json:"connectTo"`
}

// IfNodeIDEquals: run Instruction only on the node whose id is NodeID.
type IfNodeIDEquals struct {
	NodeID      int
	Instruction Instruction
}

// WaitUntil: block the script until ElapsedSeconds have passed since the
// node started; messages keep flowing meanwhile.
type WaitUntil struct {
	ElapsedSeconds int `json:"elapsedSeconds"`
}

// Publish: publish a message of MessageSizeBytes whose first 8 bytes are
// MessageID, big-endian.
type Publish struct {
	MessageID        uint64 `json:"messageID"`
	MessageSizeBytes int    `json:"messageSizeBytes"`
	TopicID          string `json:"topicID"`
}

// SubscribeToTopic: join and subscribe to TopicID (Partial: as a partial
// messages topic).
type SubscribeToTopic struct {
	TopicID string `json:"topicID"`
	Partial bool   `json:"partial"`
}

// SetTopicValidationDelay: every message of TopicID takes DelaySeconds to
// validate (a mock of real validation work), then is accepted.
type SetTopicValidationDelay struct {
	TopicID      string  `json:"topicID"`
	DelaySeconds float64 `json:"delaySeconds"`
}

// InitGossipSub: start the router with the given parameters (unset fields
// keep the implementation's defaults).
type InitGossipSub struct {
	GossipSubParams GossipSubParams `json:"gossipSubParams"`
}

// AddPartialMessage: hold the parts (a bitmap of 8 parts) of group GroupID.
type AddPartialMessage struct {
	Parts   int    `json:"parts"`
	TopicID string `json:"topicID"`
	GroupID uint64 `json:"groupID"`
}

// PublishPartial: publish the partial message of group GroupID, to the mesh
// or to PublishToNodeIDs when given.
type PublishPartial struct {
	TopicID          string `json:"topicID"`
	GroupID          uint64 `json:"groupID"`
	PublishToNodeIDs []int  `json:"publishToNodeIDs"`
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
	D                         *int     `json:"D,omitempty"`
	Dlo                       *int     `json:"Dlo,omitempty"`
	Dhi                       *int     `json:"Dhi,omitempty"`
	Dscore                    *int     `json:"Dscore,omitempty"`
	Dout                      *int     `json:"Dout,omitempty"`
	HistoryLength             *int     `json:"HistoryLength,omitempty"`
	HistoryGossip             *int     `json:"HistoryGossip,omitempty"`
	Dlazy                     *int     `json:"Dlazy,omitempty"`
	GossipFactor              *float64 `json:"GossipFactor,omitempty"`
	GossipRetransmission      *int     `json:"GossipRetransmission,omitempty"`
	HeartbeatInitialDelay     *Nanos   `json:"HeartbeatInitialDelay,omitempty"`
	HeartbeatInterval         *Nanos   `json:"HeartbeatInterval,omitempty"`
	SlowHeartbeatWarning      *float64 `json:"SlowHeartbeatWarning,omitempty"`
	FanoutTTL                 *Nanos   `json:"FanoutTTL,omitempty"`
	PrunePeers                *int     `json:"PrunePeers,omitempty"`
	PruneBackoff              *Nanos   `json:"PruneBackoff,omitempty"`
	UnsubscribeBackoff        *Nanos   `json:"UnsubscribeBackoff,omitempty"`
	Connectors                *int     `json:"Connectors,omitempty"`
	MaxPendingConnections     *int     `json:"MaxPendingConnections,omitempty"`
	ConnectionTimeout         *Nanos   `json:"ConnectionTimeout,omitempty"`
	DirectConnectTicks        *int     `json:"DirectConnectTicks,omitempty"`
	DirectConnectInitialDelay *Nanos   `json:"DirectConnectInitialDelay,omitempty"`
	OpportunisticGraftTicks   *int     `json:"OpportunisticGraftTicks,omitempty"`
	OpportunisticGraftPeers   *int     `json:"OpportunisticGraftPeers,omitempty"`
	GraftFloodThreshold       *Nanos   `json:"GraftFloodThreshold,omitempty"`
	MaxIHaveLength            *int     `json:"MaxIHaveLength,omitempty"`
	MaxIHaveMessages          *int     `json:"MaxIHaveMessages,omitempty"`
	MaxIDontWantLength        *int     `json:"MaxIDontWantLength,omitempty"`
	MaxIDontWantMessages      *int     `json:"MaxIDontWantMessages,omitempty"`
	IWantFollowupTime         *Nanos   `json:"IWantFollowupTime,omitempty"`
	IDontWantMessageThreshold *int     `json:"IDontWantMessageThreshold,omitempty"`
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
