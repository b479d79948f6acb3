package fragment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/events"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{MaxMessageSize: 1 << 20, MaxPendingPerPeer: 4, MaxBytes: 4 << 20, Timeout: 30 * time.Second, MaxIDLength: 256, MaxTopicLength: 64}
}

func newRe(t testing.TB, cfg Config) *Reassembler {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func frag(id string, idx, total int, data []byte, topic string) *pb.LargeMessageFragment {
	return &pb.LargeMessageFragment{MessageID: []byte(id), FragmentIndex: proto.Uint32(uint32(idx)),
		TotalFragments: proto.Uint32(uint32(total)), FragmentData: data, TopicID: proto.String(topic)}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.MaxMessageSize = 0 },
		func(c *Config) { c.MaxPendingPerPeer = 0 },
		func(c *Config) { c.MaxBytes = -1 },
		func(c *Config) { c.Timeout = 0 },
		func(c *Config) { c.MaxIDLength = 0 },
		func(c *Config) { c.MaxTopicLength = 0 },
	} {
		c := good
		mut(&c)
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%+v: %v, want ErrInvalidConfig", c, err)
		}
	}
	if n := good.MaxFragments(); n != 2048 {
		t.Fatalf("MaxFragments = %d, want 2048 (1 MiB / 512)", n)
	}
	c := good
	c.MaxMessageSize = 64 << 20
	if n := c.MaxFragments(); n != HardMaxFragments {
		t.Fatalf("MaxFragments = %d, want the hard cap", n)
	}
}

