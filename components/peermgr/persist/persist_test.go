package persist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
	bolt "go.etcd.io/bbolt"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/events"
)

// testID returns a deterministic, valid peer id (identity multihash).
func testID(tb testing.TB, i int) peer.ID {
	tb.Helper()
	h, err := mh.Sum([]byte(fmt.Sprintf("peer-%d", i)), mh.IDENTITY, -1)
	if err != nil {
		tb.Fatal(err)
	}
	return peer.ID(h)
}

func testPeer(tb testing.TB, i int) peerstore.Peer {
	base := time.Unix(1_700_000_000, 0)
	return peerstore.Peer{
		ID:             testID(tb, i),
		Addrs:          []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/10.0.0.%d/tcp/%d", i%250+1, 4000+i%60000))},
		Protocols:      []protocol.ID{"/meshsub/1.1.0", "/ipfs/id/1.0.0"},
		Source:         events.SourceExchange,
		Failures:       i % 5,
		LastFailure:    base.Add(time.Duration(i) * time.Second),
		BackoffUntil:   base.Add(time.Duration(i) * time.Minute),
		LastDisconnect: base.Add(-time.Hour),
		AddedAt:        base.Add(-2 * time.Hour),
		Identified:     i%2 == 0,
		Graylisted:     i%3 == 0,
	}
}

func equalPeer(a, b peerstore.Peer) error {
	if a.ID != b.ID || a.Source != b.Source || a.Failures != b.Failures ||
		a.Identified != b.Identified || a.Graylisted != b.Graylisted {
		return fmt.Errorf("scalar fields differ: %+v vs %+v", a, b)
	}
	for _, pair := range [][2]time.Time{{a.LastFailure, b.LastFailure}, {a.BackoffUntil, b.BackoffUntil}, {a.LastDisconnect, b.LastDisconnect}, {a.AddedAt, b.AddedAt}} {
		if !pair[0].Equal(pair[1]) || pair[0].IsZero() != pair[1].IsZero() {
			return fmt.Errorf("time differs: %v vs %v", pair[0], pair[1])
		}
	}
	if len(a.Addrs) != len(b.Addrs) || len(a.Protocols) != len(b.Protocols) {
		return fmt.Errorf("lengths differ")
	}
	for i := range a.Addrs {
		if !a.Addrs[i].Equal(b.Addrs[i]) {
			return fmt.Errorf("addr %d differs", i)
		}
	}
	for i := range a.Protocols {
		if a.Protocols[i] != b.Protocols[i] {
			return fmt.Errorf("protocol %d differs", i)
		}
	}
	return nil
}

func TestCodecRoundTrip(t *testing.T) {
	for i := range 20 {
		p := testPeer(t, i)
		got, err := decodeRecord(encodeRecord(nil, &p))
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		if err := equalPeer(p, got); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
	}
	// The Unix epoch (a mock clock's start) is a real time, not "unset".
	p := peerstore.Peer{ID: testID(t, 1), Source: events.SourceStatic, AddedAt: time.Unix(0, 0)}
	got, err := decodeRecord(encodeRecord(nil, &p))
	if err != nil || got.AddedAt.IsZero() || !got.AddedAt.Equal(time.Unix(0, 0)) {
		t.Fatalf("epoch time lost: %v %v", got.AddedAt, err)
	}
}

func TestCodecRejectsBadInput(t *testing.T) {
	p := testPeer(t, 3)
	good := encodeRecord(nil, &p)
	cases := map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{9}, good[1:]...),
		"truncated":    good[:len(good)-3],
		"trailing":     append(append([]byte(nil), good...), 0),
		"bad id":       {recordVersion, 2, 0xff, 0xff},
		"huge count":   append([]byte{recordVersion}, append(appendBytes(nil, []byte(p.ID)), 0xff, 0xff, 0xff, 0xff, 0x0f)...),
		"bad multiadd": append([]byte{recordVersion}, append(appendBytes(nil, []byte(p.ID)), append([]byte{1}, appendBytes(nil, []byte{0xfe, 0xfe})...)...)...),
	}
	for name, b := range cases {
		if _, err := decodeRecord(b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: err = %v, want ErrBadRecord", name, err)
		}
	}
}

func TestSaveLoadAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Loaded(); len(got) != 0 {
		t.Fatalf("new store has %d peers", len(got))
	}
	var want []peerstore.Peer
	for i := range 10 {
		want = append(want, testPeer(t, i))
	}
	if err := db.Save(want, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Save(nil, []peer.ID{want[3].ID}); err != nil {
		t.Fatal(err)
	}
	want = append(want[:3], want[4:]...)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := db.Loaded()
	if len(got) != len(want) {
		t.Fatalf("loaded %d peers, want %d", len(got), len(want))
	}
	byID := map[peer.ID]peerstore.Peer{}
	for _, p := range got {
		byID[p.ID] = p
		if p.Connectedness != network.NotConnected {
			t.Fatalf("loaded peer %s is %v", p.ID, p.Connectedness)
		}
	}
	for _, w := range want {
		if err := equalPeer(w, byID[w.ID]); err != nil {
			t.Fatalf("peer %s: %v", w.ID, err)
		}
	}
}

func TestOpenLockedTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// flock conflicts between two open file descriptions even within one
	// process, so a second open waits for the timeout and gives up.
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second open: err = %v, want ErrStoreLocked", err)
	}
}

func TestOpenCorruptFiles(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	garbage := make([]byte, 64<<10)
	rng.Read(garbage)

	makeValid := func(t *testing.T, path string) {
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var ps []peerstore.Peer
		for i := range 50 {
			ps = append(ps, testPeer(t, i))
		}
		if err := db.Save(ps, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]func(t *testing.T, path string){
		"garbage": func(t *testing.T, path string) {
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"short": func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("not a database"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"meta pages overwritten": func(t *testing.T, path string) {
			makeValid(t, path)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(garbage[:8192], 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
		},
		"truncated": func(t *testing.T, path string) {
			makeValid(t, path)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, st.Size()/3); err != nil {
				t.Fatal(err)
			}
		},
		"undecodable record with a valid checksum": func(t *testing.T, path string) {
			makeValid(t, path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			key := []byte(testID(t, 7))
			body := []byte{recordVersion, 0xff}
			sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, body)
			err = db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketPeers).Put(key, binary.LittleEndian.AppendUint32(body, sum))
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
		},
		"wrong schema": func(t *testing.T, path string) {
			makeValid(t, path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte{99}) })
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "peers.db")
			corrupt(t, path)
			if _, err := Open(path, Options{}); !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("Open: err = %v, want ErrCorruptStore", err)
			}
			db, err := Open(path, Options{ResetOnCorrupt: true})
			if err != nil {
				t.Fatalf("Open with reset: %v", err)
			}
			defer db.Close()
			if !db.Reset() || len(db.Loaded()) != 0 {
				t.Fatalf("reset = %v, want an empty reset store", db.Reset())
			}
			if _, err := os.Stat(path + ".corrupt"); err != nil {
				t.Fatalf("corrupt file not kept aside: %v", err)
			}
			if err := db.Save([]peerstore.Peer{testPeer(t, 1)}, nil); err != nil {
				t.Fatalf("save after reset: %v", err)
			}
		})
	}
}

func TestOpenDirectoryIsNotCorrupt(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, Options{ResetOnCorrupt: true})
	if err == nil || errors.Is(err, ErrCorruptStore) {
		t.Fatalf("Open(dir): err = %v, want a plain open error", err)
	}
	if _, serr := os.Stat(dir); serr != nil {
		t.Fatalf("directory was moved: %v", serr)
	}
}

// crashEnv tells a re-executed test binary to act as the crashing writer.
const crashEnv = "PEERMGR_PERSIST_CRASH_WRITER"

