package script

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A params.json as the plans' run.py writes it (model_dump(exclude_none)):
// every instruction type, durations as floats and ints.
const plansParams = `{"script": [
 {"type": "ifNodeIDEquals", "nodeID": 0, "instruction": {"type": "initGossipSub", "gossipSubParams": {"HeartbeatInitialDelay": 100100000.0, "Dlazy": 0, "GossipFactor": 0.0}}},
 {"type": "ifNodeIDEquals", "nodeID": 1, "instruction": {"type": "initGossipSub", "gossipSubParams": {"HeartbeatInitialDelay": 100200000, "HeartbeatInterval": 7e8}}},
 {"type": "setTopicValidationDelay", "topicID": "a-subnet", "delaySeconds": 0.005},
 {"type": "ifNodeIDEquals", "nodeID": 0, "instruction": {"type": "connect", "connectTo": [1]}},
 {"type": "subscribeToTopic", "topicID": "a-subnet", "partial": false},
 {"type": "waitUntil", "elapsedSeconds": 120},
 {"type": "ifNodeIDEquals", "nodeID": 1, "instruction": {"type": "publish", "messageID": 3, "messageSizeBytes": 98304, "topicID": "a-subnet"}},
 {"type": "addPartialMessage", "parts": 255, "topicID": "t", "groupID": 7},
 {"type": "publishPartial", "topicID": "t", "groupID": 7, "publishToNodeIDs": [1, 2]}
]}`