// Split then Add in any order gives back the encoding, once; the first
// fragment received says First, with an estimate of the size.
func TestSplitReassemble(t *testing.T) {
	enc := make([]byte, 200_000)
	for i := range enc {
		enc[i] = byte(i * 7)
	}
	fs := Split(nil, enc, []byte("id"), "t", 64<<10)
	if len(fs) != 4 || len(fs[3].FragmentData) != 200_000-3*(64<<10) {
		t.Fatalf("%d fragments", len(fs))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	r := newRe(t, testConfig())
	for i, f := range fs {
		res := r.Add(t0, "p", f)
		if i == 0 && (!res.First || res.Size < len(f.FragmentData)) {
			t.Fatalf("first fragment: %+v", res)
		}
		if i > 0 && res.First {
			t.Fatal("later fragment says First")
		}
		if i < len(fs)-1 && res.Outcome != OutcomeStored {
			t.Fatalf("fragment %d: %v", i, res.Outcome)
		}
		if i < len(fs)-1 {
			if dup := r.Add(t0, "p", f); dup.Outcome != OutcomeDuplicate {
				t.Fatalf("duplicate: %v", dup.Outcome)
			}
		}
		if i == len(fs)-1 {
			if res.Outcome != OutcomeCompleted || !bytes.Equal(res.Data, enc) {
				t.Fatalf("last: %v, %d bytes", res.Outcome, len(res.Data))
			}
		}
	}
	if r.Len() != 0 || r.Bytes() != 0 || r.Pending("p") != 0 {
		t.Fatalf("left state: %d buffers, %d bytes", r.Len(), r.Bytes())
	}
	// The same message from two peers: two reassemblies.
	fs = Split(nil, enc, []byte("id"), "t", 64<<10)
	r.Add(t0, "a", fs[0])
	r.Add(t0, "b", fs[0])
	if r.Len() != 2 {
		t.Fatalf("%d reassemblies, want one per sender", r.Len())
	}
}

func TestRejections(t *testing.T) {
	cfg := testConfig()
	d := []byte("data")
	cases := []struct {
		name  string
		setup []*pb.LargeMessageFragment
		f     *pb.LargeMessageFragment
		want  events.FragmentRejectReason
		left  int // reassemblies left
	}{
		{"empty id", nil, frag("", 0, 2, d, "t"), events.FragmentRejectMalformed, 0},
		{"long id", nil, frag(string(make([]byte, 257)), 0, 2, d, "t"), events.FragmentRejectMalformed, 0},
		{"no topic", nil, frag("m", 0, 2, d, ""), events.FragmentRejectMalformed, 0},
		{"long topic", nil, frag("m", 0, 2, d, string(make([]byte, 65))), events.FragmentRejectMalformed, 0},
		{"no data", nil, frag("m", 0, 2, nil, "t"), events.FragmentRejectMalformed, 0},
		{"zero total", nil, frag("m", 0, 0, d, "t"), events.FragmentRejectMalformed, 0},
		{"index = total", nil, frag("m", 2, 2, d, "t"), events.FragmentRejectMalformed, 0},
		{"huge total", nil, frag("m", 0, 1<<31, d, "t"), events.FragmentRejectTooManyFragments, 0},
		{"total over bound", nil, frag("m", 0, 2049, d, "t"), events.FragmentRejectTooManyFragments, 0},
		{"other total", []*pb.LargeMessageFragment{frag("m", 0, 3, d, "t")}, frag("m", 1, 4, d, "t"), events.FragmentRejectInconsistent, 0},
		{"other topic", []*pb.LargeMessageFragment{frag("m", 0, 3, d, "t")}, frag("m", 1, 3, d, "u"), events.FragmentRejectInconsistent, 0},
		{"first too large", nil, frag("m", 0, 3, make([]byte, cfg.MaxMessageSize+1), "t"), events.FragmentRejectTooLarge, 0},
		{"sum too large", []*pb.LargeMessageFragment{frag("m", 0, 3, make([]byte, cfg.MaxMessageSize-10), "t")}, frag("m", 1, 3, make([]byte, 11), "t"), events.FragmentRejectTooLarge, 0},
		{"too many pending", []*pb.LargeMessageFragment{frag("a", 0, 2, d, "t"), frag("b", 0, 2, d, "t"), frag("c", 0, 2, d, "t"), frag("d", 0, 2, d, "t")}, frag("e", 0, 2, d, "t"), events.FragmentRejectTooManyPending, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRe(t, cfg)
			for _, f := range tc.setup {
				if res := r.Add(t0, "p", f); res.Outcome != OutcomeStored {
					t.Fatalf("setup: %+v", res)
				}
			}
			res := r.Add(t0, "p", tc.f)
			if res.Outcome != OutcomeRejected || res.Reason != tc.want {
				t.Fatalf("got %v %v, want rejected %v", res.Outcome, res.Reason, tc.want)
			}
			if r.Len() != tc.left {
				t.Fatalf("%d reassemblies left, want %d", r.Len(), tc.left)
			}
			if tc.left == 0 && r.Bytes() != 0 {
				t.Fatalf("%d bytes still charged", r.Bytes())
			}
			// Another peer is not affected by p's pending count.
			if res := r.Add(t0, "q", frag("x", 0, 2, d, "t")); res.Outcome != OutcomeStored {
				t.Fatalf("other peer: %+v", res)
			}
		})
	}
}

func TestBudgetAndExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBytes = 1000
	r := newRe(t, cfg)
	if res := r.Add(t0, "a", frag("m1", 0, 2, make([]byte, 800), "t")); res.Outcome != OutcomeStored {
		t.Fatal(res)
	}
	// Slots count too: 2*24 + 800.
	if r.Bytes() != 848 {
		t.Fatalf("bytes %d", r.Bytes())
	}
	if res := r.Add(t0, "b", frag("m2", 0, 2, make([]byte, 200), "t")); res.Reason != events.FragmentRejectBudget {
		t.Fatalf("budget: %+v", res)
	}
	if res := r.Add(t0, "a", frag("m1", 1, 2, make([]byte, 200), "t")); res.Reason != events.FragmentRejectBudget || r.Len() != 0 || r.Bytes() != 0 {
		t.Fatalf("budget on a started message: %+v, %d left, %d bytes", res, r.Len(), r.Bytes())
	}
	// The budget is not the senders' fault: the other fragments of the
	// refused messages are skipped until the timeout, not kept in a
	// reassembly that could never complete (and whose timeout would
	// blame them).
	for _, f := range []struct {
		p  peer.ID
		id string
	}{{"b", "m2"}, {"a", "m1"}} {
		if res := r.Add(t0, f.p, frag(f.id, 1, 2, d(10), "t")); res.Outcome != OutcomeSkipped || r.Len() != 0 {
			t.Fatalf("%s's %s after its refusal: %+v, %d reassemblies", f.p, f.id, res, r.Len())
		}
	}
	r.Add(t0, "b", frag("m4", 0, 2, d(10), "t"))
	r.Add(t0.Add(10*time.Second), "a", frag("m3", 0, 2, d(10), "t"))
	if got := r.Expire(t0.Add(30*time.Second-1), nil); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	got := r.Expire(t0.Add(30*time.Second), nil)
	if len(got) != 1 || got[0] != (Expired{Peer: "b", ID: "m4", Topic: "t"}) {
		t.Fatalf("expired %v", got)
	}
	// The refusals expired with the timeout: m2 may start again.
	if res := r.Add(t0.Add(30*time.Second), "b", frag("m2", 0, 2, d(10), "t")); res.Outcome != OutcomeStored {
		t.Fatalf("m2 after the timeout: %+v", res)
	}
	r.RemovePeer("b")
	if n := r.RemovePeer("a"); n != 1 || r.Len() != 0 || r.Bytes() != 0 {
		t.Fatalf("RemovePeer: %d, %d left, %d bytes", n, r.Len(), r.Bytes())
	}
}

func d(n int) []byte { return make([]byte, n) }

// Refuse drops a reassembly in progress and skips the message's later
// fragments from that peer (the caller dropped one: its topic is not
// joined), until the timeout or the peer's removal.
func TestRefuse(t *testing.T) {
	r := newRe(t, testConfig())
	if res := r.Add(t0, "a", frag("m1", 0, 3, d(10), "t")); res.Outcome != OutcomeStored {
		t.Fatal(res)
	}
	r.Refuse(t0, "a", "m1")
	if r.Len() != 0 || r.Bytes() != 0 {
		t.Fatalf("after Refuse: %d reassemblies, %d bytes", r.Len(), r.Bytes())
	}
	if res := r.Add(t0, "a", frag("m1", 2, 3, d(10), "t")); res.Outcome != OutcomeSkipped {
		t.Fatalf("a later fragment: %+v", res)
	}
	if res := r.Add(t0, "b", frag("m1", 2, 3, d(10), "t")); res.Outcome != OutcomeStored {
		t.Fatalf("another peer's fragment of the same id: %+v", res)
	}
	r.Refuse(t0, "a", "m2")
	r.RemovePeer("a")
	if res := r.Add(t0, "a", frag("m2", 0, 2, d(10), "t")); res.Outcome != OutcomeStored {
		t.Fatalf("after RemovePeer: %+v", res)
	}
}

