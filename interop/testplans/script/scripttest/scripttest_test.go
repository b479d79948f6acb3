package scripttest

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// What a Recorder writes comes back as Records, and the matchers pick the
// records the checks wait for.
func TestLogRecords(t *testing.T) {
	l := &Log{}
	rec := script.NewRecorder(l)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec.PeerID(script.PeerIDOf(1), 1)
	rec.Received(at, script.MsgID(script.MessageData(42, 8)), script.PeerIDOf(2), Topic)
	rec.Mesh(at, true, script.PeerIDOf(2), Topic)
	rec.AllPartsReceived(at, 7)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	recs := l.Records(t)
	if len(recs) != 4 || recs[0].Msg != "PeerID" || recs[0].NodeID != 1 || recs[0].ID != script.PeerIDOf(1).String() {
		t.Fatalf("records %+v", recs)
	}
	if !Received(42, 2, Topic)(recs[1]) || !ReceivedAny(42)(recs[1]) || !recs[1].Time.Equal(at) {
		t.Fatalf("received %+v", recs[1])
	}
	for _, miss := range []func(Record) bool{Received(43, 2, Topic), Received(42, 3, Topic), Received(42, 2, "other"), ReceivedAny(41)} {
		if miss(recs[1]) {
			t.Fatal("a matcher matched another message, sender or topic")
		}
	}
	if !Grafted(2, Topic)(recs[2]) || Grafted(3, Topic)(recs[2]) {
		t.Fatalf("mesh %+v", recs[2])
	}
	if !AllParts(7)(recs[3]) || AllParts(8)(recs[3]) {
		t.Fatalf("all parts %+v", recs[3])
	}
}

// The plans' basic scenario spreads the first heartbeats: node i at
// 100 ms + (i+1) x 0.1 ms, nothing else set.
func TestPlansParams(t *testing.T) {
	for id := range 3 {
		p := PlansParams(t, 3, id)
		want := 100*time.Millisecond + time.Duration(id+1)*100*time.Microsecond
		if p.HeartbeatInitialDelay == nil || time.Duration(*p.HeartbeatInitialDelay) != want || p.D != nil || p.HeartbeatInterval != nil {
			t.Fatalf("node%d: %+v", id, p)
		}
	}
}