func TestParsePlansParams(t *testing.T) {
	p, err := Parse(strings.NewReader(plansParams))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Script) != 9 {
		t.Fatalf("%d instructions, want 9", len(p.Script))
	}
	init0 := p.Script[0].(IfNodeIDEquals).Instruction.(InitGossipSub).GossipSubParams
	if time.Duration(*init0.HeartbeatInitialDelay) != 100100*time.Microsecond || *init0.Dlazy != 0 || *init0.GossipFactor != 0 || init0.D != nil {
		t.Fatalf("node0 params %+v", init0)
	}
	init1 := p.Script[1].(IfNodeIDEquals).Instruction.(InitGossipSub).GossipSubParams
	if time.Duration(*init1.HeartbeatInterval) != 700*time.Millisecond {
		t.Fatalf("HeartbeatInterval %v", time.Duration(*init1.HeartbeatInterval))
	}
	if d := p.Script[2].(SetTopicValidationDelay); d.TopicID != "a-subnet" || d.DelaySeconds != 0.005 {
		t.Fatalf("%+v", d)
	}
	if pub := p.Script[6].(IfNodeIDEquals).Instruction.(Publish); pub.MessageID != 3 || pub.MessageSizeBytes != 98304 {
		t.Fatalf("%+v", pub)
	}
	if pp := p.Script[8].(PublishPartial); pp.GroupID != 7 || len(pp.PublishToNodeIDs) != 2 {
		t.Fatalf("%+v", pp)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
		mention  string
	}{
		{"unknown type", `{"script":[{"type":"teleport","to":3}]}`, ErrUnknownInstruction, `"teleport"`},
		{"nested unknown", `{"script":[{"type":"ifNodeIDEquals","nodeID":1,"instruction":{"type":"dance"}}]}`, ErrUnknownInstruction, `"dance"`},
		{"unknown field", `{"script":[{"type":"publish","messageID":1,"messageSizeBytes":10,"topicID":"t","colour":"red"}]}`, ErrBadParams, "colour"},
		{"unknown param", `{"script":[{"type":"initGossipSub","gossipSubParams":{"Dfoo":1}}]}`, ErrBadParams, "Dfoo"},
		{"short message", `{"script":[{"type":"publish","messageID":1,"messageSizeBytes":4,"topicID":"t"}]}`, ErrBadParams, "messageSizeBytes"},
		{"no type", `{"script":[{"topicID":"t"}]}`, ErrBadParams, "without a type"},
		{"negative delay", `{"script":[{"type":"setTopicValidationDelay","topicID":"t","delaySeconds":-1}]}`, ErrBadParams, "delaySeconds"},
		{"negative duration", `{"script":[{"type":"initGossipSub","gossipSubParams":{"FanoutTTL":-5}}]}`, ErrBadParams, "out of range"},
		{"not json", `{"script":[`, ErrBadParams, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err %v, want %v mentioning %q", err, c.want, c.mention)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(plansParams))
	f.Add([]byte(`{"script":[{"type":"ifNodeIDEquals","nodeID":1,"instruction":{"type":"ifNodeIDEquals","nodeID":1,"instruction":{"type":"waitUntil","elapsedSeconds":1}}}]}`))
	f.Add([]byte(`{"script":[{"type":"initGossipSub","gossipSubParams":{"HeartbeatInterval":1e30}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadParams) && !errors.Is(err, ErrUnknownInstruction) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		for _, in := range p.Script {
			if in == nil || in.Type() == "" {
				t.Fatal("nil or untyped instruction")
			}
		}
	})
}

// The plans' check (jvm-libp2p NodeKeyTest): SHA-256 over ">id:peerid\n"
// for node ids 0..9999 is a fixed value that go, rust and jvm agree on.
func TestNodeKeyMatchesPlans(t *testing.T) {
	h := sha256.New()
	for id := range 10000 {
		fmt.Fprintf(h, ">%d:%s\n", id, PeerIDOf(id))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != "11395ea896d00ca25f7f648ebb336488ee092096a5498d90d76b92eaec27867a" {
		t.Fatalf("peer id digest %s", got)
	}
}

func TestNodeIDFromHostname(t *testing.T) {
	for in, want := range map[string]int{"node0": 0, "node17": 17, "node999": 999} {
		if got, err := NodeIDFromHostname(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"node", "nodeX", "host1", "node-1", "node01", "node1a", ""} {
		if _, err := NodeIDFromHostname(in); !errors.Is(err, ErrBadHostname) {
			t.Errorf("%q: err %v", in, err)
		}
	}
}

func TestMsgID(t *testing.T) {
	d := MessageData(0x0102030405060708, 100)
	if len(d) != 100 || FormatID(MsgID(d)) != "72623859790382856" {
		t.Fatalf("len %d id %s", len(d), FormatID(MsgID(d)))
	}
	if FormatID(MsgID(MessageData(31, 8))) != "31" {
		t.Fatal("id 31")
	}
	if MsgID([]byte{1}) != "\x01\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatal("short data not padded")
	}
	if FormatID("abc") != "x616263" {
		t.Fatal(FormatID("abc"))
	}
}

func TestRecorderFormat(t *testing.T) {
	var buf syncBuffer
	r := NewRecorder(&buf)
	at := time.Date(1999, 12, 31, 16, 8, 12, 403004800, time.UTC)
	r.PeerID(PeerIDOf(3), 3)
	r.Received(at, MsgID(MessageData(31, 8)), PeerIDOf(4), "foobar")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%q", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"time": "1999-12-31T16:08:12.4030048Z", "level": "INFO", "msg": "Received Message", "service": "gossipsub",
		"from": PeerIDOf(4).String(), "topic": "foobar", "id": "31"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec["msg"] != "PeerID" || rec["node_id"] != 3.0 || rec["id"] != PeerIDOf(3).String() {
		t.Fatalf("%v %v", rec, err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeBackend records the calls Run makes.
type fakeBackend struct {
	mu       sync.Mutex
	calls    []string
	failDial int // failures before a dial succeeds
}

func (f *fakeBackend) add(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeBackend) Init(_ context.Context, p GossipSubParams) ([]string, error) {
	f.add("init")
	return []string{"note"}, nil
}

func (f *fakeBackend) Connect(_ context.Context, ai peer.AddrInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDial > 0 {
		f.failDial--
		return errors.New("connection refused")
	}
	f.calls = append(f.calls, "connect "+ai.Addrs[0].String()+" "+ai.ID.String())
	return nil
}

func (f *fakeBackend) Subscribe(_ context.Context, topic string) error {
	f.add("subscribe " + topic)
	return nil
}

func (f *fakeBackend) SetValidationDelay(topic string, d time.Duration) error {
	f.add(fmt.Sprintf("delay %s %v", topic, d))
	return nil
}

func (f *fakeBackend) Publish(_ context.Context, topic string, data []byte) error {
	f.add(fmt.Sprintf("publish %s %s %d", topic, FormatID(MsgID(data)), len(data)))
	return nil
}

func (f *fakeBackend) snapshot() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func TestRunScript(t *testing.T) {
	const in = `{"script":[
 {"type":"ifNodeIDEquals","nodeID":1,"instruction":{"type":"initGossipSub","gossipSubParams":{}}},
 {"type":"ifNodeIDEquals","nodeID":2,"instruction":{"type":"initGossipSub","gossipSubParams":{"D":3}}},
 {"type":"setTopicValidationDelay","topicID":"t","delaySeconds":0.25},
 {"type":"ifNodeIDEquals","nodeID":1,"instruction":{"type":"connect","connectTo":[2]}},
 {"type":"subscribeToTopic","topicID":"t"},
 {"type":"waitUntil","elapsedSeconds":10},
 {"type":"ifNodeIDEquals","nodeID":1,"instruction":{"type":"publish","messageID":9,"messageSizeBytes":64,"topicID":"t"}},
 {"type":"ifNodeIDEquals","nodeID":2,"instruction":{"type":"publish","messageID":10,"messageSizeBytes":64,"topicID":"t"}}
]}`
	p, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewMock()
	b := &fakeBackend{failDial: 2}
	var out syncBuffer
	rec := NewRecorder(&out)
	defer rec.Close()
	cfg := Config{NodeID: 1, Start: clk.Now(), Clock: clk, Recorder: rec,
		Resolve: func(_ context.Context, id int) (string, error) { return fmt.Sprintf("10.0.0.%d", id+1), nil }}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), cfg, p, b) }()
	// Advance the mock clock until the script ends: retries of the failing
	// dial and the waitUntil both wait on it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"init", "delay t 250ms", "connect /ip4/10.0.0.3/tcp/9000 " + PeerIDOf(2).String(), "subscribe t", "publish t 9 64"}
			if got := b.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("calls %q\nwant %q", got, want)
			}
			if clk.Since(cfg.Start) < 10*time.Second {
				t.Fatalf("publish before waitUntil: %v", clk.Since(cfg.Start))
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("script did not finish; calls %q", b.snapshot())
		}
		clk.Add(50 * time.Millisecond) // the mock yields to the script goroutine
	}
}

type noPartial struct{ fakeBackend }

func TestRunUnsupportedAndOrder(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"script":[{"type":"initGossipSub","gossipSubParams":{}},{"type":"addPartialMessage","parts":1,"topicID":"t","groupID":1}]}`, `unsupported script instruction "addPartialMessage"`},
		{`{"script":[{"type":"initGossipSub","gossipSubParams":{}},{"type":"subscribeToTopic","topicID":"t","partial":true}]}`, `unsupported script instruction "subscribeToTopic" (partial: true)`},
		{`{"script":[{"type":"initGossipSub","gossipSubParams":{}},{"type":"publishPartial","topicID":"t","groupID":1}]}`, `unsupported script instruction "publishPartial"`},
		{`{"script":[{"type":"subscribeToTopic","topicID":"t"}]}`, "initGossipSub must come first"},
		{`{"script":[{"type":"initGossipSub","gossipSubParams":{}},{"type":"connect","connectTo":[0]}]}`, "connect to itself"},
	}
	for _, c := range cases {
		p, err := Parse(strings.NewReader(c.in))
		if err != nil {
			t.Fatal(err)
		}
		err = Run(context.Background(), Config{NodeID: 0, Start: time.Now()}, p, &noPartial{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.in, err, c.want)
		}
	}
}