// FuzzReassemble feeds random fragment sequences from a few peers: Add
// never panics, the bytes charged never exceed the budget and always
// equal what the reassemblies hold, a peer never has more than
// MaxPendingPerPeer, and a complete set (the fuzz input split honestly,
// interleaved with the noise) gives back exactly its bytes.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte("hello world, a message"), []byte{0, 1, 2, 3, 4, 5, 6, 7}, uint8(3))
	f.Add(bytes.Repeat([]byte{1}, 3000), []byte{9, 9, 9, 0, 0, 0, 255, 1, 2}, uint8(7))
	f.Add([]byte{}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, msg, noise []byte, size uint8) {
		cfg := Config{MaxMessageSize: 4096, MaxPendingPerPeer: 3, MaxBytes: 6000, Timeout: time.Second, MaxIDLength: 8, MaxTopicLength: 4}
		r := newRe(t, cfg)
		peers := []peer.ID{"a", "b", "c"}
		now := t0
		check := func() {
			t.Helper()
			if r.Bytes() < 0 || r.Bytes() > cfg.MaxBytes {
				t.Fatalf("bytes %d outside [0, %d]", r.Bytes(), cfg.MaxBytes)
			}
			held := 0
			for _, b := range r.bufs {
				held += b.charged
			}
			if held != r.Bytes() {
				t.Fatalf("charged %d, held %d", r.Bytes(), held)
			}
			for _, p := range peers {
				if r.Pending(p) > cfg.MaxPendingPerPeer {
					t.Fatalf("%s has %d pending", p, r.Pending(p))
				}
			}
		}
		// Noise: 6-byte records (peer, id, index, total, length, topic).
		for len(noise) >= 6 {
			rec := noise[:6]
			noise = noise[6:]
			p := peers[int(rec[0])%len(peers)]
			id := string([]byte{'n', rec[1] % 8})
			topic := string([]byte{'t', rec[5] % 3})
			if rec[5]%17 == 0 {
				topic = ""
			}
			fr := frag(id, int(rec[2]%10), int(rec[3]%12), make([]byte, int(rec[4])*8), topic)
			res := r.Add(now, p, fr)
			if res.Outcome == OutcomeCompleted && len(res.Data) > cfg.MaxMessageSize {
				t.Fatalf("completed %d bytes > max", len(res.Data))
			}
			check()
			if rec[0]%13 == 0 {
				now = now.Add(300 * time.Millisecond)
				r.Expire(now, nil)
				check()
			}
		}
		// An honest message from a fresh peer completes to its bytes (when it
		// fits the bounds at all).
		if len(msg) == 0 || len(msg) > cfg.MaxMessageSize {
			return
		}
		r.RemovePeer("a")
		r.Expire(now.Add(time.Hour), nil)
		fs := Split(nil, msg, []byte("m"), "t", int(size)%64+1)
		if len(fs) > cfg.MaxFragments() || len(fs)*slotCost+len(msg) > cfg.MaxBytes {
			return
		}
		for i, fr := range fs {
			res := r.Add(now, "a", fr)
			check()
			if i < len(fs)-1 && res.Outcome != OutcomeStored {
				t.Fatalf("honest fragment %d: %+v", i, res)
			}
			if i == len(fs)-1 && (res.Outcome != OutcomeCompleted || !bytes.Equal(res.Data, msg)) {
				t.Fatalf("honest message: %v, %d bytes, want %d", res.Outcome, len(res.Data), len(msg))
			}
		}
	})
}

// Past maxRefused the oldest refusal is forgotten, but a stale order
// entry (its refusal dropped with the peer, then made again) does not take
// the newer refusal of the same message with it.
func TestRefusalEvictionKeepsANewerRefusal(t *testing.T) {
	r := newRe(t, testConfig())
	r.Refuse(t0, "a", "m")
	r.RemovePeer("a")
	r.Refuse(t0.Add(time.Second), "a", "m")
	// The order now holds the stale entry, the newer one, then these: the
	// last of them evicts the stale entry only.
	for i := range maxRefused - 1 {
		r.Refuse(t0.Add(time.Second), "b", "x"+strconv.Itoa(i))
	}
	if res := r.Add(t0.Add(time.Second), "a", frag("m", 1, 2, d(10), "t")); res.Outcome != OutcomeSkipped {
		t.Fatalf("the newer refusal was evicted with the stale entry: %+v", res)
	}
	// One more evicts the oldest live refusal, the newer one of m.
	r.Refuse(t0.Add(time.Second), "b", "y")
	if res := r.Add(t0.Add(time.Second), "a", frag("m", 1, 2, d(10), "t")); res.Outcome != OutcomeStored {
		t.Fatalf("the oldest refusal kept past maxRefused: %+v", res)
	}
}