// headIndex is the id index of the record that each transaction updates to
// the number of the transaction, alongside the record of that number.
const headIndex = 1 << 30

// TestCrashWriter is the child process of TestKilledMidWrite: it commits
// transactions forever, each adding peer i and setting the head record to i,
// and reports each commit on stdout. Without the environment variable it
// checks only that the head index is outside the writer's range.
func TestCrashWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		if headIndex < 1_000_000 {
			t.Fatal("head index overlaps the writer's range")
		}
		return
	}
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	head := testPeer(t, headIndex)
	for i := 0; ; i++ {
		p := testPeer(t, i)
		head.Failures = i
		// Large address lists make each transaction span several pages.
		for j := range 40 {
			p.Addrs = append(p.Addrs, ma.StringCast(fmt.Sprintf("/ip4/10.1.%d.%d/tcp/%d", j, i%250, 1000+j)))
		}
		if err := db.Save([]peerstore.Peer{p, head}, nil); err != nil {
			fmt.Println("save:", err)
			os.Exit(3)
		}
		fmt.Println(i)
	}
}

func TestKilledMidWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child has committed a good number of transactions,
	// then kill it without warning while it keeps writing.
	sc := bufio.NewScanner(out)
	committed := -1
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue
		}
		committed = n
		if n >= 200 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if committed < 200 {
		t.Fatalf("child committed only %d transactions", committed)
	}

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer db.Close()
	got := db.Loaded()
	byID := make(map[peer.ID]peerstore.Peer, len(got))
	for _, p := range got {
		byID[p.ID] = p
	}
	head, ok := byID[testID(t, headIndex)]
	if !ok {
		t.Fatal("head record missing")
	}
	// Every committed transaction survives, and the file holds exactly the
	// prefix 0..head: nothing torn, nothing from a half-written one.
	if head.Failures < committed {
		t.Fatalf("head = %d, but the child reported commit %d", head.Failures, committed)
	}
	if len(got) != head.Failures+2 {
		t.Fatalf("store holds %d peers, want head %d + 2", len(got), head.Failures)
	}
	for i := 0; i <= head.Failures; i++ {
		p, ok := byID[testID(t, i)]
		if !ok {
			t.Fatalf("peer %d of the committed prefix is missing", i)
		}
		if len(p.Addrs) != 41 || p.Failures != i%5 {
			t.Fatalf("peer %d is torn: %d addrs, %d failures", i, len(p.Addrs), p.Failures)
		}
	}
	t.Logf("killed after >= %d commits; reopened with a clean prefix of %d", committed, head.Failures+1)
}

// TestOpenRandomDamage flips random bytes of a valid store (seeded): every
// damaged file opens or fails with ErrCorruptStore, never crashes the
// process, and never leaves the file locked.
func TestOpenRandomDamage(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.db")
	db, err := Open(valid, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []peerstore.Peer
	for i := range 30 {
		ps = append(ps, testPeer(t, i))
	}
	if err := db.Save(ps, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	corrupt := 0
	for it := range 200 {
		damaged := append([]byte(nil), raw...)
		for range 1 + rng.Intn(8) {
			damaged[rng.Intn(len(damaged))] = byte(rng.Intn(256))
		}
		path := filepath.Join(dir, fmt.Sprintf("damaged-%d.db", it))
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{Timeout: 100 * time.Millisecond})
		switch {
		case err == nil:
			db.Close()
		case errors.Is(err, ErrCorruptStore):
			corrupt++
		default:
			t.Fatalf("iteration %d: err = %v, want nil or ErrCorruptStore", it, err)
		}
		db, err = Open(path, Options{Timeout: 100 * time.Millisecond, ResetOnCorrupt: true})
		if err != nil {
			t.Fatalf("iteration %d: reopen with reset: %v", it, err)
		}
		db.Close()
	}
	t.Logf("%d of 200 damaged files reported corrupt, the rest opened", corrupt)
}
